"""Run the SAM image encoder's attention through torch's fused ``scaled_dot_product_attention``.

segment-anything's ``Attention`` forms the attention matrix itself (``q @ k.T``, adds the decomposed
relative-position terms, softmax, ``@ v``). ``torch.nn.functional.scaled_dot_product_attention`` does
the same arithmetic in one fused kernel, with the relative-position terms passed as an additive mask.
Same weights, same outputs (float32 on CPU: max relative difference 7e-7 on a vit_b encoder), and on
2 CPU cores the vit_b encoder takes 21.2 s instead of 26.5 s per 1024 px tile (1.25x, medians of one
run of ``benchmarks/encoder_attention.py`` on a loaded machine). On a GPU the fused kernel also saves
the memory of the separate softmax copy.

Only segment-anything's ViT encoders (vit_b / vit_l / vit_h, PathoSAM's) have this module; vit_t
(MobileSAM's TinyViT) has its own attention and is left as it is.

``--compile`` also lives here: ``torch.compile`` of the encoder and of the decoders' bodies.
"""

from __future__ import annotations

import types
from typing import Any, Optional, cast

import torch
import torch.nn.functional as F
from torch import nn


def _fused_forward(self: Any, x: torch.Tensor) -> torch.Tensor:
    """``segment_anything.modeling.image_encoder.Attention.forward`` through the fused kernel.

    Args:
        x: Tokens, (B, H, W, dim).

    Returns:
        The attention block's output, (B, H, W, dim).
    """
    from segment_anything.modeling.image_encoder import get_rel_pos

    b, h, w, _ = x.shape
    heads = self.num_heads
    qkv = self.qkv(x).reshape(b, h * w, 3, heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)  # each (B, heads, N, head_dim)
    bias = None
    if self.use_rel_pos:
        # The decomposed relative-position terms of segment-anything's add_decomposed_rel_pos, as a mask.
        rh = get_rel_pos(h, h, self.rel_pos_h)
        rw = get_rel_pos(w, w, self.rel_pos_w)
        r_q = q.reshape(b * heads, h, w, -1)
        rel_h = torch.einsum("bhwc,hkc->bhwk", r_q, rh)
        rel_w = torch.einsum("bhwc,wkc->bhwk", r_q, rw)
        bias = (rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).reshape(b, heads, h * w, h * w)
    # The default scale is head_dim ** -0.5, segment-anything's self.scale.
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    out = out.view(b, heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
    return self.proj(out)


def fuse_attention(encoder: nn.Module) -> int:
    """Switch every segment-anything ``Attention`` inside ``encoder`` to the fused kernel.

    Args:
        encoder: A SAM image encoder (or a whole SAM model); changed in place.

    Returns:
        How many attention blocks now use the fused kernel (0 for vit_t).
    """
    from segment_anything.modeling.image_encoder import Attention

    count = 0
    for module in encoder.modules():
        if isinstance(module, Attention):
            module.forward = types.MethodType(_fused_forward, module)
            count += 1
    return count


def unfuse_attention(encoder: nn.Module) -> None:
    """Undo ``fuse_attention`` (for comparisons: benchmarks and tests).

    Args:
        encoder: The encoder ``fuse_attention`` changed.
    """
    from segment_anything.modeling.image_encoder import Attention

    for module in encoder.modules():
        if isinstance(module, Attention) and "forward" in module.__dict__:
            del module.forward


def compile_encoder(encoder: nn.Module, device: str, edge: int = 1024) -> nn.Module:
    """``torch.compile`` the encoder and compile it now, on one blank input of SAM's size.

    Measured on 2 CPU cores (vit_b, ``benchmarks/encoder_attention.py``): 16.0 s per tile instead of
    21.2 s with the fused attention alone (26.5 s eager), same outputs (max relative difference 2e-6),
    after a one-off 23.5 s compile; so it is an option for long runs (``--compile``), not the default.
    SAM's input is always ``edge`` x ``edge``, so the compiled graph is reused for every tile.

    Args:
        encoder: The SAM image encoder (fused attention and precision already applied).
        device: Torch device string.
        edge: SAM's input edge.

    Returns:
        The compiled encoder, or ``encoder`` itself when compiling fails here (no C++ compiler, an
        unsupported device): a warning is logged and the model runs uncompiled.
    """
    import logging

    compiled = torch.compile(encoder)
    try:
        with torch.inference_mode():
            compiled(torch.zeros(1, 3, edge, edge, device=device))
    except Exception as err:  # noqa: BLE001 - inductor raises many kinds; any means "run eager"
        logging.getLogger(__name__).warning("torch.compile of the image encoder failed (%s); running uncompiled", err)
        return encoder
    return cast(nn.Module, compiled)


def compile_decoder(decoder: nn.Module, device: str, dtype: Optional[torch.dtype], edge: int = 1024) -> bool:
    """``torch.compile`` a UNETR decoder's body (``DecoderAdapter._forward_impl``) and compile it now.

    The scheduler calls the body directly, under autocast to ``dtype``; the warm-up runs the same way on
    blank embeddings of SAM's size, so the first tile finds the graph ready. Measured on the tiny model's
    AIS decoder, channels-last, float32, 2 CPU cores (2026-12-04): 4.4-5.0 s per tile against 5.0-5.8 s
    eager, outputs equal (the compiled maps differ from eager by 1e-5 at most), after a ~30 s first compile
    (~5 s when torch's on-disk kernel cache already holds it).

    Args:
        decoder: A micro-sam ``DecoderAdapter`` (layout and mode already set).
        device: Torch device string.
        dtype: The autocast dtype it runs under, or None for float32.
        edge: SAM's input edge (the embeddings are ``edge / 16`` px square).

    Returns:
        Whether it now runs compiled (False: compiling failed here, a warning is logged, eager stays).
    """
    import logging

    from .layout import as_input

    eager: Any = getattr(decoder, "_forward_impl")  # noqa: B009 - nn.Module's typing hides methods
    compiled = torch.compile(eager)
    blank = as_input(torch.zeros(1, 256, edge // 16, edge // 16, device=device), decoder)
    cast_to = torch.autocast(device.split(":")[0], dtype=dtype or torch.float32, enabled=dtype is not None)
    try:
        with torch.inference_mode(), cast_to:
            compiled(blank)
    except Exception as err:  # noqa: BLE001 - inductor raises many kinds; any means "run eager"
        logging.getLogger(__name__).warning("torch.compile of a decoder failed (%s); running uncompiled", err)
        return False
    setattr(decoder, "_forward_impl", compiled)  # noqa: B010 - as above
    return True
