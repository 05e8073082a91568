"""The gRPC servicer: validate, enforce limits, map proto <-> pipeline. No model code here."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import grpc

from .. import __version__
from ..classes import CLASS_COLOURS, CLASS_NAMES
from ..errors import ModelError, UnknownModelError
from ..geometry.coords import TileFrame
from ..geometry.seams import SeamGuard
from ..geometry.tiling import CoreIndex, tile_pixel_size
from ..grpc_api import pathosam_pb2 as pb
from ..grpc_api import pathosam_pb2_grpc as pb_grpc
from ..inference.embedding_cache import EmbeddingCache
from ..inference.models import ModelManager, is_cached
from ..inference.pipeline import TileJob, TileResult, segment_tile
from ..inference.prompts import segment_prompts, window_embedding
from ..records import Params, Rect
from . import wire
from .wire import RequestError, invalid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one server accepts.

    Attributes:
        max_tile_size: Largest tile edge in pixels.
        max_message_bytes: Largest gRPC message in either direction.
        max_concurrent_streams: Segmentation calls served at once; more get RESOURCE_EXHAUSTED.
        max_region_pixels: Largest SegmentTile image (pixels).
        max_prompts_per_object: Largest number of points in one prompt object.
        max_objects_per_prompt: Largest number of objects in one Prompt call.
        cache_bytes: Memory budget of the embedding cache.
    """

    max_tile_size: int = 2048
    max_message_bytes: int = 64 * 1024 * 1024
    max_concurrent_streams: int = 8
    max_region_pixels: int = 2048 * 2048
    max_prompts_per_object: int = 64
    max_objects_per_prompt: int = 64
    cache_bytes: int = 1 << 30


class _Busy:
    """Counts running segmentation calls against the limit."""

    def __init__(self, limit: int) -> None:
        self._sem = threading.BoundedSemaphore(limit)
        self._limit = limit

    def __enter__(self) -> _Busy:
        if not self._sem.acquire(blocking=False):
            raise RequestError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"server busy: {self._limit} segmentation calls already running (the limit); retry later",
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self._sem.release()


class PathoSamServicer(pb_grpc.PathoSamServicer):
    """Implements pathosam.v1.PathoSam over a ModelManager.

    Args:
        models: The models this server serves.
        limits: Request limits.
        defaults: Default segmentation parameters.
    """

    def __init__(self, models: ModelManager, limits: Limits, defaults: Params = Params()) -> None:
        self.models = models
        self.limits = limits
        self.defaults = defaults
        self._busy = _Busy(limits.max_concurrent_streams)
        self.cache = EmbeddingCache(limits.cache_bytes)

    # -- helpers -------------------------------------------------------------------------------

    def _model(self, name: str):
        try:
            return self.models.get(name)
        except UnknownModelError as err:
            raise RequestError(grpc.StatusCode.NOT_FOUND, str(err)) from err
        except ModelError as err:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION, str(err)) from err

    def _tile_job(self, tile: pb.Tile, downsample: float, region: Rect | None, image_size) -> TileJob:
        rect = wire.rect_from_proto(tile.region, "tile region")
        core = wire.rect_from_proto(tile.core, "tile core") if tile.HasField("core") else rect
        if not rect.contains_rect(core):
            raise invalid(f"tile {tile.index}: core {core} is not inside the tile's region {rect}")
        if region is not None and not region.contains_rect(core):
            raise invalid(f"tile {tile.index}: core {core} lies outside the declared region {region}")
        image = wire.decode_image(tile.image, self.limits.max_tile_size)
        wire.check_tile_size(rect, image.shape[1], image.shape[0], downsample)
        return TileJob(image=image, rect=rect, downsample=downsample, core=core, image_size=image_size)

    @staticmethod
    def _abort(context: grpc.ServicerContext, err: RequestError) -> None:
        log.info("refused request: %s: %s", err.code.name, err.message)
        context.abort(err.code, err.message)

    def _run(self, model, job: TileJob, params: Params) -> TileResult:
        try:
            return segment_tile(model, job, params)
        except ValueError as err:  # e.g. a model without an AIS decoder
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION, str(err)) from err

    # -- RPCs ----------------------------------------------------------------------------------

    def GetInfo(self, request: pb.GetInfoRequest, context: grpc.ServicerContext) -> pb.ServerInfo:
        """Server, model and limit metadata."""
        import micro_sam
        import torch

        info = pb.ServerInfo(
            server_version=__version__,
            micro_sam_version=micro_sam.__version__,
            torch_version=torch.__version__,
            device=self.models.device,
            limits=pb.Limits(
                max_tile_size=self.limits.max_tile_size,
                max_message_bytes=self.limits.max_message_bytes,
                max_concurrent_streams=self.limits.max_concurrent_streams,
                max_region_pixels=self.limits.max_region_pixels,
                max_prompts_per_object=self.limits.max_prompts_per_object,
                max_objects_per_prompt=self.limits.max_objects_per_prompt,
            ),
            default_params=wire.params_to_proto(self.defaults),
            embedding_cache=pb.CacheStats(**self.cache.stats()),
        )
        for name, spec in self.models.specs.items():
            loaded = self.models.is_loaded(name)
            model = self.models.get(name) if loaded else None
            classifies = (
                model.semantic_decoder is not None
                if model
                else (spec.semantic_decoder is not None or spec.semantic_registry)
            )
            m = info.models.add(
                name=name,
                architecture=spec.architecture,
                loaded=loaded,
                available=loaded or spec.checkpoint is not None or is_cached(name),
                is_default=name == self.models.default,
                has_instance_decoder=(model.decoder is not None) if model else True,
                has_semantic_decoder=classifies,
                default_tile_size=spec.tile_size,
                default_halo=spec.halo,
                working_pixel_size_um=spec.pixel_size_um,
                source=spec.source,
            )
            if classifies:
                for cid, cname in CLASS_NAMES.items():
                    m.classes.add(id=cid, name=cname, rgb=CLASS_COLOURS[cid])
        return info

    def SegmentTile(self, request: pb.SegmentTileRequest, context: grpc.ServicerContext) -> pb.SegmentTileResponse:
        """Segment one tile; the whole tile is owned unless a core is given."""
        t0 = time.perf_counter()
        try:
            with self._busy:
                model = self._model(request.model)
                params = wire.params_from_proto(request.params, self.defaults)
                downsample = wire.downsample_from_proto(request.downsample)
                size = wire.image_size(request.image_width, request.image_height)
                job = self._tile_job(request.tile, downsample, None, size)
                if job.image.shape[0] * job.image.shape[1] > self.limits.max_region_pixels:
                    raise RequestError(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"tile of {job.image.shape[1]} x {job.image.shape[0]} px exceeds "
                        f"{self.limits.max_region_pixels} px; use SegmentRegion for large regions",
                    )
                result = self._run(model, job, params)
        except RequestError as err:
            self._abort(context, err)
        summary = _Summary(model.spec.name)
        summary.add(result)
        resp = pb.SegmentTileResponse(
            nuclei=[wire.nucleus_to_proto(n, i + 1) for i, n in enumerate(result.nuclei)],
        )
        resp.summary.CopyFrom(summary.to_proto(t0, coverage=1.0))
        return resp

    def Prompt(self, request: pb.PromptRequest, context: grpc.ServicerContext) -> pb.PromptResponse:
        """Segment one object per prompt set inside a (cached) window."""
        try:
            model = self._model(request.model)
            params = wire.params_from_proto(request.params, self.defaults)
            downsample = wire.downsample_from_proto(request.downsample)
            window = wire.rect_from_proto(request.window, "window")
            image = None
            if request.HasField("image"):
                image = wire.decode_image(request.image, self.limits.max_tile_size)
                wire.check_tile_size(window, image.shape[1], image.shape[0], downsample)
            elif not request.digest:
                raise invalid("send the window's pixels (image) or the digest of pixels sent before")
            # Validate the prompts before any encoder work, so bad requests cost nothing.
            size = (image.shape[1], image.shape[0]) if image is not None else tile_pixel_size(window, downsample)
            objects = wire.prompt_objects(
                request.objects,
                window,
                (size[1], size[0]),
                downsample,
                self.limits.max_objects_per_prompt,
                self.limits.max_prompts_per_object,
            )
            try:
                entry, digest, cached = window_embedding(model, self.cache, image, request.digest)
            except ValueError as err:
                raise invalid(str(err)) from err
            if entry is None:
                raise RequestError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"embedding {digest[:12]}... is not cached (evicted or never sent): send the window's pixels",
                )
            frame = TileFrame(window.x, window.y, downsample)
            records = segment_prompts(model, self.cache, entry, objects, frame, params)
        except RequestError as err:
            self._abort(context, err)
        return pb.PromptResponse(
            nuclei=[wire.nucleus_to_proto(n, i + 1) for i, n in enumerate(records)],
            digest=digest,
            embedding_cached=cached,
        )

    def SegmentRegion(
        self, request_iterator: Iterator[pb.SegmentRegionRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.SegmentRegionResponse]:
        """Stream tiles in, nuclei out; see the proto for the ownership rule."""
        t0 = time.perf_counter()
        try:
            with self._busy:
                yield from self._segment_region(request_iterator, context, t0)
        except RequestError as err:
            self._abort(context, err)

    def _segment_region(self, requests, context, t0: float) -> Iterator[pb.SegmentRegionResponse]:
        first = next(requests, None)
        if first is None or first.WhichOneof("message") != "start":
            raise invalid("the first SegmentRegion message must be a RegionStart")
        start = first.start
        model = self._model(start.model)
        params = wire.params_from_proto(start.params, self.defaults)
        downsample = wire.downsample_from_proto(start.downsample)
        region = wire.rect_from_proto(start.region, "region")
        size = wire.image_size(start.image_width, start.image_height)
        cores = CoreIndex()
        guard = SeamGuard()
        summary = _Summary(model.spec.name)
        next_id = 1
        for req in requests:
            kind = req.WhichOneof("message")
            if kind == "end":
                break
            if kind != "tile":
                raise invalid(f"unexpected '{kind}' message after RegionStart (expected tiles, then RegionEnd)")
            job = self._tile_job(req.tile, downsample, region, size)
            core = job.core or job.rect
            clash = cores.overlapping(core)
            if clash is not None:
                raise invalid(f"tile {req.tile.index}: core {core} overlaps an earlier tile's core {clash}")
            cores.add(core)
            result = self._run(model, job, params)
            # Where two tiles disagree about a nucleus, the one returned first stays.
            result.nuclei = guard.admit(result.nuclei, job.core or job.rect, job.rect)
            summary.add(result)
            if result.nuclei:
                batch = pb.NucleusBatch(tile_index=req.tile.index)
                for n in result.nuclei:
                    batch.nuclei.append(wire.nucleus_to_proto(n, next_id))
                    next_id += 1
                yield pb.SegmentRegionResponse(nuclei=batch)
            yield pb.SegmentRegionResponse(
                progress=pb.TileDone(
                    index=req.tile.index,
                    nuclei=len(result.nuclei),
                    tiles_done=summary.tiles,
                    seconds=result.encoder_seconds + result.decoder_seconds + result.postprocess_seconds,
                )
            )
        summary.dropped_at_seams = guard.dropped
        yield pb.SegmentRegionResponse(summary=summary.to_proto(t0, cores.covered_area / region.area))


class _Summary:
    """Running totals for a RegionSummary."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.tiles = 0
        self.per_class: Counter[str] = Counter()
        self.touching = 0
        self.dropped_at_seams = 0
        self.encoder = self.decoder = self.post = 0.0

    def add(self, result: TileResult) -> None:
        self.tiles += 1
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
        )
