"""The encoder and instance decoder in half precision: choices, and agreement with float32.

Agreement is measured between the two outputs of the trained tiny model on held-out synthetic tiles.
bfloat16 runs emulated on a CPU without AVX512-BF16 (this machine): it computes the same but is slow
(about 3 minutes a tile on 2 loaded cores), so CI checks one tile and PATHOSAM_PRECISION_FULL=1 checks three
(measured: SA50 1.000, classes equal for 260 of 260 matched nuclei).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from tiny_model_helpers import HELD_OUT_SEED, TINY_MODEL, TINY_SEMANTIC, match, msa_sa50, needs_affordable_bfloat16

from pathosam_server._testing.synthetic import make_sample
from pathosam_server.errors import ModelError
from pathosam_server.geometry import polygons as geometry
from pathosam_server.inference import pipeline, precision
from pathosam_server.inference.precision import bfloat16_pays_on_cpu, resolve_model_precision
from pathosam_server.records import Params, Rect


def test_precision_choices() -> None:
    assert resolve_model_precision("float32", "cpu") is None
    assert resolve_model_precision("bfloat16", "cpu") is torch.bfloat16
    assert resolve_model_precision("auto", "cpu") is (torch.bfloat16 if bfloat16_pays_on_cpu() else None)
    with pytest.raises(ModelError, match="float16 needs a CUDA device"):
        resolve_model_precision("float16", "cpu")
    with pytest.raises(ModelError, match="unknown precision 'half'"):
        resolve_model_precision("half", "cpu")


def test_auto_takes_bfloat16_on_a_cpu_only_with_amx(monkeypatch) -> None:
    from pathosam_server.inference.semantic import resolve_precision

    cpu: object = torch.cpu
    amx = bool(cpu._is_amx_tile_supported())  # type: ignore[attr-defined]
    rule = precision.bfloat16_pays_on_cpu
    assert rule() is amx
    # Deterministic: no timing, so a loaded machine cannot flip it (a start-up timing did, under CI load).
    # The module's own timing is patched, not time.perf_counter, which other tests' threads may still call.
    monkeypatch.setattr(precision, "time_bfloat16_on_cpu", lambda runs=5: pytest.fail("the rule timed something"))
    for has_amx, expected in ((True, torch.bfloat16), (False, None)):
        rule.cache_clear()
        monkeypatch.setattr(precision, "_cpu_has_amx", lambda has_amx=has_amx: has_amx)
        assert resolve_model_precision("auto", "cpu") is expected
        assert resolve_precision("auto", "cpu") is expected
        assert resolve_model_precision("float32", "cpu") is None
        assert resolve_model_precision("bfloat16", "cpu") is torch.bfloat16
    rule.cache_clear()  # the next caller asks this CPU again
    monkeypatch.undo()
    assert rule() is amx


def test_the_benchmarks_timing_of_bfloat16_returns_both_ways() -> None:
    float32, bfloat16 = precision.time_bfloat16_on_cpu(runs=1)
    assert 0 < float32 < 10 and 0 < bfloat16 < 60


def _labels(nuclei: list, shape: tuple[int, int]) -> np.ndarray:
    return geometry.rasterize([(k + 1, n.geometry) for k, n in enumerate(nuclei)], shape)


@pytest.mark.slow
@needs_affordable_bfloat16
def test_bfloat16_encoder_and_decoder_agree_with_float32() -> None:
    from pathosam_server.inference.models import ModelManager, local_spec

    models = {
        p: ModelManager([local_spec(TINY_MODEL, name="tiny", semantic_decoder=TINY_SEMANTIC, precision=p)], "cpu").get()
        for p in ("float32", "bfloat16")
    }
    assert models["bfloat16"].compute_dtype is torch.bfloat16 and models["float32"].compute_dtype is None
    sa50s, matched, same_class = [], 0, 0
    n_tiles = 3 if os.environ.get("PATHOSAM_PRECISION_FULL") == "1" else 1
    for k in range(n_tiles):
        sample = make_sample(HELD_OUT_SEED + 20 + k)
        h, w = sample.instances.shape
        job = pipeline.TileJob(sample.image, Rect(0, 0, w, h), 1.0)
        out = {p: pipeline.segment_tile(m, job, Params()).nuclei for p, m in models.items()}
        ref, half = _labels(out["float32"], (h, w)), _labels(out["bfloat16"], (h, w))
        sa50s.append(msa_sa50(half, ref)[1])
        pairs = match(half, ref)
        matched += len(pairs)
        same_class += sum(out["bfloat16"][p - 1].class_id == out["float32"][g - 1].class_id for p, g in pairs.items())
    sa50, agree = float(np.mean(sa50s)), same_class / max(matched, 1)
    print(f"bfloat16 vs float32 on {n_tiles} held-out tiles: SA50 {sa50:.3f} (per tile {sa50s}), classes equal "
          f"for {same_class} of {matched} matched nuclei ({agree:.3f})")  # fmt: skip
    assert matched > 20 * n_tiles
    assert sa50 >= 0.98 and agree >= 0.98


def test_float16_on_a_cpu_is_one_line_and_exit_2(tmp_path) -> None:
    import subprocess
    import sys

    import tifffile

    image = tmp_path / "small.tif"
    tifffile.imwrite(image, np.zeros((64, 64, 3), np.uint8))
    run = subprocess.run(
        [sys.executable, "-m", "pathosam_server", "segment", str(image), "-o", str(tmp_path / "out.geojson"),
         "--model-path", str(TINY_MODEL), "--device", "cpu", "--precision", "float16"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "--precision float16 needs a CUDA device" in run.stderr and "Traceback" not in run.stderr
