"""SeamGuard: where two tiles disagree about a nucleus, it comes back once (geometry only, no model)."""
from __future__ import annotations

from shapely.geometry import box

from pathosam_server.geometry.seams import SeamGuard
from pathosam_server.records import NucleusRecord, Rect


def _nucleus(geom) -> NucleusRecord:
    c = geom.centroid
    return NucleusRecord(geometry=geom, score=1.0, area=geom.area, centroid_x=c.x, centroid_y=c.y,
                         touches_tile_edge=False)


LEFT, RIGHT = Rect(0, 0, 100, 100), Rect(100, 0, 100, 100)
LEFT_PIXELS, RIGHT_PIXELS = Rect(0, 0, 110, 100), Rect(90, 0, 110, 100)  # halo 10 towards each other


def test_a_merged_blob_and_its_part_from_two_tiles_come_back_once() -> None:
    guard = SeamGuard()
    blob = _nucleus(box(80, 40, 110, 60))  # left tile: two touching nuclei seen as one (centroid x 95)
    part = _nucleus(box(95, 40, 110, 60))  # right tile: the right one alone (centroid x 102.5)
    assert guard.admit([blob], LEFT, LEFT_PIXELS) == [blob]
    assert guard.admit([part], RIGHT, RIGHT_PIXELS) == []
    assert guard.dropped == 1


def test_neighbours_that_touch_or_overlap_a_little_are_both_kept() -> None:
    guard = SeamGuard()
    a = _nucleus(box(85, 40, 101, 60))  # crosses the border by 1 px
    b = _nucleus(box(100, 40, 120, 60))  # shares a 1 x 20 strip with a: 20 px of 320
    far = _nucleus(box(10, 10, 20, 20))
    assert guard.admit([a, far], LEFT, LEFT_PIXELS) == [a, far]
    assert guard.admit([b], RIGHT, RIGHT_PIXELS) == [b]
    assert guard.dropped == 0


def test_order_does_not_matter_when_the_first_lies_inside_its_core() -> None:
    guard = SeamGuard()
    inside = _nucleus(box(92, 40, 99, 60))  # left tile, entirely in its core but within the right tile's view
    reaching = _nucleus(box(91, 40, 110, 60))  # right tile: the same nucleus plus its neighbour
    assert guard.admit([inside], LEFT, LEFT_PIXELS) == [inside]
    assert guard.admit([reaching], RIGHT, RIGHT_PIXELS) == []


def test_only_the_border_band_is_remembered_and_memory_is_capped() -> None:
    guard = SeamGuard(max_entries=2)
    guard.admit([_nucleus(box(10, 10, 20, 20))], LEFT, LEFT_PIXELS)
    assert len(guard._entries) == 0  # further from the border than the neighbour's halo
    for k in range(4):
        guard.admit([_nucleus(box(95, 10 + 20 * k, 105, 20 + 20 * k))], LEFT, LEFT_PIXELS)
    assert len(guard._entries) == 2
    # The evicted (oldest) one is no longer matched; a remembered one still is.
    assert guard.admit([_nucleus(box(95, 10, 105, 20))], RIGHT, RIGHT_PIXELS) != []
    assert guard.admit([_nucleus(box(95, 70, 105, 80))], RIGHT, RIGHT_PIXELS) == []
