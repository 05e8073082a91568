"""The arithmetic of the image encoder and the instance (AIS) decoder: float32, bfloat16 or float16.

``auto`` picks bfloat16 where the device runs it natively and faster than float32, float16 on an older
CUDA GPU, and float32 elsewhere. On a CUDA GPU "natively" is the GPU's bfloat16 support. On a CPU the
instructions are not enough: with AMX tiles bfloat16 matmuls ran 7x faster than float32 here, but on a
CPU with AVX512-BF16 and no AMX (a 2026-12-04 machine) bfloat16 matmuls and convolutions both ran about
1.4x *slower* than float32. So a CPU with the instructions also times a short probe once per process
(``bfloat16_pays_on_cpu``: a matmul of the encoder's kind and a convolution of the decoders' kind, each
way, ~0.1 s) and keeps float32 unless bfloat16 is clearly faster.

The modules run under ``torch.autocast`` and hand float32 back, so everything after them (micro-sam's
watershed, the embedding cache, the prompt decoder) sees what it always saw. Agreement
with float32 on the tiny model's held-out tiles is measured in tests/test_precision.py and stated in the
README (SA50 between the two outputs, classes of matched nuclei).
"""

from __future__ import annotations

import functools
import logging
import time
import types
from collections.abc import Callable
from typing import Any, Optional

import torch
from torch import nn

from ..errors import ModelError

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
# How much faster bfloat16 must time in the probe before ``auto`` takes it: the probe is short and the
# machines are shared, and on the CPUs seen the two ways apart were 7x faster and 1.4x slower.
BFLOAT16_MIN_GAIN = 1.15

log = logging.getLogger(__name__)


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
    if device == "cpu" and bfloat16_pays_on_cpu():
        return torch.bfloat16
    return None


@functools.lru_cache(maxsize=1)
def bfloat16_pays_on_cpu() -> bool:
    """Whether this CPU has bfloat16 instructions and runs the models' kind of work faster in bfloat16.

    Times, best of five, a (1024 x 768) @ (768 x 768) matmul (the encoder's) and a 64-channel 3 x 3
    channels-last convolution at 128 px (the decoders'), in float32 and under bfloat16 autocast, on the
    threads torch uses. Measured once per process.

    Returns:
        True when the instructions are there and bfloat16 takes at most 1 / ``BFLOAT16_MIN_GAIN`` of the time.
    """
    if not _cpu_has_native_bfloat16():
        return False
    with torch.inference_mode():
        a, w = torch.randn(1024, 768), torch.randn(768, 768)
        conv = nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
        x = torch.randn(1, 64, 128, 128).contiguous(memory_format=torch.channels_last)

        def work() -> None:
            a @ w
            conv(x)

        float32 = _best_of(work)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bfloat16 = _best_of(work)
    pays = float32 >= BFLOAT16_MIN_GAIN * bfloat16
    log.info(
        "bfloat16 probe: %.1f ms in float32, %.1f ms in bfloat16: %s",
        float32 * 1e3,
        bfloat16 * 1e3,
        "auto precision is bfloat16" if pays else "auto precision stays float32 (bfloat16 is no faster here)",
    )
    return pays


def _best_of(work: Callable[[], None], runs: int = 5) -> float:
    """The shortest of ``runs`` timings of ``work`` (after one untimed warm-up run)."""
    work()
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - t0)
    return best


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
