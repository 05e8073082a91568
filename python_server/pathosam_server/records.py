"""Plain data shared by every room: rectangles, segmentation parameters, nuclei, annotations.

No torch and no gRPC here, so geometry, formats and batches can import these types cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Optional

import numpy as np


@dataclass(frozen=True)
class Rect:
    """Axis-aligned level-0 rectangle [x, x + width) x [y, y + height)."""

    x: int
    y: int
    width: int
    height: int

    @property
    def x1(self) -> int:
        """Exclusive right edge."""
        return self.x + self.width

    @property
    def y1(self) -> int:
        """Exclusive bottom edge."""
        return self.y + self.height

    @property
    def area(self) -> int:
        """Area in level-0 square pixels."""
        return self.width * self.height

    def contains_point(self, px: float, py: float) -> bool:
        """Half-open containment, so neighbouring cores never both own a point."""
        return self.x <= px < self.x1 and self.y <= py < self.y1

    def contains_rect(self, other: Rect) -> bool:
        """Whether ``other`` lies entirely inside this rectangle."""
        return self.x <= other.x and self.y <= other.y and other.x1 <= self.x1 and other.y1 <= self.y1

    def intersects(self, other: Rect) -> bool:
        """Whether the two rectangles share a positive area."""
        return self.x < other.x1 and other.x < self.x1 and self.y < other.y1 and other.y < self.y1


@dataclass(frozen=True)
class Params:
    """Automatic segmentation parameters (defaults are micro-sam's AIS defaults).

    Attributes:
        classify: Compute per-nucleus classes when the model has a semantic decoder.
        simplify_tolerance: Douglas-Peucker tolerance in tile pixels (0 = exact pixel outlines).
        min_size: Drop nuclei smaller than this many tile pixels.
        center_distance_threshold: AIS seed threshold on centre distances.
        boundary_distance_threshold: AIS seed threshold on boundary distances.
        foreground_threshold: AIS foreground threshold.
        all_class_probabilities: Report every class mean, not only the winner.
        skip_background: Do not encode tiles that hold no tissue (``inference.tissue``); off by default,
            so a request that does not ask gets every tile encoded as before.
        measure_shape: Add QuPath's shape measurements (``analysis.shape``) to every nucleus (and cell).
        measure_intensity: Add H&E stain statistics by colour deconvolution (``analysis.stains``).
        stains: Stain vectors for the intensities (None = QuPath's "H&E default").
        pixel_size_um: Level-0 pixel size of the image in µm (0 = uncalibrated: measurements in px).
        cell_expansion: Grow each nucleus into a cell by this distance (µm when calibrated, level-0 px
            otherwise; 0 = nuclei only).
        cell_constrain_scale: Keep each cell inside its nucleus scaled by this factor (0 = no limit).
    """

    classify: bool = True
    simplify_tolerance: float = 0.5
    min_size: int = 10
    center_distance_threshold: float = 0.5
    boundary_distance_threshold: float = 0.5
    foreground_threshold: float = 0.5
    all_class_probabilities: bool = False
    skip_background: bool = False
    measure_shape: bool = False
    measure_intensity: bool = False
    stains: Any = None
    pixel_size_um: float = 0.0
    cell_expansion: float = 0.0
    cell_constrain_scale: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The parameters as JSON-ready values (stains by their description), for provenance."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.describe() if f.name == "stains" and value is not None else value
        return out

    def updated(self, **changes: Any) -> Params:
        """A copy with the given (non-None) fields replaced."""
        names = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in changes.items() if v is not None and k in names})


@dataclass
class NucleusRecord:
    """One nucleus in level-0 coordinates.

    Attributes:
        geometry: shapely Polygon or MultiPolygon (holes and parts kept).
        score: Mean foreground probability (automatic) or SAM's IoU estimate (prompts), in [0, 1].
        area: Area in level-0 square pixels.
        centroid_x: Level-0 x of the mask's centroid (decides which tile owns it).
        centroid_y: Level-0 y of the mask's centroid.
        touches_tile_edge: The mask touches an inner tile edge (the halo was too small for it).
        class_id: PanNuke class id (0 = no class).
        class_name: Its name ("" = no class).
        class_probability: Mean probability of that class over the nucleus's pixels.
        class_probabilities: Every class's mean (index 0 background), when asked for.
        measurements: QuPath-named measurements ("Area µm^2", "Hematoxylin: Mean", ...), when asked for.
        cell_geometry: Level-0 outline of the cell grown from this nucleus (None = no cell).
    """

    geometry: Any
    score: float
    area: float
    centroid_x: float
    centroid_y: float
    touches_tile_edge: bool
    class_id: int = 0
    class_name: str = ""
    class_probability: float = 0.0
    class_probabilities: Optional[np.ndarray] = None
    measurements: dict[str, float] = field(default_factory=dict)
    cell_geometry: Any = None


@dataclass(frozen=True)
class Annotation:
    """One annotation of an image, level-0.

    Attributes:
        roi: Polygonal shapely geometry.
        class_name: Classification name ("" = unclassified).
        name: The annotation's own name ("" = none).
        handle: The source's object for it (a paquo annotation), so detections can become its children.
    """

    roi: Any
    class_name: str = ""
    name: str = ""
    handle: object = None
