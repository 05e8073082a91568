"""The model sees every tile at its own scale (pad, never rescale); pixel values and windows do not depend on
the tiling; `pathosam segment` resumes where a stopped run ended."""
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
import tifffile
from conftest import ROOT, noise_image
from PIL import Image

from pathosam_server.errors import ModelError
from pathosam_server.formats.images import TiffSource
from pathosam_server.inference.prompts import window_around
from pathosam_server.records import Params, Rect

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "python_server")}


def test_edge_tiles_are_padded_to_the_model_window_not_rescaled(random_model, monkeypatch) -> None:
    from pathosam_server.inference import scheduler
    from pathosam_server.inference.pipeline import TileJob, segment_tile

    seen: list[tuple[int, int]] = []
    real = scheduler.encode
    monkeypatch.setattr(scheduler, "encode", lambda m, ims: (seen.extend(im.shape[:2] for im in ims), real(m, ims))[1])
    model = random_model.get()
    pixels = noise_image(12, 200, 300)  # an edge tile: 300 x 200 instead of 512
    result = segment_tile(model, TileJob(pixels, Rect(0, 0, 300, 200), 1.0), Params(simplify_tolerance=0))
    assert seen == [(200, 512)]  # longest side 512: SAM upscales it 2x, as every full tile
    for n in result.nuclei:  # nothing comes back from the padding
        x0, y0, x1, y1 = n.geometry.bounds
        assert x1 <= 300 and y1 <= 200
    full = noise_image(13, 512, 384)
    segment_tile(model, TileJob(full, Rect(0, 0, 384, 512), 1.0), Params())
    assert seen[-1] == (512, 384)  # already at scale: unchanged
    with pytest.raises(ModelError, match="input window of 512 px"):
        model.spec.check_tiles(512, 64)


def test_sixteen_bit_pixels_do_not_depend_on_the_tile(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    arr = (rng.random((256, 256, 3)) * 4095).astype(np.uint16)  # a 12-bit scanner
    arr[:64, :64] = rng.integers(0, 200, (64, 64, 3))  # a dark corner whose own maximum is below 255
    tifffile.imwrite(tmp_path / "s.tif", arr, photometric="rgb", bitspersample=12)
    src = TiffSource(tmp_path / "s.tif")
    whole = src.read(Rect(0, 0, 256, 256), 1.0)
    corner = src.read(Rect(0, 0, 64, 64), 1.0)
    np.testing.assert_array_equal(corner, whole[:64, :64])
    assert whole.max() >= 250  # 4095 maps to 255: the 12-bit range, not 16 bit
    src.close()


def test_prompt_windows_round_half_up_like_java() -> None:
    # centre 256.5 - 256 = 0.5 -> 1 (Python's round gives 0)
    w = window_around(np.array([[256.5, 256.5]]), (4000, 3000), 1.0, 512)
    assert (w.x, w.y, w.width, w.height) == (1, 1, 512, 512)
    w = window_around(np.array([[1000.0, 1000.0]]), (4000, 3000), 1.25, 512)  # 640 level-0 px
    assert (w.width, w.height) == (640, 640) and (w.x, w.y) == (680, 680)


def _segment(image: Path, out: Path, checkpoint: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pathosam_server", "segment", str(image), "-o", str(out),
                             "--model-path", str(checkpoint), "--device", "cpu", "--tile-size", "192", "--halo", "32",
                             "-q"], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_segment_resumes_after_a_kill_and_gives_the_uninterrupted_answer(tmp_path: Path, random_checkpoint) -> None:
    image = tmp_path / "wide.png"
    Image.fromarray(noise_image(14, 200, 760)).save(image)
    full = tmp_path / "full.geojson"
    proc = _segment(image, full, random_checkpoint)
    _, stderr = proc.communicate(timeout=900)  # communicate closes the pipes (no ResourceWarning)
    assert proc.returncode == 0, stderr
    out = tmp_path / "resumed.geojson"
    partial = out.with_name(out.name + ".partial")
    proc = _segment(image, out, random_checkpoint)
    deadline = time.time() + 900
    while time.time() < deadline and (not partial.exists() or len(partial.read_text().splitlines()) < 3):
        time.sleep(0.2)  # header + 2 finished tiles
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not out.exists() and partial.exists()  # nothing half-written, the finished tiles kept
    kept = len(partial.read_text().splitlines()) - 1
    proc = _segment(image, out, random_checkpoint)
    stdout, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, stderr
    assert f"resuming: {kept} tiles done earlier" in stdout and not partial.exists()

    def shapes(path: Path) -> list[str]:
        return sorted(json.dumps(f["geometry"], sort_keys=True) for f in json.loads(path.read_text())["features"])

    assert shapes(out) == shapes(full) and shapes(full)
