"""A slide-like synthetic region: tissue islands on glass, with the nuclei a background skip could lose.

``make_slide_region`` lays ``synthetic.make_sample`` tissue into islands on bright glass (the scanner's
grey with noise), and adds what a tissue test must not drop: faint and small nuclei just outside the
tissue edge, and isolated nuclei alone on the glass, far from any tissue. Deterministic from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .synthetic import SyntheticSample, make_sample

GLASS_RGB = (242.0, 241.0, 244.0)  # a clean scan of glass: bright, nearly grey
_H_VEC = np.array([0.65, 0.70, 0.29], dtype=np.float32)  # hematoxylin OD per unit (as synthetic.py)


@dataclass
class SlideRegion:
    """A synthetic region with glass.

    Attributes:
        sample: Image and ground truth (instances include the nuclei added on glass).
        tissue: (H, W) bool, where the tissue islands are (the added nuclei excluded).
        isolated: (x, y) centres of the nuclei put alone on glass.
        faint: (x, y) centres of the faint / small nuclei put just outside tissue edges.
    """

    sample: SyntheticSample
    tissue: np.ndarray
    isolated: list[tuple[int, int]] = field(default_factory=list)
    faint: list[tuple[int, int]] = field(default_factory=list)


def _glass(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    noise = rng.normal(0.0, 3.0, size=(*shape, 3))
    return np.asarray(GLASS_RGB, dtype=np.float64) + noise


def _islands(rng: np.random.Generator, shape: tuple[int, int], fraction: float) -> np.ndarray:
    """Smooth blobs covering about ``fraction`` of the area, mostly on the left of the region (glass on the right)."""
    h, w = shape
    # The smooth field is drawn at 1/16 resolution and zoomed: a full-size Gaussian of sigma ~150 px takes
    # tens of seconds.
    small = (max(4, h // 16), max(4, w // 16))
    coarse = ndimage.gaussian_filter(rng.normal(size=small), sigma=min(small) / 10)
    field_ = ndimage.zoom(coarse, (h / small[0], w / small[1]), order=1)[:h, :w]
    xx = np.arange(w)[None, :]
    field_ = field_ / (field_.std() + 1e-9) - 8.0 * (xx / w)  # tissue to the left, glass to the right
    return field_ > np.quantile(field_, 1.0 - fraction)


def _add_nucleus(
    image: np.ndarray, instances: np.ndarray, centre: tuple[int, int], radius: float, h_level: float, label: int
) -> None:
    """Paint one round nucleus (hematoxylin only, Beer-Lambert on the glass colour) and label it."""
    x, y = centre
    r = int(np.ceil(radius)) + 3
    y0, y1, x0, x1 = max(0, y - r), min(image.shape[0], y + r + 1), max(0, x - r), min(image.shape[1], x + r + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    disk = (yy - y) ** 2 + (xx - x) ** 2 <= radius**2
    soft = ndimage.gaussian_filter(disk.astype(np.float64), 0.8)
    od = soft[..., None] * h_level * _H_VEC
    image[y0:y1, x0:x1] = image[y0:y1, x0:x1] * np.exp(-od)
    instances[y0:y1, x0:x1][disk] = label


def make_slide_region(
    seed: int, shape: tuple[int, int] = (1536, 1536), tissue_fraction: float = 0.4, isolated: int = 3
) -> SlideRegion:
    """Build a half-glass region (see the module docstring).

    Args:
        seed: Seed of the numpy random generator.
        shape: (height, width) of the region.
        tissue_fraction: Share of the area covered by tissue islands.
        isolated: How many nuclei to put alone on glass (at most 3).

    Returns:
        The region and where its special nuclei are.
    """
    rng = np.random.default_rng(seed)
    base = make_sample(seed, shape=shape)
    islands = _islands(rng, shape, tissue_fraction)
    # A nucleus crossing an island's edge stays whole (tissue ends between nuclei, not through them).
    touching = np.unique(base.instances[islands & (base.instances > 0)])
    whole = islands | np.isin(base.instances, touching[touching > 0])
    tissue = ndimage.binary_closing(whole, iterations=2)
    image = np.where(tissue[..., None], base.image.astype(np.float64), _glass(rng, shape))
    instances = np.where(tissue, base.instances, 0).astype(np.int32)
    kept = set(np.unique(instances).tolist())
    classes = {int(i): c for i, c in base.classes.items() if i in kept}
    next_label = int(instances.max()) + 1
    h, w = shape
    out = SlideRegion(sample=base, tissue=tissue)
    # Faint and small nuclei 12-20 px outside the tissue edge (a pale epithelial, a tiny dark lymphocyte).
    dist = ndimage.distance_transform_edt(~tissue)
    ring = np.argwhere((dist > 12) & (dist < 20))
    for radius, level, cls in [(10.0, 0.55, 5), (4.5, 1.8, 2), (7.0, 0.5, 5), (5.0, 0.6, 2)]:
        if len(ring) == 0:
            break
        y, x = ring[rng.integers(len(ring))]
        _add_nucleus(image, instances, (int(x), int(y)), radius, level, next_label)
        classes[next_label] = cls
        out.faint.append((int(x), int(y)))
        next_label += 1
    # Isolated nuclei alone on glass, at least 300 px from tissue: dark small, faint medium, faint tiny.
    far = np.argwhere(dist > 300)
    for radius, level, cls in [(6.0, 2.0, 2), (9.0, 0.6, 5), (4.0, 0.8, 2)][:isolated]:
        if len(far) == 0:
            break
        y, x = far[rng.integers(len(far))]
        x, y = int(np.clip(x, 20, w - 21)), int(np.clip(y, 20, h - 21))
        _add_nucleus(image, instances, (x, y), radius, level, next_label)
        classes[next_label] = cls
        out.isolated.append((x, y))
        far = far[np.hypot(far[:, 1] - x, far[:, 0] - y) > 400]  # keep them apart (own tiles)
        next_label += 1
    rgb = np.clip(image, 0, 255).astype(np.uint8)
    lut = np.zeros(next_label, dtype=np.uint8)
    for i, c in classes.items():
        lut[i] = c
    out.sample = SyntheticSample(image=rgb, instances=instances, classes=classes, semantic=lut[instances])
    return out
