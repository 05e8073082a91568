"""The fused-attention encoder gives segment-anything's own outputs (same weights, float32)."""

from __future__ import annotations

import pytest
import torch

from pathosam_server.inference.attention import fuse_attention, unfuse_attention


@pytest.mark.parametrize("rel_pos", [True, False])
def test_fused_attention_equals_segment_anythings(rel_pos: bool) -> None:
    from segment_anything.modeling.image_encoder import ImageEncoderViT

    torch.manual_seed(3)
    # A small ViT of SAM's shape: windowed blocks and one global block, relative positions learned (non-zero).
    encoder = ImageEncoderViT(
        img_size=128, patch_size=16, embed_dim=64, depth=3, num_heads=4, out_chans=32,
        use_rel_pos=rel_pos, window_size=3, global_attn_indexes=(1,),
    ).eval()  # fmt: skip
    for name, p in encoder.named_parameters():
        if "rel_pos" in name:
            p.data.normal_(0, 0.5)
    x = torch.randn(2, 3, 128, 128)
    with torch.inference_mode():
        reference = encoder(x)
        assert fuse_attention(encoder) == 3
        fused = encoder(x)
        unfuse_attention(encoder)
        again = encoder(x)
    torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-5)
    assert torch.equal(again, reference)  # undone: the original forward again


def test_vit_t_is_left_alone() -> None:
    from micro_sam.util import sam_model_registry

    sam = sam_model_registry["vit_t"]()
    assert fuse_attention(sam.image_encoder) == 0


@pytest.mark.slow
def test_compiled_encoder_gives_the_same_embedding() -> None:
    from segment_anything.modeling.image_encoder import ImageEncoderViT

    from pathosam_server.inference.attention import compile_encoder

    torch.manual_seed(4)
    encoder = ImageEncoderViT(
        img_size=64, patch_size=16, embed_dim=32, depth=2, num_heads=2, out_chans=16,
        use_rel_pos=True, window_size=2, global_attn_indexes=(1,),
    ).eval()  # fmt: skip
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        reference = encoder(x)
    fuse_attention(encoder)
    compiled = compile_encoder(encoder, "cpu", edge=64)
    assert compiled is not encoder, "torch.compile fell back to eager on this machine"
    with torch.inference_mode():
        torch.testing.assert_close(compiled(x), reference, rtol=1e-4, atol=1e-5)
