"""Helpers for the tests that use the trained tiny model: stream a region through the real gRPC server
the way the Java client does, rasterise answers, and score them against synthetic ground truth.

The scoring functions are the test's own, independent of the server's writers; mSA / SA50 come from
``elf.evaluation`` (what micro-sam's evaluation uses).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from elf.evaluation import mean_segmentation_accuracy
from grids import plan_grid
from shapely.geometry import MultiPolygon, Polygon

from pathosam_server.formats.images import ArraySource
from pathosam_server.geometry import polygons as geometry
from pathosam_server.geometry.tiling import PlannedTile
from pathosam_server.grpc_api import pathosam_pb2 as pb
from pathosam_server.records import Rect
from pathosam_server.rpc import wire

TINY_MODEL_DIR = Path(__file__).resolve().parent / "fixtures" / "tiny_model"
TINY_MODEL = TINY_MODEL_DIR / "vit_t_synthetic.pt"
TINY_SEMANTIC = TINY_MODEL_DIR / "vit_t_synthetic_semantic_decoder.pt"
HELD_OUT_SEED = 1_000_000  # training uses seeds below this (training/README.md)


def raw_image(arr: np.ndarray) -> pb.Image:
    """RAW_RGB8 message of an (H, W, 3) array."""
    arr = np.ascontiguousarray(arr)
    return pb.Image(width=arr.shape[1], height=arr.shape[0], encoding=pb.RAW_RGB8, data=arr.tobytes())


def to_shapely(g: pb.Geometry):
    """Packed rings -> shapely."""
    polys = [
        Polygon(np.asarray(p.exterior.xy).reshape(-1, 2), [np.asarray(h.xy).reshape(-1, 2) for h in p.holes])
        for p in g.polygons
    ]
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


@dataclass
class StreamedRegion:
    """What one SegmentRegion stream returned.

    Attributes:
        nuclei: The nuclei (proto messages), in arrival order.
        owner: Tile index per nucleus.
        tiles: The plan that was sent.
        summary: The closing summary.
    """

    nuclei: list
    owner: list[int]
    tiles: list[PlannedTile]
    summary: pb.RegionSummary


def stream_region(
    stub, image: np.ndarray, region: Rect, downsample: float, tile_size: int, halo: int,
    origin: tuple[int, int] = (0, 0), params: pb.SegmentParams | None = None,
) -> StreamedRegion:
    """Plan tiles like the Java client, read them from a level-0 array and stream them to the server.

    Args:
        stub: A PathoSam stub.
        image: Level-0 RGB image.
        region: Level-0 region.
        downsample: Level-0 pixels per tile pixel.
        tile_size: Core edge in tile pixels.
        halo: Halo in tile pixels.
        origin: Grid shift in tile pixels.
        params: Segmentation parameters (server defaults when None).

    Returns:
        The streamed result.
    """
    height, width = image.shape[:2]
    plan = plan_grid(region, downsample, tile_size, halo, width, height, origin=origin)
    source = ArraySource(image)
    start = pb.RegionStart(region=wire.rect_to_proto(region), downsample=downsample, image_width=width,
                           image_height=height, params=params or pb.SegmentParams())

    def requests():
        yield pb.SegmentRegionRequest(start=start)
        for i, t in enumerate(plan):
            tile = pb.Tile(region=wire.rect_to_proto(t.rect), core=wire.rect_to_proto(t.core),
                           image=raw_image(source.read(t.rect, downsample)), index=i)
            yield pb.SegmentRegionRequest(tile=tile)
        yield pb.SegmentRegionRequest(end=pb.RegionEnd())

    nuclei, owner, summary = [], [], None
    for resp in stub.SegmentRegion(requests()):
        kind = resp.WhichOneof("message")
        if kind == "nuclei":
            nuclei.extend(resp.nuclei.nuclei)
            owner.extend([resp.nuclei.tile_index] * len(resp.nuclei.nuclei))
        elif kind == "summary":
            summary = resp.summary
    assert summary is not None, "the stream ended without a summary"
    return StreamedRegion(nuclei, owner, plan, summary)


def rasterize_nuclei(nuclei, frame: Rect, scale: float = 1.0) -> np.ndarray:
    """Label image of nuclei (level-0 polygons) over ``frame``; label k+1 is nuclei[k].

    Args:
        nuclei: Proto nuclei.
        frame: Level-0 rectangle the raster covers.
        scale: Raster pixels per level-0 pixel.

    Returns:
        (H, W) int32 labels.
    """
    from shapely import affinity

    shape = (int(round(frame.height * scale)), int(round(frame.width * scale)))
    geoms = [
        (k + 1, affinity.scale(affinity.translate(to_shapely(n.geometry), -frame.x, -frame.y), scale, scale,
                                origin=(0, 0)))
        for k, n in enumerate(nuclei)
    ]
    return geometry.rasterize(geoms, shape)


def iou_matrix(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of every predicted label with every ground-truth label (row/column 0 = background, zeroed)."""
    n_pred, n_gt = int(pred.max()) + 1, int(gt.max()) + 1
    overlap = np.bincount(pred.ravel().astype(np.int64) * n_gt + gt.ravel(), minlength=n_pred * n_gt)
    overlap = overlap.reshape(n_pred, n_gt).astype(np.float64)
    union = overlap.sum(1)[:, None] + overlap.sum(0)[None, :] - overlap
    iou = overlap / np.maximum(union, 1)
    iou[0, :], iou[:, 0] = 0, 0
    return iou


def match(pred: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> dict[int, int]:
    """Predicted label -> ground-truth label for pairs with IoU >= threshold (unique for >= 0.5)."""
    iou = iou_matrix(pred, gt)
    best = iou.argmax(1)
    return {p: int(best[p]) for p in range(1, iou.shape[0]) if iou[p, best[p]] >= threshold}


def msa_sa50(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """Mean segmentation accuracy over IoU 0.5:0.05:0.95 and SA at 0.5, as micro-sam evaluates."""
    msa, accs = mean_segmentation_accuracy(pred, gt, return_accuracies=True)
    return float(msa), float(accs[0])


def inner_tile_edges(tiles: list[PlannedTile], width: int, height: int) -> tuple[list, list]:
    """Tile borders that are cuts inside the image: (x, y0, y1) verticals and (y, x0, x1) horizontals."""
    vertical, horizontal = [], []
    for t in tiles:
        r = t.rect
        for x in (r.x, r.x1):
            if 0 < x < width:
                vertical.append((x, r.y, r.y1))
        for y in (r.y, r.y1):
            if 0 < y < height:
                horizontal.append((y, r.x, r.x1))
    return vertical, horizontal


def straight_cuts(geom, vertical: list, horizontal: list, min_length: float = 4.0) -> list[str]:
    """Polygon edges of at least ``min_length`` px that lie on a tile border (a nucleus cut by a tile).

    Args:
        geom: A shapely (Multi)Polygon in level-0 coordinates.
        vertical: (x, y0, y1) inner vertical tile borders.
        horizontal: (y, x0, x1) inner horizontal tile borders.
        min_length: Shortest edge that counts as a cut.

    Returns:
        Descriptions of the cuts found (empty when none).
    """
    found = []
    for poly in geometry.polygons_of(geom):
        ring = np.asarray(poly.exterior.coords)
        for (x0, y0), (x1, y1) in zip(ring[:-1], ring[1:]):
            if x0 == x1 and abs(y1 - y0) >= min_length:
                lo, hi = sorted((y0, y1))
                found += [f"x={x0} y={lo}..{hi}" for x, a, b in vertical if x0 == x and a <= lo and hi <= b]
            if y0 == y1 and abs(x1 - x0) >= min_length:
                lo, hi = sorted((x0, x1))
                found += [f"y={y0} x={lo}..{hi}" for y, a, b in horizontal if y0 == y and a <= lo and hi <= b]
    return found


def _bfloat16_affordable() -> bool:
    import torch

    cpu: Any = torch.cpu
    native = bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
    return native or torch.backends.cpu.get_cpu_capability().startswith("AVX512")


# Emulated bfloat16 costs ~3 min a tile on AVX512 cores but over an hour on AVX2-only ones (seen on a 2026-12-02
# machine): there the bfloat16 agreement checks wait for PATHOSAM_PRECISION_FULL=1 instead of stalling CI.
needs_affordable_bfloat16 = pytest.mark.skipif(
    not _bfloat16_affordable() and os.environ.get("PATHOSAM_PRECISION_FULL") != "1",
    reason="bfloat16 is emulated without AVX512 on this CPU (over an hour a tile); PATHOSAM_PRECISION_FULL=1 runs it",
)
