"""Cells, measurements and provenance through `pathosam segment` (in process) and a gRPC stream.

The trained tiny model segments a held-out synthetic image cut into two tiles (one seam); both paths
must return the same cells and the same measurement values (to float precision), and say which
weights made them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from conftest import ROOT
from PIL import Image
from shapely.geometry import shape
from tiny_model_helpers import HELD_OUT_SEED, TINY_MODEL, TINY_SEMANTIC, raw_image

from pathosam_server._testing.synthetic import make_sample
from pathosam_server.formats.images import ArraySource
from pathosam_server.geometry.tiling import plan_tiles
from pathosam_server.grpc_api import pathosam_pb2 as pb
from pathosam_server.records import Params, Rect
from pathosam_server.rpc import params_wire, wire

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "python_server")}
SHAPE = (320, 512)  # two tiles of 384 + halo: one seam, ~45 s of the tiny model per path on 2 cores
PARAMS = Params(measure_shape=True, measure_intensity=True, pixel_size_um=0.5, cell_expansion=3.0)


def _stream(stub, image, params: pb.SegmentParams, tile_size: int, halo: int):
    h, w = image.shape[:2]
    region = Rect(0, 0, w, h)
    plan = plan_tiles(region, 1.0, tile_size, halo, w, h)  # the tiles `pathosam segment` reads
    source = ArraySource(image)

    def requests():
        yield pb.SegmentRegionRequest(start=pb.RegionStart(
            region=wire.rect_to_proto(region), downsample=1.0, image_width=w, image_height=h, params=params))
        for i, t in enumerate(plan):
            yield pb.SegmentRegionRequest(tile=pb.Tile(
                region=wire.rect_to_proto(t.rect), core=wire.rect_to_proto(t.core),
                image=raw_image(source.read(t.rect, 1.0)), index=i))
        yield pb.SegmentRegionRequest(end=pb.RegionEnd())

    nuclei, summary = [], None
    for resp in stub.SegmentRegion(requests(), timeout=600):
        if resp.WhichOneof("message") == "nuclei":
            nuclei.extend(wire.nucleus_from_proto(n) for n in resp.nuclei.nuclei)
        elif resp.WhichOneof("message") == "summary":
            summary = resp.summary
    return nuclei, summary


def _key(geom) -> str:
    return geom.normalize().wkt


@pytest.mark.slow
def test_cli_stream_and_in_process_give_identical_cells_measurements_and_provenance(
    tmp_path: Path, tiny_model, tiny_stub
) -> None:
    image = make_sample(HELD_OUT_SEED + 11, SHAPE).image
    png = tmp_path / "region.png"
    Image.fromarray(image).save(png)
    spec = tiny_model.get().spec

    local, summary = _stream(tiny_stub, image, params_wire.params_to_proto(PARAMS), spec.tile_size, spec.halo)
    assert summary.tiles == 2
    out = tmp_path / "cells.geojson"
    res = subprocess.run(
        [sys.executable, "-m", "pathosam_server", "segment", str(png), "-o", str(out), "-q", "--device", "cpu",
         "--model-path", str(TINY_MODEL), "--semantic-decoder-path", str(TINY_SEMANTIC), "--model-name", "tiny",
         "--measure", "all", "--cell-expansion", "3", "--image-pixel-size-um", "0.5", "--no-skip-background"],
        env=ENV, capture_output=True, text=True, timeout=900,
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    features = data["features"]

    assert len(local) > 20 and len(local) == len(features)
    by_nucleus = {_key(n.geometry): n for n in local}
    names = {"Nucleus: Area \u00b5m^2", "Cell: Area \u00b5m^2", "Nucleus/Cell area ratio", "Cell: Min diameter \u00b5m",
             "Nucleus: Hematoxylin: Mean", "Cytoplasm: Eosin: Median", "Cell: Hematoxylin: Std.Dev."}
    assert all(names <= set(n.measurements) for n in local)
    for f in features:
        assert f["properties"]["objectType"] == "cell"
        ref = by_nucleus[_key(shape(f["nucleusGeometry"]))]
        assert _key(shape(f["geometry"])) == _key(ref.cell_geometry)
        finite = {k: v for k, v in ref.measurements.items() if v == v}
        got = {k: v for k, v in f["properties"]["measurements"].items() if k in finite}
        assert got == pytest.approx(finite, rel=1e-12)

    # provenance: the same model files, hashes as GetInfo reports them, the effective parameters
    info = next(m for m in tiny_stub.GetInfo(pb.GetInfoRequest()).models if m.name == "tiny")
    hashes = {(w.role, w.sha256) for w in info.weights}
    assert {(w.role, w.sha256) for w in summary.provenance.weights} == hashes and len(hashes) == 2
    assert summary.provenance.params.cell_expansion == 3.0 and summary.provenance.params.pixel_size_um == 0.5
    assert summary.provenance.server_version and summary.provenance.precision == info.precision
    stamp = data["pathosam"]
    assert {(w["role"], w["sha256"]) for w in stamp["weights"]} == hashes
    assert stamp["params"]["cell_expansion"] == 3.0 and stamp["params"]["measure_intensity"] is True
    assert stamp["model"] == "tiny" and stamp["precision"] == info.precision


def test_halo_and_stain_problems_are_refused_with_the_reason(tiny_stub, tmp_path: Path) -> None:
    image = make_sample(HELD_OUT_SEED + 12, (128, 128)).image
    too_far = pb.SegmentParams(cell_expansion=40.0, pixel_size_um=0.5)  # 80 px needs a halo of 160
    with pytest.raises(grpc.RpcError) as err:
        _stream(tiny_stub, image, too_far, 48, 16)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "halo" in err.value.details()
    bad = pb.SegmentParams(measure_intensity=True, stains=pb.StainVectors(stain1=[1, 0, 0], stain2=[2, 0, 0]))
    with pytest.raises(grpc.RpcError) as err:
        tiny_stub.SegmentTile(pb.SegmentTileRequest(tile=pb.Tile(region=pb.Rect(width=128, height=128),
                                                                 image=raw_image(image)), params=bad))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "not independent" in err.value.details()
    short = pb.SegmentParams(stains=pb.StainVectors(stain1=[1, 0], stain2=[0, 1, 0]))
    with pytest.raises(grpc.RpcError) as err:
        tiny_stub.SegmentTile(pb.SegmentTileRequest(tile=pb.Tile(region=pb.Rect(width=128, height=128),
                                                                 image=raw_image(image)), params=short))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "stain1 must have 3 values" in err.value.details()

    png = tmp_path / "small.png"
    Image.fromarray(image).save(png)
    res = subprocess.run(
        [sys.executable, "-m", "pathosam_server", "segment", str(png), "-o", str(tmp_path / "x.geojson"),
         "--model-path", str(TINY_MODEL), "--device", "cpu", "--cell-expansion", "50", "--measure", "shape,size"],
        env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert res.returncode != 0 and "not size" in res.stderr and "Traceback" not in res.stderr
    res = subprocess.run(
        [sys.executable, "-m", "pathosam_server", "segment", str(png), "-o", str(tmp_path / "x.geojson"),
         "--model-path", str(TINY_MODEL), "--device", "cpu", "--cell-expansion", "50"],
        env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert res.returncode != 0 and "--halo 100" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x.geojson").exists()


def test_batch_writes_cells_measurements_and_provenance_and_refuses_a_short_halo(tmp_path: Path, tiny_model) -> None:
    import csv

    from pathosam_server.batch.ledger import Ledger
    from pathosam_server.batch.run import BatchOptions, run_batch
    from pathosam_server.batch.runner import InProcessRunner
    from pathosam_server.batch.sources import FolderSource, RegionSelection
    from pathosam_server.batch.tables import write_csv

    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(make_sample(HELD_OUT_SEED + 13, (256, 256)).image).save(images / "a.png")  # one tile
    out = tmp_path / "out"
    out.mkdir()
    params = Params(measure_shape=True, measure_intensity=True, cell_expansion=4.0)  # PNG: uncalibrated, px
    for expansion, status in ((40.0, "failed: the tile halo of 64 px is too small"), (4.0, "done")):
        runner = InProcessRunner(tiny_model, params.updated(cell_expansion=expansion), None, None)
        options = BatchOptions(regions=RegionSelection("whole"), geojson_dir=out, quiet=True)
        ledger = Ledger(out / f"ledger-{expansion:g}")
        try:
            (report,) = run_batch(FolderSource(images), runner, options, ledger)
        finally:
            ledger.close()
        assert report.status.startswith(status), report.status

    data = json.loads((out / "a.png.nuclei.geojson").read_text())
    assert data["features"] and all(f["properties"]["objectType"] == "cell" for f in data["features"])
    m = data["features"][0]["properties"]["measurements"]
    assert {"Nucleus: Area px^2", "Cell: Area px^2", "Nucleus: Hematoxylin: Mean", "Cytoplasm: Eosin: Mean"} <= set(m)
    stamp = data["pathosam"]
    assert stamp["model"] == "tiny" and stamp["halo"] == 64 and stamp["params"]["cell_expansion"] == 4.0
    assert all(len(w["sha256"]) == 64 for w in stamp["weights"]) and len(stamp["weights"]) == 2
    write_csv([report], tmp_path / "counts.csv")
    with open(tmp_path / "counts.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["model"] == "tiny" and row["measurements"] == "shape,intensity" and row["cell_expansion"] == "4"
    assert row["weights_sha256"].startswith("checkpoint=" + stamp["weights"][0]["sha256"])
