"""SAM's image encoder over tiles: one tile as micro-sam computes it, or a batch of tiles at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def compute_embeddings(model: Any, image: np.ndarray) -> dict:
    """One encoder pass over a tile, in micro-sam's embedding format. The caller holds ``model.lock``.

    PathoSAM was trained on RGB tiles as they are (patho-sam's ``histopathology_identity``; SAM
    normalises inside the model), so by default the tile reaches the encoder unchanged. micro-sam's
    inference instead stretches each tile's channels to 0-255 (``util._to_image``), which makes a
    nucleus's embedding depend on the darkest and brightest pixels elsewhere in its tile: two tile grids
    then disagree on more nuclei and classes. ``tile_normalization="micro-sam"`` keeps that stretch for
    exact parity with micro-sam's ``automatic_instance_segmentation``.

    Args:
        model: The loaded model.
        image: (H, W, 3) uint8 tile.

    Returns:
        {"features", "input_size", "original_size"} as ``util.precompute_image_embeddings`` returns.
    """
    from micro_sam import util

    if model.spec.tile_normalization == "micro-sam":
        return util.precompute_image_embeddings(model.predictor, image, ndim=2, verbose=False)
    p = model.predictor
    p.reset_image()
    p.set_image(np.ascontiguousarray(image, dtype=np.uint8))
    return {
        "features": p.get_image_embedding().cpu().numpy(),
        "input_size": p.input_size,
        "original_size": p.original_size,
    }


def encode(model: Any, images: list[np.ndarray]) -> tuple[torch.Tensor, list[tuple[tuple, tuple]]]:
    """SAM's image encoder once over several tiles, as ``SamPredictor.set_image`` prepares one.

    The caller holds ``model.lock`` inside ``torch.inference_mode``.

    Args:
        model: The loaded model.
        images: (H, W, 3) uint8 tiles at the model's scale (their sizes may differ: each is resized
            so its longest side is the encoder's edge, then padded to the encoder's square).

    Returns:
        (embeddings (N, 256, 64, 64) float32, [(input size, original size)] per tile).
    """
    sam = model.predictor.model
    transform = model.predictor.transform
    inputs, sizes = [], []
    for image in images:
        resized = transform.apply_image(np.ascontiguousarray(image, dtype=np.uint8))
        tensor = torch.as_tensor(resized, device=model.device).permute(2, 0, 1).contiguous()[None]
        sizes.append((tuple(tensor.shape[-2:]), tuple(image.shape[:2])))
        inputs.append(sam.preprocess(tensor))  # normalise and pad to the encoder's square
    return sam.image_encoder(torch.cat(inputs)), sizes  # compute_in: autocast inside, float32 out
