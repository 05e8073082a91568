"""Scale-out benchmark (issue 17): Dask workers and a gRPC server pool on this machine, with the
coordinator's own cost per tile for the capacity model in the README.

Runs the same image four ways, one torch thread per worker or server so that N of them use N cores:
Dask ``local:1`` and ``local:2``, and a pool of 1 and 2 ``pathosam serve`` processes. Prints tiles/s,
the speed-up and efficiency (speed-up / workers, target >= 0.8) and, from ``fanout.FanoutStats``, the
coordinator's milliseconds per tile (reading pixels, handing tiles over, the seam guard) against a
worker's: ``workers one coordinator can feed = worker ms per tile / coordinator ms per tile``.

    python benchmarks/scale_out.py [--model-path CKPT] [--size 768] [--tile 256]

Writes benchmarks/results/scale_out.json. Needs at least as many free cores as workers: run it with
nothing else on the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "python_server"), "OMP_NUM_THREADS": "1"}


def _serve(checkpoint: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pathosam_server", "serve", "--port", "0", "--device", "cpu", "--model-path",
         str(checkpoint), "--model-name", "bench", "--no-classes"],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("PathoSAM server listening on"):
        raise SystemExit(f"server did not start: {line}")
    return proc, line.strip().rsplit(" ", 1)[1]


def main() -> None:
    import torch

    from pathosam_server._testing.checkpoints import make_random_checkpoint
    from pathosam_server._testing.synthetic import make_sample
    from pathosam_server.batch.dask_runner import DaskRunner
    from pathosam_server.batch.grpc_pool import ServerPool
    from pathosam_server.formats.images import ArraySource
    from pathosam_server.inference.models import ModelManager, local_spec
    from pathosam_server.records import Params, Rect

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-path", type=Path, help="checkpoint (default: a random vit_t, made here)")
    ap.add_argument("--size", type=int, default=768, help="image edge in pixels")
    ap.add_argument("--tile", type=int, default=256, help="inner tile edge")
    ap.add_argument("--halo", type=int, default=32)
    ap.add_argument("--engines", default="dask,grpc", help="which to run: dask, grpc or both")
    ap.add_argument("--workers", default="1,2", help="worker/server counts to compare, e.g. 1,2")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scale_out.json")
    args = ap.parse_args()

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="pathosam-scale-"))
    checkpoint = args.model_path or make_random_checkpoint(tmp / "bench.pt", "vit_t", seed=0)
    source = ArraySource(make_sample(7, (args.size, args.size)).image)
    rect = Rect(0, 0, args.size, args.size)
    spec = local_spec(checkpoint, name="bench", tile_size=args.tile, halo=args.halo)
    manager = ModelManager([spec], "cpu")
    results: dict[str, dict] = {}

    def measure(label: str, runner, workers: int) -> None:
        runner.run(source, [Rect(0, 0, args.tile, args.tile)], 1.0, lambda: None)  # warm: models loaded
        runner.stats.__init__()
        runner.tiles_per_worker.clear()
        t0 = time.perf_counter()
        runner.run(source, [rect], 1.0, lambda: None)
        seconds = time.perf_counter() - t0
        stats = runner.stats
        results[label] = {
            "workers": workers,
            "tiles": stats.tiles,
            "seconds": round(seconds, 2),
            "tiles_per_s": round(stats.tiles / seconds, 3),
            "coordinator_ms_per_tile": round(stats.coordinator_ms_per_tile(), 2),
            "worker_ms_per_tile": round(1000 * seconds * workers / stats.tiles, 1),
            "per_worker": dict(runner.tiles_per_worker),
        }
        print(label, results[label], flush=True)

    counts = [int(n) for n in args.workers.split(",")]
    engines = args.engines.split(",")
    for n in counts if "dask" in engines else []:
        runner = DaskRunner(manager, Params(classify=False), args.tile, args.halo, f"local:{n}")
        try:
            measure(f"dask local:{n}", runner, n)
        finally:
            runner.close()
    for n in counts if "grpc" in engines else []:
        servers = [_serve(checkpoint) for _ in range(n)]
        try:
            pool = ServerPool([a for _, a in servers], "bench", Params(classify=False), None, args.tile, args.halo)
            try:
                measure(f"grpc pool of {n}", pool, n)
            finally:
                pool.close()
        finally:
            for proc, _ in servers:
                proc.kill()
                proc.wait()

    for engine in ("dask local:", "grpc pool of "):
        if f"{engine}1" not in results or f"{engine}2" not in results:
            continue
        one, two = results[f"{engine}1"], results[f"{engine}2"]
        speedup = two["tiles_per_s"] / one["tiles_per_s"]
        feeds = one["worker_ms_per_tile"] / max(0.01, two["coordinator_ms_per_tile"])
        results[f"{engine.strip()} summary"] = {
            "speedup_2_vs_1": round(speedup, 2),
            "efficiency": round(speedup / 2, 2),
            "workers_one_coordinator_feeds": round(feeds, 1),
        }
        print(engine.strip(), results[f"{engine.strip()} summary"], flush=True)
    results["machine"] = {"cpus": os.cpu_count(), "torch": torch.__version__, "size": args.size, "tile": args.tile}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
