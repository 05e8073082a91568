"""Torch dataset over synthetic H&E-like nuclei, with the targets micro-sam's training expects.

A module of its own (not inside the training script) so that data-loader workers can unpickle it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset
from torch_em.transform.label import PerObjectDistanceTransform

from pathosam_server._testing.synthetic import make_sample


class SyntheticNucleiDataset(Dataset):
    """Synthetic tiles, one per seed: ``seed_offset + index``.

    Each item is ``(image, instances, distances, semantic)``:
    image float32 (3, H, W) in [0, 255] (SAM normalises itself); instances int64 (1, H, W);
    distances float32 (3, H, W) = foreground, centre distances, boundary distances, exactly as
    micro-sam's ``train_instance_segmentation`` builds them with torch-em's ``PerObjectDistanceTransform``;
    semantic int64 (H, W) with class ids 0..5.

    Args:
        length: Number of items.
        seed_offset: Seed of the first item; keep training and evaluation ranges disjoint.
        shape: Tile shape (H, W).
        density_range: Each tile's density is drawn uniformly from this range (seeded per item).
    """

    def __init__(
        self,
        length: int,
        seed_offset: int = 0,
        shape: tuple[int, int] = (512, 512),
        density_range: tuple[float, float] = (0.6, 1.6),
    ) -> None:
        self.length = length
        self.seed_offset = seed_offset
        self.shape = shape
        self.density_range = density_range
        self.distance_transform = PerObjectDistanceTransform(
            distances=True, boundary_distances=True, directed_distances=False,
            foreground=True, instances=False, min_size=25,
        )

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        seed = self.seed_offset + int(index)
        density = np.random.default_rng([seed, 1]).uniform(*self.density_range)
        sample = make_sample(seed, self.shape, density=float(density))
        image = torch.from_numpy(sample.image.transpose(2, 0, 1).astype(np.float32))
        instances = torch.from_numpy(sample.instances.astype(np.int64))[None]
        distances = torch.from_numpy(self.distance_transform(sample.instances).astype(np.float32))
        semantic = torch.from_numpy(sample.semantic.astype(np.int64))
        return image, instances, distances, semantic
