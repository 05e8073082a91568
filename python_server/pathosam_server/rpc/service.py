"""The gRPC servicer: validate, enforce limits, map proto <-> pipeline. No model code here.

Every method is wrapped by ``calls.unary`` / ``calls.stream`` (one error mapping, one log line per call)
and admitted by ``admission.Admission`` (open calls, work slots, per-client caps), so that health and
GetInfo always have threads left and work nobody waits for stops.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import grpc

from .. import __version__
from ..classes import class_table
from ..geometry.coords import TileFrame
from ..geometry.seams import SeamGuard
from ..geometry.tiling import CoreIndex
from ..grpc_api import pathosam_pb2 as pb
from ..grpc_api import pathosam_pb2_grpc as pb_grpc
from ..inference import provenance
from ..inference.embedding_cache import EmbeddingCache
from ..inference.models import LoadedModel, ModelManager, is_cached
from ..inference.pipeline import TileJob, TileResult, oversized, segment_tile
from ..inference.precision import dtype_name
from ..inference.prompts import segment_prompts, window_embedding
from ..inference.scheduler import scheduler_of
from ..records import Params, Rect
from . import calls, params_wire, wire
from .admission import Admission, Limits, RefusalLog, client_of
from .calls import CallInfo
from .streams import POLL_S, IdleTimeoutReader, tile_answers
from .wire import SERVER_ID_KEY, RequestError, invalid

log = logging.getLogger(__name__)

__all__ = ["Limits", "PathoSamServicer"]


class PathoSamServicer(pb_grpc.PathoSamServicer):
    """Implements pathosam.v1.PathoSam over a ModelManager.

    Args:
        models: The models this server serves.
        limits: Request limits.
        defaults: Default segmentation parameters.
    """

    def __init__(self, models: ModelManager, limits: Limits, defaults: Params = Params()) -> None:
        import micro_sam  # imported here, not in GetInfo: GetInfo must answer at once
        import torch

        self.models = models
        self.limits = limits
        self.defaults = defaults
        self.admission = Admission(limits.max_open_calls, limits.max_concurrent_streams, limits.max_work_per_client)
        self.refusals = RefusalLog(log)
        self.cache = EmbeddingCache(limits.cache_bytes)
        self._versions = (micro_sam.__version__, torch.__version__)
        # Who answers a SegmentTile (host:port, set once the port is bound): a client of a load-balanced
        # pool counts tiles per server from it.
        self.server_id = ""

    # -- helpers -------------------------------------------------------------------------------

    def _tile_job(self, tile: pb.Tile, downsample: float, region: Rect | None, image_size: Any) -> TileJob:
        rect = wire.rect_from_proto(tile.region, "tile region")
        core = wire.rect_from_proto(tile.core, "tile core") if tile.HasField("core") else rect
        if not rect.contains_rect(core):
            raise invalid(f"tile {tile.index}: core {core} is not inside the tile's region {rect}")
        if region is not None and not region.contains_rect(core):
            raise invalid(f"tile {tile.index}: core {core} lies outside the declared region {region}")
        image = wire.decode_image(tile.image, self.limits.max_tile_size)
        wire.check_tile_size(rect, image.shape[1], image.shape[0], downsample)
        return TileJob(image=image, rect=rect, downsample=downsample, core=core, image_size=image_size)

    def _run(
        self, model: LoadedModel, job: TileJob, params: Params, context: grpc.ServicerContext, wait: bool
    ) -> TileResult:
        """One tile on the model, holding a work slot; stops early when the caller goes away."""
        problem = oversized(model, job.image.shape[1], job.image.shape[0])
        if problem:
            raise invalid(problem)
        with self.admission.work(client_of(context.peer()), context.is_active, wait):
            return segment_tile(model, job, params, alive=context.is_active)

    # -- RPCs ----------------------------------------------------------------------------------

    def GetInfo(self, request: pb.GetInfoRequest, context: grpc.ServicerContext) -> pb.ServerInfo:
        """Server, model and limit metadata; never waits for a model or for other calls."""
        lim = self.limits
        info = pb.ServerInfo(
            server_version=__version__,
            micro_sam_version=self._versions[0],
            torch_version=self._versions[1],
            device=self.models.device,
            limits=pb.Limits(
                max_tile_size=lim.max_tile_size,
                max_message_bytes=lim.max_message_bytes,
                max_concurrent_streams=lim.max_concurrent_streams,
                max_region_pixels=lim.max_region_pixels,
                max_prompts_per_object=lim.max_prompts_per_object,
                max_objects_per_prompt=lim.max_objects_per_prompt,
                max_open_calls=lim.max_open_calls,
                max_work_per_client=lim.max_work_per_client,
                stream_idle_timeout_seconds=lim.stream_idle_timeout,
                max_prompt_window=lim.max_prompt_window,
            ),
            default_params=params_wire.params_to_proto(self.defaults),
            embedding_cache=pb.CacheStats(**self.cache.stats()),
        )
        for name, spec in self.models.specs.items():
            model = self.models.loaded(name)
            classifies = (
                model.semantic_decoder is not None
                if model
                else (spec.semantic_decoder is not None or spec.semantic_registry)
            )
            m = info.models.add(
                name=name,
                architecture=spec.architecture,
                loaded=model is not None,
                available=model is not None or spec.checkpoint is not None or is_cached(name),
                is_default=name == self.models.default,
                has_instance_decoder=(model.decoder is not None) if model else True,
                has_semantic_decoder=classifies,
                default_tile_size=spec.tile_size,
                default_halo=spec.halo,
                working_pixel_size_um=spec.pixel_size_um,
                source=spec.source,
                input_edge=spec.input_edge,
            )
            if model is not None:
                _describe_loaded(m, model)
            if classifies:
                for cid, (cname, rgb) in class_table(spec.class_names).items():
                    m.classes.add(id=cid, name=cname, rgb=rgb)
        return info

    @calls.unary
    def SegmentTile(
        self, request: pb.SegmentTileRequest, context: grpc.ServicerContext, call: CallInfo
    ) -> pb.SegmentTileResponse:
        """Segment one tile; the whole tile is owned unless a core is given."""
        t0 = time.perf_counter()
        with self.admission.call():
            params = params_wire.params_from_proto(request.params, self.defaults)
            downsample = wire.downsample_from_proto(request.downsample)
            size = wire.image_size(request.image_width, request.image_height)
            job = self._tile_job(request.tile, downsample, None, size)
            if job.image.shape[0] * job.image.shape[1] > self.limits.max_region_pixels:
                raise RequestError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"tile of {job.image.shape[1]} x {job.image.shape[0]} px exceeds "
                    f"{self.limits.max_region_pixels} px; use SegmentRegion for large regions",
                )
            model = self.models.get(request.model)
            result = self._run(model, job, params, context, wait=False)
        call.tiles = 1
        summary = _Summary(model.spec.name, _provenance(model, params))
        summary.add(result)
        resp = pb.SegmentTileResponse(nuclei=[wire.nucleus_to_proto(n, i + 1) for i, n in enumerate(result.nuclei)])
        resp.summary.CopyFrom(summary.to_proto(t0, coverage=1.0))
        if self.server_id:
            context.set_trailing_metadata(((SERVER_ID_KEY, self.server_id),))
        return resp

    @calls.unary
    def Prompt(self, request: pb.PromptRequest, context: grpc.ServicerContext, call: CallInfo) -> pb.PromptResponse:
        """Segment one object per prompt set inside a (cached) window.

        Every size is checked before anything is allocated, and a digest-only request is looked up in the
        cache before its prompts are even read.
        """
        with self.admission.call():
            model = self.models.get(request.model)
            params = params_wire.params_from_proto(request.params, self.defaults)
            downsample = wire.downsample_from_proto(request.downsample)
            window = wire.rect_from_proto(request.window, "window")
            width, height = wire.window_pixels(window, downsample, self.limits.max_prompt_window)
            image = None
            if request.HasField("image"):
                image = wire.decode_image(request.image, self.limits.max_tile_size)
                wire.check_tile_size(window, image.shape[1], image.shape[0], downsample)
                height, width = image.shape[:2]
            elif not request.digest:
                raise invalid("send the window's pixels (image) or the digest of pixels sent before")
            elif not self.cache.contains(model.spec.name, request.digest):  # counted once, below
                raise RequestError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"embedding {request.digest[:12]}... is not cached (evicted or never sent): send the window's "
                    "pixels",
                )
            objects = wire.prompt_objects(
                request.objects,
                window,
                (height, width),
                downsample,
                self.limits.max_objects_per_prompt,
                self.limits.max_prompts_per_object,
                self.limits.max_prompt_mask_pixels,
            )
            with self.admission.work(client_of(context.peer()), context.is_active, wait=False):
                entry, digest, cached = window_embedding(model, self.cache, image, request.digest)
                if entry is None:  # evicted between the check above and now
                    raise RequestError(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"embedding {digest[:12]}... was evicted: send the window's pixels",
                    )
                frame = TileFrame(window.x, window.y, downsample)
                records = segment_prompts(model, self.cache, entry, objects, frame, params)
        return pb.PromptResponse(
            nuclei=[wire.nucleus_to_proto(n, i + 1) for i, n in enumerate(records)],
            digest=digest,
            embedding_cached=cached,
        )

    @calls.stream
    def SegmentRegion(
        self, request_iterator: Iterator[pb.SegmentRegionRequest], context: grpc.ServicerContext, call: CallInfo
    ) -> Iterator[pb.SegmentRegionResponse]:
        """Stream tiles in, nuclei out; see the proto for the ownership rule."""
        t0 = time.perf_counter()
        if self.server_id:
            # At once, not with the first answer: a client whose stream breaks mid-tile can say which server went away.
            context.send_initial_metadata(((SERVER_ID_KEY, self.server_id),))
        with self.admission.call():
            requests = IdleTimeoutReader(request_iterator, self.limits.stream_idle_timeout)
            yield from self._segment_region(requests, context, call, t0)

    def _segment_region(
        self, requests: IdleTimeoutReader, context: grpc.ServicerContext, call: CallInfo, t0: float
    ) -> Iterator[pb.SegmentRegionResponse]:
        first = requests.next()
        if first is None or first.WhichOneof("message") != "start":
            raise invalid("the first SegmentRegion message must be a RegionStart")
        start = first.start
        call.request_id = start.request_id or call.request_id
        params = params_wire.params_from_proto(start.params, self.defaults)
        downsample = wire.downsample_from_proto(start.downsample)
        region = wire.rect_from_proto(start.region, "region")
        size = wire.image_size(start.image_width, start.image_height)
        model = self.models.get(start.model)
        cores = CoreIndex()
        guard = SeamGuard()
        summary = _Summary(model.spec.name, _provenance(model, params))
        next_id = 1
        # Up to `depth` tiles of this stream are in flight, so that the model's queue can batch them and
        # one tile's decoding, watershed and tracing overlap the next tile's model pass. Answers still go
        # out in the order the tiles came, so the seam rule ("the tile answered first keeps the nucleus")
        # sees the same order as one tile at a time.
        depth = scheduler_of(model).stream_depth
        pending: deque[tuple[int, Rect, Rect, Future]] = deque()
        ended = False
        pool = ThreadPoolExecutor(max_workers=depth, thread_name_prefix="region-tile")
        try:
            while not ended or pending:
                while pending and pending[0][3].done():
                    index, core, rect, future = pending.popleft()
                    result = future.result()
                    call.tiles += 1
                    # Where two tiles disagree about a nucleus, the one returned first stays.
                    result.nuclei = guard.admit(result.nuclei, core, rect)
                    summary.add(result)
                    yield from tile_answers(index, result, summary.tiles, next_id)
                    next_id += len(result.nuclei)
                if ended or len(pending) >= depth:
                    if pending:
                        wait([pending[0][3]])
                    continue
                # With tiles in flight, listen only briefly, then look at them again: a client may send
                # its next tile only after it has heard of the last one.
                req = requests.next(timeout=POLL_S if pending else None)
                if req is IdleTimeoutReader.NOTHING:
                    continue
                kind = None if req is None else req.WhichOneof("message")
                if kind in (None, "end"):
                    ended = True
                    continue
                if kind != "tile":
                    raise invalid(f"unexpected '{kind}' message after RegionStart (expected tiles, then RegionEnd)")
                job = self._tile_job(req.tile, downsample, region, size)
                core = job.core or job.rect
                clash = cores.overlapping(core)
                if clash is not None:
                    raise invalid(f"tile {req.tile.index}: core {core} overlaps an earlier tile's core {clash}")
                cores.add(core)
                pending.append(
                    (req.tile.index, core, job.rect, pool.submit(self._run, model, job, params, context, True))
                )
        finally:
            for *_, future in pending:
                future.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
        summary.dropped_at_seams = guard.dropped
        yield pb.SegmentRegionResponse(summary=summary.to_proto(t0, cores.covered_area / region.area))


class _Summary:
    """Running totals for a RegionSummary."""

    def __init__(self, model: str, origin: pb.Provenance) -> None:
        self.model = model
        self.origin = origin
        self.tiles = 0
        self.per_class: Counter[str] = Counter()
        self.touching = 0
        self.dropped_at_seams = 0
        self.skipped = 0
        self.encoder = self.decoder = self.post = 0.0

    def add(self, result: TileResult) -> None:
        self.tiles += 1
        self.skipped += result.skipped
        self.encoder += result.encoder_seconds
        self.decoder += result.decoder_seconds
        self.post += result.postprocess_seconds
        for n in result.nuclei:
            self.per_class[n.class_name] += 1
            self.touching += n.touches_tile_edge

    def to_proto(self, t0: float, coverage: float) -> pb.RegionSummary:
        return pb.RegionSummary(
            nuclei=sum(self.per_class.values()),
            tiles=self.tiles,
            nuclei_per_class=dict(self.per_class),
            timings=pb.Timings(
                encoder_seconds=self.encoder,
                decoder_seconds=self.decoder,
                postprocess_seconds=self.post,
                total_seconds=time.perf_counter() - t0,
            ),
            core_coverage=coverage,
            nuclei_touching_tile_edge=self.touching,
            model=self.model,
            nuclei_dropped_at_seams=self.dropped_at_seams,
            tiles_skipped=self.skipped,
            provenance=self.origin,
        )


def _provenance(model: LoadedModel, params: Params) -> pb.Provenance:
    """What made this call's nuclei: model, weights hashes, version, precision and the effective parameters."""
    return params_wire.provenance_to_proto(provenance.describe(model, params), params)


def _describe_loaded(info: pb.ModelInfo, model: LoadedModel) -> None:
    """Provenance of a loaded model in its ModelInfo: its files' SHA-256 and the arithmetic it runs in.

    The hashes were taken when the model was loaded, so GetInfo reads no file.
    """
    for role, name, sha256, size in model.weights:
        info.weights.add(role=role, name=name, sha256=sha256, bytes=size)
    info.precision = dtype_name(model.compute_dtype)
    if model.semantic_decoder is not None:
        info.class_precision = dtype_name(model.semantic_dtype)
