"""How well a model segments held-out regions, measured through the server's own tiled pipeline.

So the figures in a model card are what ``pathosam serve`` will return: the same tiles, halo, seam
rule and classes. Segmentation accuracy is micro-sam's (``elf.evaluation.mean_segmentation_accuracy``:
mSA over IoU 0.5:0.05:0.95, and SA50); class accuracy is over ground-truth nuclei with a class that a
predicted nucleus matches at IoU >= 0.5.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from elf.evaluation import mean_segmentation_accuracy

from ..formats.images import ArraySource
from ..geometry import polygons
from ..inference.models import LoadedModel
from ..inference.regions import segment_region
from ..records import Params, Rect
from .data import TrainingRegion


@dataclass
class Scores:
    """Validation figures (means over regions with nuclei; class accuracy over all matched nuclei)."""

    msa: float
    sa50: float
    class_accuracy: float
    nuclei: int
    matched_with_class: int

    def as_dict(self) -> dict:
        """Plain dict for JSON and the model card."""
        return asdict(self)


def evaluate(model: LoadedModel, regions: list[TrainingRegion], params: Params = Params()) -> Scores:
    """Segment each region like the server and compare with its nuclei.

    Predicted nuclei mostly (by area) on masked pixels are left out: the truth there is not known.

    Args:
        model: The model.
        regions: Regions with ground truth.
        params: Segmentation parameters.

    Returns:
        The scores.
    """
    msa, sa50 = [], []
    right = total = nuclei = 0
    names = model.spec.class_names
    for region in regions:
        h, w = region.instances.shape
        found = list(segment_region(model, ArraySource(region.pixels), Rect(0, 0, w, h), 1.0, params))
        pred = polygons.rasterize([(i + 1, n.geometry) for i, n in enumerate(found)], (h, w))
        ids = np.unique(pred[pred > 0])
        if len(ids):
            inside = np.bincount(pred[region.valid], minlength=pred.max() + 1)
            size = np.bincount(pred.ravel(), minlength=pred.max() + 1)
            dropped = [i for i in ids if inside[i] < 0.5 * size[i]]
            pred[np.isin(pred, dropped)] = 0
        gt = region.instances
        nuclei += len(region.classes)
        if not region.classes:
            continue
        m, (s50, *_) = mean_segmentation_accuracy(pred, gt, return_accuracies=True)
        msa.append(float(m))
        sa50.append(float(s50))
        for p_id, g_id in _matches(pred, gt).items():
            g_cls = region.classes.get(g_id, 0)
            if g_cls == 0:
                continue
            total += 1
            right += int(found[p_id - 1].class_name == names[g_cls - 1])
    return Scores(
        msa=float(np.mean(msa)) if msa else 0.0,
        sa50=float(np.mean(sa50)) if sa50 else 0.0,
        class_accuracy=right / total if total else 0.0,
        nuclei=nuclei,
        matched_with_class=total,
    )


def _matches(pred: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> dict[int, int]:
    """Predicted id -> ground-truth id for pairs with IoU >= threshold (unique when threshold >= 0.5)."""
    both = (pred > 0) & (gt > 0)
    pairs, overlap = np.unique(np.stack([pred[both], gt[both]]), axis=1, return_counts=True)
    p_size = np.bincount(pred.ravel())
    g_size = np.bincount(gt.ravel())
    out = {}
    for (p, g), inter in zip(pairs.T, overlap):
        if inter / (p_size[p] + g_size[g] - inter) >= threshold:
            out[int(p)] = int(g)
    return out
