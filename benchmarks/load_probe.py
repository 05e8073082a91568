"""Load probe: many concurrent clients against a real `pathosam serve`, the way an outside probe found the
server's weak spots (issue 14), with numbers instead of impressions.

For DURATION seconds, CLIENTS threads each loop over a mix of calls: tiles with and without short
deadlines, streams that send only their RegionStart and hang, streams cancelled mid-way, digest-only
prompts that miss the cache, and malformed requests. Beside them a monitor checks health every 0.5 s
(1 s deadline). Afterwards it measures how long the server process keeps burning CPU: work nobody waits
for must stop within about one tile's time.

    python benchmarks/load_probe.py [--clients 32] [--duration 120] [--model-path CKPT]

Prints and writes benchmarks/results/load_probe.json: outcomes per status code, health latency (max,
p99) and failures, the idle time after the clients stop, and the time of one tile for comparison.
Loopback only; every loop is bounded in count and time and stops by itself.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from pathosam_server.grpc_api import pathosam_pb2 as pb
    from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--model-path", type=Path, default=None, help="checkpoint (default: random vit_t weights)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "load_probe.json")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pathosam-load-"))
    checkpoint = args.model_path
    if checkpoint is None:
        from pathosam_server._testing.checkpoints import make_random_checkpoint

        checkpoint = make_random_checkpoint(tmp / "random.pt", "vit_t", seed=0)
    server = subprocess.Popen(
        [sys.executable, "-m", "pathosam_server", "serve", "--port", "0", "--device", "cpu", "--model-path",
         str(checkpoint), "--max-concurrent", "8"],
        env={**os.environ, "PYTHONPATH": str(ROOT / "python_server")}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )
    address = "127.0.0.1:" + server.stdout.readline().strip().rsplit(":", 1)[1]
    rng = np.random.default_rng(0)
    pixels = (rng.random((256, 256, 3)) * 255).astype(np.uint8)
    tile = pb.Tile(region=pb.Rect(width=256, height=256),
                   image=pb.Image(width=256, height=256, encoding=pb.RAW_RGB8, data=pixels.tobytes()))
    results: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    with grpc.insecure_channel(address) as ch:
        stub = pb_grpc.PathoSamStub(ch)
        t0 = time.perf_counter()
        stub.SegmentTile(pb.SegmentTileRequest(tile=tile), timeout=600)
        tile_seconds = time.perf_counter() - t0

    def record(kind: str, code: str) -> None:
        with lock:
            results[f"{kind}:{code}"] += 1

    def client(k: int) -> None:
        r = random.Random(k)
        with grpc.insecure_channel(address) as ch:
            stub = pb_grpc.PathoSamStub(ch)
            while not stop.is_set():
                kind = r.choice(["tile", "tile-deadline", "idle-stream", "cancelled-stream", "prompt-miss", "bad"])
                try:
                    if kind == "tile":
                        stub.SegmentTile(pb.SegmentTileRequest(tile=tile), timeout=60)
                    elif kind == "tile-deadline":
                        stub.SegmentTile(pb.SegmentTileRequest(tile=tile), timeout=0.5)
                    elif kind in ("idle-stream", "cancelled-stream"):
                        start = pb.RegionStart(region=pb.Rect(width=256, height=256))

                        def requests(with_tile: bool = kind == "cancelled-stream", start: pb.RegionStart = start):
                            yield pb.SegmentRegionRequest(start=start)
                            if with_tile:
                                yield pb.SegmentRegionRequest(tile=tile)
                            stop.wait(5.0)  # then silence: the call's deadline or the cancel ends it

                        call = stub.SegmentRegion(requests(), timeout=3.0)
                        if kind == "cancelled-stream":
                            time.sleep(r.uniform(0.2, 1.5))
                            call.cancel()
                        for _ in call:
                            pass
                    elif kind == "prompt-miss":
                        stub.Prompt(pb.PromptRequest(window=pb.Rect(width=512, height=512), digest="ab" * 32,
                                                     objects=[pb.PromptObject(points=[pb.Point(x=5, y=5)])]),
                                    timeout=10)
                    else:
                        stub.SegmentTile(pb.SegmentTileRequest(tile=pb.Tile(image=pb.Image(width=-3))), timeout=10)
                    record(kind, "OK")
                except grpc.RpcError as err:
                    record(kind, err.code().name)

    health_ms: list[float] = []
    health_failures = Counter()

    def monitor() -> None:
        with grpc.insecure_channel(address) as ch:
            h = health_pb2_grpc.HealthStub(ch)
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    h.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                    health_ms.append((time.perf_counter() - t) * 1000)
                except grpc.RpcError as err:
                    health_failures[err.code().name] += 1
                time.sleep(0.5)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(args.clients)]
    threads.append(threading.Thread(target=monitor, daemon=True))
    for t in threads:
        t.start()
    time.sleep(args.duration)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    stopped = time.perf_counter()
    # idle = less than 10 % of one core over a 1 s window
    idle_after = None
    prev = _cpu_seconds(server.pid)
    while time.perf_counter() - stopped < 600:
        time.sleep(1.0)
        now = _cpu_seconds(server.pid)
        if now - prev < 0.1:
            idle_after = time.perf_counter() - stopped - 1.0
            break
        prev = now
    server.terminate()
    server.wait(timeout=60)
    ms = sorted(health_ms)
    report = {
        "clients": args.clients, "duration_s": args.duration, "tile_seconds": round(tile_seconds, 2),
        "outcomes": dict(sorted(results.items())), "health_checks": len(ms) + sum(health_failures.values()),
        "health_failures": dict(health_failures), "health_ms_max": round(ms[-1], 1) if ms else None,
        "health_ms_p99": round(ms[int(0.99 * (len(ms) - 1))], 1) if ms else None,
        "idle_after_clients_stop_s": None if idle_after is None else round(max(idle_after, 0.0), 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
