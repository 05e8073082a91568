"""`pathosam batch` for real (random weights, so plumbing only): a kill -9 mid-run and the resume,
two servers sharing the tiles, and in-process inference on a pyramidal OME-TIFF with class regions.
Each test keeps to a few tiles: on a CPU one tile costs 10-60 s whatever its size."""
from __future__ import annotations

import csv
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
from shapely.geometry import shape
from test_batch_sources import annotation, write_pyramid

from pathosam_server.classes import CLASS_COLOURS, CLASS_NAMES
from pathosam_server.formats.images import ArraySource
from pathosam_server.inference.regions import segment_region
from pathosam_server.records import Params, Rect

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "python_server")}
BATCH = [sys.executable, "-m", "pathosam_server", "batch"]


def _ledger(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def _features(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    assert data["type"] == "FeatureCollection"
    return data["features"]


def _check_qupath_features(features: list[dict]) -> None:
    colours = {name: CLASS_COLOURS[cid] for cid, name in CLASS_NAMES.items()}
    assert len({f["id"] for f in features}) == len(features)
    for f in features:
        props = f["properties"]
        assert props["objectType"] == "detection" and 0 <= props["measurements"]["PathoSAM: score"] <= 1
        rgb = colours[props["classification"]["name"]]
        assert props["classification"]["color"] == [rgb >> 16, (rgb >> 8) & 255, rgb & 255]
        assert shape(f["geometry"]).is_valid


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_does_every_image_once(tmp_path: Path, server: str) -> None:
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    for i, name in enumerate(("a.png", "b.png")):
        Image.fromarray(noise_image(20 + i, 200, 300)).save(images / name)  # one 384 px tile each
    cmd = [*BATCH, "--images-dir", str(images), "--geojson-dir", str(out), "--regions", "whole", "--server", server, "-q"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ledger = out / "pathosam-batch.ledger"
    try:
        deadline = time.monotonic() + 900
        while not _ledger(ledger) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)  # while b.png's tile is on the server
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    assert [r["image"] for r in _ledger(ledger)] == ["a.png"]
    first = out / "a.png.nuclei.geojson"
    stamp = first.stat().st_mtime_ns
    assert not (out / "b.png.nuclei.geojson").exists()

    res = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    records = _ledger(ledger)
    assert sorted(r["image"] for r in records) == ["a.png", "b.png"]  # each exactly once
    assert first.stat().st_mtime_ns == stamp  # a.png was not redone
    table = {line.split()[0]: line for line in res.stdout.splitlines() if line.strip()}
    assert table["a.png"].rstrip().endswith("done earlier") and table["b.png"].rstrip().endswith("done")
    for r in records:
        features = _features(out / f"{r['image']}.nuclei.geojson")
        _check_qupath_features(features)
        assert len(features) == r["nuclei"] > 0
        shapes = [shape(f["geometry"]).normalize().wkb for f in features]
        assert len(set(shapes)) == len(shapes)  # no nucleus twice
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]

    again = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.count("done earlier") == 2 and "tiles on" not in again.stdout


@pytest.mark.slow
def test_two_servers_share_the_tiles_and_match_in_process(tmp_path: Path, random_model) -> None:
    from pathosam_server.rpc.admission import Limits
    from pathosam_server.rpc.server import create_server

    servers = [create_server(random_model, "127.0.0.1", 0, Limits(), token="s3cret")[:2] for _ in range(2)]
    for srv, _ in servers:
        srv.start()
    addresses = [f"127.0.0.1:{port}" for _, port in servers]
    try:
        images, out = tmp_path / "images", tmp_path / "out"
        images.mkdir()
        arr = noise_image(31, 120, 380)
        Image.fromarray(arr).save(images / "wide.png")  # tile 192: two tiles side by side
        base = [*BATCH, "--images-dir", str(images), "--geojson-dir", str(out), "--regions", "whole",
                "--tile-size", "192", "--halo", "32", "-q", "--csv", str(tmp_path / "counts.csv")]
        for a in addresses:
            base += ["--server", a]
        with socket.socket() as sock:  # a third server that is down: the others do its share
            sock.bind(("127.0.0.1", 0))
            dead = f"127.0.0.1:{sock.getsockname()[1]}"
        base += ["--server", dead]
        wrong = subprocess.run([*base, "--token", "nope"], env=ENV, capture_output=True, text=True, timeout=300)
        assert wrong.returncode == 2 and "refused the token" in wrong.stderr and "Traceback" not in wrong.stderr
        res = subprocess.run([*base, "--token", "s3cret"], env=ENV, capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, res.stderr
        assert f"server {dead} is unreachable" in res.stderr and "continuing without it" in res.stderr
        # gRPC's round_robin spreads the tiles over the servers that are READY when a tile goes out (two tiles
        # sent at once may both go to the first one up): every tile on one of the live servers, none lost
        counts = {line.split()[2].rstrip(":"): int(line.split()[3]) for line in res.stdout.splitlines()
                  if line.startswith("tiles on ")}
        assert sum(counts.values()) == 2 and set(counts) <= set(addresses), res.stdout
        features = _features(out / "wide.png.nuclei.geojson")
        _check_qupath_features(features)
        # the same tiles in process give the same nuclei: per-tile calls with cores lose or add nothing
        expected = list(segment_region(random_model.get(), ArraySource(arr), Rect(0, 0, 380, 120), 1.0, Params(),
                                       tile_size=192, halo=32))
        assert len(features) == len(expected) > 0
        got = sorted(shape(f["geometry"]).normalize().wkt for f in features)
        assert got == sorted(shapely.normalize(n.geometry).wkt for n in expected)
        with open(tmp_path / "counts.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert rows[0]["image"] == "wide.png" and int(rows[0]["total"]) == len(features)
    finally:
        for srv, _ in servers:
            srv.stop(0).wait()


@pytest.mark.slow
def test_in_process_batch_on_a_pyramid_with_class_regions(tmp_path: Path, random_checkpoint: Path) -> None:
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    write_pyramid(images / "slide.ome.tif", noise_image(41, 200, 300), 0.25)
    tumour = shapely.Polygon([(30, 20), (260, 40), (200, 190), (40, 150)])
    (images / "slide.ome.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        annotation(tumour, "Tumor"), annotation(shapely.geometry.box(0, 0, 300, 200), "Other")]}))
    res = subprocess.run(
        [*BATCH, "--images-dir", str(images), "--geojson-dir", str(out), "--regions", "class:Tumor",
         "--pixel-size-um", "0.25", "--model-path", str(random_checkpoint), "--semantic-decoder-path",
         str(random_checkpoint.parent / "random_sem.pt"), "--device", "cpu", "-q"],
        env=ENV, capture_output=True, text=True, timeout=900,
    )
    assert res.returncode == 0, res.stderr
    assert "tiles on in-process: 1" in res.stdout
    features = _features(out / "slide.ome.tif.nuclei.geojson")
    _check_qupath_features(features)
    assert features
    for f in features:  # clipped to the annotation: centroids inside, outlines cut at its border
        geom = shape(f["geometry"])
        assert tumour.buffer(1e-6).covers(geom)
        assert 0 <= f["properties"]["measurements"]["PathoSAM: class probability"] <= 1
    (record,) = _ledger(out / "pathosam-batch.ledger")
    assert record["image"] == "slide.ome.tif" and record["regions"] == 1 and record["downsample"] == pytest.approx(1.0)
