"""Where a batch's images and regions come from, without QuPath.

The batch sees only the small types here. A QuPath project (``paquo_project.py``, the one module that
imports paquo) and a plain folder of images with optional QuPath annotation GeoJSON next to them
(``FolderSource``) both produce them, so everything around paquo runs and is tested without QuPath.
"""
from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Protocol, Sequence

import shapely
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from .images import ImageReadError, PixelSource, TiffSource, open_image
from .tiling import Rect

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".svs", ".ndpi", ".scn", ".bif", ".btf", ".qptiff")
# TIFF-based whole-slide formats that tifffile reads although images.open_image does not know the suffix.
_EXTRA_TIFF_SUFFIXES = (".ndpi", ".scn", ".bif", ".qptiff")
OUTPUT_SUFFIX = ".nuclei.geojson"  # batch output next to annotation input must never be read back as input


class SourceError(Exception):
    """A project or image folder cannot be read; the message says why and what to do."""


@dataclass(frozen=True)
class Annotation:
    """One annotation of an image, level-0.

    Attributes:
        roi: Polygonal geometry.
        class_name: Classification name ("" = unclassified).
        name: The annotation's own name ("" = none).
        handle: The source's object for it (a paquo annotation), so detections can become its children.
    """

    roi: BaseGeometry
    class_name: str = ""
    name: str = ""
    handle: object = None


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
    handle: object = None


@dataclass(frozen=True)
class RegionSelection:
    """Which regions of each image: the whole image, all annotations, or annotations of one class."""

    kind: str
    class_name: str = ""

    @classmethod
    def parse(cls, text: str) -> "RegionSelection":
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


class BatchImage(Protocol):
    """One image of a batch, as any source presents it."""

    key: str  # stable identity for the ledger (project entry id, or file name)
    name: str  # display name (QuPath image name, or file name)

    def open_pixels(self) -> PixelSource:
        """Open the image's pixels (raises ImageReadError with a clear message)."""
        ...

    def pixel_size_um(self) -> Optional[float]:
        """Level-0 pixel size in micrometres, or None when the image is not calibrated."""
        ...

    def annotations(self) -> list[Annotation]:
        """The image's annotations."""
        ...


def select_regions(annotations: Sequence[Annotation], selection: RegionSelection, width: int, height: int) -> list[Region]:
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
        roi = _polygonal(ann.roi.intersection(frame))
        if roi.is_empty or roi.area <= 0:
            log.warning("annotation %d (%s) lies outside the %d x %d image; skipped", i, ann.name or ann.class_name, width, height)
            continue
        x0, y0, x1, y1 = roi.bounds
        ix0, iy0 = max(0, math.floor(x0)), max(0, math.floor(y0))
        ix1, iy1 = min(width, math.ceil(x1)), min(height, math.ceil(y1))
        label = f"annotation {i + 1}" + (f" ({ann.name or ann.class_name})" if ann.name or ann.class_name else "")
        out.append(Region(label, Rect(ix0, iy0, ix1 - ix0, iy1 - iy0), roi, ann.handle))
    return out


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The polygonal part of a geometry (lines and points from intersections dropped)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def read_annotation_geojson(path: Path) -> list[Annotation]:
    """Annotations from a QuPath GeoJSON export (FeatureCollection, feature list or one feature).

    Detections, cells and tiles in the file are ignored; invalid polygons are repaired as QuPath does
    (make_valid), and non-polygonal shapes (points, lines) are skipped.

    Args:
        path: The .geojson file.

    Returns:
        The annotations.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SourceError(f"cannot read annotations '{path}': {err}") from err
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features", [])
    elif isinstance(data, list):
        features = data
    elif isinstance(data, dict) and data.get("type") == "Feature":
        features = [data]
    else:
        raise SourceError(f"'{path}' is not GeoJSON (expected a FeatureCollection, a Feature or a list of Features)")
    out = []
    for f in features:
        props = (f or {}).get("properties") or {}
        if props.get("objectType", "annotation") != "annotation" or not f.get("geometry"):
            continue
        try:
            geom = _polygonal(shapely.make_valid(shape(f["geometry"])))
        except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as err:
            log.warning("%s: skipping an annotation with a broken geometry (%s)", path.name, err)
            continue
        if geom.is_empty:
            continue
        cls = props.get("classification")
        cls_name = cls.get("name", "") if isinstance(cls, dict) else (cls if isinstance(cls, str) else "")
        out.append(Annotation(geom, cls_name or "", str(props.get("name") or "")))
    return out


def open_pixels(path: Path) -> PixelSource:
    """Open an image file, including TIFF-based slide formats ``images.open_image`` does not name.

    Args:
        path: The image file.

    Returns:
        A lazy pixel source.
    """
    if path.suffix.lower() in _EXTRA_TIFF_SUFFIXES and path.is_file():
        return TiffSource(path)
    return open_image(path)


def file_pixel_size_um(path: Path) -> Optional[float]:
    """Pixel size written in a TIFF (OME PhysicalSizeX, Aperio MPP, or resolution tags in cm/inch).

    Args:
        path: The image file.

    Returns:
        Micrometres per level-0 pixel, or None when the file states none (PNG, JPEG, plain TIFF).
    """
    if path.suffix.lower() not in (".tif", ".tiff", ".svs", ".btf") + _EXTRA_TIFF_SUFFIXES:
        return None
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if tif.is_ome and tif.ome_metadata:
                size = _ome_pixel_size(tif.ome_metadata)
                if size:
                    return size
            desc = tif.pages[0].description or ""
            m = re.search(r"MPP\s*=\s*([0-9.eE+-]+)", desc)
            if m:
                return float(m.group(1))
            tags = tif.pages[0].tags
            if "XResolution" in tags and "ResolutionUnit" in tags:
                num, den = tags["XResolution"].value
                per_unit = num / den if den else 0.0
                unit_um = {2: 25400.0, 3: 10000.0}.get(int(tags["ResolutionUnit"].value), 0.0)
                if per_unit > 0 and unit_um:
                    size = unit_um / per_unit
                    # 72 or 96 dpi is a writer's default, not a microscope's calibration
                    return size if size < 50 else None
    except Exception as err:  # a file tifffile cannot parse has no calibration we could trust
        log.debug("no pixel size from %s: %s", path, err)
    return None


def _ome_pixel_size(xml: str) -> Optional[float]:
    m = re.search(r"<Pixels\b[^>]*>", xml)
    if not m:
        return None
    size = re.search(r'PhysicalSizeX="([0-9.eE+-]+)"', m.group(0))
    if not size:
        return None
    unit = re.search(r'PhysicalSizeXUnit="([^"]+)"', m.group(0))
    scale = {"µm": 1.0, "um": 1.0, "\u03bcm": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6}.get(
        unit.group(1) if unit else "µm"
    )
    return float(size.group(1)) * scale if scale else None


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
        return open_pixels(self.path)

    def pixel_size_um(self) -> Optional[float]:
        return file_pixel_size_um(self.path)

    def annotations(self) -> list[Annotation]:
        return read_annotation_geojson(self.annotation_path) if self.annotation_path else []


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
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
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
