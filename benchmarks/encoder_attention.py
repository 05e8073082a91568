"""Encoder time per tile with segment-anything's own attention vs the fused kernel (and torch.compile).

    python benchmarks/encoder_attention.py [--arch vit_b] [--reps 3] [--device cpu] [--compile]

Random weights with non-zero relative-position tables (the encoder costs the same whatever its
weights; zero tables would hide a wrong bias). One 1024 x 1024 input (what SAM makes of every
512 px tile). The variants alternate after a warm-up each, so machine noise hits them alike; the
figure to quote is the ratio of medians from one run. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))

from pathosam_server.inference.attention import fuse_attention, unfuse_attention  # noqa: E402


def _time(encoder: torch.nn.Module, x: torch.Tensor, device: str) -> tuple[float, torch.Tensor]:
    """One forward pass.

    Args:
        encoder: The image encoder.
        x: Input batch.
        device: Torch device (CUDA is synchronised around the pass).

    Returns:
        Seconds and the output.
    """
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.inference_mode():
        y = encoder(x)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0, y


def main() -> None:
    """Parse arguments, run the variants alternately, print one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="vit_b")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of the fused encoder")
    args = ap.parse_args()
    from segment_anything import sam_model_registry

    torch.manual_seed(0)
    encoder = sam_model_registry[args.arch]().image_encoder.to(args.device).eval()
    for name, p in encoder.named_parameters():
        if "rel_pos" in name:
            p.data.normal_(0, 0.02)
    x = torch.randn(1, 3, 1024, 1024, device=args.device)
    variants = ["eager", "fused"] + (["compiled"] if args.compile else [])
    compiled = None
    times: dict[str, list[float]] = {v: [] for v in variants}
    outputs: dict[str, torch.Tensor] = {}
    for rep in range(args.reps + 1):  # rep 0 warms up (and compiles)
        for v in variants:
            unfuse_attention(encoder)
            if v != "eager":
                fuse_attention(encoder)
            model = encoder
            if v == "compiled":
                if compiled is None:
                    compiled = torch.compile(encoder)
                model = compiled
            dt, y = _time(model, x, args.device)
            if rep == 0:
                outputs[v] = y.float().cpu()
                if v == "compiled":
                    times.setdefault("compile_seconds", []).append(dt)
            else:
                times[v].append(dt)
    median = {v: statistics.median(times[v]) for v in variants}
    ref = outputs["eager"]
    result = {
        "arch": args.arch,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "seconds_median": {v: round(median[v], 3) for v in variants},
        "speedup_vs_eager": {v: round(median["eager"] / median[v], 3) for v in variants},
        "max_rel_diff_vs_eager": {
            v: float((outputs[v] - ref).abs().max() / ref.abs().max()) for v in variants if v != "eager"
        },
    }
    if "compile_seconds" in times:
        result["compile_seconds"] = round(times["compile_seconds"][0], 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
