"""The arithmetic of the image encoder and the instance (AIS) decoder: float32, bfloat16 or float16.

``auto`` picks bfloat16 where the device runs it natively and faster than float32, float16 on an older
CUDA GPU, and float32 elsewhere. On a CUDA GPU "natively" is the GPU's bfloat16 support. On a CPU it is
AMX: with AMX tiles bfloat16 matmuls ran 7x faster than float32 (a 2026-12-02 machine), but on a CPU with
AVX512-BF16 and no AMX (a 2026-12-04 machine) bfloat16 matmuls and convolutions both ran about 1.4x
*slower*. The rule reads the CPU's flags and times nothing: a start-up timing (tried, ~0.1 s) flipped
its choice on a loaded machine, and the same CPU must always get the same precision (one pool's servers,
a resumed batch). ``time_bfloat16_on_cpu`` keeps that timing for the benchmarks.

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
from typing import Any, Optional

import torch
from torch import nn

from ..errors import ModelError

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
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
    """Whether this CPU runs the models' bfloat16 work faster than float32: it has AMX tiles.

    Deterministic on purpose (the same CPU always gets the same answer, loaded or not); decided once per
    process and logged.

    Returns:
        True on a CPU with AMX, False elsewhere (AVX512-BF16 alone measured 1.4x slower than float32).
    """
    amx = _cpu_has_amx()
    log.info(
        "auto precision on this CPU: %s",
        "bfloat16 (AMX tiles)" if amx else "float32 (no AMX tiles: bfloat16 would be no faster here)",
    )
    return amx


def time_bfloat16_on_cpu(runs: int = 5) -> tuple[float, float]:
    """Seconds, best of ``runs`` and alternating, of the models' kind of work in float32 and in bfloat16.

    The work is a (1024 x 768) @ (768 x 768) matmul (the encoder's) and a 64-channel 3 x 3 channels-last
    convolution at 128 px (the decoders'), on the threads torch uses. For benchmarks: a short timing on
    a shared machine is too noisy to choose a precision by.

    Args:
        runs: Timings per precision.

    Returns:
        (float32 seconds, bfloat16 seconds).
    """
    with torch.inference_mode():
        a, w = torch.randn(1024, 768), torch.randn(768, 768)
        conv = nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
        x = torch.randn(1, 64, 128, 128).contiguous(memory_format=torch.channels_last)

        def work(dtype: Optional[torch.dtype]) -> float:
            with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                t0 = time.perf_counter()
                a @ w
                conv(x)
                return time.perf_counter() - t0

        work(None), work(torch.bfloat16)  # warm-up: oneDNN picks and caches its kernels
        best = [float("inf"), float("inf")]
        for _ in range(runs):  # alternating, so that both see the same load
            best[0] = min(best[0], work(None))
            best[1] = min(best[1], work(torch.bfloat16))
    return best[0], best[1]


def _cpu_has_amx() -> bool:
    """AMX tiles (Sapphire Rapids and later), which oneDNN's bfloat16 matmuls and convolutions use."""
    cpu: Any = torch.cpu
    try:
        return bool(cpu._is_amx_tile_supported())
    except AttributeError:  # an older torch without the flag
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
