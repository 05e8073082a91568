"""Four concurrent clients, each a SegmentRegion stream: total tiles/s with the model's queue vs per-call threads.

    python benchmarks/scheduler.py [--arch vit_b] [--clients 4] [--tiles 2] [--batches 1,4] [--rounds 1]

One real gRPC server on loopback serves random weights (timing only). Each mode streams the same
``clients x tiles`` 512 px tiles, every client on its own thread and channel, and the modes alternate
in the same process, so their ratio is measured under the same conditions:

- ``threads``: how the server ran before the queue: every call computes on its own thread, taking the
  model's lock for its tile's encoder and decoders (the queue's per-tile code, run on the caller's
  thread), and a stream keeps one tile in flight;
- ``queue-N``: this server: one ``scheduler.TileScheduler`` per model, up to N tiles per model pass
  (N=1 is the CPU default: one pass at a time, while watershed and tracing run on the streams'
  threads), each stream keeping ``stream_depth`` tiles in flight.

It also prints the encoder's FLOPs per tile x tiles/s against the machine's measured matmul peak.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gpu_bench import encoder_flops, peak_matmul_tflops  # noqa: E402

from pathosam_server._testing.synthetic import make_sample  # noqa: E402
from pathosam_server.inference import scheduler as sched  # noqa: E402

TILE = 512


class PerCallThreads:
    """The old way: the caller's own thread runs its tile under the model's lock (no queue, no batching)."""

    max_batch = 1
    stream_depth = 1

    def __init__(self, model: Any) -> None:
        self._queue = sched.TileScheduler(model, max_batch=1)

    def run(self, image: np.ndarray, classify: bool, alive: Any = None) -> sched.ModelOutputs:
        job = sched._Job(image, classify, alive, None)  # type: ignore[arg-type]
        return self._queue._compute([job])[0]


def stream_region(address: str, index: int, images: list[np.ndarray]) -> float:
    """One client: its tiles side by side as one region, streamed; returns the seconds it took."""
    import grpc

    from pathosam_server.grpc_api import pathosam_pb2 as pb
    from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc
    width = TILE * len(images)

    def requests():
        yield pb.SegmentRegionRequest(
            start=pb.RegionStart(
                region=pb.Rect(x=0, y=0, width=width, height=TILE),
                image_width=width,
                image_height=TILE,
                request_id=f"client-{index}",
            )
        )
        for k, image in enumerate(images):
            tile = pb.Tile(region=pb.Rect(x=k * TILE, y=0, width=TILE, height=TILE), index=k)
            tile.image.CopyFrom(_raw(pb, image))
            yield pb.SegmentRegionRequest(tile=tile)
        yield pb.SegmentRegionRequest(end=pb.RegionEnd())

    t0 = time.perf_counter()
    with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        for _ in pb_grpc.PathoSamStub(channel).SegmentRegion(requests(), timeout=7200):
            pass
    return time.perf_counter() - t0


def _raw(pb: Any, image: np.ndarray) -> Any:
    return pb.Image(width=image.shape[1], height=image.shape[0], encoding=pb.RAW_RGB8, data=image.tobytes())


def run_mode(address: str, per_client: list[list[np.ndarray]]) -> dict[str, float]:
    """Every client at once; total tiles / wall time."""
    seconds: list[float] = [0.0] * len(per_client)

    def client(i: int) -> None:
        seconds[i] = stream_region(address, i, per_client[i])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(per_client))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    tiles = sum(len(c) for c in per_client)
    return {"seconds": wall, "tiles_per_s": tiles / wall, "slowest_client_s": max(seconds)}


def main() -> None:
    """Parse arguments, alternate the modes on one server, print one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="vit_b")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--tiles", type=int, default=2, help="tiles per client")
    ap.add_argument("--batches", default="1,4", help="queue modes: tiles per model pass, comma-separated")
    ap.add_argument("--rounds", type=int, default=1, help="times each mode runs (alternating)")
    ap.add_argument("--checkpoint", default=None)
    args = ap.parse_args()

    from pathosam_server._testing.checkpoints import make_random_checkpoint
    from pathosam_server.inference.models import ModelManager, local_spec
    from pathosam_server.rpc.admission import Limits
    from pathosam_server.rpc.server import create_server

    checkpoint = args.checkpoint or make_random_checkpoint(
        Path(tempfile.mkdtemp()) / f"random_{args.arch}.pt", args.arch, seed=0
    )
    manager = ModelManager([local_spec(checkpoint, name="bench", pixel_size_um=0.0)], "cpu")
    model = manager.get()
    limits = Limits(max_tile_size=1024, max_concurrent_streams=16, max_work_per_client=16, max_open_calls=16)
    server, port, _ = create_server(manager, "127.0.0.1", 0, limits)
    server.start()
    address = f"127.0.0.1:{port}"
    per_client = [
        [make_sample(2_000_000 + 100 * c + k).image[:TILE, :TILE] for k in range(args.tiles)]
        for c in range(args.clients)
    ]
    modes: dict[str, Any] = {"threads": PerCallThreads(model)}
    for n in (int(b) for b in args.batches.split(",") if b.strip()):
        modes[f"queue-{n}"] = sched.TileScheduler(model, max_batch=n, max_wait_s=0.05)
    model.scheduler = modes["threads"]
    stream_region(address, 99, per_client[0][:1])  # warm-up: allocator, kernels, first-call costs
    result: dict[str, Any] = {
        "arch": args.arch,
        "clients": args.clients,
        "tiles_per_client": args.tiles,
        "torch_threads": torch.get_num_threads(),
        "precision": str(model.compute_dtype or "float32").removeprefix("torch."),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in modes}
    for _ in range(args.rounds):
        for name, runner in modes.items():
            model.scheduler = runner
            runs[name].append(run_mode(address, per_client))
            print(name, json.dumps(runs[name][-1]), file=sys.stderr, flush=True)
    server.stop(0).wait()
    best = {name: max(r, key=lambda x: x["tiles_per_s"]) for name, r in runs.items()}
    result["modes"] = best
    result["ratio_vs_threads"] = {
        name: best[name]["tiles_per_s"] / best["threads"]["tiles_per_s"] for name in best if name != "threads"
    }
    # Counted on a float32 copy: the flop counter cannot follow the served model's autocast.
    plain = ModelManager([local_spec(checkpoint, name="count", pixel_size_um=0.0, precision="float32")], "cpu").get()
    flops = encoder_flops(plain.predictor.model.image_encoder, "cpu")
    dtype = model.compute_dtype or torch.float32
    peak = peak_matmul_tflops("cpu", dtype, n=2048)
    result["encoder_tflop_per_tile"] = flops / 1e12
    result["peak_matmul_tflops"] = peak
    result["fraction_of_peak"] = {name: flops * best[name]["tiles_per_s"] / 1e12 / peak for name in best}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
