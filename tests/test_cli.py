"""The `pathosam` command line for real: a served model over gRPC, GeoJSON output, clear errors."""
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
from conftest import ROOT, noise_image
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from pathosam_server.grpc_api import pathosam_pb2 as pb
from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "python_server")}


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pathosam_server", *args], env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def test_serve_answers_health_and_info_then_stops_on_sigterm(random_checkpoint: Path) -> None:
    # --port 0: the server binds a free port itself and prints it (a port picked here could be taken first)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pathosam_server", "serve", "--port", "0", "--device", "cpu",
         "--model-path", str(random_checkpoint), "--model-name", "tiny"],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("PathoSAM server listening on 127.0.0.1:"), line + proc.stderr.read()
        port = int(line.rsplit(":", 1)[1])
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            grpc.channel_ready_future(ch).result(timeout=120)
            health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""))
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            info = pb_grpc.PathoSamStub(ch).GetInfo(pb.GetInfoRequest())
            assert info.models[0].name == "tiny" and info.models[0].loaded
        proc.send_signal(signal.SIGTERM)
        try:
            # a loaded CI machine once needed more than 60 s here; on a quiet one it takes ~3 s
            out, err = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # the server dumps its threads' stacks to stderr
            time.sleep(2)
            proc.kill()
            out, err = proc.communicate()
            pytest.fail("server did not stop within 240 s of SIGTERM; its stacks:\n" + err[-8000:])
        assert proc.returncode == 0, err
        assert "stopped" in err
    finally:
        proc.kill()


@pytest.mark.slow
def test_segment_writes_qupath_geojson(tmp_path: Path, random_checkpoint: Path) -> None:
    image = tmp_path / "tile.png"
    Image.fromarray(noise_image(3, 150, 210)).save(image)
    out = tmp_path / "nuclei.geojson"
    sem = random_checkpoint.parent / "random_sem.pt"
    res = _cli("segment", str(image), "-o", str(out), "--model-path", str(random_checkpoint),
               "--semantic-decoder-path", str(sem), "--device", "cpu", "--region", "10", "20", "180", "120", "-q")
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    assert data["type"] == "FeatureCollection" and data["features"]
    for f in data["features"]:
        props = f["properties"]
        assert props["objectType"] == "detection"
        assert props["classification"]["name"] in ("Neoplastic", "Inflammatory", "Connective", "Dead", "Epithelial")
        assert 0 <= props["measurements"]["PathoSAM: class probability"] <= 1
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        xs = np.asarray([c for ring in _rings(f["geometry"]) for c in ring])
        # nuclei are owned by the region: centroids inside, outlines may reach into the halo only
        assert xs[:, 0].min() >= 0 and xs[:, 1].min() >= 0 and xs[:, 0].max() <= 210 and xs[:, 1].max() <= 150


def _rings(geom: dict):
    polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
    for poly in polys:
        yield from poly


@pytest.mark.parametrize(
    "args,words",
    [
        (["segment", "/nonexistent.png", "-o", "/tmp/x.geojson", "--model-path", "/nonexistent.pt"], "does not exist"),
        (["serve", "--model", "vit_q_unknown"], "unknown model"),
        (["serve", "--model-path", "/nonexistent.pt"], "does not exist"),
        (["serve", "--device", "cuda", "--model-path", __file__], "CUDA is not available"),
    ],
)
def test_cli_errors_are_one_clear_line(args, words) -> None:
    res = _cli(*args, timeout=120)
    assert res.returncode == 2
    assert words in res.stderr and "Traceback" not in res.stderr


def test_offline_registry_download_names_the_local_flags(tmp_path: Path) -> None:
    """Point micro-sam's registry at a closed loopback port: the error must say how to run offline."""
    code = (
        "import micro_sam.util as u, pooch, sys\n"
        "orig = u.models\n"
        "def closed():\n"
        "    r = orig(); r.urls = {k: 'http://127.0.0.1:9/' + k for k in r.registry}; return r\n"
        "u.models = closed\n"
        "from pathosam_server.cli import main\n"
        "sys.exit(main(['serve', '--device', 'cpu']))\n"
    )
    env = {**ENV, "MICROSAM_CACHEDIR": str(tmp_path)}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "--model-path" in res.stderr and "vit_b_histopathology" in res.stderr and "Traceback" not in res.stderr


def test_wrong_semantic_decoder_files_fail_clearly(tmp_path: Path, random_checkpoint: Path) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file at all" * 100)
    sem = random_checkpoint.parent / "random_sem.pt"
    cases = [
        # PathoSAM's published decoder is hash-checked: any other file is refused before loading.
        (["serve", "--model", "vit_b_histopathology", "--semantic-decoder-path", str(sem)], "PathoSAM publishes"),
        (["serve", "--model-path", str(random_checkpoint), "--semantic-decoder-path", str(garbage)],
         "cannot read semantic decoder"),
        (["serve", "--model-path", str(random_checkpoint), "--semantic-decoder-path", str(random_checkpoint)],
         "not a semantic decoder"),
    ]
    for args, words in cases:
        res = _cli(*args, "--device", "cpu", timeout=120)
        assert res.returncode == 2, res.stderr
        assert words in res.stderr and "Traceback" not in res.stderr


def test_prompt_command_writes_one_nucleus_per_object(tmp_path: Path, random_checkpoint: Path) -> None:
    image = tmp_path / "tile.png"
    Image.fromarray(noise_image(5, 300, 400)).save(image)
    out = tmp_path / "clicked.geojson"
    res = _cli("prompt", str(image), "-o", str(out), "--model-path", str(random_checkpoint), "--device", "cpu",
               "--point", "200", "150", "--box", "20", "30", "40", "40", "--box", "300", "200", "30", "30",
               "--no-classes")
    # points with several boxes are ambiguous: refused with a clear message
    assert res.returncode == 2 and "ambiguous" in res.stderr
    res = _cli("prompt", str(image), "-o", str(out), "--model-path", str(random_checkpoint), "--device", "cpu",
               "--point", "200", "150", "--negative", "210", "150", "--box", "300", "200", "30", "30", "--no-classes")
    assert res.returncode == 0, res.stderr
    assert 1 <= len(json.loads(out.read_text())["features"]) <= 2
    res = _cli("prompt", str(image), "-o", str(out), "--model-path", str(random_checkpoint), "--point", "900", "5")
    assert res.returncode == 2 and "inside the 400 x 300 image" in res.stderr


def _model_spec(*args: str):
    """The spec `pathosam serve ARGS` would serve (nothing is loaded)."""
    from pathosam_server.cli import build_parser
    from pathosam_server.cli.common import model_manager

    manager = model_manager(build_parser().parse_args(["serve", "--device", "cpu", *args]))
    return manager.specs[manager.default]


def test_local_checkpoints_serve_at_their_pixel_size(tmp_path: Path, random_checkpoint: Path, monkeypatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A local copy of a PathoSAM registry model works at PathoSAM's 0.25 um; --pixel-size-um sets it for any
    checkpoint; any other checkpoint is reported as unknown (0), with a warning that says what that means."""
    from pathosam_server.cli.common import CliError
    from pathosam_server.inference import weights

    with caplog.at_level("WARNING", logger="pathosam_server.inference.models"):
        assert _model_spec("--model-path", str(random_checkpoint)).pixel_size_um == 0.0
    assert "working pixel size" in caplog.text and "--pixel-size-um" in caplog.text
    assert _model_spec("--model-path", str(random_checkpoint), "--pixel-size-um", "0.5").pixel_size_um == 0.5
    # Served under a registry name, or a file named like micro-sam's cache names it.
    assert _model_spec("--model", "vit_b_histopathology", "--model-path", str(random_checkpoint)).pixel_size_um == 0.25
    named = tmp_path / "vit_l_histopathology.pt"
    named.write_bytes(random_checkpoint.read_bytes())
    assert _model_spec("--model-path", str(named)).pixel_size_um == 0.25
    # A renamed copy is recognised by micro-sam's registry digest (here: the random file's, standing in for it).
    import pooch

    digest = "xxh128:" + pooch.file_hash(str(random_checkpoint), alg="xxh128")
    monkeypatch.setattr(weights, "registry_digests", lambda: {digest: "vit_b_histopathology"})
    assert _model_spec("--model-path", str(random_checkpoint), "--model-name", "mine").pixel_size_um == 0.25
    # Registry models: PathoSAM's by default, the option wins (nothing is downloaded to make the spec).
    assert _model_spec("--model", "vit_l_histopathology").pixel_size_um == 0.25
    assert _model_spec("--model", "vit_l_histopathology", "--pixel-size-um", "0.3").pixel_size_um == 0.3
    with pytest.raises(CliError, match="--pixel-size-um"):
        _model_spec("--model-path", str(random_checkpoint), "--pixel-size-um", "0")


def test_getinfo_reports_the_working_pixel_size(random_checkpoint: Path) -> None:
    """What clients plan calibrated images with: GetInfo's working_pixel_size_um, from --pixel-size-um."""
    from conftest import _serve

    from pathosam_server.inference.models import ModelManager

    spec = _model_spec("--model-path", str(random_checkpoint), "--model-name", "mine", "--pixel-size-um", "0.5")
    for address in _serve(ModelManager([spec], "cpu"), 4 << 20):
        with grpc.insecure_channel(address) as ch:
            info = pb_grpc.PathoSamStub(ch).GetInfo(pb.GetInfoRequest())
    assert [(m.name, m.working_pixel_size_um, m.loaded) for m in info.models] == [("mine", 0.5, False)]


def test_batch_keeps_its_own_pixel_size_option() -> None:
    """`batch` had --pixel-size-um (the run's working pixel size) before the model options got one: one option."""
    from pathosam_server.cli import build_parser

    args = build_parser().parse_args(["batch", "--images-dir", "slides", "--pixel-size-um", "0.5"])
    assert args.pixel_size_um == 0.5
