"""Training data from QuPath objects: regions of a class ("Training", "Validation") and the nuclei inside.

A region is read at the model's working pixel size; each nucleus whose outline lies whole inside it is
taught, a nucleus cut by the region's border is masked out of the loss (its pixels are neither taught
as nucleus nor as background), and so is everything outside the region's outline.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from shapely.geometry.base import BaseGeometry

from ..batch.sources import BatchSource
from ..errors import PathoSamError
from ..geometry import coords, polygons
from ..records import Rect

log = logging.getLogger(__name__)

# A nucleus counts as whole when at most this share of its area lies outside its region (drawing slop).
WHOLE_TOLERANCE = 0.01


class TrainingDataError(PathoSamError):
    """The training data cannot be used as it is; the message says what to fix in QuPath."""


@dataclass
class TrainingRegion:
    """One annotated region at the model's working scale.

    Attributes:
        label: Where it is, for messages and the model card ("image.tif: Training 2").
        split: ``train`` or ``val``.
        pixels: (H, W, 3) uint8 RGB.
        instances: (H, W) int32 labels of the whole nuclei (0 = background or masked).
        classes: Instance id -> class id (1-based, 0 = unclassified: taught as a nucleus, not a class).
        valid: (H, W) bool, False where the loss must not look (outside the outline, cut nuclei).
        n_partial: Nuclei cut by the region's border (masked out).
    """

    label: str
    split: str
    pixels: np.ndarray
    instances: np.ndarray
    classes: dict[int, int]
    valid: np.ndarray
    n_partial: int = 0


@dataclass
class TrainingData:
    """What ``collect`` found, and what it had to say about it."""

    regions: list[TrainingRegion] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    images: int = 0
    outside: int = 0  # objects in no region: not used

    def split(self, which: str) -> list[TrainingRegion]:
        """The regions of one split."""
        return [r for r in self.regions if r.split == which]

    def nuclei_per_class(self, which: str, class_names: tuple[str, ...]) -> dict[str, int]:
        """Nuclei of one split per class name ("Unclassified" for those without a class)."""
        counts: Counter[str] = Counter()
        for r in self.split(which):
            for c in r.classes.values():
                counts[class_names[c - 1] if c else "Unclassified"] += 1
        return dict(counts)


def collect(
    source: BatchSource,
    class_names: tuple[str, ...],
    model_pixel_size_um: float,
    train_class: str = "Training",
    val_class: str = "Validation",
    default_pixel_size_um: Optional[float] = None,
) -> TrainingData:
    """Read every region of the two classes, with its nuclei, from a project or an image folder.

    Args:
        source: The images (``FolderSource`` with QuPath GeoJSON, or a paquo ``QuPathSource``).
        class_names: The model's classes; every nucleus must be unclassified or one of them.
        model_pixel_size_um: The model's working pixel size (0 = unknown: images are read at full resolution).
        train_class: Class of training regions.
        val_class: Class of validation regions.
        default_pixel_size_um: Pixel size for uncalibrated images (None: full resolution).

    Returns:
        The regions and the warnings.
    """
    data = TrainingData()
    unknown: Counter[str] = Counter()
    kinds = {train_class: "train", val_class: "val"}
    for image in source.images():
        objects = image.objects()
        regions = [o for o in objects if o.class_name in kinds]
        if not regions:
            continue
        data.images += 1
        nuclei = [o for o in objects if o.class_name not in kinds]
        for o in nuclei:
            if o.class_name and o.class_name not in class_names:
                unknown[o.class_name] += 1
        if unknown:
            continue  # report every unknown class of every image at once, below
        _refuse_overlaps(image.name, regions)
        used: set[int] = set()
        pixel_size = image.pixel_size_um() or default_pixel_size_um
        downsample = model_pixel_size_um / pixel_size if (model_pixel_size_um and pixel_size) else 1.0
        source_pixels = image.open_pixels()
        try:
            counters: Counter[str] = Counter()
            for region in regions:
                split = kinds[region.class_name]
                counters[split] += 1
                label = f"{image.name}: {region.class_name} {counters[split]}" + (
                    f" ('{region.name}')" if region.name else ""
                )
                tr = _read_region(label, split, region.roi, nuclei, class_names, source_pixels, downsample, used)
                if not tr.classes:
                    data.warnings.append(
                        f"{label} holds no nuclei: it teaches only background (fine for glass or stroma; "
                        "otherwise draw or correct its nuclei in QuPath)"
                    )
                if tr.n_partial:
                    log.info("%s: %d nuclei cut by the region's border are left out of the loss", label, tr.n_partial)
                data.regions.append(tr)
        finally:
            close = getattr(source_pixels, "close", None)
            if close is not None:
                close()
        data.outside += sum(1 for i in range(len(nuclei)) if i not in used)
    if unknown:
        listed = ", ".join(f"'{n}' ({c})" for n, c in sorted(unknown.items()))
        raise TrainingDataError(
            f"objects with classes the model does not have: {listed}. The model's classes are "
            f"{', '.join(class_names)}; rename those classes in QuPath, make the objects unclassified (taught as "
            f"nuclei without a class), or train your own class list with --classes"
        )
    if not data.split("train"):
        raise TrainingDataError(
            f"no training regions: draw annotations of class '{train_class}' around the nuclei to learn from "
            f"(found {data.images} image(s) with regions)"
        )
    if not data.split("val"):
        raise TrainingDataError(
            f"no validation regions: draw at least one annotation of class '{val_class}' (nuclei drawn or corrected "
            "inside, like a training region); it is held out to measure the model before and after"
        )
    if not any(r.classes for r in data.split("train")):
        raise TrainingDataError("the training regions hold no nuclei: there is nothing to learn from")
    if data.outside:
        data.warnings.append(
            f"{data.outside} object(s) lie outside every '{train_class}' and '{val_class}' region and are not used"
        )
    return data


def _refuse_overlaps(image: str, regions: list) -> None:
    """Regions must not overlap: a nucleus would be taught twice, or leak from training into validation."""
    for i, a in enumerate(regions):
        for b in regions[i + 1 :]:
            if a.roi.intersection(b.roi).area > 0:
                raise TrainingDataError(
                    f"{image}: a '{a.class_name}' and a '{b.class_name}' region overlap; regions must not overlap "
                    "(a nucleus would be taught twice or be both trained on and validated on). Move or split them"
                )


def _read_region(
    label: str,
    split: str,
    roi: BaseGeometry,
    nuclei: list,
    class_names: tuple[str, ...],
    source,
    downsample: float,
    used: set[int],
) -> TrainingRegion:
    """Pixels and targets of one region at ``downsample``; marks the nuclei it uses in ``used``."""
    x0, y0, x1, y1 = roi.bounds
    bx0, by0 = max(int(math.floor(x0)), 0), max(int(math.floor(y0)), 0)
    bx1, by1 = min(int(math.ceil(x1)), source.width), min(int(math.ceil(y1)), source.height)
    if bx1 <= bx0 or by1 <= by0:
        raise TrainingDataError(f"{label} lies outside its image ({source.width} x {source.height} px)")
    rect = Rect(bx0, by0, bx1 - bx0, by1 - by0)
    pixels = source.read(rect, downsample)
    frame = coords.TileFrame(rect.x, rect.y, downsample)
    shape = pixels.shape[:2]
    valid = polygons.rasterize([(1, coords.geometry_to_tile(roi, frame))], shape) > 0
    whole: list[tuple[int, BaseGeometry]] = []
    classes: dict[int, int] = {}
    partial: list[tuple[int, BaseGeometry]] = []
    for k, n in enumerate(nuclei):
        if not n.roi.intersects(roi):
            continue
        used.add(k)
        outline = coords.geometry_to_tile(n.roi, frame)
        if n.roi.difference(roi).area <= WHOLE_TOLERANCE * max(n.roi.area, 1e-9):
            whole.append((len(whole) + 1, outline))
            classes[len(whole)] = class_names.index(n.class_name) + 1 if n.class_name else 0
        else:
            partial.append((1, outline))
    instances = polygons.rasterize(whole, shape)
    # A nucleus drawn so small that no pixel centre falls inside it has no pixels: it is not taught.
    present = set(np.unique(instances).tolist()) - {0}
    classes = {i: c for i, c in classes.items() if i in present}
    if partial:
        cut = polygons.rasterize(partial, shape) > 0
        valid &= ~cut
        instances[cut] = 0
    return TrainingRegion(label, split, pixels, instances, classes, valid, n_partial=len(partial))
