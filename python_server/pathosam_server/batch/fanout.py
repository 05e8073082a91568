"""Hand a batch image's tiles to an engine that runs them elsewhere, and take the answers back in plan order.

The engines decide where a tile runs: gRPC's ``round_robin`` balancer over a pool of servers
(``grpc_pool``) or Dask's scheduler over its workers (``dask_runner``). What stays here is what only the
coordinator can do: read each tile's pixels (file readers belong to one process), keep a bounded number
of tiles in flight (memory stays flat in slide size, and no more tiles are sent than the engine can
take), and pass the answers through the seam guard in plan order whatever finishes first, so a batch
gives the same nuclei on any number of servers or workers as in process.

This is a window, not a scheduler: tiles go out in plan order, the oldest answer is awaited first, and
the engine picks the server or worker.
"""

from __future__ import annotations

import collections
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..formats.images import PixelSource
from ..geometry.seams import SeamGuard
from ..geometry.tiling import PlannedTile
from ..records import NucleusRecord


@dataclass
class TileAnswer:
    """What an engine returns for one tile.

    Attributes:
        nuclei: The nuclei the tile's core owns, level-0.
        worker: Which server or worker did it (for the per-worker tile counts).
        skipped: The tile held no tissue and was not encoded (``Params.skip_background``).
    """

    nuclei: list[NucleusRecord]
    worker: str
    skipped: bool = False


class Pending(Protocol):
    """A tile in flight: ``result()`` blocks until its answer is there (or raises what went wrong)."""

    def result(self) -> TileAnswer:
        """The answer."""
        ...


Submit = Callable[[int, PlannedTile, np.ndarray], Pending]  # (tile index in its region, tile, pixels)


@dataclass
class FanoutStats:
    """Where the coordinator's time went (for the capacity model in the README).

    Attributes:
        tiles: Tiles done.
        read_seconds: Reading tile pixels.
        submit_seconds: Handing tiles to the engine (serialising, sending).
        wait_seconds: Waiting for answers (the engine's time the coordinator could not hide).
        guard_seconds: The seam guard.
        skipped: Tiles the engine did not encode because they held no tissue.
    """

    tiles: int = 0
    skipped: int = 0
    read_seconds: float = 0.0
    submit_seconds: float = 0.0
    wait_seconds: float = 0.0
    guard_seconds: float = 0.0

    def coordinator_ms_per_tile(self) -> float:
        """Milliseconds of the coordinator's own work per tile (everything but waiting)."""
        busy = self.read_seconds + self.submit_seconds + self.guard_seconds
        return 1000.0 * busy / max(1, self.tiles)


def run_in_order(
    source: PixelSource,
    plans: Sequence[Sequence[PlannedTile]],
    downsample: float,
    submit: Submit,
    window: int,
    on_tile: Callable[[], None],
    counts: Counter[str],
    stats: FanoutStats | None = None,
) -> list[list[NucleusRecord]]:
    """Run every planned tile through ``submit``, at most ``window`` at a time; one nucleus list per region.

    Args:
        source: Where pixels come from (read here, in plan order).
        plans: The tile plan of each region.
        downsample: Level-0 pixels per working pixel.
        submit: Sends one tile (its index in its region's plan, the tile, its pixels) to the engine and returns
            its pending answer.
        window: Most tiles in flight at once (>= 1).
        on_tile: Called once per finished tile (progress).
        counts: Tiles per worker, updated as answers arrive.
        stats: Filled with the coordinator's own costs, if given.

    Returns:
        The nuclei of each region, each nucleus once (ownership by core, then the seam guard in plan order).
    """
    stats = stats if stats is not None else FanoutStats()
    results: list[list[NucleusRecord]] = [[] for _ in plans]
    guards = [SeamGuard() for _ in plans]
    in_flight: collections.deque[tuple[int, PlannedTile, Pending]] = collections.deque()

    def settle_oldest() -> None:
        region, tile, pending = in_flight.popleft()
        t0 = time.perf_counter()
        answer = pending.result()
        t1 = time.perf_counter()
        results[region].extend(guards[region].admit(answer.nuclei, tile.core, tile.rect))
        stats.wait_seconds += t1 - t0
        stats.guard_seconds += time.perf_counter() - t1
        stats.tiles += 1
        stats.skipped += answer.skipped
        counts[answer.worker] += 1
        on_tile()

    try:
        for region, plan in enumerate(plans):
            for index, tile in enumerate(plan):
                while len(in_flight) >= max(1, window):
                    settle_oldest()
                t0 = time.perf_counter()
                pixels = source.read(tile.rect, downsample)
                t1 = time.perf_counter()
                in_flight.append((region, tile, submit(index, tile, pixels)))
                stats.read_seconds += t1 - t0
                stats.submit_seconds += time.perf_counter() - t1
        while in_flight:
            settle_oldest()
    finally:  # a failed tile fails the image: nobody waits for the others any more
        for _, _, pending in in_flight:
            getattr(pending, "cancel", lambda: None)()
    return results
