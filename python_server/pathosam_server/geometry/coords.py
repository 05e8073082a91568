"""THE one place in Python that converts between tile pixels and level-0 image coordinates.

Level-0 coordinates are QuPath's: x right, y down, origin top-left, in full-resolution pixels. A tile
carries its level-0 origin and downsample ``d``; tile pixel (col, row) covers level-0
[x + col*d, x + (col+1)*d) x [y + row*d, y + (row+1)*d). Arrays are [row, col]; points here are (x, y).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class TileFrame:
    """Where a tile's pixels sit in the level-0 image.

    Attributes:
        x: Level-0 x of the tile's top-left corner.
        y: Level-0 y of the tile's top-left corner.
        downsample: Level-0 pixels per tile pixel.
    """

    x: float
    y: float
    downsample: float


def tile_to_level0(xy: np.ndarray, frame: TileFrame) -> np.ndarray:
    """Convert tile-pixel coordinates to level-0 coordinates (the only conversion in Python).

    Tile coordinates are (x = column, y = row) in tile pixel units, with pixel (col, row)
    covering [col, col + 1) x [row, row + 1); its top-left corner maps to
    (frame.x + col * d, frame.y + row * d).

    Args:
        xy: Array of shape (N, 2) holding (x, y) = (column, row) tile coordinates.
        frame: The tile's placement.

    Returns:
        Array of shape (N, 2) with level-0 (x, y).
    """
    xy = np.asarray(xy, dtype=np.float64)
    return np.column_stack((frame.x + xy[:, 0] * frame.downsample, frame.y + xy[:, 1] * frame.downsample))


def level0_to_tile(xy: np.ndarray, frame: TileFrame) -> np.ndarray:
    """The inverse of `tile_to_level0` (prompt points arrive in level-0 coordinates).

    Args:
        xy: Array of shape (N, 2) with level-0 (x, y).
        frame: The tile's placement.

    Returns:
        Array of shape (N, 2) with tile (x, y) = (column, row) coordinates.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return np.column_stack(((xy[:, 0] - frame.x) / frame.downsample, (xy[:, 1] - frame.y) / frame.downsample))


def geometry_to_level0(geom: BaseGeometry, frame: TileFrame) -> BaseGeometry:
    """Apply `tile_to_level0` to every vertex of a shapely geometry."""
    return shapely.transform(geom, lambda coords: tile_to_level0(coords, frame))


def geometry_to_tile(geom: BaseGeometry, frame: TileFrame) -> BaseGeometry:
    """Apply `level0_to_tile` to every vertex of a shapely geometry (training outlines onto a region's pixels)."""
    return shapely.transform(geom, lambda coords: level0_to_tile(coords, frame))
