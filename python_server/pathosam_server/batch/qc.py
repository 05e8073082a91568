"""Quality control of a batch: per-image figures from its outputs, and flags that point a person at images.

Every figure here comes from what a batch leaves behind, so a finished batch's report can be rebuilt
without rerunning anything: the ledger record of the image (counts, tiles, seconds, calibration, and the
``qc`` entry the batch adds when a report is asked: tissue area, nuclei at tile edges, the regions' box)
and the image's GeoJSON (outlines, classes, scores). The batch itself builds its report through the same
functions from the same files, so both give the same figures.

The flags compare an image with the cohort (median over the images with nuclei) and with plain ranges;
their thresholds are in ``QcThresholds`` and printed on the report page.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..classes import UNCLASSIFIED
from ..records import NucleusRecord, Rect

SCORE_BINS = 20  # score histogram bins over [0, 1]


@dataclass(frozen=True)
class QcThresholds:
    """When an image is flagged.

    Attributes:
        area_ratio: Median nucleus area more than this factor above or below the cohort's median. A wrong
            scale or calibration shows here, though less than one expects: the model, shown nuclei at the
            wrong size, merges or splits them, which moves the median back towards the cohort's (measured
            with the tiny model: calibration 4x too fine, median area 0.53x the cohort's, not 1/16).
        density_ratio: Nuclei per mm2 of tissue more than this factor above or below the cohort's median
            (the same wrong calibration: 2.75x the cohort's density).
        score_drop: Mean score this much below the cohort's median mean score.
        edge_fraction: More than this fraction of nuclei touch an inner tile edge (the halo is too small
            for them, or the model makes giant objects).
        density_per_mm2: Nuclei per mm2 of tissue outside this range (calibrated images only). H&E tissue
            holds about 1,000-10,000 nuclei per mm2; far outside is fragments (high) or a failed run (low).
        min_cohort: Images with nuclei needed before cohort comparisons are made.
    """

    area_ratio: float = 1.5
    density_ratio: float = 2.0
    score_drop: float = 0.15
    edge_fraction: float = 0.05
    density_per_mm2: tuple[float, float] = (200.0, 20000.0)
    min_cohort: int = 3

    def describe(self) -> list[str]:
        """The rules in words, for the report page."""
        lo, hi = self.density_per_mm2
        return [
            f"median nucleus area more than {self.area_ratio:g}x above or below the cohort's median",
            f"nuclei per mm\u00b2 of tissue more than {self.density_ratio:g}x above or below the cohort's median",
            f"mean score more than {self.score_drop:g} below the cohort's median",
            f"more than {self.edge_fraction:.0%} of nuclei touching an inner tile edge",
            f"nuclei per mm\u00b2 of tissue outside {lo:,.0f}-{hi:,.0f} (calibrated images)",
            f"cohort comparisons need at least {self.min_cohort} images with nuclei",
        ]


@dataclass
class ImageQc:
    """One image's figures (level-0 pixel units, converted with ``pixel_size_um`` where calibrated).

    Attributes:
        name: Image name.
        status: done / done earlier / failed: ... .
        per_class: Nuclei per class name.
        scores: Each nucleus's score (as written to GeoJSON).
        areas_px: Each nucleus's outline area, level-0 square pixels.
        tissue_area_px: Tissue inside the regions, level-0 square pixels (None: not measured).
        region_area_px: Area of the regions, level-0 square pixels.
        edge_nuclei: Nuclei touching an inner tile edge.
        pixel_size_um: Level-0 calibration (None: uncalibrated).
        downsample: Level-0 pixels per working pixel of the run.
        tiles: Tiles planned.
        tiles_skipped: Tiles skipped as glass.
        seconds: Time the image took.
        thumbnail: JPEG of the regions with outlines (None: no pixels were available).
        flags: Why a person should look at it (``apply_flags``).
    """

    name: str
    status: str = "done"
    per_class: Counter = field(default_factory=Counter)
    scores: list[float] = field(default_factory=list)
    areas_px: list[float] = field(default_factory=list)
    tissue_area_px: Optional[float] = None
    region_area_px: float = 0.0
    edge_nuclei: int = 0
    pixel_size_um: Optional[float] = None
    downsample: float = 1.0
    tiles: int = 0
    tiles_skipped: int = 0
    seconds: float = 0.0
    thumbnail: Optional[bytes] = None
    flags: list[str] = field(default_factory=list)

    @property
    def nuclei(self) -> int:
        """Number of nuclei."""
        return sum(self.per_class.values())

    @property
    def mean_score(self) -> Optional[float]:
        """Mean nucleus score (None without nuclei)."""
        return float(np.mean(self.scores)) if self.scores else None

    @property
    def median_area(self) -> Optional[float]:
        """Median nucleus area in um2 (calibrated) or level-0 px2."""
        if not self.areas_px:
            return None
        return float(np.median(self.areas_px)) * (self.pixel_size_um or 1.0) ** 2

    @property
    def area_unit(self) -> str:
        """Unit of ``median_area``."""
        return "\u00b5m\u00b2" if self.pixel_size_um else "px\u00b2"

    @property
    def tissue_mm2(self) -> Optional[float]:
        """Tissue area in mm2 (None: uncalibrated or not measured)."""
        if self.tissue_area_px is None or not self.pixel_size_um:
            return None
        return self.tissue_area_px * (self.pixel_size_um / 1000.0) ** 2

    @property
    def density_per_mm2(self) -> Optional[float]:
        """Nuclei per mm2 of tissue (None: uncalibrated, not measured or no tissue)."""
        mm2 = self.tissue_mm2
        return self.nuclei / mm2 if mm2 else None

    @property
    def edge_fraction(self) -> float:
        """Fraction of nuclei touching an inner tile edge."""
        return self.edge_nuclei / self.nuclei if self.nuclei else 0.0

    def score_histogram(self) -> list[int]:
        """Nuclei per score bin (``SCORE_BINS`` over [0, 1])."""
        counts, _ = np.histogram(np.clip(self.scores, 0.0, 1.0), bins=SCORE_BINS, range=(0.0, 1.0))
        return [int(c) for c in counts]


def nucleus_stats(nuclei: Sequence[NucleusRecord]) -> tuple[Counter, list[float], list[float]]:
    """Per-class counts, scores and outline areas of nuclei, as their GeoJSON holds them.

    Scores are rounded as ``formats.geojson`` writes them, so nuclei in memory and nuclei read back from
    the file give the same figures.

    Args:
        nuclei: The nuclei.

    Returns:
        (per-class counts, scores, areas in level-0 px2).
    """
    per_class = Counter(n.class_name or UNCLASSIFIED for n in nuclei)
    return per_class, [round(float(n.score), 6) for n in nuclei], [float(n.geometry.area) for n in nuclei]


def qc_info(nuclei: Sequence[NucleusRecord], regions: Sequence[Any], tissue_area_px: float) -> dict:
    """The ``qc`` entry a batch writes into an image's ledger record (what the GeoJSON does not hold).

    Args:
        nuclei: The image's nuclei (with ``touches_tile_edge`` from the pipeline).
        regions: Its regions (``batch.sources.Region``: ``rect`` and ``roi``).
        tissue_area_px: Tissue inside the regions, level-0 px2.

    Returns:
        JSON-ready dict.
    """
    box = region_box([r.rect for r in regions])
    return {
        "edge_nuclei": int(sum(bool(n.touches_tile_edge) for n in nuclei)),
        "tissue_area_px": round(float(tissue_area_px), 1),
        "region_area_px": round(float(sum(r.roi.area for r in regions)), 1),
        "box": [box.x, box.y, box.width, box.height],
    }


def region_box(rects: Sequence[Rect]) -> Rect:
    """The bounding box of rectangles.

    Args:
        rects: At least one rectangle.

    Returns:
        Their union's bounding box.
    """
    x0, y0 = min(r.x for r in rects), min(r.y for r in rects)
    x1, y1 = max(r.x1 for r in rects), max(r.y1 for r in rects)
    return Rect(x0, y0, x1 - x0, y1 - y0)


def image_qc(name: str, status: str, record: dict, nuclei: Sequence[NucleusRecord]) -> ImageQc:
    """An image's figures from its ledger record and its nuclei (as read from its GeoJSON).

    Args:
        name: Image name.
        status: Its status in this batch.
        record: Its ledger record (``batch.run`` info; ``qc`` when the batch made a report).
        nuclei: Its nuclei.

    Returns:
        The figures (no thumbnail, no flags yet).
    """
    per_class, scores, areas = nucleus_stats(nuclei)
    qc = record.get("qc") or {}
    return ImageQc(
        name=name,
        status=status,
        per_class=per_class,
        scores=scores,
        areas_px=areas,
        tissue_area_px=qc.get("tissue_area_px"),
        region_area_px=float(qc.get("region_area_px", 0.0)),
        edge_nuclei=int(qc.get("edge_nuclei", 0)),
        pixel_size_um=record.get("pixel_size_um"),
        downsample=float(record.get("downsample", 1.0)),
        tiles=int(record.get("tiles", 0)),
        tiles_skipped=int(record.get("tiles_skipped", 0)),
        seconds=float(record.get("seconds", 0.0)),
    )


def apply_flags(images: Sequence[ImageQc], t: QcThresholds = QcThresholds()) -> None:
    """Set each image's ``flags`` (cohort comparisons only with ``t.min_cohort`` images that have nuclei).

    Args:
        images: The batch's images.
        t: The thresholds.
    """
    with_nuclei = [im for im in images if im.nuclei]
    cohort = len(with_nuclei) >= t.min_cohort
    # Areas are compared in the unit each image has (um2 where calibrated): a wrong calibration then
    # shows as a wrong area, which is what a person needs to see.
    med_area = float(np.median([im.median_area for im in with_nuclei])) if cohort else None
    med_score = float(np.median([im.mean_score for im in with_nuclei])) if cohort else None
    densities = [d for d in (im.density_per_mm2 for im in with_nuclei) if d is not None]
    med_density = float(np.median(densities)) if cohort and len(densities) >= t.min_cohort else None
    for im in images:
        im.flags = []
        if im.status.startswith("failed"):
            im.flags.append(im.status)
            continue
        if not im.nuclei:
            if im.tissue_area_px:
                im.flags.append("no nuclei found in its tissue")
            continue
        area, score = im.median_area, im.mean_score
        if med_area and area is not None and abs(math.log(area / med_area)) > math.log(t.area_ratio):
            im.flags.append(
                f"median nucleus area {area:.1f} {im.area_unit} vs cohort {med_area:.1f} "
                f"({area / med_area:.2f}x): wrong scale or calibration?"
            )
        if med_score is not None and score is not None and score < med_score - t.score_drop:
            im.flags.append(f"mean score {score:.2f} vs cohort {med_score:.2f}")
        if im.edge_fraction > t.edge_fraction:
            im.flags.append(f"{im.edge_fraction:.0%} of nuclei touch a tile edge")
        density = im.density_per_mm2
        if med_density and density and abs(math.log(density / med_density)) > math.log(t.density_ratio):
            im.flags.append(
                f"{density:,.0f} nuclei per mm\u00b2 vs cohort {med_density:,.0f} ({density / med_density:.2f}x)"
            )
        lo, hi = t.density_per_mm2
        if density is not None and not lo <= density <= hi:
            im.flags.append(f"{density:,.0f} nuclei per mm\u00b2 of tissue (expected {lo:,.0f}-{hi:,.0f})")
