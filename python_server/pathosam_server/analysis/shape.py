"""Shape measurements with QuPath's names and definitions (``ObjectMeasurements.addShapeMeasurements``).

QuPath measures the ROI polygon, not the pixel mask, scaled by the pixel size: area and length (perimeter,
holes included), circularity 4 pi A / L^2 of the exterior ring (single polygons only), solidity A / convex
hull area, max diameter = diameter of the minimum bounding circle, min diameter = JTS ``MinimumDiameter``
(the smallest caliper width). Units are "µm" when the image is calibrated and "px" otherwise.

QuPath holds every ROI on a 0.01 px grid (``GeometryTools``' default precision model), so a polygon whose
vertices fall between grid points (a tile at a fractional downsample) is measured after the same snap:
the figures are those QuPath computes on the ROI it made of the polygon.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon

MICRO = "\u00b5m"
QUPATH_GRID_PX = 0.01  # GeometryTools.DEFAULT_FACTORY: PrecisionModel(-0.01)


def unit(pixel_size_um: float) -> str:
    """The length unit QuPath names measurements with: "µm" when calibrated, "px" otherwise."""
    return MICRO if pixel_size_um > 0 else "px"


def min_caliper_width(geom: Any) -> float:
    """Smallest width of the geometry over all directions (rotating calipers on the convex hull).

    shapely has no minimum-width function (GEOS's MinimumDiameter is not exposed), so this is the
    textbook routine: the minimum width is attained with one hull edge flush against a caliper.

    Args:
        geom: A shapely geometry.

    Returns:
        The width (0 for degenerate shapes).
    """
    hull = geom.convex_hull
    if not isinstance(hull, Polygon) or hull.is_empty:
        return 0.0
    pts = np.asarray(hull.exterior.coords)[:-1]
    edges = np.roll(pts, -1, axis=0) - pts
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    keep = lengths > 0
    normals = np.stack([-edges[keep, 1], edges[keep, 0]], axis=1) / lengths[keep, None]
    # distance of every hull vertex from each edge's line: the widest per edge, the narrowest over edges
    rel = pts[None, :, :] - pts[keep][:, None, :]  # (edges, vertices, 2)
    dist = np.abs(np.einsum("evi,ei->ev", rel, normals))
    return float(dist.max(axis=1).min())


def shape_measurements(geom: Any, pixel_size_um: float, prefix: str = "") -> dict[str, float]:
    """QuPath's shape measurements of one level-0 polygon.

    Args:
        geom: shapely Polygon or MultiPolygon in level-0 pixels.
        pixel_size_um: Level-0 pixel size in µm (<= 0: uncalibrated, measured in px).
        prefix: "" for a detection, "Nucleus: " or "Cell: " for the parts of a cell (QuPath's names).

    Returns:
        {name: value}, e.g. {"Area µm^2": 31.4, "Length µm": 19.9, "Circularity": 0.99, ...}.
    """
    u = unit(pixel_size_um)
    scale = pixel_size_um if pixel_size_um > 0 else 1.0
    snapped = shapely.set_precision(geom, QUPATH_GRID_PX)
    geom = snapped if not snapped.is_empty else geom
    g = affinity.scale(geom, scale, scale, origin=(0, 0)) if scale != 1.0 else geom
    area, length = float(g.area), float(g.length)
    out = {f"{prefix}Area {u}^2": area, f"{prefix}Length {u}": length}
    if isinstance(g, Polygon) and length > 0:
        ring = Polygon(g.exterior) if g.interiors else g
        out[f"{prefix}Circularity"] = 4 * math.pi * ring.area / ring.length**2
    hull_area = float(g.convex_hull.area)
    if hull_area > 0:
        out[f"{prefix}Solidity"] = area / hull_area
    out[f"{prefix}Max diameter {u}"] = 2 * float(shapely.minimum_bounding_radius(g))
    out[f"{prefix}Min diameter {u}"] = min_caliper_width(g)
    return out


def is_polygonal(geom: Any) -> bool:
    """Whether QuPath would treat the geometry as an area ROI."""
    return isinstance(geom, (Polygon, MultiPolygon)) and not geom.is_empty
