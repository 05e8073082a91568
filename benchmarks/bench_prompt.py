"""Click -> polygon latency over gRPC on loopback: cached window vs. first click on a new window.

    python benchmarks/bench_prompt.py [--arch vit_t vit_b] [--checkpoint CKPT] [--clicks 100]

For each model: one Prompt with pixels (encoder + decoder: "first click"), then N single-click
Prompt calls that send only the window digest (the embedding is cached: prompt decoder only),
each at a different point, instances only. Reports p50 / p95 in milliseconds, gRPC included.
Random weights are fine for timing the decoder, but their masks are whole-window noise whose polygons
dominate; with --checkpoint (trained weights) the window is a held-out synthetic H&E tile instead.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))


def bench(checkpoint: str, name: str, clicks: int, classify: bool) -> dict:
    """Latencies for one model."""
    import grpc

    from pathosam_server.grpc_api import pathosam_pb2 as pb
    from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc
    from pathosam_server.inference.models import ModelManager, local_spec
    from pathosam_server.rpc.server import create_server

    models = ModelManager([local_spec(checkpoint, name=name)], "cpu")
    models.get()
    server, port, _ = create_server(models, "127.0.0.1", 0)
    server.start()
    rng = np.random.default_rng(0)
    if name.endswith("(given weights)"):
        # Trained weights: a held-out synthetic H&E window, so clicks give nucleus-sized outlines.
        from pathosam_server._testing.synthetic import make_sample

        pixels = make_sample(1_000_000).image
    else:
        pixels = (rng.random((512, 512, 3)) * 255).astype(np.uint8)
    window = pb.Rect(x=20000, y=10000, width=512, height=512)
    params = pb.SegmentParams(classify=classify)

    def click(x: float, y: float, with_pixels: bool, digest: str = "") -> tuple[float, pb.PromptResponse]:
        req = pb.PromptRequest(window=window, downsample=1.0, digest=digest, params=params,
                               objects=[pb.PromptObject(points=[pb.Point(x=x, y=y, positive=True)])])
        if with_pixels:
            req.image.CopyFrom(pb.Image(width=512, height=512, encoding=pb.RAW_RGB8, data=pixels.tobytes()))
        t0 = time.perf_counter()
        resp = stub.Prompt(req)
        return (time.perf_counter() - t0) * 1000, resp

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.PathoSamStub(channel)
        first_ms, resp = click(20256.5, 10256.5, True)
        times = []
        for _ in range(clicks):
            x, y = rng.uniform(20010, 20500), rng.uniform(10010, 10500)
            ms, r = click(x, y, False, resp.digest)
            assert r.embedding_cached
            times.append(ms)
    server.stop(0).wait()
    return {
        "model": name, "first_click_ms": round(first_ms, 1), "cached_p50_ms": round(float(np.percentile(times, 50)), 1),
        "cached_p95_ms": round(float(np.percentile(times, 95)), 1), "clicks": clicks, "classify": classify,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", nargs="+", default=["vit_t", "vit_b"])
    ap.add_argument("--checkpoint", default=None, help="use these weights instead of random ones (one arch)")
    ap.add_argument("--clicks", type=int, default=100)
    ap.add_argument("--classify", action="store_true", help="also classify (needs a semantic decoder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.arch:
            ckpt = args.checkpoint
            if ckpt is None:
                from pathosam_server._testing.checkpoints import make_random_checkpoint

                ckpt = str(make_random_checkpoint(Path(tmp) / f"random_{arch}.pt", arch))
            print(json.dumps(bench(ckpt, f"{arch} ({'given' if args.checkpoint else 'random'} weights)",
                                   args.clicks, args.classify)), flush=True)


if __name__ == "__main__":
    main()
