"""Semantic (class) decoder weights and per-nucleus classes from per-pixel class probabilities."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from .models import ModelError

NUM_CLASSES = 6  # PanNuke: background + 5 nucleus classes


def load_semantic_decoder_state(path: Path) -> dict:
    """Read a semantic decoder state dict (non-encoder UNETR keys, 6 output channels).

    Args:
        path: The weights file.

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
    if channels != NUM_CLASSES:
        raise ModelError(f"semantic decoder '{path}' has {channels} output channels, expected {NUM_CLASSES}")
    return state


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
