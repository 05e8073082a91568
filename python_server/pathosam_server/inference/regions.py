"""Segment a whole region in process: plan tiles, read them lazily, keep the nuclei each tile owns."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Optional

from ..formats.images import PixelSource
from ..geometry.seams import SeamGuard
from ..geometry.tiling import PlannedTile, plan_tiles
from ..records import NucleusRecord, Params, Rect
from .models import LoadedModel
from .pipeline import TileJob, segment_tile


def segment_region(
    model: LoadedModel,
    source: PixelSource,
    region: Rect,
    downsample: float = 1.0,
    params: Params = Params(),
    tile_size: Optional[int] = None,
    halo: Optional[int] = None,
    on_tile: Optional[Callable[[int, int], None]] = None,
    guard: Optional[SeamGuard] = None,
    done: Optional[Mapping[int, list[NucleusRecord]]] = None,
    on_tile_nuclei: Optional[Callable[[int, list[NucleusRecord]], None]] = None,
    on_skipped: Optional[Callable[[int], None]] = None,
) -> Iterator[NucleusRecord]:
    """Yield every nucleus of a region exactly once, tile by tile (memory flat in region size).

    Args:
        model: The loaded model.
        source: Where pixels come from.
        region: Level-0 region.
        downsample: Level-0 pixels per working pixel.
        params: Segmentation parameters.
        tile_size: Inner tile edge in working pixels (default: the model's).
        halo: Halo in working pixels (default: the model's).
        on_tile: Progress callback (tiles done, tiles total).
        guard: Where two tiles disagree about a nucleus, the first one returned stays; pass one to read
            how many it dropped (``guard.dropped``) afterwards.
        done: Tiles finished by an earlier, interrupted run (tile index -> the nuclei it returned): they
            are not segmented again, their nuclei come back as they were and pass the seam guard again
            in plan order, so the result equals an uninterrupted run.
        on_tile_nuclei: Called with each newly segmented tile's index and returned nuclei (to record them).
        on_skipped: Called with the index of each tile that held no tissue and was not encoded
            (``params.skip_background``), before ``on_tile``.

    Returns:
        An iterator over nuclei in level-0 coordinates.
    """
    tile_size = tile_size or model.spec.tile_size
    halo = model.spec.halo if halo is None else halo
    model.spec.check_tiles(tile_size, halo)  # refuse a grid the model would see at another scale
    tiles: list[PlannedTile] = plan_tiles(region, downsample, tile_size, halo, source.width, source.height)
    guard = guard if guard is not None else SeamGuard()
    for i, tile in enumerate(tiles):
        if done is not None and i in done:
            yield from guard.admit(done[i], tile.core, tile.rect)
        else:
            pixels = source.read(tile.rect, downsample)
            job = TileJob(pixels, tile.rect, downsample, tile.core, (source.width, source.height))
            result = segment_tile(model, job, params)
            if result.skipped and on_skipped:
                on_skipped(i)
            kept = guard.admit(result.nuclei, tile.core, tile.rect)
            if on_tile_nuclei:
                on_tile_nuclei(i, kept)
            yield from kept
        if on_tile:
            on_tile(i + 1, len(tiles))
