"""The tile plan and the ownership rule shared with the Java client.

Ownership rule: a region is cut into *cores* that partition it exactly (half-open rectangles);
each tile's pixels are its core plus a halo. A nucleus belongs to the tile whose core contains its
centroid, so every nucleus comes back exactly once and whole, whatever the grid, as long as the
halo is wider than the largest nucleus radius.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Optional

from ..records import Rect


@dataclass(frozen=True)
class PlannedTile:
    """One tile of a plan.

    Attributes:
        rect: Level-0 rectangle whose pixels are read (core plus halo, clipped to the image).
        core: Level-0 rectangle this tile owns.
        width: Tile image width in pixels at the plan's downsample.
        height: Tile image height in pixels.
    """

    rect: Rect
    core: Rect
    width: int
    height: int


def round_half_up(value: float) -> int:
    """Round as Java's Math.round and QuPath do (Python's round() goes half-to-even)."""
    return math.floor(value + 0.5)


def tile_pixel_size(rect: Rect, downsample: float) -> tuple[int, int]:
    """Pixel size of a level-0 rectangle read at a downsample (QuPath rounds the same way)."""
    return max(1, round_half_up(rect.width / downsample)), max(1, round_half_up(rect.height / downsample))


def cut_lines(start: int, length: int, step: float) -> list[int]:
    """Core boundaries along one axis: ``start + round(i * step)`` inside the range, plus its end.

    Args:
        start: Level-0 start of the range.
        length: Its length.
        step: Core edge in level-0 pixels (tile size x downsample).

    Returns:
        Increasing cut lines, first ``start``, last ``start + length``.
    """
    n = max(1, math.ceil(length / step - 1e-9))
    cuts = [start + round_half_up(i * step) for i in range(n)] + [start + length]
    return sorted(set(c for c in cuts if start <= c <= start + length))


def plan_tiles(
    region: Rect,
    downsample: float,
    tile_size: int,
    halo: int,
    image_width: Optional[int] = None,
    image_height: Optional[int] = None,
) -> list[PlannedTile]:
    """Cut a region into tiles the way the Java client does.

    Core boundaries lie at ``x + round(i * tile_size * downsample)`` (likewise y), clipped to the
    region; each tile's rectangle is its core grown by ``round(halo * downsample)`` on every side,
    clipped to the image.

    Args:
        region: Level-0 region to cover.
        downsample: Level-0 pixels per tile pixel.
        tile_size: Inner tile edge in tile pixels.
        halo: Halo on each side in tile pixels.
        image_width: Level-0 image width for clipping (None = no clipping on the right).
        image_height: Level-0 image height for clipping.

    Returns:
        The tiles, row by row.
    """
    step = tile_size * downsample
    xs = cut_lines(region.x, region.width, step)
    ys = cut_lines(region.y, region.height, step)
    return tiles_from_cuts(xs, ys, downsample, halo, image_width, image_height)


def tiles_from_cuts(
    xs: Sequence[int],
    ys: Sequence[int],
    downsample: float,
    halo: int,
    image_width: Optional[int] = None,
    image_height: Optional[int] = None,
) -> list[PlannedTile]:
    """Tiles whose cores lie between consecutive cut lines, each grown by its halo.

    Args:
        xs: Increasing level-0 x cut lines (first = region start, last = region end).
        ys: Increasing level-0 y cut lines.
        downsample: Level-0 pixels per tile pixel.
        halo: Halo on each side in tile pixels (grown by ``round(halo * downsample)`` level-0 pixels).
        image_width: Level-0 image width for clipping (None = no clipping on the right).
        image_height: Level-0 image height for clipping.

    Returns:
        The tiles, row by row.
    """
    pad = round_half_up(halo * downsample)
    tiles = []
    for y0, y1 in zip(ys[:-1], ys[1:]):
        for x0, x1 in zip(xs[:-1], xs[1:]):
            core = Rect(x0, y0, x1 - x0, y1 - y0)
            rx0, ry0 = max(0, x0 - pad), max(0, y0 - pad)
            rx1 = x1 + pad if image_width is None else min(image_width, x1 + pad)
            ry1 = y1 + pad if image_height is None else min(image_height, y1 + pad)
            rect = Rect(rx0, ry0, rx1 - rx0, ry1 - ry0)
            w, h = tile_pixel_size(rect, downsample)
            tiles.append(PlannedTile(rect=rect, core=core, width=w, height=h))
    return tiles


class CoreIndex:
    """Remembers the cores seen in one stream to reject overlapping ones (O(1) per tile).

    Memory grows with the number of tiles (a few integers each), never with pixels.
    """

    _BUCKET = 4096

    def __init__(self) -> None:
        self._buckets: dict[tuple[int, int], list[Rect]] = {}
        self.covered_area = 0

    def _keys(self, r: Rect) -> Iterator[tuple[int, int]]:
        b = self._BUCKET
        for bx in range(r.x // b, (r.x1 - 1) // b + 1):
            for by in range(r.y // b, (r.y1 - 1) // b + 1):
                yield bx, by

    def overlapping(self, core: Rect) -> Optional[Rect]:
        """A previously added core that overlaps ``core``, or None."""
        for key in self._keys(core):
            for other in self._buckets.get(key, ()):
                if other.intersects(core):
                    return other
        return None

    def add(self, core: Rect) -> None:
        """Record a core (call only after ``overlapping`` returned None)."""
        for key in self._keys(core):
            self._buckets.setdefault(key, []).append(core)
        self.covered_area += core.area
