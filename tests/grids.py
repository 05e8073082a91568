"""Tile grids for tests: the product's plan, or the same cut shifted, to compare two grids over one region."""
from __future__ import annotations

from pathosam_server.geometry.tiling import PlannedTile, cut_lines, plan_tiles, round_half_up, tiles_from_cuts
from pathosam_server.records import Rect


def _shifted_cuts(start: int, length: int, step: float, shift: int) -> list[int]:
    """Cut lines of a grid whose first inner line lies ``shift`` level-0 pixels after ``start``."""
    cuts = [start]
    i = 0
    while True:
        c = start + shift + round_half_up(i * step)
        if c >= start + length:
            break
        if c > start:
            cuts.append(c)
        i += 1
    cuts.append(start + length)
    return cuts


def plan_grid(region: Rect, downsample: float, tile_size: int, halo: int, width: int | None = None,
              height: int | None = None, origin: tuple[int, int] = (0, 0)) -> list[PlannedTile]:
    """The product's tile plan, or (``origin`` != 0) a grid shifted by ``origin`` tile pixels.

    Args:
        region: Level-0 region.
        downsample: Level-0 pixels per tile pixel.
        tile_size: Core edge in tile pixels.
        halo: Halo in tile pixels.
        width: Level-0 image width (clipping).
        height: Level-0 image height.
        origin: Shift of the grid in tile pixels.

    Returns:
        The tiles, row by row.
    """
    if origin == (0, 0):
        return plan_tiles(region, downsample, tile_size, halo, width, height)
    step = tile_size * downsample
    ox, oy = round_half_up(origin[0] * downsample), round_half_up(origin[1] * downsample)
    x_cuts = cut_lines(region.x, region.width, step) if ox == 0 else _shifted_cuts(region.x, region.width, step, ox)
    y_cuts = cut_lines(region.y, region.height, step) if oy == 0 else _shifted_cuts(region.y, region.height, step, oy)
    return tiles_from_cuts(x_cuts, y_cuts, downsample, halo, width, height)
