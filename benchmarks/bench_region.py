"""Same region through SegmentRegion over gRPC vs. micro-sam's own tiled AIS, in one run.

Each side runs in its own subprocess (so peak RSS is its own); both use the same weights, tile 384 and
halo 64. The gRPC side includes the server (in process, on loopback), the client that reads and
sends tiles, polygons and protobuf. Prints a JSON line per side and the ratio.

    python benchmarks/bench_region.py [--size 1152 896] [--arch vit_t] [--checkpoint CKPT] [--repeat 1] [--slide]
        [--compile] [--sides micro-sam grpc]

Random weights are fine here: this measures time and memory, not quality. ``--slide`` replaces the noise
image with a slide-like one (``_testing.glass.make_slide_region``: tissue islands on half of it, glass
around them, a nucleus alone on glass) and runs the server with its whole-image defaults (glass tiles
skipped, ``--precision auto``, the model's queue) against micro-sam's defaults on every tile.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))
TILE, HALO = 384, 64


SLIDE = False  # set by --slide in each child
COMPILE = False  # set by --compile in the server's child


def _image(height: int, width: int) -> np.ndarray:
    """Noise is the worst case for the watershed (many small instances) and needs no data file."""
    if SLIDE:
        from pathosam_server._testing.glass import make_slide_region

        return make_slide_region(6, shape=(height, width), tissue_fraction=0.5, isolated=1).sample.image
    return (np.random.default_rng(0).random((height, width, 3)) * 255).astype(np.uint8)


def run_micro_sam(checkpoint: str, arch: str, height: int, width: int) -> dict:
    """micro-sam's automatic_instance_segmentation with tiling (embeddings + decoder per tile, one watershed)."""
    from micro_sam.automatic_segmentation import automatic_instance_segmentation, get_predictor_and_segmenter

    image = _image(height, width)
    predictor, segmenter = get_predictor_and_segmenter(arch, checkpoint, "cpu", segmentation_mode="ais", is_tiled=True)
    t0 = time.perf_counter()
    labels = automatic_instance_segmentation(
        predictor, segmenter, image, ndim=2, tile_shape=(TILE, TILE), halo=(HALO, HALO), verbose=False
    )
    seconds = time.perf_counter() - t0
    return {"side": "micro-sam in process", "seconds": seconds, "instances": int(labels.max())}


def stream_region(image: np.ndarray, spec, skip_background: bool) -> tuple[list, object, float, int, str]:
    """Stream a whole image through SegmentRegion to a fresh real server on loopback (tile 384 + halo 64).

    Args:
        image: (H, W, 3) uint8 level-0 pixels.
        spec: The ``ModelSpec`` the server loads.
        skip_background: ``SegmentParams.skip_background``.

    Returns:
        (nuclei as (tile index, proto nucleus), summary, seconds, tiles, precision the server reports).
    """
    import grpc

    from pathosam_server.geometry.tiling import Rect, plan_tiles
    from pathosam_server.grpc_api import pathosam_pb2 as pb
    from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc
    from pathosam_server.inference.models import ModelManager
    from pathosam_server.rpc import wire
    from pathosam_server.rpc.server import create_server

    height, width = image.shape[:2]
    models = ModelManager([spec], "cpu")
    models.get()
    server, port, _ = create_server(models, "127.0.0.1", 0)
    server.start()
    region = Rect(0, 0, width, height)
    plan = plan_tiles(region, 1.0, TILE, HALO, width, height)

    def requests():
        yield pb.SegmentRegionRequest(start=pb.RegionStart(
            region=wire.rect_to_proto(region), downsample=1.0, image_width=width, image_height=height,
            params=pb.SegmentParams(classify=False, skip_background=skip_background)))
        for i, t in enumerate(plan):  # read lazily: one tile's pixels at a time
            px = np.ascontiguousarray(image[t.rect.y:t.rect.y1, t.rect.x:t.rect.x1])
            yield pb.SegmentRegionRequest(tile=pb.Tile(
                region=wire.rect_to_proto(t.rect), core=wire.rect_to_proto(t.core), index=i,
                image=pb.Image(width=px.shape[1], height=px.shape[0], encoding=pb.RAW_RGB8, data=px.tobytes())))
        yield pb.SegmentRegionRequest(end=pb.RegionEnd())

    nuclei, summary = [], None
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.PathoSamStub(channel)
        precision = stub.GetInfo(pb.GetInfoRequest()).models[0].precision
        t0 = time.perf_counter()
        for resp in stub.SegmentRegion(requests()):
            if resp.HasField("nuclei"):
                nuclei.extend((resp.nuclei.tile_index, n) for n in resp.nuclei.nuclei)
            elif resp.HasField("summary"):
                summary = resp.summary
        seconds = time.perf_counter() - t0
    server.stop(0).wait()
    assert summary is not None, "the stream ended without a summary"
    return nuclei, summary, seconds, len(plan), precision


def run_grpc(checkpoint: str, arch: str, height: int, width: int) -> dict:
    """The same region streamed through SegmentRegion to a real server on loopback."""
    from pathosam_server.inference.models import local_spec

    nuclei, summary, seconds, tiles, _ = stream_region(
        _image(height, width), local_spec(checkpoint, name="bench", compile=COMPILE), skip_background=SLIDE
    )
    return {
        "side": "SegmentRegion over gRPC", "seconds": seconds, "instances": len(nuclei), "tiles": tiles,
        "tiles_per_s": tiles / seconds, "server_encoder_s": summary.timings.encoder_seconds,
        "server_decoder_s": summary.timings.decoder_seconds,
        "server_postprocess_s": summary.timings.postprocess_seconds, "tiles_skipped": summary.tiles_skipped,
    }


def _child(args: argparse.Namespace) -> None:
    global SLIDE, COMPILE
    SLIDE, COMPILE = args.slide, args.compile
    fn = run_grpc if args.child == "grpc" else run_micro_sam
    out = fn(args.checkpoint, args.arch, args.size[1], args.size[0])
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, nargs=2, default=(1152, 896), metavar=("WIDTH", "HEIGHT"))
    ap.add_argument("--arch", default="vit_t")
    ap.add_argument("--checkpoint", default=None, help="weights (default: random weights of --arch)")
    ap.add_argument("--repeat", type=int, default=1, help="alternate the two sides this many times")
    ap.add_argument("--slide", action="store_true", help="a half-glass slide-like image, the server skipping glass")
    ap.add_argument("--compile", action="store_true", help="the server with --compile (compiled at load, untimed)")
    ap.add_argument("--sides", nargs="+", choices=("micro-sam", "grpc"), default=("micro-sam", "grpc"))
    ap.add_argument("--child", choices=("grpc", "micro-sam"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(args)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint
        if ckpt is None:
            from pathosam_server._testing.checkpoints import make_random_checkpoint

            ckpt = str(make_random_checkpoint(Path(tmp) / f"random_{args.arch}.pt", args.arch))
        results: dict[str, list[dict]] = {"grpc": [], "micro-sam": []}
        for _ in range(args.repeat):
            for side in args.sides:
                cmd = [sys.executable, __file__, "--child", side, "--checkpoint", ckpt, "--arch", args.arch,
                       "--size", str(args.size[0]), str(args.size[1])] + (["--slide"] if args.slide else [])
                cmd += ["--compile"] if args.compile else []
                line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
                results[side].append(json.loads(line))
                print(line, flush=True)
    best = {k: min(r["seconds"] for r in v) for k, v in results.items() if v}
    if len(best) < 2:
        return
    print(json.dumps({"ratio_grpc_over_micro_sam": best["grpc"] / best["micro-sam"],
                      "speedup": best["micro-sam"] / best["grpc"], "slide": args.slide,
                      "size": args.size, "arch": args.arch, "tile": TILE, "halo": HALO, "compile": args.compile}))


if __name__ == "__main__":
    main()
