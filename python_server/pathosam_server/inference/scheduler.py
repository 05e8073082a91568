"""One inference queue per model: tiles from every caller are batched through the encoder and decoders.

Every tile, whichever route it came by (region streams, ``SegmentTile``, the in-process batch, a Dask
task), is submitted here; one worker thread per model takes what is waiting, up to ``max_batch`` tiles
(waiting at most ``max_wait_s`` for more once one has arrived), and runs the image encoder, the instance
(AIS) decoder and the semantic decoder once for the whole batch. Each caller gets its own tile's decoder
maps back through a future; the watershed, polygon tracing and measurements then run on the caller's
thread, so they overlap the next batch on the model. Only this worker computes on the model's tensors,
so the cores are used by one torch computation at a time (its intra-op threads), never by several
calls racing.

Why batched equals unbatched: SAM's encoder and the semantic decoder (eval mode) have no layer that
mixes samples. micro-sam runs the AIS decoder in training mode, where its BatchNorm layers normalise
with the statistics of what they are given; for one tile that is the tile's own statistics. The batched
path normalises each tile with its own statistics too (``F.instance_norm`` with the layer's weight,
bias and eps, which is what train-mode BatchNorm computes for a batch of one; computed as group norm,
which is the same and keeps the decoders' channels-last layout), so a tile's result does
not depend on the other tiles of its batch. The test is ``tests/test_scheduler.py``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import types
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import Cancelled
from . import layout, semantic
from .encoder import compute_embeddings, encode

log = logging.getLogger(__name__)

# Peak extra memory of one 1024 px tile in a batch (encoder activations with fused attention plus both
# UNETR decoders at 1024 px, float32), by encoder. Conservative: the free-memory rule below halves what
# is free before dividing, so a wrong guess costs speed, not an out-of-memory error.
TILE_BYTES = {"vit_t": 1 << 30, "vit_b": 3 << 29, "vit_l": 2 << 30, "vit_h": 5 << 29}
MAX_AUTO_BATCH = 16
# On a CPU a batch of several tiles measured slower than one at a time (benchmarks/scheduler.py); the
# overlap of one tile's watershed with the next tile's model pass comes from ``stream_depth`` instead.
CPU_AUTO_BATCH = 1


@dataclass
class ModelOutputs:
    """What the models produce for one tile.

    Attributes:
        ais: (3, H, W) float32 foreground probability, centre and boundary distances (micro-sam's AIS
            decoder output at the tile's size), or None without an instance decoder.
        logits: (6, H, W) float32 class logits, or None when not asked for or not available.
        encoder_seconds: This tile's share of its batch's encoder time.
        decoder_seconds: This tile's share of its batch's decoder time.
    """

    ais: Optional[np.ndarray]
    logits: Optional[np.ndarray]
    encoder_seconds: float
    decoder_seconds: float


@dataclass
class _Job:
    image: np.ndarray
    classify: bool
    alive: Optional[Callable[[], bool]]
    future: Future


def auto_batch(device: str, architecture: str) -> int:
    """The batch size for ``max_batch=0``: from free device memory on CUDA, ``CPU_AUTO_BATCH`` elsewhere.

    Args:
        device: Torch device string.
        architecture: Encoder type (vit_t, vit_b, ...).

    Returns:
        A batch size >= 1.
    """
    if not device.startswith("cuda") or not torch.cuda.is_available():
        return CPU_AUTO_BATCH
    free, _total = torch.cuda.mem_get_info(torch.device(device))
    per_tile = TILE_BYTES.get(architecture, TILE_BYTES["vit_h"])
    return int(max(1, min(MAX_AUTO_BATCH, (free // 2) // per_tile)))


def per_sample_batch_norm(module: nn.Module) -> int:
    """Make every training-mode BatchNorm2d in ``module`` normalise each sample by its own statistics.

    For a batch of one this is what train-mode BatchNorm computes (biased variance, the layer's weight,
    bias and eps); for larger batches it keeps one tile's result independent of the others. Running
    statistics are neither used nor updated (inference only). Eval-mode layers keep their behaviour.

    Args:
        module: A decoder (in place).

    Returns:
        How many layers were changed.
    """
    changed = 0
    for layer in module.modules():
        if not isinstance(layer, nn.BatchNorm2d):
            continue
        inner = layer.forward

        def forward(self: nn.BatchNorm2d, x: torch.Tensor, _inner: Any = inner) -> torch.Tensor:
            if not self.training or x.shape[0] == 1:
                return _inner(x)  # exactly what micro-sam runs for one tile
            # Instance norm with the layer's weight and bias; group norm (a group per channel) computes
            # the same and keeps a channels-last tensor channels-last (``layout``).
            return F.group_norm(x, x.shape[1], weight=self.weight, bias=self.bias, eps=self.eps)

        setattr(layer, "forward", types.MethodType(forward, layer))  # noqa: B010 - mypy refuses assigning a method
        changed += 1
    return changed


_schedulers_lock = threading.Lock()


def scheduler_of(model: Any) -> TileScheduler:
    """The model's one scheduler, made on first use (``model.spec.max_batch`` tiles per pass).

    Args:
        model: A ``LoadedModel``.

    Returns:
        Its scheduler.
    """
    with _schedulers_lock:
        if model.scheduler is None:
            model.scheduler = TileScheduler(model, model.spec.max_batch)
            log.info("%s: up to %d tiles per model pass", model.spec.name, model.scheduler.max_batch)
        return model.scheduler


class TileScheduler:
    """The one queue in front of a model's encoder and decoders (thread-safe).

    Args:
        model: The ``LoadedModel`` (its ``predictor``, ``decoder``, ``semantic_decoder``, dtypes, lock).
        max_batch: Most tiles per model pass (0 = ``auto_batch``).
        max_wait_s: Longest wait for more tiles once one is waiting.
    """

    def __init__(self, model: Any, max_batch: int = 0, max_wait_s: float = 0.005) -> None:
        self.model = model
        self.max_batch = max_batch or auto_batch(model.device, model.spec.architecture)
        self.max_wait_s = max_wait_s
        # Tiles one region stream keeps in flight: enough to fill a batch, and at least two, so that one
        # tile's watershed and tracing on the stream's thread overlap the next tile's model pass.
        self.stream_depth = max(2, self.max_batch)
        self._queue: queue.Queue[Optional[_Job]] = queue.Queue()
        self._thread: Optional[threading.Thread] = None
        self._start_lock = threading.Lock()
        self.batches = 0
        self.tiles = 0

    def run(self, image: np.ndarray, classify: bool, alive: Optional[Callable[[], bool]] = None) -> ModelOutputs:
        """Submit one tile and wait for its outputs.

        Args:
            image: (H, W, 3) uint8 tile at the model's scale (``pipeline.pad_to_model_scale``).
            classify: Also run the semantic decoder.
            alive: Whether the caller still waits; a tile whose caller went away is dropped before it runs.

        Returns:
            The tile's outputs.

        Raises:
            Cancelled: The caller went away before its tile ran.
        """
        return self.submit(image, classify, alive).result()

    def submit(self, image: np.ndarray, classify: bool, alive: Optional[Callable[[], bool]] = None) -> Future:
        """Queue one tile; the future gives its ``ModelOutputs`` (arguments as ``run``)."""
        self._ensure_worker()
        future: Future = Future()
        self._queue.put(_Job(image, classify, alive, future))
        return future

    def close(self) -> None:
        """Stop the worker once the tiles queued so far are done (it holds the model: a model built for a
        while, as fine-tuning's validation builds one per epoch, is freed only after this)."""
        with self._start_lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread = None

    def _ensure_worker(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=f"model-{self.model.spec.name}", daemon=True)
                self._thread.start()

    def _take(self) -> Optional[list[_Job]]:
        """The next batch: the first waiting tile, then whatever else arrives within ``max_wait_s``; None: stop."""
        first = self._queue.get()
        if first is None:
            return None
        jobs = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(jobs) < self.max_batch:
            try:
                job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:  # close(): finish this batch, then stop
                self._queue.put(None)
                break
            jobs.append(job)
        return jobs

    def _work(self) -> None:
        while True:
            jobs = self._take()
            if jobs is None:
                return
            live = []
            for job in jobs:
                if job.alive is not None and not job.alive():
                    job.future.set_exception(
                        Cancelled("the caller went away (cancelled or past its deadline); the tile was not finished")
                    )
                elif job.future.set_running_or_notify_cancel():
                    live.append(job)
            if not live:
                continue
            try:
                outputs = self._compute(live)
            except Exception as err:  # noqa: BLE001 - one bad tile must not fail the others of its batch
                if len(live) == 1:
                    live[0].future.set_exception(err)
                    continue
                log.warning("a model pass over %d tiles failed; running them one at a time", len(live))
                for job in live:
                    self._one(job)
                continue
            self.batches += 1
            self.tiles += len(live)
            for job, out in zip(live, outputs):
                job.future.set_result(out)

    def _one(self, job: _Job) -> None:
        try:
            out = self._compute([job])
        except Exception as err:  # noqa: BLE001 - its caller hears of it; the worker goes on
            job.future.set_exception(err)
            return
        self.batches += 1
        self.tiles += 1
        job.future.set_result(out[0])

    def _compute(self, jobs: list[_Job]) -> list[ModelOutputs]:
        """Encoder, AIS decoder and semantic decoder once over a batch (holding the model's lock)."""
        model = self.model
        if model.spec.tile_normalization == "micro-sam":
            # Parity mode runs micro-sam's own per-tile embedding path (its per-tile stretch), one by one.
            return [self._compute_micro_sam(job) for job in jobs]
        with model.lock, torch.inference_mode():
            t0 = time.perf_counter()
            features, sizes = encode(model, [job.image for job in jobs])
            t1 = time.perf_counter()
            ais = self._decode(model.decoder, features, sizes, model.compute_dtype) if model.decoder else None
            wanted = [i for i, job in enumerate(jobs) if job.classify]
            logits: list[Optional[np.ndarray]] = [None] * len(jobs)
            if wanted and model.semantic_decoder is not None:
                found = self._decode(
                    model.semantic_decoder, features[wanted], [sizes[i] for i in wanted], model.semantic_dtype
                )
                for i, value in zip(wanted, found):
                    logits[i] = value
            t2 = time.perf_counter()
        n = len(jobs)
        return [
            ModelOutputs(None if ais is None else ais[i], logits[i], (t1 - t0) / n, (t2 - t1) / n) for i in range(n)
        ]

    @staticmethod
    def _decode(
        decoder: Any, features: torch.Tensor, sizes: list[tuple[tuple, tuple]], dtype: Optional[torch.dtype]
    ) -> list[np.ndarray]:
        """A micro-sam ``DecoderAdapter`` over a batch of embeddings, each output cut back to its tile."""
        device_type = features.device.type
        cast = torch.autocast(device_type, dtype=dtype) if dtype is not None else nullcontext()
        out = []
        with cast:
            # The adapter's body; its forward takes one input size.
            maps = decoder._forward_impl(layout.as_input(features, decoder))
            for i, (input_size, original_size) in enumerate(sizes):
                one = decoder.postprocess_masks(maps[i : i + 1], input_size, original_size)
                out.append(one.float().contiguous().cpu().numpy()[0])
        return out

    def _compute_micro_sam(self, job: _Job) -> ModelOutputs:
        from micro_sam.instance_segmentation import InstanceSegmentationWithDecoder

        model = self.model
        with model.lock, torch.inference_mode():
            t0 = time.perf_counter()
            embeddings = compute_embeddings(model, job.image)
            t1 = time.perf_counter()
            ais = None
            if model.decoder is not None:
                segmenter = InstanceSegmentationWithDecoder(model.predictor, model.decoder)
                segmenter.initialize(job.image, image_embeddings=embeddings)
                ais = np.stack([segmenter._foreground, segmenter._center_distances, segmenter._boundary_distances])
            logits = None
            if job.classify and model.semantic_decoder is not None:
                logits = semantic.class_logits(model.semantic_decoder, model.predictor, model.semantic_dtype)
            t2 = time.perf_counter()
        return ModelOutputs(ais, logits, t1 - t0, t2 - t1)
