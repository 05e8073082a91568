"""Synthetic H&E-like nucleus images with exact ground truth.

The project cannot download PathoSAM weights or real data in CI, so it trains a tiny model on these
images and its tests assert segmentation quality, seams, coordinates and classes against this ground
truth. Everything is deterministic from one integer seed (numpy ``Generator`` only).

Rendering follows a Beer-Lambert stain model: every pixel has a hematoxylin and an eosin
concentration, and RGB = 255 * exp(-(h * H + e * E)) with Ruifrok-like stain vectors. The five
PanNuke classes differ clearly in size, shape, stain darkness, hue and texture so that a small model
can learn them:

==  ============  ==============================================================================
id  name          appearance
==  ============  ==============================================================================
1   Neoplastic    large (r 16-26), irregular boundary, dark rim, pale vesicular core, clumps
2   Inflammatory  small (r 6-9), round, smooth, very dark blue, uniform
3   Connective    elongated spindle (aspect 3-5), medium purple, oriented streaks
4   Dead          small (r 6-10), lobed/shrunken, near-black magenta, pale halo around it
5   Epithelial    medium (r 10-14) round-oval, pale lilac, fine granules, in clusters
==  ============  ==============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from ..classes import CLASS_NAMES

# Optical-density stain vectors (R, G, B); hematoxylin absorbs red/green -> blue-purple, eosin absorbs green -> pink.
_H_VEC = np.array([0.65, 0.70, 0.29], dtype=np.float32)
_E_VEC = np.array([0.07, 0.99, 0.11], dtype=np.float32)

# Per class: radius range (semi-minor for spindles), aspect range, boundary irregularity,
# hematoxylin level, eosin mixed into the nucleus (hue shift), texture amplitude, relative frequency.
_CLASS_PARAMS: dict[int, dict[str, Any]] = {
    1: dict(radius=(16.0, 26.0), aspect=(1.0, 1.5), irregular=0.10, h=1.25, e=0.10, texture=0.55, freq=0.16),
    2: dict(radius=(6.0, 9.0), aspect=(1.0, 1.15), irregular=0.02, h=2.1, e=0.0, texture=0.05, freq=0.24),
    3: dict(radius=(4.5, 7.0), aspect=(3.0, 5.0), irregular=0.03, h=1.1, e=0.15, texture=0.25, freq=0.18),
    4: dict(radius=(6.0, 10.0), aspect=(1.0, 1.3), irregular=0.22, h=2.3, e=0.9, texture=0.10, freq=0.12),
    5: dict(radius=(10.0, 14.0), aspect=(1.1, 1.5), irregular=0.03, h=0.7, e=0.05, texture=0.30, freq=0.30),
}

_NUCLEI_PER_MEGAPIXEL = 520.0  # at density 1.0: roughly 20-25 % of the area is nuclei
_MAX_OVERLAP = 0.3  # reject a nucleus whose mask would cover more than this fraction of existing nuclei
_MIN_AREA = 30  # instances (or their surviving piece) smaller than this are dropped


@dataclass
class SyntheticSample:
    """One synthetic image with its ground truth.

    Attributes:
        image: RGB image, shape (H, W, 3), uint8.
        instances: Instance labels, shape (H, W), int32; 0 is background, nuclei are 1..N.
        classes: Instance id -> PanNuke class id (1..5).
        semantic: Class id per pixel, shape (H, W), uint8; 0 is background.
    """

    image: np.ndarray
    instances: np.ndarray
    classes: dict[int, int]
    semantic: np.ndarray


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise, rescaled to unit standard deviation.

    Args:
        rng: The random generator.
        shape: Output shape (H, W).
        sigma: Gaussian sigma in pixels; larger means smoother.

    Returns:
        Float32 noise field with mean ~0 and std ~1.
    """
    # Filter at a reduced resolution for large sigmas: same look, far less work.
    step = max(1, int(sigma // 4))
    small = (shape[0] // step + 2, shape[1] // step + 2)
    noise = ndimage.gaussian_filter(rng.standard_normal(small).astype(np.float32), sigma / step, mode="wrap")
    if step > 1:
        noise = ndimage.zoom(noise, step, order=1)[: shape[0], : shape[1]]
    else:
        noise = noise[: shape[0], : shape[1]]
    return (noise - noise.mean()) / (noise.std() + 1e-6)


def _nucleus_mask(rng: np.random.Generator, radius: float, aspect: float, irregular: float, angle: float) -> np.ndarray:
    """A boolean nucleus mask in its own bounding box: ellipse with a wavy (harmonic) boundary.

    Args:
        rng: The random generator.
        radius: Semi-minor axis in pixels.
        aspect: Semi-major / semi-minor ratio.
        irregular: Amplitude of the boundary harmonics relative to the radius.
        angle: Orientation of the major axis in radians.

    Returns:
        Boolean mask of odd size centred on the nucleus centre.
    """
    semi_major = radius * aspect
    half = int(np.ceil(semi_major * (1.0 + 3 * irregular))) + 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    cos, sin = np.cos(angle), np.sin(angle)
    u = (xx * cos + yy * sin) / semi_major  # coordinates in the ellipse frame, unit = semi-axis
    v = (-xx * sin + yy * cos) / radius
    rho = np.sqrt(u * u + v * v)
    theta = np.arctan2(v, u)
    boundary = np.ones_like(theta)
    for k in (2, 3, 4, 5):
        amp = irregular * rng.uniform(0.3, 1.0) / (k - 1) ** 0.5
        boundary += amp * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return rho <= boundary


def _centres(rng: np.random.Generator, cls: int, n: int, shape: tuple[int, int]) -> np.ndarray:
    """Candidate centres (row, col) for n nuclei of one class.

    Epithelial nuclei come in tight clusters (glands/nests), inflammatory cells in loose groups,
    the others scattered, so density varies across the image.

    Args:
        rng: The random generator.
        cls: Class id.
        n: Number of centres.
        shape: Image shape (H, W).

    Returns:
        Float array of shape (n, 2).
    """
    h, w = shape
    if cls in (2, 5) and n > 0:
        n_clusters = max(1, int(round(n / (12 if cls == 5 else 6))))
        spread = 28.0 if cls == 5 else 40.0
        hubs = rng.uniform((0, 0), (h, w), size=(n_clusters, 2))
        pts = hubs[rng.integers(0, n_clusters, size=n)] + rng.normal(0, spread, size=(n, 2))
        return np.clip(pts, 0, (h - 1, w - 1))
    return rng.uniform((0, 0), (h, w), size=(n, 2))


def _place_nuclei(rng: np.random.Generator, shape: tuple[int, int], density: float) -> tuple[np.ndarray, np.ndarray]:
    """Draw nuclei into a label image; a later nucleus overwrites earlier ones where they overlap.

    Args:
        rng: The random generator.
        shape: Image shape (H, W).
        density: Multiplier on the number of nuclei.

    Returns:
        Raw labels (int32, ids in drawing order, possibly fragmented) and the class per id (index = id).
    """
    h, w = shape
    n_total = rng.poisson(_NUCLEI_PER_MEGAPIXEL * density * h * w / 1e6)
    weights = np.array([_CLASS_PARAMS[c]["freq"] for c in CLASS_NAMES]) * rng.uniform(0.6, 1.4, size=5)
    counts = rng.multinomial(n_total, weights / weights.sum())
    order = np.concatenate([np.full(c, cls) for cls, c in zip(CLASS_NAMES, counts)]).astype(np.int64)
    centres = np.concatenate([_centres(rng, cls, c, shape) for cls, c in zip(CLASS_NAMES, counts)])
    perm = rng.permutation(len(order))
    order, centres = order[perm], centres[perm]

    labels = np.zeros(shape, dtype=np.int32)
    id_class = [0]
    for cls, (cy, cx) in zip(order, centres):
        p = _CLASS_PARAMS[int(cls)]
        mask = _nucleus_mask(
            rng, rng.uniform(*p["radius"]), rng.uniform(*p["aspect"]), p["irregular"], rng.uniform(0, np.pi)
        )
        half = mask.shape[0] // 2
        y0, x0 = int(cy) - half, int(cx) - half
        # Clip the mask's box to the image.
        sy0, sx0 = max(0, -y0), max(0, -x0)
        ty0, tx0 = max(0, y0), max(0, x0)
        ty1, tx1 = min(h, y0 + mask.shape[0]), min(w, x0 + mask.shape[1])
        if ty1 <= ty0 or tx1 <= tx0:
            continue
        m = mask[sy0 : sy0 + ty1 - ty0, sx0 : sx0 + tx1 - tx0]
        area = m.sum()
        if area < _MIN_AREA:
            continue
        window = labels[ty0:ty1, tx0:tx1]
        if np.count_nonzero(window[m]) > _MAX_OVERLAP * area:
            continue
        window[m] = len(id_class)
        id_class.append(int(cls))
    return labels, np.array(id_class, dtype=np.int64)


def _clean_labels(labels: np.ndarray, id_class: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Keep only the largest piece of each instance, drop tiny ones, relabel to 1..N.

    Args:
        labels: Raw labels from drawing.
        id_class: Class per raw id.

    Returns:
        Clean consecutive labels and the instance -> class mapping.
    """
    out = np.zeros_like(labels)
    classes: dict[int, int] = {}
    for raw_id, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        obj = labels[sl] == raw_id
        pieces, n = ndimage.label(obj)
        if n > 1:
            sizes = np.bincount(pieces.ravel())[1:]
            obj = pieces == (np.argmax(sizes) + 1)
        if obj.sum() < _MIN_AREA:
            continue
        new_id = len(classes) + 1
        out[sl][obj] = new_id
        classes[new_id] = int(id_class[raw_id])
    return out, classes


def _render(rng: np.random.Generator, instances: np.ndarray, classes: dict[int, int]) -> np.ndarray:
    """Render the H&E-like RGB image for given ground-truth instances.

    Args:
        rng: The random generator.
        instances: Clean instance labels.
        classes: Instance id -> class id.

    Returns:
        RGB uint8 image.
    """
    shape = instances.shape
    n = int(instances.max())
    cls_of = np.zeros(n + 1, dtype=np.int64)
    for i, c in classes.items():
        cls_of[i] = c
    pix_cls = cls_of[instances]
    fg = instances > 0

    # Background: pink eosin with slow variation, fibres along noise iso-lines, pale gaps.
    e = 0.42 + 0.10 * _smooth_noise(rng, shape, 40.0)
    for sigma, weight in ((14.0, 0.45), (7.0, 0.3)):
        ridge = np.exp(-((_smooth_noise(rng, shape, sigma) / 0.12) ** 2))
        e += weight * ridge
    e += 0.15 * np.clip(_smooth_noise(rng, shape, 60.0), None, -0.8)  # a few paler areas
    h = 0.06 + 0.03 * _smooth_noise(rng, shape, 20.0)

    # Per-class stain levels looked up per pixel; per-nucleus jitter keeps classes overlapping a little.
    jitter = rng.uniform(0.85, 1.15, size=n + 1).astype(np.float32)
    h_level = np.array([0.0] + [_CLASS_PARAMS[c]["h"] for c in CLASS_NAMES], dtype=np.float32)[pix_cls]
    e_level = np.array([0.0] + [_CLASS_PARAMS[c]["e"] for c in CLASS_NAMES], dtype=np.float32)[pix_cls]
    tex_amp = np.array([0.0] + [_CLASS_PARAMS[c]["texture"] for c in CLASS_NAMES], dtype=np.float32)[pix_cls]
    h_level = h_level * jitter[instances]

    # Distance to the nucleus border (touching neighbours count as border) shapes rims and cores.
    border = np.zeros(shape, dtype=bool)
    border[:-1] |= instances[:-1] != instances[1:]
    border[1:] |= instances[:-1] != instances[1:]
    border[:, :-1] |= instances[:, :-1] != instances[:, 1:]
    border[:, 1:] |= instances[:, :-1] != instances[:, 1:]
    dist = ndimage.distance_transform_edt(fg & ~border).astype(np.float32)
    rim = np.exp(-dist / 2.0)  # 1 at the membrane, fading inwards

    fine = _smooth_noise(rng, shape, 1.2)
    medium = _smooth_noise(rng, shape, 3.0)
    texture = np.ones(shape, dtype=np.float32)
    # Neoplastic: vesicular (pale core, dark rim) with coarse chromatin clumps.
    neo = pix_cls == 1
    texture[neo] = 0.55 + 0.6 * rim[neo] + tex_amp[neo] * np.clip(medium[neo], 0, None)
    # Connective: streaky chromatin; Epithelial: fine granules; others: nearly uniform.
    other = fg & ~neo
    texture[other] = 1.0 + tex_amp[other] * fine[other] + 0.25 * rim[other]
    h = np.where(fg, h_level * np.clip(texture, 0.3, None), h)
    e = np.where(fg, e_level + 0.08, e)

    # Dead cells: shrunken dark body in a pale retraction halo.
    dead = np.isin(instances, [i for i, c in classes.items() if c == 4])
    halo = ndimage.binary_dilation(dead, iterations=4) & ~fg
    e = np.where(halo, e * 0.25, e)

    od = h[..., None] * _H_VEC + np.clip(e, 0, None)[..., None] * _E_VEC
    od = ndimage.gaussian_filter(od, sigma=(0.8, 0.8, 0))  # optical blur
    rgb = 255.0 * np.exp(-od) + rng.normal(0, 4.0, size=od.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def make_sample(seed: int, shape: tuple[int, int] = (512, 512), density: float = 1.0) -> SyntheticSample:
    """Generate one synthetic H&E-like image with ground truth.

    Args:
        seed: Seed of the numpy random generator; the same seed always gives the same sample.
        shape: Image shape as (height, width).
        density: Multiplier on the number of nuclei (1.0 is a typical tissue).

    Returns:
        The sample.
    """
    shape = (int(shape[0]), int(shape[1]))
    rng = np.random.default_rng(seed)
    raw, id_class = _place_nuclei(rng, shape, density)
    instances, classes = _clean_labels(raw, id_class)
    semantic = np.zeros(shape, dtype=np.uint8)
    lut = np.zeros(len(classes) + 1, dtype=np.uint8)
    for i, c in classes.items():
        lut[i] = c
    semantic = lut[instances]
    image = _render(rng, instances, classes)
    return SyntheticSample(image=image, instances=instances, classes=classes, semantic=semantic)


def make_region(seed: int, shape: tuple[int, int] = (1536, 2048)) -> SyntheticSample:
    """Generate a large region (e.g. for tiling and seam tests).

    Args:
        seed: Seed of the numpy random generator.
        shape: Region shape as (height, width).

    Returns:
        The sample.
    """
    return make_sample(seed, shape=shape)
