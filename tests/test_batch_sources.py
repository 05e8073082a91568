"""Batch plumbing without a model: image and region reading, regions from QuPath GeoJSON, clipping,
the ledger, the save journal under a real kill -9, dry runs and the clear no-QuPath message."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import shapely
import tifffile
from conftest import ROOT, noise_image
from PIL import Image
from shapely.geometry import Point, box

from pathosam_server.batch.journal import JOURNAL_NAME, guarded, recover
from pathosam_server.batch.ledger import Ledger, settings_hash
from pathosam_server.batch.run import clip_to_roi
from pathosam_server.batch.sources import FolderSource, RegionSelection, select_regions
from pathosam_server.errors import LedgerBusyError
from pathosam_server.formats.geojson import read_annotation_geojson
from pathosam_server.formats.readers import file_pixel_size_um
from pathosam_server.records import NucleusRecord, Rect

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "python_server")}


def write_pyramid(path: Path, arr: np.ndarray, pixel_um: float) -> None:
    """A tiled pyramidal OME-TIFF (level 0 + one half-size level in a SubIFD), calibrated."""
    meta = {"axes": "YXS", "PhysicalSizeX": pixel_um, "PhysicalSizeY": pixel_um,
            "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm"}
    with tifffile.TiffWriter(path) as tif:
        tif.write(arr, subifds=1, photometric="rgb", tile=(128, 128), metadata=meta)
        tif.write(arr[::2, ::2], subfiletype=1, photometric="rgb", tile=(128, 128))


def annotation(geom, cls: str | None = None, name: str | None = None, kind: str = "annotation") -> dict:
    """A feature in QuPath's GeoJSON schema."""
    props: dict = {"objectType": kind}
    if cls:
        props["classification"] = {"name": cls, "color": [200, 0, 0]}
    if name:
        props["name"] = name
    return {"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": props}


def test_png_and_pyramidal_ome_tiff_read_by_region(tmp_path: Path) -> None:
    arr = noise_image(5, 200, 300)
    Image.fromarray(arr).save(tmp_path / "a.png")
    write_pyramid(tmp_path / "b.ome.tif", arr, 0.5)
    (tmp_path / "b.ome.tif.nuclei.geojson").write_text("{}")  # batch output: never an image or annotation
    images = list(FolderSource(tmp_path).images())
    assert [im.name for im in images] == ["a.png", "b.ome.tif"]
    rect = Rect(17, 33, 101, 57)  # non-square, off-origin
    for im in images:
        src = im.open_pixels()
        assert (src.width, src.height) == (300, 200)
        assert np.array_equal(src.read(rect, 1.0), arr[33:90, 17:118])
        assert src.read(Rect(0, 0, 300, 200), 2.0).shape == (100, 150, 3)
        getattr(src, "close", lambda: None)()
    assert images[0].pixel_size_um() is None
    assert images[1].pixel_size_um() == pytest.approx(0.5)
    tifffile.imwrite(tmp_path / "c.tif", arr, resolution=(40000, 40000), resolutionunit="CENTIMETER")
    assert file_pixel_size_um(tmp_path / "c.tif") == pytest.approx(0.25)
    tifffile.imwrite(tmp_path / "d.tif", arr, resolution=(72, 72), resolutionunit="INCH")  # a writer's default
    assert file_pixel_size_um(tmp_path / "d.tif") is None


def test_regions_from_qupath_geojson(tmp_path: Path) -> None:
    tumour = box(10.5, 20.25, 90, 80)
    bowtie = shapely.Polygon([(100, 100), (140, 140), (140, 100), (100, 140)])  # self-intersecting: repaired
    features = [
        annotation(tumour, "Tumor", "T1"),
        annotation(box(250, 150, 400, 260), "Stroma"),  # partly outside the 300 x 200 image: clipped
        annotation(box(500, 500, 600, 600), "Tumor"),  # wholly outside: skipped
        annotation(bowtie, "Tumor"),
        annotation(box(0, 0, 5, 5), "Tumor", kind="detection"),  # detections are not regions
        annotation(Point(5, 5), "Tumor"),  # not polygonal
    ]
    (tmp_path / "img.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    anns = read_annotation_geojson(tmp_path / "img.geojson")
    assert [a.class_name for a in anns] == ["Tumor", "Stroma", "Tumor", "Tumor"]
    assert anns[0].name == "T1"
    whole = select_regions(anns, RegionSelection.parse("whole"), 300, 200)
    assert [(r.label, r.rect) for r in whole] == [("whole image", Rect(0, 0, 300, 200))]
    every = select_regions(anns, RegionSelection.parse("annotations"), 300, 200)
    assert [r.rect for r in every] == [Rect(10, 20, 80, 60), Rect(250, 150, 50, 50), Rect(100, 100, 40, 40)]
    assert every[1].roi.equals(box(250, 150, 300, 200)) and every[2].roi.is_valid
    tumours = select_regions(anns, RegionSelection.parse("class:Tumor"), 300, 200)
    assert [r.rect for r in tumours] == [Rect(10, 20, 80, 60), Rect(100, 100, 40, 40)]
    # QuPath's older export: a bare list of features
    (tmp_path / "list.geojson").write_text(json.dumps(features[:2]))
    assert len(read_annotation_geojson(tmp_path / "list.geojson")) == 2
    with pytest.raises(ValueError, match="class:NAME"):
        RegionSelection.parse("tumour")


def _nucleus(geom) -> NucleusRecord:
    c = geom.centroid
    return NucleusRecord(geom, 0.9, geom.area, c.x, c.y, False, 1, "Neoplastic", 0.8)


def test_clip_to_roi_keeps_centroids_inside_and_cuts_outlines() -> None:
    roi = box(0, 0, 100, 100)
    inside, crossing, outside = box(10, 10, 20, 20), box(95, 40, 103, 50), box(98, 60, 110, 70)
    kept = clip_to_roi([_nucleus(inside), _nucleus(crossing), _nucleus(outside)], roi)
    assert len(kept) == 2
    assert kept[0].geometry.equals(inside)
    assert kept[1].geometry.equals(box(95, 40, 100, 50)) and kept[1].area == pytest.approx(50)


def test_ledger_survives_torn_lines_and_refuses_a_second_batch(tmp_path: Path) -> None:
    path = tmp_path / "pathosam-batch.ledger"
    h = settings_hash({"tile": 384, "model": "x"})
    assert h == settings_hash({"model": "x", "tile": 384}) != settings_hash({"model": "x", "tile": 256})
    ledger = Ledger(path)
    ledger.record("a.png", h, outputs=["geojson:/out"], nuclei=3)
    with pytest.raises(LedgerBusyError):
        Ledger(path)
    ledger.close()
    with open(path, "a") as f:
        f.write('{"image": "b.png", "settings": "' + h + '", "sta')  # a kill mid-append
    ledger = Ledger(path)
    assert ledger.get("a.png", h) is not None and ledger.get("b.png", h) is None and ledger.get("a.png", "other") is None
    # outputs add up per image: a project written later does not undo the GeoJSON written before
    assert ledger.outputs("a.png", h) == {"geojson:/out"}
    ledger.record("a.png", h, outputs=["project"])
    ledger.record("b.png", h, outputs=["geojson:/out"])
    ledger.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[2])["image"] == "a.png" and json.loads(lines[3])["image"] == "b.png"
    reread = Ledger(path, lock=False)
    assert reread.outputs("b.png", h) == {"geojson:/out"}
    assert reread.outputs("a.png", h) == {"project", "geojson:/out"}


# A stand-in for QuPath's saveImageData: rename the old file to .bkp, then write the new one in place,
# slowly, so that the test can kill the process in the middle of the write.
_WRITER = """
import os, sys, time
from pathlib import Path
from pathosam_server.batch.journal import guarded
folder = Path(sys.argv[1])
def qupath_like_save():
    os.replace(folder / "data.qpdata", folder / "data.qpdata.bkp")
    with open(folder / "data.qpdata", "wb") as f:
        for i in range(200):
            f.write(b"NEW" * 1000); f.flush()
            if i == 5:
                print("writing", flush=True)
            time.sleep(0.05)
    os.unlink(folder / "data.qpdata.bkp")
with guarded(folder, {"data.qpdata": "link", "summary.json": "copy"}):
    qupath_like_save()
    (folder / "summary.json").write_text("new summary")
"""


def test_journal_rolls_back_a_save_killed_mid_write(tmp_path: Path) -> None:
    folder = tmp_path / "entry"
    folder.mkdir()
    (folder / "data.qpdata").write_bytes(b"OLD" * 5000)
    (folder / "summary.json").write_text("old summary")
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(folder)], env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert (folder / JOURNAL_NAME).exists() and (folder / "data.qpdata").read_bytes() != b"OLD" * 5000  # torn
    assert recover(folder)
    assert (folder / "data.qpdata").read_bytes() == b"OLD" * 5000
    assert (folder / "summary.json").read_text() == "old summary"
    assert not any(p.name.endswith((".pathosam-bak", ".pathosam-tmp", JOURNAL_NAME)) for p in folder.iterdir())
    assert not recover(folder)  # idempotent
    # the same save, not interrupted, takes effect whole and leaves nothing behind
    subprocess.run([sys.executable, "-c", _WRITER, str(folder)], env=ENV, check=True, capture_output=True, timeout=120)
    assert (folder / "data.qpdata").read_bytes() == b"NEW" * 200_000
    assert sorted(p.name for p in folder.iterdir()) == ["data.qpdata", "summary.json"]
    # a writer that fails is rolled back at once; a file that did not exist before is removed again
    with pytest.raises(RuntimeError):
        with guarded(folder, {"data.qpdata": "link", "server.json": "copy"}):
            (folder / "data.qpdata").unlink()
            (folder / "data.qpdata").write_bytes(b"half")
            (folder / "server.json").write_text("{")
            raise RuntimeError("java.io.IOException")
    assert (folder / "data.qpdata").read_bytes() == b"NEW" * 200_000 and not (folder / "server.json").exists()


def test_project_recovery_runs_before_paquo_reads_anything(tmp_path: Path) -> None:
    from pathosam_server.batch.paquo_project import project_file, recover_project
    from pathosam_server.errors import SourceError

    (tmp_path / "project.qpproj").write_text("{}")
    assert project_file(tmp_path) == tmp_path / "project.qpproj"
    with pytest.raises(SourceError, match="not a QuPath project"):
        project_file(tmp_path / "data")
    # what a kill -9 in the middle of QuPath's save leaves (see the real kill in the journal test above)
    entry, classifiers = tmp_path / "data" / "7", tmp_path / "classifiers"
    for folder, name in ((entry, "data.qpdata"), (classifiers, "classes.json")):
        folder.mkdir(parents=True)
        (folder / name).write_bytes(b"to")  # torn
        (folder / f"{name}.pathosam-bak").write_bytes(b"good")
        (folder / JOURNAL_NAME).write_text(json.dumps({"files": {name: True}}))
    (tmp_path / "data" / "8").mkdir()
    (tmp_path / "data" / "8" / "data.qpdata").write_bytes(b"untouched")
    recover_project(tmp_path)
    assert (entry / "data.qpdata").read_bytes() == b"good" and (classifiers / "classes.json").read_bytes() == b"good"
    assert sorted(p.name for p in entry.iterdir()) == ["data.qpdata"]
    assert (tmp_path / "data" / "8" / "data.qpdata").read_bytes() == b"untouched"


def _cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pathosam_server", "batch", *args], env=env or ENV,
                          capture_output=True, text=True, timeout=timeout)


def _table(stdout: str) -> dict[str, dict[str, str]]:
    """The closing table's rows by image name (columns split on runs of two or more spaces)."""
    import re

    lines = [line for line in stdout.splitlines() if line.strip()]
    head = re.split(r"\s{2,}", lines[0].strip())
    return {cells[0]: dict(zip(head, cells)) for cells in (re.split(r"\s{2,}", line.strip()) for line in lines[2:])
            if len(cells) >= len(head) - 1}


def test_dry_run_lists_images_regions_and_tiles(tmp_path: Path, random_checkpoint: Path) -> None:
    arr = noise_image(6, 200, 300)
    Image.fromarray(arr).save(tmp_path / "plain.png")
    write_pyramid(tmp_path / "slide.ome.tif", arr, 0.5)
    (tmp_path / "slide.ome.geojson").write_text(json.dumps([annotation(box(0, 0, 150, 100), "Tumor")]))
    res = _cli("--images-dir", str(tmp_path), "--regions", "whole", "--pixel-size-um", "1.0", "--tile-size", "128",
               "--halo", "16", "--dry-run", "--model-path", str(random_checkpoint), "--device", "cpu")
    assert res.returncode == 0, res.stderr
    rows = _table(res.stdout)
    # PNG: no calibration, downsample 1 -> 3 x 2 tiles; OME-TIFF at 0.5 um/px -> downsample 2 -> 2 x 1 tiles
    assert rows["plain.png"] == {"image": "plain.png", "total": "0", "regions": "1", "tiles": "6", "status": "would run"}
    assert rows["slide.ome.tif"]["tiles"] == "2" and rows["TOTAL"]["tiles"] == "8"
    assert "'plain.png' has no pixel size calibration" in res.stderr
    res = _cli("--images-dir", str(tmp_path), "--regions", "class:Tumor", "--images", "slide*", "--tile-size", "128",
               "--dry-run", "--model-path", str(random_checkpoint), "--device", "cpu")
    assert res.returncode == 0, res.stderr
    rows = _table(res.stdout)
    assert "plain.png" not in rows and rows["slide.ome.tif"]["regions"] == "1"
    assert rows["slide.ome.tif"]["tiles"] == "2"  # the 150 x 100 annotation at tile 128
    # a dry run writes nothing, not even the counts; a grid the model would see shrunk is refused up front
    res = _cli("--images-dir", str(tmp_path), "--regions", "whole", "--dry-run", "--csv", str(tmp_path / "c.csv"),
               "--model-path", str(random_checkpoint), "--device", "cpu")
    assert res.returncode == 0 and not (tmp_path / "c.csv").exists() and "not written" in res.stdout
    res = _cli("--images-dir", str(tmp_path), "--regions", "whole", "--dry-run", "--tile-size", "512", "--halo", "64",
               "--model-path", str(random_checkpoint), "--device", "cpu")
    assert res.returncode == 2 and "exceeds the model's input window of 512 px" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_clear_errors_for_bad_options(tmp_path: Path) -> None:
    res = _cli("--images-dir", str(tmp_path))
    assert res.returncode == 2 and "--images-dir needs --geojson-dir" in res.stderr
    res = _cli("--images-dir", str(tmp_path), "--geojson-dir", str(tmp_path / "o"), "--regions", "tumour")
    assert res.returncode == 2 and "class:NAME" in res.stderr
    res = _cli(str(tmp_path / "missing.qpproj"))
    assert res.returncode == 2 and "is not a QuPath project" in res.stderr
    assert "Traceback" not in res.stderr


def test_no_qupath_installation_gives_one_clear_message(tmp_path: Path) -> None:
    pytest.importorskip("paquo", reason="paquo is needed to show its own failure")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "project.qpproj").write_text('{"version": "0.6.0", "images": []}')
    empty = tmp_path / "no_qupath_here"
    empty.mkdir()
    # point paquo at a folder without QuPath, so the test means the same on machines that have one
    env = {**ENV, "PAQUO_QUPATH_DIR": str(empty), "PAQUO_QUPATH_SEARCH_DIRS": str(empty)}
    t0 = time.perf_counter()
    res = _cli(str(project / "project.qpproj"), "--regions", "whole", "--dry-run", env=env)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1
    assert "PAQUO_QUPATH_DIR" in res.stderr and ".paquo.toml" in res.stderr and "--images-dir" in res.stderr
    assert time.perf_counter() - t0 < 120
