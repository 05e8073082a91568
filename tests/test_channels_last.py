"""The decoders in channels-last layout compute what the NCHW decoders compute (``inference/layout.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny_model_helpers import HELD_OUT_SEED, TINY_MODEL, TINY_SEMANTIC, match

from pathosam_server._testing.synthetic import make_sample
from pathosam_server.geometry import polygons as geometry
from pathosam_server.inference import layout, pipeline
from pathosam_server.inference.models import ModelManager, local_spec
from pathosam_server.inference.scheduler import TileScheduler, per_sample_batch_norm
from pathosam_server.records import Params, Rect


def test_instance_norm_as_group_norm_is_instance_norm_and_keeps_the_layout() -> None:
    torch.manual_seed(0)
    block = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.InstanceNorm2d(16))
    x = torch.randn(3, 8, 40, 56)
    with torch.inference_mode():
        reference = block(x)
        assert layout.to_channels_last(block, "cpu") == 1
        got = block(layout.as_input(x, block))
    assert got.is_contiguous(memory_format=torch.channels_last) and not got.is_contiguous()
    assert torch.allclose(got, reference, atol=1e-5)
    # Each sample is normalised alone: the other samples of a batch do not change it.
    with torch.inference_mode():
        assert torch.allclose(block(layout.as_input(x[1:2], block)), got[1:2], atol=1e-5)
    assert layout.to_channels_last(torch.nn.Sequential(torch.nn.InstanceNorm2d(4)), "mps") == 0


def test_batched_train_mode_batch_norm_keeps_the_layout() -> None:
    bn = torch.nn.BatchNorm2d(6).train()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    per_sample_batch_norm(bn)
    x = torch.randn(2, 6, 20, 20).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        out = bn(x)
        for i in range(2):
            ref = F.instance_norm(x[i : i + 1].contiguous(), weight=bn.weight, bias=bn.bias, eps=bn.eps)
            assert torch.allclose(out[i : i + 1], ref, atol=1e-5)
    assert out.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.slow
def test_the_tiny_model_finds_the_same_nuclei_and_classes_in_either_layout() -> None:
    models = []
    for name in ("nhwc", "nchw"):
        # Both decoders in float32 (class_precision too: on an AMX CPU "auto" would round the logits to
        # bfloat16, whose rounding differs between the layouts by more than float32's).
        spec = local_spec(
            TINY_MODEL, name=name, semantic_decoder=TINY_SEMANTIC, precision="float32", class_precision="float32"
        )
        models.append(ModelManager([spec], "cpu").get())
    fast, reference = models
    assert getattr(fast.decoder, layout.CHANNELS_LAST_FLAG) and getattr(fast.semantic_decoder, layout.CHANNELS_LAST_FLAG)
    layout.to_nchw(reference.decoder)
    layout.to_nchw(reference.semantic_decoder)
    sample = make_sample(HELD_OUT_SEED + 31)
    h, w = sample.instances.shape
    outputs = {}
    for model in models:
        model.scheduler = TileScheduler(model, max_batch=1)
        outputs[model.spec.name] = model.scheduler.run(sample.image, classify=True)
    for field in ("ais", "logits"):
        a, b = getattr(outputs["nhwc"], field), getattr(outputs["nchw"], field)
        assert a.flags.c_contiguous and a.shape == b.shape
        # Float rounding through some 30 layers: relative to the maps' size (logits reach ~10), where a
        # layout slip (a transposed map, a mixed channel) would differ by the maps' own size.
        assert np.abs(a - b).max() < 1e-3 * max(1.0, float(np.abs(b).max())), f"{field}: the layouts differ"
    job = pipeline.TileJob(sample.image, Rect(0, 0, w, h), 1.0)
    got = {m.spec.name: pipeline.segment_tile(m, job, Params()).nuclei for m in models}
    labels = {k: geometry.rasterize([(i + 1, n.geometry) for i, n in enumerate(v)], (h, w)) for k, v in got.items()}
    pairs = match(labels["nhwc"], labels["nchw"])
    same_class = sum(got["nhwc"][p - 1].class_id == got["nchw"][g - 1].class_id for p, g in pairs.items())
    print(f"{len(got['nhwc'])} nuclei (NHWC) vs {len(got['nchw'])} (NCHW), {len(pairs)} matched, {same_class} same class")
    assert len(got["nchw"]) > 20
    assert len(pairs) >= 0.99 * len(got["nchw"]) and len(got["nhwc"]) <= len(got["nchw"]) + 1
    assert same_class >= 0.99 * len(pairs)


@pytest.mark.slow
def test_a_compiled_decoder_computes_what_the_eager_one_does() -> None:
    from pathosam_server.inference.attention import compile_decoder

    model = ModelManager([local_spec(TINY_MODEL, name="tiny", precision="float32")], "cpu").get()
    decoder = model.decoder
    x = layout.as_input(torch.randn(1, 256, 16, 16, generator=torch.Generator().manual_seed(3)), decoder)
    with torch.inference_mode():
        eager = decoder._forward_impl(x)
        assert compile_decoder(decoder, "cpu", None, edge=256), "torch.compile fell back to eager on this machine"
        compiled = decoder._forward_impl(x)
    assert compiled.shape == eager.shape == (1, 3, 256, 256)
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-4)
