"""Evaluate the tiny test model on held-out synthetic tiles with micro-sam's own functions.

Metrics (the targets the project's tests assert are in brackets):
- mSA (IoU 0.5:0.05:0.95) and SA50 of micro-sam's ``automatic_instance_segmentation`` in AIS mode,
  one 512x512 tile at a time without tiling, via ``elf.evaluation.mean_segmentation_accuracy``
  [mSA >= 0.45, SA50 >= 0.75];
- per-nucleus class accuracy: a predicted nucleus takes the class with the highest mean softmax
  probability of the semantic decoder over its pixels (background channel excluded) and is compared
  with the ground-truth nucleus it overlaps with IoU >= 0.5 [>= 0.8];
- median IoU of ``segment_from_points`` (one positive point at the GT nucleus's most interior pixel)
  and of ``segment_from_box`` (GT bounding box) [>= 0.6 and >= 0.7].

Example:
    PYTHONPATH=python_server python training/evaluate_tiny_model.py --model-dir tests/fixtures/tiny_model
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from elf.evaluation import mean_segmentation_accuracy
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python_server"))

from micro_sam.automatic_segmentation import automatic_instance_segmentation, get_predictor_and_segmenter  # noqa
from micro_sam.instance_segmentation import get_unetr  # noqa: E402
from micro_sam.prompt_based_segmentation import segment_from_box, segment_from_points  # noqa: E402
from pathosam_server._testing.synthetic import make_sample  # noqa: E402

MODEL_FILE = "vit_t_synthetic.pt"
SEMANTIC_FILE = "vit_t_synthetic_semantic_decoder.pt"
EVAL_SEED_OFFSET = 1_000_000  # training uses seeds below 100_000 * (training seed + 1)


def load_semantic_decoder(image_encoder: torch.nn.Module, path: Path) -> torch.nn.Module:
    """Build PathoSAM's 6-channel semantic UNETR on the given encoder and load its decoder state.

    Args:
        image_encoder: The SAM image encoder (shared with the predictor).
        path: The semantic decoder state dict (non-encoder keys).

    Returns:
        The UNETR in eval mode; it outputs class logits.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    unetr = get_unetr(image_encoder, decoder_state=state, device="cpu", out_channels=6, final_activation=None)
    return unetr.eval()


def nucleus_classes(probs: np.ndarray, labels: np.ndarray) -> dict[int, int]:
    """Class per labelled nucleus: argmax over classes 1..5 of the mean probability over its pixels.

    Args:
        probs: Softmax probabilities (6, H, W).
        labels: Instance labels (H, W).

    Returns:
        Instance id -> class id.
    """
    ids = np.unique(labels)[1:]
    if len(ids) == 0:
        return {}
    means = np.stack([ndimage.mean(probs[c], labels, ids) for c in range(1, probs.shape[0])], axis=1)
    return {int(i): int(np.argmax(m)) + 1 for i, m in zip(ids, means)}


def match_by_iou(pred: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> dict[int, int]:
    """Pairs (pred id -> gt id) with IoU >= threshold (unique for threshold >= 0.5).

    Args:
        pred: Predicted instance labels.
        gt: Ground-truth instance labels.
        threshold: Minimal IoU.

    Returns:
        Predicted id -> matched ground-truth id.
    """
    n_pred, n_gt = int(pred.max()) + 1, int(gt.max()) + 1
    overlap = np.bincount(pred.ravel().astype(np.int64) * n_gt + gt.ravel(), minlength=n_pred * n_gt)
    overlap = overlap.reshape(n_pred, n_gt)
    sizes_p, sizes_g = overlap.sum(1), overlap.sum(0)
    iou = overlap / np.maximum(sizes_p[:, None] + sizes_g[None, :] - overlap, 1)
    iou[0, :], iou[:, 0] = 0, 0
    best = iou.argmax(1)
    return {int(p): int(best[p]) for p in range(1, n_pred) if iou[p, best[p]] >= threshold}


def prompt_ious(
    predictor, gt: np.ndarray, max_nuclei: int = 40, min_area: int = 30, seed: int = 0
) -> tuple[list[float], list[float]]:
    """IoU of point- and box-prompted masks with GT nuclei (predictor already holds the image).

    Args:
        predictor: micro-sam's SamPredictor with the image set.
        gt: Ground-truth instance labels.
        max_nuclei: Prompt at most this many nuclei per image (a seeded random subset), to bound the time.
        min_area: Skip nuclei smaller than this (border slivers).
        seed: Seed of the subset choice.

    Returns:
        Point IoUs and box IoUs.
    """
    slices = ndimage.find_objects(gt)
    ids = [i for i, sl in enumerate(slices, start=1) if sl is not None and (gt[sl] == i).sum() >= min_area]
    if len(ids) > max_nuclei:
        ids = sorted(np.random.default_rng(seed).choice(ids, size=max_nuclei, replace=False).tolist())
    point_ious, box_ious = [], []
    for gt_id in ids:
        sl = slices[gt_id - 1]
        mask = gt == gt_id
        # The most interior pixel: inside the nucleus even for irregular or crescent shapes.
        dist = ndimage.distance_transform_edt(np.pad(mask[sl], 1))[1:-1, 1:-1]
        py, px = np.unravel_index(np.argmax(dist), dist.shape)
        point = np.array([[py + sl[0].start, px + sl[1].start]])
        for prompt_mask, out in (
            (segment_from_points(predictor, point, np.array([1])), point_ious),
            (segment_from_box(predictor, np.array([sl[0].start, sl[1].start, sl[0].stop, sl[1].stop])), box_ious),
        ):
            pm = np.squeeze(prompt_mask).astype(bool)
            out.append(float((pm & mask).sum() / max((pm | mask).sum(), 1)))
    return point_ious, box_ious


def evaluate(model_dir: Path, n_images: int, seed_offset: int = EVAL_SEED_OFFSET) -> dict[str, float]:
    """Run all metrics on ``n_images`` held-out synthetic 512x512 tiles.

    Args:
        model_dir: Folder with the two fixture files.
        n_images: Number of tiles.
        seed_offset: First evaluation seed.

    Returns:
        The metrics.
    """
    predictor, segmenter = get_predictor_and_segmenter(
        model_type="vit_t", checkpoint=model_dir / MODEL_FILE, device="cpu", segmentation_mode="ais"
    )
    semantic = load_semantic_decoder(predictor.model.image_encoder, model_dir / SEMANTIC_FILE)
    msas, sa50s, correct, matched, n_gt, point_all, box_all = [], [], 0, 0, 0, [], []
    for k in range(n_images):
        sample = make_sample(seed_offset + k)
        pred = automatic_instance_segmentation(predictor, segmenter, sample.image, ndim=2, verbose=False)
        msa, sas = mean_segmentation_accuracy(pred, sample.instances, return_accuracies=True)
        msas.append(msa)
        sa50s.append(sas[0])

        with torch.no_grad():
            x = torch.from_numpy(sample.image.transpose(2, 0, 1).astype(np.float32))[None]
            probs = torch.softmax(semantic(x), dim=1)[0].numpy()
        pred_classes = nucleus_classes(probs, pred)
        for p_id, g_id in match_by_iou(pred, sample.instances).items():
            matched += 1
            correct += int(pred_classes[p_id] == sample.classes[g_id])
        n_gt += len(sample.classes)

        # automatic_instance_segmentation left this image's embedding in the predictor.
        predictor.set_image(sample.image)
        p_ious, b_ious = prompt_ious(predictor, sample.instances, seed=seed_offset + k)
        point_all += p_ious
        box_all += b_ious
        print(f"image {k}: mSA={msa:.3f} SA50={sas[0]:.3f} n_pred={int(pred.max())} n_gt={len(sample.classes)}",
              flush=True)
    return {
        "n_images": n_images,
        "mSA": float(np.mean(msas)),
        "SA50": float(np.mean(sa50s)),
        "class_accuracy": correct / max(matched, 1),
        "matched_nuclei": matched,
        "gt_nuclei": n_gt,
        "point_median_iou": float(np.median(point_all)),
        "box_median_iou": float(np.median(box_all)),
    }


def main() -> None:
    """Parse arguments, evaluate and print the metrics as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=Path("tests/fixtures/tiny_model"))
    parser.add_argument("--n-images", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the metrics here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()
    metrics = evaluate(args.model_dir, args.n_images)
    metrics["seconds"] = round(time.time() - start, 1)
    text = json.dumps(metrics, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
