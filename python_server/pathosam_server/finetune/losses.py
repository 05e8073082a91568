"""Losses for fine-tuning, after micro-sam's trainers: AIS distances, SAM's prompted masks, classes.

The project's tiny test model (``training/train_tiny_model.py``) trains with the same ``prompt_loss``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from micro_sam.prompt_generators import IterativePromptGenerator
from micro_sam.training.util import ConvertToSamInputs
from torch_em.loss import DiceBasedDistanceLoss
from torch_em.loss.wrapper import ApplyAndRemoveMask, LossWrapper


def masked_ais_loss() -> torch.nn.Module:
    """micro-sam's AIS loss (torch-em's ``DiceBasedDistanceLoss``) that ignores masked pixels.

    The target carries the mask as extra channels (torch-em's ``ApplyAndRemoveMask``): pixels outside a
    region or on a nucleus cut by its border count neither as nucleus nor as background.
    """
    return LossWrapper(DiceBasedDistanceLoss(mask_distances_in_bg=True), ApplyAndRemoveMask(masking_method="multiply"))


def soft_dice(pred: torch.Tensor, target: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Dice loss 1 - 2|p t| / (|p|^2 + |t|^2) (torch-em's form), reduced over ``dims``."""
    num = 2 * (pred * target).sum(dims)
    den = (pred * pred).sum(dims) + (target * target).sum(dims)
    return 1 - num / den.clamp(min=1e-6)


def prompt_loss(
    sam: Any,
    convert: ConvertToSamInputs,
    generator: IterativePromptGenerator,
    embeddings: torch.Tensor,
    image: torch.Tensor,
    instances: torch.Tensor,
    step: int,
    n_objects: int,
    n_sub_iterations: int,
) -> torch.Tensor:
    """Interactive-segmentation loss for one image, after micro-sam's SamTrainer.

    Alternates one positive point (multimask output, as ``segment_from_points`` uses for a single
    point) and a box; later sub-iterations add one corrective point per object where the previous
    prediction was wrong (these train the single-mask output). Unlike micro-sam, the loss is taken
    on SAM's low-resolution logits upsampled bilinearly to the image size, which is far cheaper than
    upsampling every mask to 1024 px and matches SAM's postprocessing for these tiles.

    Args:
        sam: The trainable SAM (micro-sam ``TrainableSAM``).
        convert: micro-sam's converter from (image, labels) to SAM inputs with sampled prompts.
        generator: micro-sam's iterative prompt generator.
        embeddings: Image embeddings (1, 256, 64, 64) from the shared encoder.
        image: The image (1, 3, H, H).
        instances: Instance labels (1, 1, H, H).
        step: The training step (selects the prompt mode).
        n_objects: Objects sampled per image.
        n_sub_iterations: Number of prompting rounds.

    Returns:
        The mean (dice + IoU regression) loss over the rounds.
    """
    assert image.shape[-1] == image.shape[-2], "upsampling the logits to the image assumes square tiles"
    n_pos, get_boxes, multimask = ((1, False, True), (0, True, False))[step % 2]
    inputs, sampled_ids = convert(image, instances, n_pos, 0, get_boxes, n_objects)
    if len(sampled_ids[0]) == 0:
        return embeddings.sum() * 0.0
    rec = inputs[0]
    size = tuple(instances.shape[-2:])
    target = torch.stack([instances[0] == i for i in sampled_ids[0]]).float()  # (n, 1, H, W)
    target_bin = target > 0.5

    total: Any = 0.0
    for it in range(n_sub_iterations):
        points = (rec["point_coords"], rec["point_labels"]) if "point_coords" in rec else None
        sparse, dense = sam.sam.prompt_encoder(points=points, boxes=rec.get("boxes"), masks=None)
        low_res, iou_pred = sam.sam.mask_decoder(
            image_embeddings=embeddings,
            image_pe=sam.sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask and it == 0,
        )
        logits = F.interpolate(low_res.float(), size=size, mode="bilinear", align_corners=False)
        probs = torch.sigmoid(logits)  # (n, k, H, W)
        best_dice, _ = soft_dice(probs, target, dims=(2, 3)).min(dim=1)
        with torch.no_grad():
            binary = logits > 0
            inter = (binary & target_bin).sum((2, 3)).float()
            union = (binary | target_bin).sum((2, 3)).float()
            true_iou = inter / union.clamp(min=1)
        total = total + best_dice.mean() + F.mse_loss(iou_pred.float(), true_iou)
        if it + 1 < n_sub_iterations:
            with torch.no_grad():
                best = iou_pred.argmax(dim=1)
                masks = binary[torch.arange(len(best)), best].float()[:, None]
                coords, labels, _, _ = generator(target, masks)
                coords = sam.transform.apply_coords_torch(coords.float(), size)  # image px -> 1024 px frame
            rec["point_coords"] = torch.cat([rec["point_coords"], coords], 1) if points else coords
            rec["point_labels"] = torch.cat([rec["point_labels"], labels], 1) if points else labels
    return total / n_sub_iterations


def semantic_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus multi-class dice over the taught pixels (target -1 = not taught).

    Args:
        logits: (B, C, H, W) class logits.
        target: (B, H, W) class ids, -1 where the loss must not look.

    Returns:
        The loss (0 when no pixel is taught).
    """
    taught = target >= 0
    if not bool(taught.any()):
        return logits.sum() * 0.0
    ce = F.cross_entropy(logits, target.clamp(min=0), reduction="none")[taught].mean()
    probs = torch.softmax(logits, dim=1) * taught[:, None]
    one_hot = F.one_hot(target.clamp(min=0), logits.shape[1]).permute(0, 3, 1, 2).float() * taught[:, None]
    return ce + soft_dice(probs, one_hot, dims=(0, 2, 3)).mean()
