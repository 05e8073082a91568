"""Scale-out on existing engines, for real: a gRPC pool of `pathosam serve` processes (one down from the
start, one killed mid-batch) and a Dask LocalCluster (one worker killed mid-run); both must give exactly
the nuclei one process gives. Random weights: plumbing only."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import shapely
from conftest import ROOT, noise_image
from PIL import Image

from pathosam_server.batch.grpc_pool import ServerPool, pool_service_config, pool_target
from pathosam_server.errors import RunnerError
from pathosam_server.formats.images import ArraySource
from pathosam_server.inference.regions import segment_region
from pathosam_server.records import Params, Rect

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "python_server")}
TILE, HALO = 96, 16  # many tiles from a small image, so that a kill lands mid-batch
PARAMS = Params(classify=False)  # the class decoder would only cost time here
TILES = 6  # 3 x 2 tiles of 96 px (each tile costs a whole model window, padded)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(checkpoint: Path) -> tuple[subprocess.Popen, str]:
    sem = checkpoint.parent / "random_sem.pt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pathosam_server", "serve", "--port", "0", "--device", "cpu", "--model-path",
         str(checkpoint), "--model-name", "random", "--semantic-decoder-path", str(sem)],
        env={**ENV, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    assert line.startswith("PathoSAM server listening on 127.0.0.1:"), line + proc.stderr.read()
    return proc, f"127.0.0.1:{int(line.rsplit(':', 1)[1])}"


def _ledger_images(path: Path) -> list[str]:
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            out.append(json.loads(line)["image"])
        except (ValueError, KeyError):  # a torn last line of a killed run
            pass
    return out


def _wkts(nuclei) -> list[str]:
    return sorted(shapely.normalize(n.geometry).wkt for n in nuclei)


@pytest.fixture(scope="module")
def image_and_expected(random_model):
    import torch

    arr = noise_image(41, 190, 280)
    rect = Rect(0, 0, 280, 190)
    # The servers (OMP_NUM_THREADS=1) and the Dask workers (local:N) compute with one torch thread; the reference
    # does too, because on some CPUs (AVX2 kernels) another thread count sums in another order and a random
    # model's mask boundary moves by a pixel.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        expected = list(segment_region(random_model.get(), ArraySource(arr), rect, 1.0, PARAMS, TILE, HALO))
    finally:
        torch.set_num_threads(threads)
    assert expected
    return arr, rect, expected


def test_pool_targets_and_service_config() -> None:
    assert pool_target(["dns:///pathosam.lab:50051"]) == "dns:///pathosam.lab:50051"
    assert pool_target(["127.0.0.1:1", "10.0.0.2:2"]) == "ipv4:127.0.0.1:1,10.0.0.2:2"
    assert pool_target(["[::1]:5"]) == "ipv6:[::1]:5"
    assert pool_target(["localhost:7"]).endswith(":7")  # names resolve once, to one family
    with pytest.raises(RunnerError, match="IPv4 and IPv6"):
        pool_target(["127.0.0.1:1", "[::1]:2"])
    with pytest.raises(RunnerError, match="cannot resolve"):
        pool_target(["no-such-host.invalid:1", "127.0.0.1:2"])
    config = pool_service_config()
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    policy = config["methodConfig"][0]["retryPolicy"]
    assert set(policy["retryableStatusCodes"]) == {"UNAVAILABLE", "RESOURCE_EXHAUSTED"}
    assert policy["maxAttempts"] <= 5  # gRPC's cap


@pytest.mark.slow
def test_pool_with_one_server_down_and_one_killed_gives_the_in_process_nuclei(
    random_checkpoint: Path, image_and_expected
) -> None:
    arr, rect, expected = image_and_expected
    (a, addr_a), (b, addr_b) = _serve(random_checkpoint), _serve(random_checkpoint)
    dead = f"127.0.0.1:{_free_port()}"
    pool = None
    try:
        pool = ServerPool([addr_a, dead, addr_b], "random", PARAMS, None, TILE, HALO, timeout=600)
        done = [0]

        def on_tile() -> None:
            done[0] += 1
            if done[0] == 2:
                b.send_signal(signal.SIGKILL)  # mid-batch: its tiles in flight are lost and go elsewhere

        got = pool.run(ArraySource(arr), [rect], 1.0, on_tile)
        tiles = pool.stats.tiles
        assert done[0] == tiles == TILES
        assert _wkts(got[0]) == _wkts(expected)
        assert sum(pool.tiles_per_worker.values()) == tiles
        assert any(w.endswith(addr_a.rsplit(":", 1)[1]) for w in pool.tiles_per_worker)
        assert pool.stats.coordinator_ms_per_tile() > 0
    finally:
        if pool is not None:
            pool.close()
        for p in (a, b):
            p.kill()
            p.communicate(timeout=60)


def test_pool_of_dead_servers_fails_in_one_sentence() -> None:
    with pytest.raises(RunnerError, match="unreachable"):
        ServerPool([f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"], "", Params(), None, None, None)


@pytest.mark.slow
def test_dask_local_cluster_matches_in_process_and_redoes_a_killed_workers_tiles(
    random_model, image_and_expected
) -> None:
    from pathosam_server.batch.dask_runner import DaskRunner

    arr, rect, expected = image_and_expected
    runner = DaskRunner(random_model, PARAMS, TILE, HALO, "local:2")
    try:
        pids = runner.client.run(os.getpid)
        assert len(pids) == 2
        victim = sorted(pids.values())[0]
        done = [0]

        def on_tile() -> None:
            done[0] += 1
            if done[0] == 2:
                os.kill(victim, signal.SIGKILL)  # the nanny restarts it; the plugin loads the model again

        got = runner.run(ArraySource(arr), [rect], 1.0, on_tile)
        assert done[0] == TILES
        assert _wkts(got[0]) == _wkts(expected)  # nothing lost, nothing twice
        assert sum(runner.tiles_per_worker.values()) == TILES
        assert runner.identity["model"] == "random"
    finally:
        runner.close()


@pytest.mark.parametrize(
    "extra,words",
    [
        (["--cluster", "local:0"], "1 <= N <= 512"),
        (["--cluster", "spark://x"], "is not a cluster"),
        (["--cluster", "local:2", "--server", "127.0.0.1:1"], "not both"),
        (["--cluster", "local:2", "--cluster-config", "x.yaml"], "for --cluster slurm"),
        (["--cluster", "slurm", "--cluster-config", "/nonexistent.yaml"], "does not exist"),
        (["--server", "dns:///a:1", "--server", "127.0.0.1:2"], "names a whole pool"),
    ],
)
def test_bad_cluster_options_are_one_line_and_exit_2(tmp_path: Path, extra, words) -> None:
    images = tmp_path / "images"
    images.mkdir()
    res = subprocess.run(
        [sys.executable, "-m", "pathosam_server", "batch", "--images-dir", str(images), "--geojson-dir",
         str(tmp_path / "out"), *extra], env=ENV, capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 2 and words in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()


def test_unreachable_scheduler_is_one_line_and_exit_2(tmp_path: Path, random_checkpoint: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(noise_image(5, 64, 64)).save(images / "a.png")
    res = subprocess.run(
        [sys.executable, "-m", "pathosam_server", "batch", "--images-dir", str(images), "--geojson-dir",
         str(tmp_path / "out"), "--cluster", f"tcp://127.0.0.1:{_free_port()}", "--model-path",
         str(random_checkpoint)], env=ENV, capture_output=True, text=True, timeout=180,
    )
    assert res.returncode == 2 and "cannot reach the Dask scheduler" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.slow
def test_cluster_batch_killed_then_rerun_does_each_image_once(tmp_path: Path, random_checkpoint: Path) -> None:
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    for i, name in enumerate(("a.png", "b.png")):
        Image.fromarray(noise_image(60 + i, 90, 90)).save(images / name)  # one tile each
    cmd = [sys.executable, "-m", "pathosam_server", "batch", "--images-dir", str(images), "--geojson-dir",
           str(out), "--regions", "whole", "--cluster", "local:1", "--model-path", str(random_checkpoint),
           "--tile-size", str(TILE), "--halo", str(HALO), "--no-classes", "-q"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    ledger = out / "pathosam-batch.ledger"
    try:
        deadline = time.monotonic() + 600
        while not _ledger_images(ledger) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and its local workers, as kill -9 of the job
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    assert _ledger_images(ledger) == ["a.png"]
    res = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    assert sorted(_ledger_images(ledger)) == ["a.png", "b.png"]  # each once
    assert "Dask dashboard" in res.stderr
