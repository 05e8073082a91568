"""`pathosam batch PROJECT.qpproj` against a real QuPath, through paquo (random weights: plumbing only).

Runs only where paquo finds a QuPath installation (``PAQUO_QUPATH_DIR=/path/to/QuPath`` or ``qupath_dir``
in a ``.paquo.toml``); everywhere else it is skipped with the reason. paquo starts a JVM inside the
process that imports it, so every paquo call here runs in a subprocess and pytest itself stays JVM-free.

One project, two PNG images of one tile each, checked by reopening the project with paquo:
a kill -9 mid-run and the resume (no duplicates), detections as children of their annotation with
coloured classes and our two measurements, a rerun that skips, a save the ledger missed, and --replace.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest
from conftest import ROOT

from pathosam_server.classes import CLASS_COLOURS, CLASS_NAMES


def _qupath_problem() -> Optional[str]:
    """Why paquo cannot find QuPath here (None when it can), found without starting a JVM."""
    try:
        from paquo._config import settings, to_kwargs
        from paquo.jpype_backend import find_qupath
    except ImportError as err:
        return f"paquo is not installed ({err})"
    try:
        info = find_qupath(**to_kwargs(settings))
    except Exception as err:  # ValueError / FileNotFoundError: no installation at the configured place
        return (f"no QuPath installation configured for paquo ({type(err).__name__}: {err}); "
                "set PAQUO_QUPATH_DIR=/path/to/QuPath to run this test")
    if not any(info.app_dir.glob("qupath-core-*.jar")):
        return f"{info.app_dir} holds no qupath-core jar"
    return None


PROBLEM = _qupath_problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=f"needs QuPath: {PROBLEM}")

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "python_server")}
BATCH = [sys.executable, "-m", "pathosam_server", "batch"]

MAKE_PROJECT = r"""
import sys
from pathlib import Path
import numpy as np
from PIL import Image
from shapely.geometry import Polygon, box
from paquo.classes import QuPathPathClass
from paquo.images import QuPathImageType
from paquo.projects import QuPathProject

root = Path(sys.argv[1])
tumor = QuPathPathClass("Tumor", color=(200, 0, 0))
rois = {"a.png": (box(10, 10, 290, 190), tumor), "b.png": (Polygon([(20, 20), (280, 30), (270, 180), (30, 170)]), None)}
with QuPathProject(root / "proj", mode="x") as qp:
    qp.path_classes = [tumor]
    for i, (name, (roi, pc)) in enumerate(rois.items()):
        arr = (np.random.default_rng(20 + i).random((200, 300, 3)) * 255).astype(np.uint8)
        Image.fromarray(arr).save(root / name)
        entry = qp.add_image(root / name, image_type=QuPathImageType.BRIGHTFIELD_H_E)
        entry.hierarchy.add_annotation(roi=roi, path_class=pc)
"""

INSPECT = r"""
import json, sys
from paquo.pathobjects import QuPathPathDetectionObject
from paquo.projects import QuPathProject

out = {}
with QuPathProject(sys.argv[1], mode="r") as qp:
    out["classes"] = {str(pc.name): list(pc.color.to_rgb()) for pc in qp.path_classes}
    for entry in qp.images:
        dets = []
        for d in entry.hierarchy.java_object.getDetectionObjects():
            parent, pc, roi = d.getParent(), d.getPathClass(), d.getROI()
            dets.append({
                "parent": None if parent.isRootObject() else str(parent.getPathClass() or "") + "|" + str(parent.getClass().getSimpleName()),
                "class": None if pc is None else str(pc.getName()),
                "rgb": None if pc is None else int(pc.getColor()) & 0xFFFFFF,
                "probability": float(d.getClassProbability()),
                "measurements": {str(k): float(v) for k, v in QuPathPathDetectionObject(d).measurements.items()},
                "centroid": [float(roi.getCentroidX()), float(roi.getCentroidY())],
            })
        out[str(entry.image_name)] = {"detections": dets, "properties": {str(k): str(v) for k, v in entry.properties.items()}}
print("INSPECT " + json.dumps(out))
"""


def _paquo(script: str, *args: str) -> str:
    res = subprocess.run([sys.executable, "-c", script, *args], env=ENV, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    return res.stdout


def _inspect(project: Path) -> dict:
    line = next(x for x in _paquo(INSPECT, str(project)).splitlines() if x.startswith("INSPECT "))
    return json.loads(line[len("INSPECT "):])


def _ledger(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def _batch(project: Path, model: list[str], *extra: str) -> subprocess.CompletedProcess:
    res = subprocess.run([*BATCH, str(project), *model, "-q", *extra], env=ENV, capture_output=True, text=True,
                         timeout=1800)
    assert res.returncode == 0, res.stdout + res.stderr[-4000:]
    assert "[DEBUG]" not in res.stdout + res.stderr  # paquo turns QuPath's logging up to DEBUG; we turn it down
    assert "precision model" not in res.stderr + res.stdout  # ROIs built with QuPath's own geometry factory
    return res


def _check_detections(image: dict, parent: str, ledger_record: dict) -> None:
    colours = {name: CLASS_COLOURS[cid] for cid, name in CLASS_NAMES.items()}
    dets = image["detections"]
    assert len(dets) == ledger_record["nuclei"] > 0  # random weights still find blobs in noise
    assert all(d["parent"] == parent for d in dets)  # children of their annotation, not of the root
    for d in dets:
        assert d["class"] in colours and d["rgb"] == colours[d["class"]]
        assert 0 <= d["measurements"]["PathoSAM: score"] <= 1
        assert d["measurements"]["PathoSAM: class probability"] == pytest.approx(d["probability"], abs=1e-6)
    counts: dict[str, int] = {}
    for d in dets:
        counts[d["class"]] = counts.get(d["class"], 0) + 1
    assert counts == ledger_record["per_class"]
    assert len({tuple(round(c, 3) for c in d["centroid"]) for d in dets}) == len(dets)  # no duplicates


def test_project_batch_kill_resume_rerun_and_replace(tmp_path: Path, random_checkpoint: Path) -> None:
    _paquo(MAKE_PROJECT, str(tmp_path))
    project = tmp_path / "proj" / "project.qpproj"
    model = ["--model-path", str(random_checkpoint), "--semantic-decoder-path",
             str(random_checkpoint.parent / "random_sem.pt"), "--device", "cpu"]
    ledger = project.parent / "pathosam-batch.ledger"

    # kill -9 while b.png's tile runs: a.png is saved and in the ledger, b.png untouched
    proc = subprocess.Popen([*BATCH, str(project), *model, "-q"], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 1200
        while not _ledger(ledger) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    assert [r["name"] for r in _ledger(ledger)] == ["a.png"]
    data_a = project.parent / "data" / "1" / "data.qpdata"
    stamp = data_a.stat().st_mtime_ns

    res = _batch(project, model)  # resume: b.png only
    assert "done earlier" in res.stdout and data_a.stat().st_mtime_ns == stamp
    records = {r["name"]: r for r in _ledger(ledger)}
    assert sorted(records) == ["a.png", "b.png"] and len(_ledger(ledger)) == 2
    seen = _inspect(project)
    for name, rgb in ((n, CLASS_COLOURS[cid]) for cid, n in CLASS_NAMES.items()):
        assert seen["classes"][name] == [rgb >> 16, (rgb >> 8) & 255, rgb & 255]  # added with the server's colours
    assert seen["classes"]["Tumor"] == [200, 0, 0]  # the user's class untouched
    _check_detections(seen["a.png"], "Tumor|PathAnnotationObject", records["a.png"])
    _check_detections(seen["b.png"], "|PathAnnotationObject", records["b.png"])
    settings = json.loads(seen["a.png"]["properties"]["PathoSAM batch settings"])
    assert settings["settings"] == records["a.png"]["settings"]

    # a rerun skips everything; so does one whose ledger missed a save (kill between save and ledger)
    ledger.write_text(ledger.read_text().splitlines(keepends=True)[0])
    res = _batch(project, model)
    assert res.stdout.count("done earlier") == 2 and data_a.stat().st_mtime_ns == stamp
    assert sorted(r["name"] for r in _ledger(ledger)) == ["a.png", "b.png"]  # the ledger caught up
    assert len(_inspect(project)["b.png"]["detections"]) == records["b.png"]["nuclei"]

    # --replace with other settings: a.png's detections are replaced, b.png's stay
    _batch(project, model, "--replace", "--min-size", "40", "--images", "a.png")
    new = [r for r in _ledger(ledger) if r["name"] == "a.png" and r["settings"] != records["a.png"]["settings"]]
    assert len(new) == 1
    after = _inspect(project)
    _check_detections(after["a.png"], "Tumor|PathAnnotationObject", new[0])
    assert after["b.png"]["detections"] == seen["b.png"]["detections"]
    assert not list(project.parent.glob("data/*/pathosam-journal.json"))
