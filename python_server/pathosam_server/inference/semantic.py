"""Semantic (class) decoder weights and per-nucleus classes from per-pixel class probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from scipy import ndimage

from ..classes import NUM_CLASSES
from ..errors import ModelError
from .precision import bfloat16_pays_on_cpu
from .weights import file_sha256

PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class PublishedDecoder:
    """A semantic decoder published by the patho-sam repository (URL and sha256 from its util.py)."""

    url: str
    sha256: str
    filename: str


PUBLISHED_SEMANTIC_DECODERS = {
    "vit_b_histopathology": PublishedDecoder(
        url="https://owncloud.gwdg.de/index.php/s/TFbI25UZoixd1hi/download",
        sha256="bdd05a55c72c02abce72a7aa6885c6ec21df9c43fda9cf3c5d11ef5788de0ab0",
        filename="vit_b_histopathology_semantic_segmentation_decoder",
    )
}


def fetch_published_semantic_decoder(model: str) -> Path:
    """Download (once) PathoSAM's semantic decoder into micro-sam's model cache, hash-checked.

    Args:
        model: Registry model name (only vit_b_histopathology has one).

    Returns:
        Path of the cached file.
    """
    import pooch
    from micro_sam.util import microsam_cachedir

    pub = PUBLISHED_SEMANTIC_DECODERS[model]
    folder = Path(microsam_cachedir()) / "models"
    try:
        path = pooch.retrieve(pub.url, known_hash=f"sha256:{pub.sha256}", fname=pub.filename, path=folder)
    except Exception as err:  # network errors, or a download whose hash does not match
        raise ModelError(
            f"could not get PathoSAM's semantic decoder for '{model}' ({type(err).__name__}: {err}). "
            f"Offline, pass a local copy with --semantic-decoder-path FILE (sha256 {pub.sha256[:16]}...), "
            "or serve instances only with --no-classes."
        ) from err
    return Path(path)


def verify_sha256(path: Path, expected: str) -> None:
    """Refuse a local decoder file whose sha256 differs from the published one."""
    try:
        actual = file_sha256(path)  # cached: the provenance record at load reuses this hash
    except OSError as err:
        raise ModelError(f"cannot read semantic decoder '{path}': {err}") from err
    if actual != expected:
        raise ModelError(
            f"semantic decoder '{path}' has sha256 {actual[:16]}..., but PathoSAM publishes "
            f"{expected[:16]}...: the file is corrupt or a different decoder"
        )


def load_semantic_decoder_state(path: Path, n_classes: int = NUM_CLASSES - 1) -> dict:
    """Read a semantic decoder state dict (non-encoder UNETR keys, background + ``n_classes`` channels).

    Args:
        path: The weights file.
        n_classes: Nucleus classes the model declares (PanNuke's 5 unless its folder names others).

    Returns:
        The state dict.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt, truncated or pickled-object files
        raise ModelError(f"cannot read semantic decoder '{path}': {err}") from err
    if not isinstance(state, dict) or "out_conv.weight" not in state:
        raise ModelError(f"'{path}' is not a semantic decoder state dict (no 'out_conv.weight')")
    channels = state["out_conv.weight"].shape[0]
    if channels != 1 + n_classes:
        raise ModelError(
            f"semantic decoder '{path}' has {channels} output channels, but the model declares {n_classes} classes "
            f"(+ background = {1 + n_classes}); a fine-tuned decoder needs its folder's class list"
        )
    return state


def resolve_precision(requested: str, device: str) -> Optional[torch.dtype]:
    """The dtype the semantic decoder computes in (None = float32, no autocast).

    ``auto`` picks bfloat16 where the device runs it natively and faster (a CUDA GPU that supports it; a
    CPU with AMX tiles, ``precision.bfloat16_pays_on_cpu``) and float32 elsewhere.
    Classes are means over a nucleus's pixels, so bfloat16's rounding does not move them (tiny
    model: identical classes for 384 of 384 nuclei, probabilities within 0.002).

    Args:
        requested: One of ``PRECISIONS``.
        device: Torch device string.

    Returns:
        torch.bfloat16 or None.
    """
    if requested not in PRECISIONS:
        raise ModelError(f"unknown class precision '{requested}'; choose one of {', '.join(PRECISIONS)}")
    if requested == "float32":
        return None
    if requested == "bfloat16":
        return torch.bfloat16
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else None
    if device == "cpu":
        return torch.bfloat16 if bfloat16_pays_on_cpu() else None
    return None


def class_logits(decoder: torch.nn.Module, predictor: Any, dtype: Optional[torch.dtype]) -> np.ndarray:
    """Run the semantic decoder on the predictor's current image embedding.

    Args:
        decoder: The semantic DecoderAdapter (eval mode).
        predictor: micro-sam's SamPredictor with features set (encoder already run).
        dtype: Autocast dtype, or None for float32.

    Returns:
        (6, H, W) float32 logits at the tile's size.
    """
    args = (predictor.features, tuple(predictor.input_size), tuple(predictor.original_size))
    device_type = predictor.features.device.type
    with torch.inference_mode(), torch.autocast(device_type, dtype=dtype or torch.float32, enabled=dtype is not None):
        out = decoder(*args)
    return out.float().contiguous().cpu().numpy()[0]  # contiguous: the decoder may compute channels-last


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the first (channel) axis."""
    e = np.exp(logits - logits.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def nucleus_class_means(probabilities: np.ndarray, labels: np.ndarray, ids: list[int]) -> np.ndarray:
    """Mean class probability over each nucleus's pixels.

    Args:
        probabilities: (6, H, W) softmax probabilities, channel 0 background.
        labels: (H, W) instance labels.
        ids: Instance ids to summarise.

    Returns:
        (len(ids), 6) array of means.
    """
    if not ids:
        return np.zeros((0, probabilities.shape[0]), dtype=np.float32)
    return np.stack(
        [ndimage.mean(probabilities[c], labels=labels, index=ids) for c in range(probabilities.shape[0])], axis=1
    ).astype(np.float32)


def pick_class(means: np.ndarray) -> tuple[int, float]:
    """Class of one nucleus: highest mean probability among the nucleus classes (background excluded).

    Args:
        means: (6,) mean probabilities, index 0 background.

    Returns:
        (class id 1..5, its mean probability).
    """
    cls = int(np.argmax(means[1:])) + 1
    return cls, float(means[cls])
