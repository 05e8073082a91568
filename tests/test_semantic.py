"""How tiles reach the encoder and how the semantic decoder runs (precision, mode, parity with patho-sam)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_model_helpers import HELD_OUT_SEED, TINY_SEMANTIC, needs_affordable_bfloat16

from pathosam_server._testing.synthetic import make_sample
from pathosam_server.errors import ModelError
from pathosam_server.inference import encoder, pipeline, semantic
from pathosam_server.inference.models import ModelManager, local_spec
from pathosam_server.inference.pipeline import TileJob
from pathosam_server.records import Params, Rect


def test_class_precision_choices() -> None:
    assert semantic.resolve_precision("float32", "cpu") is None
    assert semantic.resolve_precision("bfloat16", "cpu") is torch.bfloat16
    assert semantic.resolve_precision("auto", "mps") is None  # no native bfloat16 path assumed there
    with pytest.raises(ModelError, match="unknown class precision 'half'.*auto, float32, bfloat16"):
        semantic.resolve_precision("half", "cpu")


def test_unknown_tile_normalization_is_refused(random_checkpoint) -> None:
    manager = ModelManager([local_spec(random_checkpoint, name="r", tile_normalization="zscore")], "cpu")
    with pytest.raises(ModelError, match="unknown tile normalization 'zscore'; choose one of none, micro-sam"):
        manager.get()


def test_tiles_reach_the_encoder_unchanged_unless_micro_sam_normalisation_is_asked(random_checkpoint) -> None:
    from micro_sam import util

    # A pale tile (intensities 150..220): micro-sam would stretch it to 0..255 before encoding.
    image = (150 + np.random.default_rng(3).random((96, 128, 3)) * 70).astype(np.uint8)
    plain = ModelManager([local_spec(random_checkpoint, name="a")], "cpu").get()
    stretched = ModelManager([local_spec(random_checkpoint, name="b", tile_normalization="micro-sam")], "cpu").get()
    with torch.inference_mode():
        got = encoder.compute_embeddings(plain, image)["features"]
        plain.predictor.reset_image()
        plain.predictor.set_image(image)
        expected = plain.predictor.get_image_embedding().numpy()
        parity = encoder.compute_embeddings(stretched, image)["features"]
        micro_sam = util.precompute_image_embeddings(stretched.predictor, image, ndim=2, verbose=False)["features"]
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(parity, micro_sam)
    assert np.abs(got - parity).max() > 1e-3  # the stretch really changes what the encoder sees


def test_semantic_decoder_sees_what_patho_sam_feeds_it(tiny_model) -> None:
    """One shared encoder pass gives the semantic decoder the input patho-sam's own semantic evaluation
    gives it (the whole UNETR, eval mode, on the unnormalised tile), up to the resize's rounding."""
    from micro_sam.instance_segmentation import get_unetr

    model = tiny_model.get()
    assert not model.semantic_decoder.training and model.decoder.training  # patho-sam / micro-sam modes
    image = make_sample(HELD_OUT_SEED + 7).image
    with model.lock, torch.inference_mode():
        encoder.compute_embeddings(model, image)
        ours = semantic.class_logits(model.semantic_decoder, model.predictor, None)
        state = torch.load(TINY_SEMANTIC, map_location="cpu", weights_only=True)
        unetr = get_unetr(model.predictor.model.image_encoder, state, "cpu", out_channels=6, final_activation=None)
        theirs = unetr.eval()(torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].float())
    theirs = theirs.numpy()[0]
    relative = np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)
    agree = (ours.argmax(0) == theirs.argmax(0)).mean()
    print(f"semantic logits vs patho-sam's UNETR: relative difference {relative:.4f}, pixel argmax agreement {agree:.4f}")
    assert relative < 0.02 and agree > 0.99


@pytest.mark.slow
@needs_affordable_bfloat16
def test_bfloat16_classes_equal_float32_classes(tiny_model) -> None:
    model = tiny_model.get()
    sample = make_sample(HELD_OUT_SEED + 8)
    h, w = sample.instances.shape
    job = TileJob(sample.image, Rect(0, 0, w, h), 1.0)
    segmenter, _, _, _ = pipeline.run_models(model, sample.image, classify=False)
    labels = np.asarray(segmenter.generate(min_size=10))
    records = {}
    with model.lock, torch.inference_mode():
        encoder.compute_embeddings(model, sample.image)  # the predictor's features, for class_logits
        for dtype in (None, torch.bfloat16):
            logits = semantic.class_logits(model.semantic_decoder, model.predictor, dtype)
            records[dtype] = pipeline.nuclei_from_labels(labels, job, Params(), None, logits)
    fp32, bf16 = records[None], records[torch.bfloat16]
    assert len(fp32) == len(bf16) > 20
    assert [n.class_id for n in fp32] == [n.class_id for n in bf16]
    worst = max(abs(a.class_probability - b.class_probability) for a, b in zip(fp32, bf16))
    print(f"{len(fp32)} nuclei: classes identical in bfloat16 and float32; probabilities within {worst:.4f}")
    assert worst < 0.01
