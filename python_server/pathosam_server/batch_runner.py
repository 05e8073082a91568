"""Run a batch image's regions: in process (``regions.segment_region``) or spread over gRPC servers.

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
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import grpc
import numpy as np
from shapely.geometry import MultiPolygon, Polygon

from .grpc_api import pathosam_pb2 as pb
from .grpc_api import pathosam_pb2_grpc as pb_grpc
from .images import PixelSource
from .models import CLASS_COLOURS, CLASS_NAMES, ModelManager
from .pipeline import NucleusRecord, Params
from .regions import segment_region
from .seams import SeamGuard
from .tiling import PlannedTile, Rect, plan_tiles

log = logging.getLogger(__name__)

TileCallback = Callable[[], None]
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED,
              grpc.StatusCode.ABORTED, grpc.StatusCode.INTERNAL)


class RunnerError(Exception):
    """Segmentation cannot proceed (servers unreachable, refused, model missing); the message says why."""


class _Unreachable(RunnerError):
    """A server that does not answer (as opposed to one that refuses)."""


def plan_regions(rects: Sequence[Rect], downsample: float, tile_size: int, halo: int, width: int, height: int) -> list[list[PlannedTile]]:
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
    """The model in this process, through ``regions.segment_region`` as ``pathosam segment`` uses it.

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
        self.identity = {"model": spec.name, "source": spec.source, "semantic": str(spec.semantic_decoder or "")}
        self.class_colours = {CLASS_NAMES[c]: rgb for c, rgb in CLASS_COLOURS.items()}
        self.tiles_per_worker: Counter[str] = Counter()

    def run(self, source: PixelSource, rects: Sequence[Rect], downsample: float, on_tile: TileCallback) -> list[list[NucleusRecord]]:
        """Segment every region; one nucleus list per region (each nucleus once, by the ownership rule)."""
        model = self._manager.get()  # loads once, on the first image that needs it
        out = []
        for rect in rects:
            nuclei = list(segment_region(model, source, rect, downsample, self.params, self.tile_size, self.halo,
                                         on_tile=lambda i, n: on_tile()))
            out.append(nuclei)
            self.tiles_per_worker["in-process"] += len(plan_tiles(rect, downsample, self.tile_size, self.halo,
                                                                  source.width, source.height))
        return out

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class _Task:
    region: int
    index: int
    tile: PlannedTile
    attempts: int = 0


class _Server:
    def __init__(self, address: str, token: Optional[str]) -> None:
        self.address = address
        self.channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 256 << 20),
                                                               ("grpc.max_send_message_length", 256 << 20)])
        self.stub = pb_grpc.PathoSamStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.failures = 0


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
    """

    def __init__(self, addresses: Sequence[str], model: str, params: Params, token: Optional[str],
                 tile_size: Optional[int], halo: Optional[int], timeout: float = 900.0) -> None:
        self.params = params
        self.timeout = timeout
        self.servers, infos, down = [], [], []
        for address in addresses:
            server = _Server(address, token)
            try:
                infos.append(self._info(server, model))
                self.servers.append(server)
            except _Unreachable as err:  # one box down must not stop a batch the others can do
                log.warning("%s; continuing without it", err)
                down.append(str(err))
                server.channel.close()
        if not self.servers:
            raise RunnerError("; ".join(down))
        first = infos[0]
        for s, m in zip(self.servers[1:], infos[1:]):
            if (m.name, m.source) != (first.name, first.source):
                log.warning("%s serves %s from %s, %s serves it from %s: results may differ between tiles",
                            self.servers[0].address, first.name, first.source, s.address, m.source)
        self.model = first.name
        self.tile_size = tile_size or first.default_tile_size
        self.halo = first.default_halo if halo is None else halo
        self.identity = {"model": first.name, "source": first.source, "classes": bool(first.has_semantic_decoder)}
        self.class_colours = {c.name: c.rgb for c in first.classes} or {CLASS_NAMES[c]: v for c, v in CLASS_COLOURS.items()}
        self.tiles_per_worker: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _info(self, server: _Server, model: str) -> pb.ModelInfo:
        try:
            info = server.stub.GetInfo(pb.GetInfoRequest(), metadata=server.metadata, timeout=60)
        except grpc.RpcError as err:
            kind = _Unreachable if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) else RunnerError
            raise kind(_explain(server.address, err)) from err
        for m in info.models:
            if (model and m.name == model) or (not model and m.is_default):
                return m
        names = ", ".join(m.name for m in info.models)
        raise RunnerError(f"server {server.address} does not serve model '{model or '(default)'}'; it serves: {names}")

    def run(self, source: PixelSource, rects: Sequence[Rect], downsample: float, on_tile: TileCallback) -> list[list[NucleusRecord]]:
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
        done = [0]

        def worker(server: _Server) -> None:
            try:
                work(server)
            except Exception as err:  # unreadable pixels, a bug: never let a thread swallow a tile silently
                fatal.append(err)

        def work(server: _Server) -> None:
            while not fatal:
                try:
                    task = tasks.get_nowait()
                except queue.Empty:
                    return
                with read_lock:
                    pixels = source.read(task.tile.rect, downsample)
                try:
                    nuclei = self._segment(server, task, pixels, downsample, source.width, source.height)
                except grpc.RpcError as err:
                    server.failures += 1
                    if err.code() in _RETRYABLE and task.attempts < 4:
                        task.attempts += 1
                        tasks.put(task)  # another server (or this one, later) takes it
                        if server.failures >= 5:
                            log.warning("%s failed %d times; no more tiles go to it", server.address, server.failures)
                            return
                        time.sleep(min(30.0, 2.0**task.attempts))
                        continue
                    raise RunnerError(_explain(server.address, err)) from err
                server.failures = 0
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

    def _segment(self, server: _Server, task: _Task, pixels: np.ndarray, downsample: float, width: int, height: int) -> list[NucleusRecord]:
        t = task.tile
        req = pb.SegmentTileRequest(
            model=self.model,
            tile=pb.Tile(region=_rect(t.rect), core=_rect(t.core), index=task.index,
                         image=pb.Image(width=pixels.shape[1], height=pixels.shape[0], encoding=pb.RAW_RGB8,
                                        data=np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())),
            downsample=downsample,
            params=pb.SegmentParams(classify=self.params.classify, simplify_tolerance=self.params.simplify_tolerance,
                                    min_size=self.params.min_size),
            image_width=width,
            image_height=height,
        )
        resp = server.stub.SegmentTile(req, metadata=server.metadata, timeout=self.timeout)
        return [nucleus_from_proto(n) for n in resp.nuclei]

    def close(self) -> None:
        """Close the channels."""
        for s in self.servers:
            s.channel.close()


def _rect(r: Rect) -> pb.Rect:
    return pb.Rect(x=r.x, y=r.y, width=r.width, height=r.height)


def _explain(address: str, err: grpc.RpcError) -> str:
    code = err.code()
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return f"server {address} refused the token: pass the server's --token (or set PATHOSAM_TOKEN)"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"server {address} is unreachable ({err.details()}); is `pathosam serve` running there?"
    return f"server {address}: {code.name}: {err.details()}"


def nucleus_from_proto(m: pb.Nucleus) -> NucleusRecord:
    """A wire nucleus back as a pipeline record (level-0 geometry, class, scores).

    Args:
        m: The message.

    Returns:
        The record.
    """
    polys = []
    for p in m.geometry.polygons:
        ext = np.asarray(p.exterior.xy, dtype=np.float64).reshape(-1, 2)
        holes = [np.asarray(h.xy, dtype=np.float64).reshape(-1, 2) for h in p.holes]
        polys.append(Polygon(ext, holes))
    geom = polys[0] if len(polys) == 1 else MultiPolygon(polys)
    return NucleusRecord(
        geometry=geom, score=m.score, area=m.area, centroid_x=m.centroid_x, centroid_y=m.centroid_y,
        touches_tile_edge=m.touches_tile_edge, class_id=m.class_id, class_name=m.class_name,
        class_probability=m.class_probability,
    )
