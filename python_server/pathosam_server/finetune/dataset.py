"""Training windows cut from the regions, with the targets micro-sam's trainers use.

Each item is one window of the model's input edge (512 working px for PathoSAM): a random place in a
region picked with probability proportional to its area. A region smaller than the window is padded
with SAM's mean colour, as the server pads small tiles, and the padding is masked out. A nucleus that
the window cuts is masked out as well, as a nucleus cut by the region's border is.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset
from torch_em.transform.label import PerObjectDistanceTransform

from ..inference.pipeline import SAM_PIXEL_MEAN
from .data import TrainingRegion

# Target channels: instances, the 3 AIS distance targets, the loss mask, the class map (-1 = not taught).
N_TARGET_CHANNELS = 6


class WindowDataset(Dataset):
    """Random windows over training regions (seeded: item ``i`` is the same window every epoch).

    Args:
        regions: The training regions.
        window: Window edge in working pixels.
        length: Items per epoch.
        seed: Seed of the window placement.
    """

    def __init__(self, regions: list[TrainingRegion], window: int, length: int, seed: int = 0) -> None:
        if not regions:
            raise ValueError("no regions")
        self.regions = regions
        self.window = window
        self.length = length
        self.seed = seed
        self.epoch = 0
        areas = np.array([float(r.valid.sum()) for r in regions])
        self.weights = areas / areas.sum() if areas.sum() > 0 else np.full(len(regions), 1 / len(regions))
        # micro-sam's AIS targets (train_instance_segmentation's label transform)
        self.distances = PerObjectDistanceTransform(
            distances=True, boundary_distances=True, directed_distances=False, foreground=True, instances=False,
            min_size=0,
        )  # fmt: skip

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        """New windows each epoch (torch_em's trainer calls this through the sampler when it can)."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        region = self.regions[int(rng.choice(len(self.regions), p=self.weights))]
        return window_targets(region, self.window, rng, self.distances)


def window_targets(
    region: TrainingRegion, window: int, rng: np.random.Generator, distances: PerObjectDistanceTransform
) -> tuple[torch.Tensor, torch.Tensor]:
    """One window of a region: the image and its stacked targets.

    Args:
        region: The region.
        window: Window edge in working pixels.
        rng: Where the window goes.
        distances: torch-em's transform to the AIS targets.

    Returns:
        (3, W, W) float32 image in 0..255 and (6, W, W) float32 targets (``N_TARGET_CHANNELS``).
    """
    h, w = region.instances.shape
    r0 = int(rng.integers(0, max(h - window, 0) + 1))
    c0 = int(rng.integers(0, max(w - window, 0) + 1))
    sl = (slice(r0, r0 + window), slice(c0, c0 + window))
    image = np.empty((window, window, 3), dtype=np.uint8)
    image[:] = SAM_PIXEL_MEAN  # as the server pads small tiles: what the encoder sees as nothing
    instances = np.zeros((window, window), dtype=np.int64)
    valid = np.zeros((window, window), dtype=bool)
    crop = region.instances[sl]
    ch, cw = crop.shape
    image[:ch, :cw] = region.pixels[sl]
    instances[:ch, :cw] = crop
    valid[:ch, :cw] = region.valid[sl]
    # nuclei the window cuts: on the window's edge but reaching past it in the region
    cut = set()
    for edge, inner in (
        (crop[0, :], r0 > 0), (crop[-1, :], r0 + window < h), (crop[:, 0], c0 > 0), (crop[:, -1], c0 + window < w),
    ):  # fmt: skip
        if inner:
            cut.update(np.unique(edge).tolist())
    cut.discard(0)
    if cut:
        mask = np.isin(instances, list(cut))
        valid &= ~mask
        instances[mask] = 0
    lut = np.zeros(int(region.instances.max()) + 1, dtype=np.int64)
    for i, c in region.classes.items():
        lut[i] = c
    semantic = lut[instances]
    # unclassified nuclei teach "nucleus" to the instance decoder but no class: their pixels are not taught
    unclassified = [i for i, c in region.classes.items() if c == 0]
    if unclassified:
        semantic[np.isin(instances, unclassified)] = -1
    semantic[~valid] = -1
    targets = np.concatenate(
        [instances[None].astype(np.float32), distances(instances).astype(np.float32),
         valid[None].astype(np.float32), semantic[None].astype(np.float32)], axis=0,
    )  # fmt: skip
    x = torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32))
    return x, torch.from_numpy(targets)
