"""The arithmetic of the image encoder and the instance (AIS) decoder: float32, bfloat16 or float16.

``auto`` picks bfloat16 where the device runs it natively (a CPU with AVX512-BF16 or AMX, a CUDA GPU
with bfloat16), float16 on an older CUDA GPU, and float32 elsewhere (emulated half precision is slower
than float32). The modules run under ``torch.autocast`` and hand float32 back, so everything after
them (micro-sam's watershed, the embedding cache, the prompt decoder) sees what it always saw. Agreement
with float32 on the tiny model's held-out tiles is measured in tests/test_precision.py and stated in the
README (SA50 between the two outputs, classes of matched nuclei).
"""

from __future__ import annotations

import types
from typing import Any, Optional

import torch
from torch import nn

from ..errors import ModelError

PRECISIONS = ("auto", "float32", "bfloat16", "float16")


def resolve_model_precision(requested: str, device: str) -> Optional[torch.dtype]:
    """The dtype the encoder and the instance decoder compute in (None = float32, no autocast).

    Args:
        requested: One of ``PRECISIONS``.
        device: Torch device string.

    Returns:
        torch.bfloat16, torch.float16 or None.

    Raises:
        ModelError: For an unknown name, or float16 on a device other than CUDA.
    """
    if requested not in PRECISIONS:
        raise ModelError(f"unknown precision '{requested}'; choose one of {', '.join(PRECISIONS)}")
    if requested == "float16":
        if not device.startswith("cuda"):
            raise ModelError(f"--precision float16 needs a CUDA device (this server runs on {device}); use bfloat16")
        return torch.float16
    if requested == "float32":
        return None
    if requested == "bfloat16":
        return torch.bfloat16
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "cpu" and _cpu_has_native_bfloat16():
        return torch.bfloat16
    return None


def _cpu_has_native_bfloat16() -> bool:
    """AVX512-BF16 or AMX: the instructions, not oneDNN's emulation on plain AVX512 (slower than float32
    for the encoder's matmuls), which is all ``torch.ops.mkldnn._is_mkldnn_bf16_supported`` promises."""
    cpu: Any = torch.cpu
    try:
        return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
    except AttributeError:  # an older torch without the probes
        return False


def _to_float32(value: Any) -> Any:
    """Half-precision tensors (also inside lists, tuples, dicts) back to float32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() and value.dtype != torch.float32 else value
    if isinstance(value, (list, tuple)):
        return type(value)(_to_float32(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_float32(v) for k, v in value.items()}
    return value


def compute_in(module: nn.Module, dtype: Optional[torch.dtype], device: str) -> None:
    """Make ``module`` run under autocast to ``dtype`` and return float32 (in place; None: unchanged).

    Args:
        module: The encoder or decoder.
        dtype: The autocast dtype, or None for float32.
        device: Torch device string (its type selects the autocast backend).
    """
    if dtype is None:
        return
    inner = module.forward
    device_type = device.split(":")[0]

    def forward(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        with torch.autocast(device_type, dtype=dtype):
            out = inner(*args, **kwargs)
        return _to_float32(out)

    module.forward = types.MethodType(forward, module)


def dtype_name(dtype: Optional[torch.dtype]) -> str:
    """``float32`` for None, else the dtype's short name (for logs and provenance).

    Args:
        dtype: A resolved precision.

    Returns:
        E.g. "bfloat16".
    """
    return "float32" if dtype is None else str(dtype).removeprefix("torch.")
