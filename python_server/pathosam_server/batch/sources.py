"""Where a batch's images and regions come from, without QuPath.

The batch sees only the small types here. A QuPath project (``paquo_project``, the one module that
imports paquo) and a plain folder of images with optional QuPath annotation GeoJSON next to them
(``FolderSource``) both produce them, so everything around paquo runs and is tested without QuPath.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol

from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from ..errors import ImageReadError, SourceError
from ..formats.geojson import read_annotation_geojson, read_objects_geojson
from ..formats.images import PixelSource
from ..formats.readers import file_pixel_size_um, is_image, open_image
from ..geometry.polygons import polygonal_part
from ..records import Annotation, NucleusRecord, Rect

log = logging.getLogger(__name__)

OUTPUT_SUFFIX = ".nuclei.geojson"  # batch output next to annotation input must never be read back as input


@dataclass(frozen=True)
class Region:
    """A region to segment.

    Attributes:
        label: Human-readable name for reports ("whole image", "annotation 2 (Tumor)").
        rect: Level-0 bounding box of ``roi``, clipped to the image (what the tiles cover).
        roi: Level-0 polygon the nuclei are clipped to.
        handle: The source's parent object (None = top level).
    """

    label: str
    rect: Rect
    roi: BaseGeometry
    handle: Any = None


@dataclass(frozen=True)
class RegionSelection:
    """Which regions of each image: the whole image, all annotations, or annotations of one class."""

    kind: str
    class_name: str = ""

    @classmethod
    def parse(cls, text: str) -> RegionSelection:
        """Parse ``whole``, ``annotations`` or ``class:NAME``.

        Args:
            text: The option value.

        Returns:
            The selection.
        """
        if text in ("whole", "annotations"):
            return cls(text)
        if text.startswith("class:") and text[6:].strip():
            return cls("class", text[6:].strip())
        raise ValueError(f"--regions must be 'whole', 'annotations' or 'class:NAME', got '{text}'")

    def __str__(self) -> str:
        return f"class:{self.class_name}" if self.kind == "class" else self.kind


@dataclass(frozen=True)
class ProjectWrite:
    """One image's results, as a project entry stores them.

    Attributes:
        regions: The regions.
        nuclei: Per region, its nuclei (already clipped to the region's ROI).
        settings: The settings hash, stored in the image data with the detections.
        replace: First remove our earlier detections in the regions.
        classes: Class name -> the project's PathClass object.
        info: Counts to store with the settings (shown when a rerun finds the image done).
    """

    regions: Sequence[Region]
    nuclei: Sequence[Sequence[NucleusRecord]]
    settings: str
    replace: bool
    classes: dict[str, Any]
    info: dict


class BatchImage(Protocol):
    """One image of a batch, as any source presents it."""

    @property
    def key(self) -> str:
        """Stable identity for the ledger (project entry id, or file name)."""
        ...

    @property
    def name(self) -> str:
        """Display name (QuPath image name, or file name)."""
        ...

    def open_pixels(self) -> PixelSource:
        """Open the image's pixels (raises ImageReadError with a clear message)."""
        ...

    def pixel_size_um(self) -> Optional[float]:
        """Level-0 pixel size in micrometres, or None when the image is not calibrated."""
        ...

    def annotations(self) -> list[Annotation]:
        """The image's annotations."""
        ...

    def objects(self) -> list[Annotation]:
        """Every object of the image (annotations, detections; a cell as its nucleus), for fine-tuning."""
        ...

    def written(self, settings: str) -> Optional[dict]:
        """What the image's own saved data says a batch with these settings wrote, or None."""
        ...

    def write(self, result: ProjectWrite) -> None:
        """Write the detections into the image's own data (a project entry), all or nothing."""
        ...


class BatchSource(Protocol):
    """Where a batch's images come from: a QuPath project or a folder."""

    location: Path  # where the ledger goes by default

    def images(self) -> Iterator[BatchImage]:
        """The images, in the source's order."""
        ...

    def close(self) -> None:
        """Release what the source holds."""
        ...


def select_regions(
    annotations: Sequence[Annotation], selection: RegionSelection, width: int, height: int
) -> list[Region]:
    """Turn annotations (or the whole image) into regions, clipped to the image.

    Args:
        annotations: The image's annotations (ignored for ``whole``).
        selection: Which regions.
        width: Level-0 image width.
        height: Level-0 image height.

    Returns:
        The regions; annotations wholly outside the image are skipped with a warning.
    """
    frame = box(0, 0, width, height)
    if selection.kind == "whole":
        return [Region("whole image", Rect(0, 0, width, height), frame)]
    out = []
    for i, ann in enumerate(annotations):
        if selection.kind == "class" and ann.class_name != selection.class_name:
            continue
        roi = polygonal_part(ann.roi.intersection(frame))
        if roi.is_empty or roi.area <= 0:
            log.warning(
                "annotation %d (%s) lies outside the %d x %d image; skipped",
                i,
                ann.name or ann.class_name,
                width,
                height,
            )
            continue
        x0, y0, x1, y1 = roi.bounds
        ix0, iy0 = max(0, math.floor(x0)), max(0, math.floor(y0))
        ix1, iy1 = min(width, math.ceil(x1)), min(height, math.ceil(y1))
        label = f"annotation {i + 1}" + (f" ({ann.name or ann.class_name})" if ann.name or ann.class_name else "")
        out.append(Region(label, Rect(ix0, iy0, ix1 - ix0, iy1 - iy0), roi, ann.handle))
    return out


@dataclass
class FolderImage:
    """An image file, with annotations from ``NAME.geojson`` (or ``STEM.geojson``) next to it."""

    path: Path
    annotation_path: Optional[Path]

    @property
    def key(self) -> str:
        return self.path.name

    @property
    def name(self) -> str:
        return self.path.name

    def open_pixels(self) -> PixelSource:
        return open_image(self.path)

    def pixel_size_um(self) -> Optional[float]:
        return file_pixel_size_um(self.path)

    def annotations(self) -> list[Annotation]:
        return read_annotation_geojson(self.annotation_path) if self.annotation_path else []

    def objects(self) -> list[Annotation]:
        """Annotations and detections of the image's GeoJSON (fine-tuning's regions and nuclei)."""
        return read_objects_geojson(self.annotation_path) if self.annotation_path else []

    def written(self, settings: str) -> Optional[dict]:
        """A plain file keeps no batch record of its own (the ledger does)."""
        return None

    def write(self, result: ProjectWrite) -> None:
        """An image folder has no project to write detections into."""
        raise SourceError(f"'{self.name}' is a plain image file: there is no QuPath project to write into")


class FolderSource:
    """A folder of images: the QuPath-free stand-in for a project (``--images-dir``).

    Args:
        folder: The folder (not searched recursively).
    """

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise SourceError(f"image folder '{folder}' does not exist")
        self.folder = folder
        self.location = folder

    def images(self) -> Iterator[FolderImage]:
        """The folder's images in name order, each with its annotation file if there is one."""
        for path in sorted(self.folder.iterdir()):
            if is_image(path):  # what a reader claims by content (a DICOM WSI folder too), not a suffix list
                yield FolderImage(path, _annotation_file(path))

    def close(self) -> None:
        """Nothing to release."""


def _annotation_file(image: Path) -> Optional[Path]:
    names = [image.name + ".geojson", image.stem + ".geojson"]
    if image.name.lower().endswith(".ome.tif") or image.name.lower().endswith(".ome.tiff"):
        names.append(image.name.split(".ome.")[0] + ".geojson")
    for n in names:
        p = image.with_name(n)
        if p.is_file() and not p.name.endswith(OUTPUT_SUFFIX):
            return p
    return None


def check_size(image: BatchImage, source: PixelSource, expected: Optional[tuple[int, int]]) -> None:
    """Refuse an image whose pixels do not have the size QuPath reports (e.g. another series of the file).

    Args:
        image: The batch image.
        source: Its opened pixels.
        expected: (width, height) the project states, or None.
    """
    if expected and (source.width, source.height) != tuple(expected):
        raise ImageReadError(
            f"'{image.name}': the file reads as {source.width} x {source.height} px but QuPath says "
            f"{expected[0]} x {expected[1]} (a multi-series file or another reader); coordinates would not match"
        )
