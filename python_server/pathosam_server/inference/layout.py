"""The UNETR decoders in channels-last memory layout: the same arithmetic, about 1.35x faster on a CPU.

Both decoders (instance and semantic) are convolutions at up to 1024 x 1024 px. oneDNN's convolutions
run markedly faster on channels-last (NHWC) tensors: on a 2-core AVX512 CPU a 64-channel 3 x 3
convolution at 1024 px takes 0.32 s in NHWC against 0.48 s in NCHW, float32. Converting the weights is
not enough, though: torch's ``instance_norm`` (torch-em's ``ConvBlock2d`` normalises with
``InstanceNorm2d``) reshapes its input to one sample of N x C channels, which copies a channels-last
tensor back to NCHW on every call; measured on the tiny model's decoder that copy ate 2.0 of the 2.6 s
that the convolutions gained. ``group_norm`` with one group per channel computes exactly instance norm
(each sample's and channel's own mean and biased variance over H x W, the same eps) and has a
channels-last kernel, so the decoder stays NHWC from its first layer to its last.

Outputs agree with the NCHW decoder to float rounding (a different summation order): on the tiny
model, a largest difference of 1.4e-4 in a map of probabilities and distances (``tests/test_channels_last.py``
checks the maps and the nuclei). micro-sam's parity mode (``tile_normalization="micro-sam"``) keeps
micro-sam's own NCHW layout so that it stays equal to micro-sam pixel for pixel.
"""

from __future__ import annotations

import types
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# Where channels-last is known to pay: oneDNN on CPUs, cuDNN on NVIDIA GPUs (tensor cores want NHWC).
# Apple's MPS backend supports it patchily, so it keeps NCHW.
CHANNELS_LAST_DEVICES = ("cpu", "cuda")
CHANNELS_LAST_FLAG = "pathosam_channels_last"  # set on a decoder that to_channels_last converted


def _instance_norm_as_group_norm(self: nn.InstanceNorm2d, x: torch.Tensor) -> torch.Tensor:
    """Instance norm without affine weights or running statistics, through ``group_norm``'s NHWC kernel."""
    return F.group_norm(x, x.shape[1], eps=self.eps)


def to_channels_last(decoder: nn.Module, device: str) -> int:
    """Run a decoder in channels-last layout (in place), where the device gains from it.

    Args:
        decoder: A micro-sam ``DecoderAdapter`` (or any module of 2-D convolutions).
        device: Torch device string.

    Returns:
        How many instance-norm layers now run as group norm (0 when the device keeps NCHW).
    """
    if device.split(":")[0] not in CHANNELS_LAST_DEVICES:
        return 0
    changed = 0
    for layer in decoder.modules():
        # Only the plain kind torch-em uses: affine weights or running statistics would need more than
        # group norm's per-channel form, and no PathoSAM decoder has them.
        if isinstance(layer, nn.InstanceNorm2d) and not layer.affine and not layer.track_running_stats:
            setattr(layer, "forward", types.MethodType(_instance_norm_as_group_norm, layer))  # noqa: B010
            changed += 1
    decoder.to(memory_format=torch.channels_last)
    setattr(decoder, CHANNELS_LAST_FLAG, True)  # noqa: B010
    return changed


def as_input(features: torch.Tensor, decoder: Any) -> torch.Tensor:
    """Encoder features in the layout ``decoder`` computes in (a copy only when that differs).

    Args:
        features: (N, C, H, W) embeddings.
        decoder: The decoder they are for.

    Returns:
        The features, channels-last when the decoder's weights are.
    """
    if getattr(decoder, CHANNELS_LAST_FLAG, False):
        return features.contiguous(memory_format=torch.channels_last)
    return features


def to_nchw(decoder: nn.Module) -> None:
    """Undo ``to_channels_last`` (in place): torch's own instance norm, NCHW weights (for comparisons).

    Args:
        decoder: A decoder that ``to_channels_last`` converted (others are left as they are).
    """
    if not getattr(decoder, CHANNELS_LAST_FLAG, False):
        return
    for layer in decoder.modules():
        if isinstance(layer, nn.InstanceNorm2d):
            layer.__dict__.pop("forward", None)  # the instance attribute set above; the class's forward again
    decoder.to(memory_format=torch.contiguous_format)
    setattr(decoder, CHANNELS_LAST_FLAG, False)  # noqa: B010
