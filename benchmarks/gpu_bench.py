"""Tiles/s, peak memory and achieved encoder TFLOP/s: micro-sam's default path vs this server's path.

    python benchmarks/gpu_bench.py [--device cuda] [--arch vit_b] [--tiles 8] [--compile] [--checkpoint CKPT]

Made to be run as one short prepared job on a CUDA machine (it also runs on a CPU, slowly). On the same
synthetic 512 px tiles it times, after a warm-up tile each:

- ``micro-sam``: what micro-sam does by default: float32, segment-anything's own attention, one tile
  at a time (``precompute_image_embeddings`` + the AIS decoder, as ``automatic_instance_segmentation``);
- ``server``: this server's model path (``pipeline.run_models``): fused attention, ``--precision auto``
  (bfloat16 / float16 where the device has it), optionally ``torch.compile``, one tile at a time;
- ``server_batched``: the same model with every tile submitted at once to its queue
  (``scheduler.TileScheduler``, ``--max-batch``, 0 = from free GPU memory), as concurrent streams reach it.

It also measures the device's peak dense matmul rate (float32 and the server's precision) and prints the
encoder FLOPs per tile (counted by ``torch.utils.flop_counter``) x tiles/s as a fraction of it. Without
--checkpoint the weights are random: timing only. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))

from pathosam_server._testing.synthetic import make_sample  # noqa: E402
from pathosam_server.inference import pipeline  # noqa: E402
from pathosam_server.inference.attention import unfuse_attention  # noqa: E402
from pathosam_server.inference.models import ModelManager, local_spec  # noqa: E402
from pathosam_server.inference.precision import dtype_name  # noqa: E402
from pathosam_server.inference.scheduler import scheduler_of  # noqa: E402


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak_matmul_tflops(device: str, dtype: torch.dtype, n: int = 4096, reps: int = 5) -> float:
    """Dense matmul rate of the device: the practical limit the encoder is measured against.

    Args:
        device: Torch device string.
        dtype: Arithmetic.
        n: Matrix edge.
        reps: Timed repetitions after one warm-up.

    Returns:
        TFLOP/s.
    """
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12


def encoder_flops(encoder: torch.nn.Module, device: str) -> int:
    """FLOPs of one encoder pass over SAM's 1024 px input.

    Args:
        encoder: The image encoder.
        device: Torch device string.

    Returns:
        FLOPs (multiply-adds count 2).
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        encoder(torch.zeros(1, 3, 1024, 1024, device=device))
    return int(counter.get_total_flops())


def _time_tiles(run: Callable[[Any], None], tiles: list, device: str) -> dict[str, float]:
    """Warm up on the first tile, then time the rest."""
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    run(tiles[0])
    _sync(device)
    t0 = time.perf_counter()
    for tile in tiles[1:]:
        run(tile)
    _sync(device)
    seconds = time.perf_counter() - t0
    out = {"tiles_per_s": (len(tiles) - 1) / seconds, "seconds_per_tile": seconds / (len(tiles) - 1)}
    if device.startswith("cuda"):
        out["peak_gpu_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def _time_batch(run: Callable[[list], None], tiles: list, device: str) -> dict[str, float]:
    """Warm up with one batch of all tiles, then time a second one."""
    run(tiles)  # first pass: allocator and kernels warm
    _sync(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    run(tiles)
    _sync(device)
    seconds = time.perf_counter() - t0
    out = {"tiles_per_s": len(tiles) / seconds, "seconds_per_tile": seconds / len(tiles)}
    if device.startswith("cuda"):
        out["peak_gpu_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def main() -> None:
    """Parse arguments, time both paths on the same tiles, print one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--arch", default="vit_b")
    ap.add_argument("--tiles", type=int, default=8, help="tiles per path (the first warms up)")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--max-batch", type=int, default=0, help="tiles per pass for server_batched (0 = auto)")
    args = ap.parse_args()
    from micro_sam import util
    from micro_sam.instance_segmentation import InstanceSegmentationWithDecoder

    from pathosam_server._testing.checkpoints import make_random_checkpoint

    checkpoint = args.checkpoint or make_random_checkpoint(
        Path(tempfile.mkdtemp()) / f"random_{args.arch}.pt", args.arch, seed=0
    )
    tiles = [make_sample(1_000_000 + k).image for k in range(max(2, args.tiles))]
    result: dict[str, Any] = {"device": args.device, "arch": args.arch, "tiles": len(tiles) - 1}

    baseline = ModelManager([local_spec(checkpoint, name="base", precision="float32")], args.device).get()
    unfuse_attention(baseline.predictor.model.image_encoder)  # micro-sam's own attention

    def micro_sam_tile(image: Any) -> None:
        with torch.inference_mode():
            emb = util.precompute_image_embeddings(baseline.predictor, image, ndim=2, verbose=False)
            seg = InstanceSegmentationWithDecoder(baseline.predictor, baseline.decoder)
            seg.initialize(image, image_embeddings=emb)

    result["micro-sam"] = _time_tiles(micro_sam_tile, tiles, args.device)
    flops = encoder_flops(baseline.predictor.model.image_encoder, args.device)
    server = ModelManager([local_spec(checkpoint, name="fast", compile=args.compile)], args.device).get()
    result["server"] = _time_tiles(lambda im: pipeline.run_models(server, im, classify=False), tiles, args.device)
    batched = ModelManager(
        [local_spec(checkpoint, name="batched", compile=args.compile, max_batch=args.max_batch)], args.device
    ).get()
    queue = scheduler_of(batched)

    def all_at_once(images: list) -> None:
        for future in [queue.submit(im, False) for im in images]:
            future.result()

    result["server_batched"] = _time_batch(all_at_once, tiles, args.device)
    result["server_batched"]["max_batch"] = queue.max_batch
    dtype = server.compute_dtype or torch.float32
    result["server_precision"] = dtype_name(server.compute_dtype)
    result["encoder_tflop_per_tile"] = flops / 1e12
    result["peak_matmul_tflops"] = {
        "float32": peak_matmul_tflops(args.device, torch.float32),
        result["server_precision"]: peak_matmul_tflops(args.device, dtype),
    }
    for name, peak in (
        ("micro-sam", "float32"),
        ("server", result["server_precision"]),
        ("server_batched", result["server_precision"]),
    ):
        achieved = flops * result[name]["tiles_per_s"] / 1e12
        result[name]["encoder_tflops"] = achieved
        result[name]["fraction_of_peak"] = achieved / result["peak_matmul_tflops"][peak]
    result["speedup"] = result["server"]["tiles_per_s"] / result["micro-sam"]["tiles_per_s"]
    result["speedup_batched"] = result["server_batched"]["tiles_per_s"] / result["micro-sam"]["tiles_per_s"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
