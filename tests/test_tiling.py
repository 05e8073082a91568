"""The tile plan: cores partition the region exactly; tiles hold their cores plus halo."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from grids import plan_grid

from pathosam_server.geometry.tiling import CoreIndex, plan_tiles, tile_pixel_size
from pathosam_server.records import Rect


@pytest.mark.parametrize(
    "region,d,tile,halo,origin",
    [
        (Rect(0, 0, 1000, 700), 1.0, 384, 64, (0, 0)),
        (Rect(123, 457, 2049, 999), 2.0, 384, 64, (0, 0)),
        (Rect(5, 7, 800, 300), 1.7, 200, 30, (0, 0)),
        (Rect(0, 0, 1000, 700), 1.0, 300, 64, (150, 77)),
    ],
)
def test_cores_partition_region(region: Rect, d: float, tile: int, halo: int, origin) -> None:
    img_w, img_h = region.x1 + 50, region.y1 + 10
    tiles = plan_grid(region, d, tile, halo, img_w, img_h, origin=origin)
    cover = np.zeros((region.height, region.width), np.int32)
    for t in tiles:
        c = t.core
        cover[c.y - region.y : c.y1 - region.y, c.x - region.x : c.x1 - region.x] += 1
        assert t.rect.contains_rect(c)
        assert t.rect.x >= 0 and t.rect.y >= 0 and t.rect.x1 <= img_w and t.rect.y1 <= img_h
        assert (t.width, t.height) == tile_pixel_size(t.rect, d)
        assert c.width <= round(tile * d) + 1
    assert (cover == 1).all()


def test_core_index_detects_overlap() -> None:
    idx = CoreIndex()
    cores = [Rect(x, y, 100, 100) for x, y in itertools.product(range(0, 10000, 100), range(0, 300, 100))]
    for c in cores:
        assert idx.overlapping(c) is None
        idx.add(c)
    assert idx.covered_area == 100 * 100 * len(cores)
    assert idx.overlapping(Rect(4150, 50, 10, 10)) == Rect(4100, 0, 100, 100)
    assert idx.overlapping(Rect(10000, 0, 5, 5)) is None


def test_rounding_is_half_up_like_java_and_qupath() -> None:
    assert tile_pixel_size(Rect(0, 0, 3, 5), 2.0) == (2, 3)  # 1.5 -> 2 and 2.5 -> 3 (not half-to-even)
    tiles = plan_tiles(Rect(0, 0, 10, 4), 1.5, 3, 1, 10, 4)
    assert [t.core.x for t in tiles] == [0, 5, 9]  # cuts at round_half_up(4.5) = 5 and 9
    assert tiles[0].rect.x1 == 5 + 2  # halo round_half_up(1.5) = 2
