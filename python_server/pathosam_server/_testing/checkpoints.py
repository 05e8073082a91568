"""Random-weights checkpoints for plumbing tests and timing (never for quality claims).

`python -m pathosam_server._testing.checkpoints OUT.pt [--arch vit_t] [--seed 0] [--semantic SEM.pt]`
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

import torch


def make_random_checkpoint(
    path: Path, architecture: str = "vit_t", seed: int = 0, semantic: Optional[Path] = None
) -> Path:
    """Write a micro-sam style checkpoint with random SAM weights and a random AIS decoder.

    Args:
        path: Output file.
        architecture: vit_t, vit_b, vit_l or vit_h.
        seed: Torch seed, so runs are reproducible.
        semantic: Optional path for a random 6-channel semantic decoder.

    Returns:
        The checkpoint path.
    """
    from micro_sam.instance_segmentation import get_unetr
    from micro_sam.util import sam_model_registry

    torch.manual_seed(seed)
    sam = sam_model_registry[architecture]()
    unetr = get_unetr(sam.image_encoder, device="cpu")
    decoder_state = {k: v for k, v in unetr.state_dict().items() if not k.startswith("encoder.")}
    # The layout micro-sam's export_instance_segmentation_model writes.
    torch.save({"model_state": sam.state_dict(), "decoder_state": decoder_state}, path)
    if semantic is not None:
        sem = get_unetr(sam.image_encoder, device="cpu", out_channels=6, final_activation=None)
        torch.save({k: v for k, v in sem.state_dict().items() if not k.startswith("encoder.")}, semantic)
    return path


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="write a random-weights PathoSAM-format checkpoint")
    ap.add_argument("output", type=Path)
    ap.add_argument("--arch", default="vit_t")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--semantic", type=Path, default=None)
    a = ap.parse_args()
    make_random_checkpoint(a.output, a.arch, a.seed, a.semantic)
    print(a.output)
