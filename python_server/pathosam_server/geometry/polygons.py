"""Label images <-> polygons.

Polygons trace pixel edges exactly: every vertex sits on a pixel corner, so rasterising a polygon
at pixel centres gives back the mask it came from (before optional simplification). Holes and
several parts are kept.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

# Directions as (dx, dy) in a y-down frame; index order matters for the turn rule below.
_EAST, _SOUTH, _WEST, _NORTH = 0, 1, 2, 3
_STEP = {_EAST: (1, 0), _SOUTH: (0, 1), _WEST: (-1, 0), _NORTH: (0, -1)}


def _boundary_edges(mask: np.ndarray) -> dict[tuple[int, int], list[int]]:
    """Directed boundary edges of a binary mask, foreground on the right-hand side (y down).

    Returns:
        Map from start vertex (x, y) to the list of directions of edges leaving it.
    """
    p = np.pad(mask.astype(bool), 1)
    inner = p[1:-1, 1:-1]
    out: dict[tuple[int, int], list[int]] = {}
    # For each side: which neighbour must be background, the edge's start corner offset, direction.
    sides = (
        (p[:-2, 1:-1], (0, 0), _EAST),  # top edge runs east from the top-left corner
        (p[1:-1, 2:], (1, 0), _SOUTH),  # right edge runs south from the top-right corner
        (p[2:, 1:-1], (1, 1), _WEST),  # bottom edge runs west from the bottom-right corner
        (p[1:-1, :-2], (0, 1), _NORTH),  # left edge runs north from the bottom-left corner
    )
    for neighbour, (ox, oy), direction in sides:
        rows, cols = np.nonzero(inner & ~neighbour)
        for x, y in zip((cols + ox).tolist(), (rows + oy).tolist()):
            out.setdefault((x, y), []).append(direction)
    return out


def _trace_rings(mask: np.ndarray) -> list[np.ndarray]:
    """Link boundary edges into closed rings of corner vertices (collinear vertices dropped)."""
    edges = _boundary_edges(mask)
    rings: list[np.ndarray] = []
    while edges:
        start = next(iter(edges))
        x, y = start
        ring = [start]
        prev_dir = None
        while True:
            options = edges.get((x, y))
            if options is None:
                break
            if len(options) == 1 or prev_dir is None:
                direction = options[0]
            else:
                # A saddle: two diagonal foreground pixels meet. Turning right keeps them apart
                # (foreground 4-connected); make_valid later repairs any self-touching ring.
                for turn in (1, 0, 3):
                    if (prev_dir + turn) % 4 in options:
                        direction = (prev_dir + turn) % 4
                        break
            options.remove(direction)
            if not options:
                del edges[(x, y)]
            if direction != prev_dir and prev_dir is not None:
                ring.append((x, y))
            dx, dy = _STEP[direction]
            x, y = x + dx, y + dy
            prev_dir = direction
            if (x, y) == start:
                break
        # The start vertex may be collinear with its neighbours: keep it anyway (harmless).
        rings.append(np.asarray(ring, dtype=np.float64))
    return rings


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def mask_to_geometry(mask: np.ndarray, offset: tuple[int, int] = (0, 0)) -> BaseGeometry:
    """Trace a binary mask into an exact pixel-edge (multi)polygon in tile pixel coordinates.

    Args:
        mask: 2-D boolean array (a crop of the tile).
        offset: (col, row) of the crop's top-left pixel inside the tile.

    Returns:
        A valid Polygon or MultiPolygon (holes and parts kept); empty if the mask is empty.
    """
    rings = _trace_rings(mask)
    shells = [r for r in rings if _signed_area(r) > 0]
    holes = [r for r in rings if _signed_area(r) < 0]
    polys = []
    shell_polys = [Polygon(s) for s in shells]
    assigned: list[list[np.ndarray]] = [[] for _ in shells]
    for hole in holes:
        probe = Polygon(hole).representative_point()
        for i, sp in enumerate(shell_polys):
            if sp.contains(probe):
                assigned[i].append(hole)
                break
    for shell, own_holes in zip(shells, assigned):
        polys.append(Polygon(shell, own_holes))
    if not polys:
        return Polygon()
    geom = polys[0] if len(polys) == 1 else MultiPolygon(polys)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
        geom = polygonal_part(geom)
    if offset != (0, 0):
        geom = shapely.transform(geom, lambda c: c + np.asarray(offset, dtype=np.float64))
    return geom


def polygonal_part(geom: BaseGeometry) -> BaseGeometry:
    """Only the polygonal parts of a geometry (make_valid and intersections may add stray lines/points).

    Args:
        geom: Any shapely geometry.

    Returns:
        A Polygon or MultiPolygon (an empty Polygon when nothing polygonal is left).
    """
    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    flat: list[Polygon] = []
    for g in getattr(geom, "geoms", []):
        if isinstance(g, MultiPolygon):
            flat.extend(g.geoms)
        elif isinstance(g, Polygon):
            flat.append(g)
    if not flat:
        return Polygon()
    return flat[0] if len(flat) == 1 else MultiPolygon(flat)


def simplify(geom: BaseGeometry, tolerance: float) -> BaseGeometry:
    """Douglas-Peucker simplification that keeps topology (holes stay holes).

    Args:
        geom: A polygonal geometry.
        tolerance: Maximum deviation in the geometry's units; 0 only drops collinear vertices.

    Returns:
        The simplified geometry (the input if simplification would empty it).
    """
    out = shapely.simplify(geom, tolerance, preserve_topology=True)
    return geom if out.is_empty else out


def polygons_of(geom: BaseGeometry) -> list[Polygon]:
    """The polygons of a Polygon / MultiPolygon, in order."""
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    return [g for g in geom.geoms if isinstance(g, Polygon) and not g.is_empty]


def rasterize(geoms: Iterable[tuple[int, BaseGeometry]], shape: tuple[int, int]) -> np.ndarray:
    """Rasterise labelled geometries (tile pixel units) by testing pixel centres.

    Prompt refinements rasterise the client's previous outline; tests check that polygons give back their labels.

    Args:
        geoms: (label, geometry) pairs.
        shape: (rows, cols) of the output.

    Returns:
        int32 label image; later geometries win overlaps.
    """
    out = np.zeros(shape, dtype=np.int32)
    for label, geom in geoms:
        if geom.is_empty:
            continue
        minx, miny, maxx, maxy = geom.bounds
        c0, r0 = max(int(np.floor(minx)), 0), max(int(np.floor(miny)), 0)
        c1, r1 = min(int(np.ceil(maxx)), shape[1]), min(int(np.ceil(maxy)), shape[0])
        if c1 <= c0 or r1 <= r0:
            continue
        cc, rr = np.meshgrid(np.arange(c0, c1) + 0.5, np.arange(r0, r1) + 0.5)
        inside = shapely.contains_xy(geom, cc.ravel(), rr.ravel()).reshape(cc.shape)
        out[r0:r1, c0:c1][inside] = label
    return out
