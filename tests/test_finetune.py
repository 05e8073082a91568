"""`pathosam finetune`: training data from QuPath GeoJSON, its messages, the windows, and a real run that
is killed, resumes, and gives a folder `pathosam serve` serves with the user's own class names."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from conftest import ROOT
from shapely.geometry import box
from tiny_model_helpers import HELD_OUT_SEED, TINY_MODEL, TINY_SEMANTIC, raw_image

from pathosam_server._testing.annotated import region_feature, shifted_sample, write_annotated_image
from pathosam_server._testing.synthetic import make_sample
from pathosam_server.batch.sources import FolderSource
from pathosam_server.classes import PANNUKE_CLASSES
from pathosam_server.errors import ModelError
from pathosam_server.finetune.data import TrainingDataError, collect
from pathosam_server.grpc_api import pathosam_pb2 as pb
from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "python_server")}
OWN_CLASSES = {1: "Tumour", 2: "Immune", 3: "Stroma", 4: "Necrosis", 5: "Glandular"}


def _cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pathosam_server", *args], env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def _collect(folder: Path, classes=PANNUKE_CLASSES):
    return collect(FolderSource(folder), classes, 0.0)


def test_regions_teach_whole_nuclei_and_mask_cut_ones_and_the_outside(tmp_path: Path) -> None:
    sample = make_sample(HELD_OUT_SEED + 11, (300, 340))
    # a region over the left half, as an L-shaped polygon: its border cuts nuclei, its notch is outside
    region = box(0, 0, 170, 300).difference(box(0, 0, 60, 60))
    write_annotated_image(tmp_path, "img", sample, [region_feature(0, 0, 0, 0, "Training", region),
                                                    region_feature(200, 0, 340, 150, "Validation")])
    data = _collect(tmp_path)
    train = data.split("train")[0]
    assert train.pixels.shape == (300, 170, 3) and train.instances.shape == (300, 170)
    assert not train.valid[:60, :60].any(), "the notch is outside the region"
    gt = sample.instances[:, :170]
    for i in np.unique(gt)[1:]:
        pixels = gt == i
        whole_inside = not (sample.instances[:, 170:] == i).any() and not (pixels[:60, :60]).any()
        if whole_inside:
            assert train.instances[pixels].min() > 0, f"nucleus {i} lies inside the region: it is taught"
        elif pixels[:, -1].any() and pixels.sum() > 30:
            assert not train.valid[pixels].any() and not train.instances[pixels].any(), f"cut nucleus {i} is masked"
    assert train.n_partial > 0
    taught = sorted(train.classes.values())
    assert taught and set(taught) <= {1, 2, 3, 4, 5}
    # every taught nucleus has the class the file gives it
    for i, c in train.classes.items():
        ys, xs = np.nonzero(train.instances == i)
        assert sample.classes[int(np.bincount(gt[ys, xs]).argmax())] == c


@pytest.mark.parametrize(
    "case, words",
    [
        ("overlap", "overlap"),
        ("unknown class", "'Tumor' (1)"),
        ("no validation", "no validation regions"),
        ("no training", "no training regions"),
        ("empty training", "hold no nuclei"),
    ],
)
def test_bad_training_data_gets_a_clear_message(tmp_path: Path, case: str, words: str) -> None:
    sample = make_sample(HELD_OUT_SEED + 12, (256, 256))
    glass = shifted_sample(HELD_OUT_SEED + 12, (256, 256))
    glass.classes.clear()
    regions = {
        "overlap": [region_feature(0, 0, 150, 150, "Training"), region_feature(100, 100, 256, 256, "Validation")],
        "unknown class": [region_feature(0, 0, 128, 256, "Training"), region_feature(128, 0, 256, 256, "Validation"),
                          region_feature(10, 10, 20, 20, "Tumor")],
        "no validation": [region_feature(0, 0, 128, 256, "Training")],
        "no training": [region_feature(0, 0, 128, 256, "Validation")],
        "empty training": [region_feature(0, 0, 128, 256, "Training"), region_feature(128, 0, 256, 256, "Validation")],
    }[case]
    write_annotated_image(tmp_path, "img", glass if case == "empty training" else sample, regions[:2])
    if case == "unknown class":  # a tissue annotation of a class that is no nucleus class and no region class
        write_annotated_image(tmp_path, "img", sample, regions[:2], extra=regions[2:])
    with pytest.raises(TrainingDataError, match=words.replace("(", r"\(").replace(")", r"\)")):
        _collect(tmp_path)


def test_empty_regions_and_objects_outside_are_reported(tmp_path: Path) -> None:
    sample = make_sample(HELD_OUT_SEED + 13, (256, 512))
    write_annotated_image(tmp_path, "a", sample, [region_feature(0, 0, 200, 256, "Training"),
                                                  region_feature(300, 0, 512, 256, "Validation")])
    empty = make_sample(HELD_OUT_SEED + 14, (256, 256))
    empty.classes.clear()
    write_annotated_image(tmp_path, "b", empty, [region_feature(0, 0, 256, 256, "Training")])
    data = _collect(tmp_path)
    text = "\n".join(data.warnings)
    assert "b.tif: Training 1 holds no nuclei" in text
    assert "lie outside every 'Training' and 'Validation' region" in text and data.outside > 0


def test_windows_mask_padding_cut_nuclei_and_unclassified(tmp_path: Path) -> None:
    from torch_em.transform.label import PerObjectDistanceTransform

    from pathosam_server.finetune.dataset import N_TARGET_CHANNELS, window_targets

    sample = make_sample(HELD_OUT_SEED + 15, (300, 700))
    write_annotated_image(tmp_path, "img", sample, [region_feature(0, 0, 700, 300, "Training")])
    write_annotated_image(tmp_path, "val", make_sample(HELD_OUT_SEED + 16, (64, 64)),
                          [region_feature(0, 0, 64, 64, "Validation")])
    region = _collect(tmp_path).split("train")[0]
    region.classes[next(iter(region.classes))] = 0  # one nucleus without a class
    dist = PerObjectDistanceTransform(distances=True, boundary_distances=True, directed_distances=False,
                                      foreground=True, instances=False, min_size=0)
    seen_cut = False
    for seed in range(6):
        x, y = window_targets(region, 512, np.random.default_rng(seed), dist)
        assert x.shape == (3, 512, 512) and y.shape == (N_TARGET_CHANNELS, 512, 512)
        valid, inst, sem = y[4].numpy() > 0, y[0].numpy(), y[5].numpy()
        assert not valid[300:].any(), "rows below the 300 px region are padding"
        assert (sem[~valid] == -1).all() and (inst[~valid] == 0).all()
        edge_ids = set(np.unique(inst[:, [0, -1]])) - {0}
        assert not edge_ids, "no taught nucleus touches the window's left or right edge inside the region"
        seen_cut |= bool((~valid[:300]).any())
    assert seen_cut, "some window cut a nucleus"


def test_model_folders_that_are_not_models_fail_clearly(tmp_path: Path) -> None:
    from pathosam_server.inference.models import local_spec

    with pytest.raises(ModelError, match="without pathosam_model.json"):
        local_spec(tmp_path)
    (tmp_path / "pathosam_model.json").write_text(json.dumps({"format": "pathosam-model/1", "name": "x"}))
    with pytest.raises(ModelError, match="lacks or mistypes"):
        local_spec(tmp_path)
    (tmp_path / "pathosam_model.json").write_text("{")
    with pytest.raises(ModelError, match="cannot read"):
        local_spec(tmp_path)


@pytest.mark.parametrize("args, words", [
    (["--out", "x"], "give a QuPath project or --images-dir"),
    (["--images-dir", ".", "--out", "x", "--freeze", "everything"], "unknown part(s) everything"),
    (["--images-dir", ".", "--out", "x", "--classes", "A,,B"], "distinct, non-empty"),
    (["--images-dir", ".", "--out", "x", "--classes", "A,Training"], "region classes"),
    (["--images-dir", ".", "--out", "x", "--steps", "0"], "--steps must be at least 1"),
    (["--images-dir", ".", "--out", "x", "--from", "vit_b_histopathology"], "give the base model once"),
])
def test_finetune_option_errors_are_one_line(args, words) -> None:
    result = _cli("finetune", "--model-path", str(TINY_MODEL), "--device", "cpu", *args, timeout=120)
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr, result.stderr


def _own_class_folder(folder: Path) -> None:
    train = make_sample(HELD_OUT_SEED + 16, (512, 512))
    val = make_sample(HELD_OUT_SEED + 17, (256, 256))
    write_annotated_image(folder, "train", train, [region_feature(0, 0, 512, 512, "Training")], names=OWN_CLASSES)
    write_annotated_image(folder, "val", val, [region_feature(0, 0, 256, 256, "Validation")], names=OWN_CLASSES)


@pytest.mark.slow
@pytest.mark.model
def test_memory_bound_stops_with_a_message(tmp_path: Path) -> None:
    _own_class_folder(tmp_path / "data")
    result = _cli("finetune", "--images-dir", str(tmp_path / "data"), "--out", str(tmp_path / "m"),
                  "--model-path", str(TINY_MODEL), "--device", "cpu", "--classes", ",".join(OWN_CLASSES.values()),
                  "--max-memory-gb", "0.2")
    assert result.returncode == 2 and "over --max-memory-gb 0.2" in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.model
def test_killed_run_resumes_and_the_folder_serves_its_own_classes(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "model"
    _own_class_folder(data)
    command = [sys.executable, "-m", "pathosam_server", "finetune", "--images-dir", str(data), "--out", str(out),
               "--from", str(TINY_MODEL), "--semantic-decoder-path", str(TINY_SEMANTIC), "--device", "cpu",
               "--classes", ",".join(OWN_CLASSES.values()), "--validate-every", "1"]
    # kill -9 as soon as the first epoch (one step + validation) is checkpointed
    proc = subprocess.Popen([*command, "--steps", "3"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    latest = out / "training" / "checkpoints" / "finetune" / "latest.pt"
    deadline = time.time() + 900
    while not latest.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    err = proc.communicate()[1].decode()
    assert latest.exists(), err[-3000:]
    assert not (out / "pathosam_model.json").exists(), "a killed run leaves no half model"

    result = subprocess.run([*command, "--steps", "2"], env=ENV, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    card = json.loads((out / "training" / "card.json").read_text())
    assert card["training"]["resumed_from_step"] == 1 and card["training"]["steps"] == 2
    assert [h["step"] for h in card["training"]["history"]] == [1, 2]
    assert card["class_names"] == list(OWN_CLASSES.values())
    assert card["data"]["nuclei"]["train"] and set(card["data"]["nuclei"]["train"]) <= set(OWN_CLASSES.values())
    text = (out / "MODEL_CARD.md").read_text()
    assert "| mSA |" in text and card["base"]["weights"][0]["sha256"] in text

    serve = subprocess.Popen([sys.executable, "-m", "pathosam_server", "serve", "--port", "0", "--device", "cpu",
                              "--model-path", str(out)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        line = serve.stdout.readline()
        assert line.startswith("PathoSAM server listening on"), line + serve.stderr.read()
        with grpc.insecure_channel(line.rsplit(" ", 1)[1].strip()) as ch:
            grpc.channel_ready_future(ch).result(timeout=300)
            stub = pb_grpc.PathoSamStub(ch)
            info = stub.GetInfo(pb.GetInfoRequest()).models[0]
            assert info.name == "model" and [c.name for c in info.classes] == list(OWN_CLASSES.values())
            tile = make_sample(HELD_OUT_SEED + 18, (256, 256)).image
            reply = stub.SegmentTile(pb.SegmentTileRequest(
                tile=pb.Tile(image=raw_image(tile), region=pb.Rect(x=0, y=0, width=256, height=256)),
                image_width=256, image_height=256), timeout=300)
            assert reply.nuclei and {n.class_name for n in reply.nuclei} <= set(OWN_CLASSES.values())
    finally:
        serve.kill()
        serve.communicate()
    # the batch and segment routes name QuPath's PathClasses after the model's classes too
    image = write_annotated_image(tmp_path / "plain", "tile", make_sample(HELD_OUT_SEED + 19, (256, 256)), [])
    result = _cli("segment", str(image), "--output", str(tmp_path / "n.geojson"), "--model-path", str(out),
                  "--device", "cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    features = json.loads((tmp_path / "n.geojson").read_text())["features"]
    names = {f["properties"]["classification"]["name"] for f in features}
    assert names and names <= set(OWN_CLASSES.values())


def test_a_closed_queue_lets_its_worker_and_model_go() -> None:
    from types import SimpleNamespace

    from pathosam_server.inference.scheduler import TileScheduler

    queue = TileScheduler(SimpleNamespace(device="cpu", spec=SimpleNamespace(architecture="vit_t", name="x")), 1)
    queue._ensure_worker()
    worker = queue._thread
    queue.close()
    worker.join(10)
    assert not worker.is_alive()
