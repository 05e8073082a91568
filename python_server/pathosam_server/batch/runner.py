"""Run a batch image's regions: in process (``inference.regions.segment_region``) or spread over gRPC servers.

Several servers: every tile is its own ``SegmentTile`` call carrying its ``core`` (the proto's ownership
rule), handed out from one queue to one worker thread per server. Per-tile calls rather than one
``SegmentRegion`` stream per server because they balance load by themselves (a fast GPU box simply
takes more tiles than a slow one, where a fixed split waits for the slowest), and a tile that fails on
one server (restart, overload) is retried on another without redoing a whole stream. The price is
a little per-call overhead, small next to a tile's inference time. Answers pass the seam guard in plan
order whatever server finishes first, so a batch gives the same nuclei on any number of servers as in
process.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Protocol

import grpc

from ..classes import CLASS_COLOURS, CLASS_NAMES
from ..errors import RunnerError
from ..formats.images import PixelSource
from ..geometry.seams import SeamGuard
from ..geometry.tiling import PlannedTile, plan_tiles
from ..records import NucleusRecord, Params, Rect
from ..rpc.client import PathoSamClient, ServerUnreachable, explain

if TYPE_CHECKING:  # the model (torch) is imported only when a batch runs in process
    from ..inference.models import ModelManager

log = logging.getLogger(__name__)

TileCallback = Callable[[], None]
_RETRYABLE = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL,
)


class Runner(Protocol):
    """What segments a batch image's regions: in process or on servers."""

    params: Params
    tile_size: int
    halo: int
    identity: dict[str, Any]  # what makes the results what they are (model, weights), for the ledger
    class_colours: dict[str, int]
    tiles_per_worker: Counter[str]

    def run(
        self, source: PixelSource, rects: Sequence[Rect], downsample: float, on_tile: TileCallback
    ) -> list[list[NucleusRecord]]:
        """Segment every region; one nucleus list per region."""
        ...

    def close(self) -> None:
        """Release servers or models."""
        ...


def plan_regions(
    rects: Sequence[Rect], downsample: float, tile_size: int, halo: int, width: int, height: int
) -> list[list[PlannedTile]]:
    """The tile plan of each region, exactly as ``regions.segment_region`` plans it.

    Args:
        rects: Level-0 region rectangles.
        downsample: Level-0 pixels per working pixel.
        tile_size: Inner tile edge (working pixels).
        halo: Halo (working pixels).
        width: Level-0 image width.
        height: Level-0 image height.

    Returns:
        One tile list per region.
    """
    return [plan_tiles(r, downsample, tile_size, halo, width, height) for r in rects]


class InProcessRunner:
    """The model in this process, through ``inference.regions.segment_region`` as ``pathosam segment`` uses it.

    Args:
        manager: The model manager (built from the same options as ``segment``).
        params: Segmentation parameters.
        tile_size: Inner tile edge (None = the model's).
        halo: Halo (None = the model's).
    """

    def __init__(self, manager: ModelManager, params: Params, tile_size: Optional[int], halo: Optional[int]) -> None:
        spec = manager.specs[manager.default]
        self._manager = manager
        self.params = params
        self.tile_size = tile_size or spec.tile_size
        self.halo = spec.halo if halo is None else halo
        spec.check_tiles(self.tile_size, self.halo)  # before the first image, not at it
        self.identity = {"model": spec.name, "source": spec.source, "semantic": str(spec.semantic_decoder or "")}
        self.class_colours = {CLASS_NAMES[c]: rgb for c, rgb in CLASS_COLOURS.items()}
        self.tiles_per_worker: Counter[str] = Counter()

    def run(
        self, source: PixelSource, rects: Sequence[Rect], downsample: float, on_tile: TileCallback
    ) -> list[list[NucleusRecord]]:
        """Segment every region; one nucleus list per region (each nucleus once, by the ownership rule)."""
        from ..inference.regions import segment_region

        model = self._manager.get()  # loads once, on the first image that needs it
        out = []
        for rect in rects:
            nuclei = list(
                segment_region(
                    model,
                    source,
                    rect,
                    downsample,
                    self.params,
                    self.tile_size,
                    self.halo,
                    on_tile=lambda i, n: on_tile(),
                )
            )
            out.append(nuclei)
            self.tiles_per_worker["in-process"] += len(
                plan_tiles(rect, downsample, self.tile_size, self.halo, source.width, source.height)
            )
        return out

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class _Task:
    region: int
    index: int
    tile: PlannedTile
    attempts: int = 0


class ServerPool:
    """Tiles spread over one or more PathoSAM servers (see the module docstring for why per tile).

    Args:
        addresses: HOST:PORT of each server.
        model: Model name on the servers ("" = each server's default).
        params: Segmentation parameters (sent explicitly, so results do not depend on server defaults).
        token: Bearer token, if the servers require one.
        tile_size: Inner tile edge (None = the model's default from GetInfo).
        halo: Halo (None = the model's default).
        timeout: Seconds allowed per tile call.
        tls_ca: PEM certificate(s) to trust: the servers speak TLS (see ``PathoSamClient``).
    """

    def __init__(
        self,
        addresses: Sequence[str],
        model: str,
        params: Params,
        token: Optional[str],
        tile_size: Optional[int],
        halo: Optional[int],
        timeout: float = 900.0,
        tls_ca: Optional[bytes] = None,
    ) -> None:
        self.params = params
        self.timeout = timeout
        self.servers, infos, down = [], [], []
        for address in addresses:
            server = PathoSamClient(address, token, tls_ca=tls_ca)
            try:
                infos.append(server.model_info(model))
                self.servers.append(server)
            except ServerUnreachable as err:  # one box down must not stop a batch the others can do
                log.warning("%s; continuing without it", err)
                down.append(str(err))
                server.close()
            except RunnerError:
                server.close()
                raise
        if not self.servers:
            raise RunnerError("; ".join(down))
        first = infos[0]
        for s, m in zip(self.servers[1:], infos[1:]):
            if (m.name, m.source) != (first.name, first.source):
                log.warning(
                    "%s serves %s from %s, %s serves it from %s: results may differ between tiles",
                    self.servers[0].address,
                    first.name,
                    first.source,
                    s.address,
                    m.source,
                )
        self.model = first.name
        self.tile_size = tile_size or first.default_tile_size
        self.halo = first.default_halo if halo is None else halo
        edge = first.input_edge or self.tile_size + 2 * self.halo  # servers before 0.2 did not say
        if self.tile_size + 2 * self.halo > edge:
            raise RunnerError(
                f"tile size {self.tile_size} + 2 x halo {self.halo} exceeds the input window of {edge} px of "
                f"{first.name} on the servers: choose tile + 2 x halo <= {edge} (tiles are padded, never rescaled)"
            )
        self.identity = {"model": first.name, "source": first.source, "classes": bool(first.has_semantic_decoder)}
        self.class_colours = {c.name: c.rgb for c in first.classes} or {
            CLASS_NAMES[c]: v for c, v in CLASS_COLOURS.items()
        }
        self.tiles_per_worker: Counter[str] = Counter()
        self._lock = threading.Lock()

    def run(
        self, source: PixelSource, rects: Sequence[Rect], downsample: float, on_tile: TileCallback
    ) -> list[list[NucleusRecord]]:
        """Segment every region's tiles on the servers; one nucleus list per region."""
        plans = plan_regions(rects, downsample, self.tile_size, self.halo, source.width, source.height)
        tasks: queue.Queue[_Task] = queue.Queue()
        for r, plan in enumerate(plans):
            for i, tile in enumerate(plan):
                tasks.put(_Task(r, i, tile))
        results: list[list[NucleusRecord]] = [[] for _ in rects]
        guards = [SeamGuard() for _ in rects]  # tiles that disagree about a nucleus: the first answer stays
        # Which of two disagreeing tiles is "first" must not depend on which server answers sooner, so
        # answers pass the guard in plan order (as in process); early ones wait here, a few at a time.
        waiting: list[dict[int, list[NucleusRecord]]] = [{} for _ in rects]
        next_tile = [0 for _ in rects]
        read_lock = threading.Lock()  # file readers are not guaranteed thread-safe; reading is cheap anyway
        fatal: list[Exception] = []  # first error of any worker, raised again in the caller's thread
        failures: Counter[str] = Counter()  # consecutive failures per server
        done = [0]

        def worker(server: PathoSamClient) -> None:
            try:
                work(server)
            except Exception as err:  # unreadable pixels, a bug: never let a thread swallow a tile silently
                fatal.append(err)

        def work(server: PathoSamClient) -> None:
            while not fatal:
                try:
                    task = tasks.get_nowait()
                except queue.Empty:
                    return
                with read_lock:
                    pixels = source.read(task.tile.rect, downsample)
                try:
                    nuclei = server.segment_tile(
                        pixels,
                        task.tile,
                        task.index,
                        downsample,
                        (source.width, source.height),
                        self.model,
                        self.params,
                        self.timeout,
                    )
                except grpc.RpcError as err:
                    failures[server.address] += 1
                    if err.code() in _RETRYABLE and task.attempts < 4:
                        task.attempts += 1
                        tasks.put(task)  # another server (or this one, later) takes it
                        if failures[server.address] >= 5:
                            log.warning(
                                "%s failed %d times; no more tiles go to it", server.address, failures[server.address]
                            )
                            return
                        time.sleep(min(30.0, 2.0**task.attempts))
                        continue
                    raise RunnerError(explain(server.address, err)) from err
                failures[server.address] = 0
                with self._lock:
                    r = task.region
                    waiting[r][task.index] = nuclei
                    while next_tile[r] in waiting[r]:
                        tile = plans[r][next_tile[r]]
                        results[r].extend(guards[r].admit(waiting[r].pop(next_tile[r]), tile.core, tile.rect))
                        next_tile[r] += 1
                    self.tiles_per_worker[server.address] += 1
                    done[0] += 1
                    on_tile()

        threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in self.servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if fatal:
            raise fatal[0]
        if done[0] != sum(len(p) for p in plans):
            raise RunnerError("every server failed (see the warnings above); the image was not finished")
        return results

    def close(self) -> None:
        """Close the channels."""
        for s in self.servers:
            s.close()
