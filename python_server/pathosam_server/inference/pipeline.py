"""Tile -> nuclei: one encoder pass feeds micro-sam's AIS decoder (and the semantic decoder).

No gRPC here: the service and the batch/CLI paths all call `segment_tile`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
from scipy import ndimage

from ..analysis import measure
from ..classes import PANNUKE_CLASSES
from ..errors import ModelError
from ..geometry import coords, polygons
from ..records import NucleusRecord, Params, Rect
from . import semantic, tissue
from .models import LoadedModel
from .scheduler import scheduler_of


@dataclass
class TileResult:
    """Nuclei a tile owns plus where the time went.

    ``skipped``: the tile held no tissue and was not encoded (``Params.skip_background``); it has no nuclei.
    """

    nuclei: list[NucleusRecord] = field(default_factory=list)
    encoder_seconds: float = 0.0
    decoder_seconds: float = 0.0
    postprocess_seconds: float = 0.0
    skipped: bool = False


@dataclass(frozen=True)
class TileJob:
    """A tile to segment.

    Attributes:
        image: (H, W, 3) uint8 RGB pixels.
        rect: Level-0 rectangle the pixels cover (its x, y place pixel (0, 0)).
        downsample: Level-0 pixels per tile pixel.
        core: Level-0 rectangle this tile owns (None = the whole tile).
        image_size: Level-0 (width, height) of the whole image, if known.
    """

    image: np.ndarray
    rect: Rect
    downsample: float
    core: Optional[Rect] = None
    image_size: Optional[tuple[int, int]] = None


# SAM's pixel mean (RGB): SAM pads its normalised input with 0, i.e. with this colour.
SAM_PIXEL_MEAN = (124, 116, 104)


def pad_to_model_scale(model: LoadedModel, image: np.ndarray) -> np.ndarray:
    """Pad a tile so that it reaches the model at the model's own scale (pad, never rescale).

    SAM resizes every input so that its longest side is 1024 px; PathoSAM was trained on 512 px windows,
    so a tile whose longest side is not the model's input edge would be magnified by another factor (an
    edge tile of 300 px by 3.4 instead of 2), and nuclei would look larger than the model knows them.
    The tile is padded at the right or bottom with SAM's pixel mean (what SAM pads with itself) until its
    longest side is the input edge; results are cropped back (``crop``). Tiles whose longest side already
    is the input edge are unchanged. In micro-sam parity mode nothing is padded (micro-sam rescales).

    Args:
        model: The loaded model (its spec's ``input_edge``).
        image: (H, W, 3) uint8 tile.

    Returns:
        The padded tile (the input itself when nothing is needed).
    """
    edge = model.spec.input_edge
    h, w = image.shape[:2]
    if model.spec.tile_normalization == "micro-sam" or max(h, w) == edge:
        return image
    problem = oversized(model, w, h)
    if problem:
        raise ModelError(problem)
    shape = (h, edge, 3) if w >= h else (edge, w, 3)
    out = np.empty(shape, dtype=np.uint8)
    out[...] = SAM_PIXEL_MEAN
    out[:h, :w] = image
    return out


def oversized(model: LoadedModel, width: int, height: int) -> Optional[str]:
    """Why a tile of this size cannot reach the model at its own scale, or None when it can.

    Args:
        model: The loaded model.
        width: Tile width in pixels.
        height: Tile height in pixels.

    Returns:
        The message for the client, or None.
    """
    edge = model.spec.input_edge
    if model.spec.tile_normalization == "micro-sam" or max(width, height) <= edge:
        return None
    return (
        f"tile of {width} x {height} px is larger than the model's input window of {edge} px: tile size + 2 x halo "
        f"must be at most {edge} working pixels (e.g. 384 + 2 x 64), or the model would see it shrunk"
    )


def run_models(
    model: LoadedModel, image: np.ndarray, classify: bool, alive: Optional[Callable[[], bool]] = None
) -> tuple[Any, Optional[np.ndarray], float, float]:
    """Encoder once, then the AIS decoder and (optionally) the semantic decoder on that embedding.

    The tile joins the model's queue (``scheduler.TileScheduler``), which may run it in one batch with
    other callers' tiles; the watershed that follows runs on this thread.

    Args:
        model: The loaded model.
        image: (H, W, 3) uint8 tile (already at the model's scale, see ``pad_to_model_scale``).
        classify: Also run the semantic decoder.
        alive: Whether the caller still waits; checked before the tile's batch runs, so work nobody
            waits for stops (``Cancelled``) instead of holding the model.

    Returns:
        (micro-sam segmenter holding the decoder's maps, class logits (6, H, W) or None, encoder s,
        decoder s: the tile's share of its batch).
    """
    from micro_sam.instance_segmentation import InstanceSegmentationWithDecoder

    if model.decoder is None:
        raise ModelError(f"model '{model.spec.name}' has no instance segmentation (AIS) decoder")
    out = scheduler_of(model).run(image, classify, alive)
    assert out.ais is not None
    segmenter = InstanceSegmentationWithDecoder(model.predictor, model.decoder)
    # What micro-sam's ``initialize`` stores from the decoder's output (micro-sam 1.8, pinned): the
    # watershed in ``generate`` reads only these.
    segmenter._foreground, segmenter._center_distances, segmenter._boundary_distances = out.ais
    segmenter._i = None
    segmenter._is_initialized = True
    return segmenter, out.logits, out.encoder_seconds, out.decoder_seconds


def segment_tile(
    model: LoadedModel, job: TileJob, params: Params, alive: Optional[Callable[[], bool]] = None
) -> TileResult:
    """Segment one tile and return the nuclei it owns, in level-0 coordinates.

    Args:
        model: The loaded model.
        job: The tile and its placement.
        params: Segmentation parameters.
        alive: Whether the caller still waits (see ``run_models``).

    Returns:
        The owned nuclei and timings; with ``params.skip_background``, a tile of glass comes back at once,
        skipped (every caller, streams, SegmentTile, batches, passes here, so all of them skip the same tiles).
    """
    measure.check_halo(params, job.rect, job.core, job.downsample)  # before the encoder runs, not after
    if params.skip_background:
        t0 = time.perf_counter()
        if not tissue.has_tissue(job.image):
            return TileResult(postprocess_seconds=time.perf_counter() - t0, skipped=True)
    height, width = job.image.shape[:2]
    segmenter, logits, enc_s, dec_s = run_models(model, pad_to_model_scale(model, job.image), params.classify, alive)
    t0 = time.perf_counter()
    labels = segmenter.generate(
        center_distance_threshold=params.center_distance_threshold,
        boundary_distance_threshold=params.boundary_distance_threshold,
        foreground_threshold=params.foreground_threshold,
        min_size=params.min_size,
    )
    foreground = segmenter._foreground  # micro-sam keeps the decoder's foreground map here
    labels = np.asarray(labels)[:height, :width]  # drop the padding again
    foreground = None if foreground is None else np.asarray(foreground)[:height, :width]
    logits = None if logits is None else logits[:, :height, :width]
    nuclei = nuclei_from_labels(labels, job, params, foreground, logits, model.spec.class_names)
    return TileResult(nuclei, enc_s, dec_s, time.perf_counter() - t0)


def _edge_sides(job: TileJob) -> tuple[bool, bool, bool, bool]:
    """Which tile sides (left, top, right, bottom) are inner cuts rather than the image border."""
    r = job.rect
    w, h = job.image_size if job.image_size else (None, None)
    return (r.x > 0, r.y > 0, w is None or r.x1 < w, h is None or r.y1 < h)


def nuclei_from_labels(
    labels: np.ndarray,
    job: TileJob,
    params: Params,
    foreground: Optional[np.ndarray] = None,
    logits: Optional[np.ndarray] = None,
    class_names: tuple[str, ...] = PANNUKE_CLASSES,
) -> list[NucleusRecord]:
    """Turn a tile's instance labels into the level-0 nuclei that the tile owns.

    Args:
        labels: (H, W) instance labels of the tile.
        job: The tile's placement.
        params: Parameters (simplification, classes).
        foreground: Optional (H, W) foreground probabilities for the score.
        logits: Optional (1 + classes, H, W) class logits.
        class_names: The model's class names (channel 1 onwards).

    Returns:
        The owned nuclei.
    """
    frame = coords.TileFrame(job.rect.x, job.rect.y, job.downsample)
    ids = [int(i) for i in np.unique(labels) if i != 0]
    if not ids:
        return []
    centres = np.asarray(ndimage.center_of_mass(np.ones_like(labels), labels, ids), dtype=np.float64)
    # center_of_mass gives (row, col) of pixel indices; pixel centres sit at index + 0.5.
    level0 = coords.tile_to_level0(centres[:, ::-1] + 0.5, frame)
    core = job.core or job.rect
    owned = [k for k in range(len(ids)) if core.contains_point(level0[k, 0], level0[k, 1])]
    if not owned:
        return []
    owned_ids = [ids[k] for k in owned]
    slices = ndimage.find_objects(labels)
    scores = ndimage.mean(foreground, labels, owned_ids) if foreground is not None else np.ones(len(owned))
    means = None
    if logits is not None:
        means = semantic.nucleus_class_means(semantic.softmax(logits), labels, owned_ids)
    left, top, right, bottom = _edge_sides(job)
    hgt, wid = labels.shape
    out = []
    exact = []
    for n, k in enumerate(owned):
        sl = slices[ids[k] - 1]
        mask = labels[sl] == ids[k]
        r0, c0 = sl[0].start, sl[1].start
        touches = (
            (left and c0 == 0) or (top and r0 == 0) or (right and sl[1].stop == wid) or (bottom and sl[0].stop == hgt)
        )
        outline = polygons.mask_to_geometry(mask, offset=(c0, r0))
        exact.append(outline)
        geom = polygons.simplify(outline, params.simplify_tolerance)
        rec = NucleusRecord(
            geometry=coords.geometry_to_level0(geom, frame),
            score=float(np.clip(scores[n], 0.0, 1.0)),
            area=float(mask.sum()) * job.downsample**2,
            centroid_x=float(level0[k, 0]),
            centroid_y=float(level0[k, 1]),
            touches_tile_edge=bool(touches),
        )
        if means is not None:
            cls, prob = semantic.pick_class(means[n])
            rec.class_id, rec.class_name, rec.class_probability = cls, class_names[cls - 1], prob
            if params.all_class_probabilities:
                rec.class_probabilities = means[n]
        out.append(rec)
    if measure.wanted(params):
        found = measure.measure_tile(labels, owned_ids, exact, [r.geometry for r in out], job.image, frame, params)
        for rec, m in zip(out, found):
            rec.measurements, rec.cell_geometry = m.measurements, m.cell_geometry
    return out
