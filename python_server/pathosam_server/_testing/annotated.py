"""Annotated image folders for fine-tuning tests and evidence: synthetic tiles, their nuclei as QuPath
detections and "Training" / "Validation" regions as annotations, in QuPath's GeoJSON.

``shifted_sample`` makes another domain from the same generator: the stain's hue turned and nuclei
enlarged, as another scanner, stain batch or magnification would give.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import numpy as np
import tifffile
from scipy import ndimage
from shapely.geometry import box, mapping

from ..classes import CLASS_NAMES
from ..geometry.polygons import mask_to_geometry
from .synthetic import SyntheticSample, make_sample


def shifted_sample(
    seed: int, shape: tuple[int, int] = (512, 512), hue_turn: float = 0.0, zoom: float = 1.0
) -> SyntheticSample:
    """A synthetic sample from another domain.

    Args:
        seed: Generator seed.
        shape: Output (height, width).
        hue_turn: Rotation of the colours about the grey axis, in degrees (a stain of another hue).
        zoom: Magnification: nuclei are ``zoom`` times larger (the sample is drawn smaller and enlarged).

    Returns:
        The sample (image, instances, classes, semantic) at ``shape``.
    """
    small = (max(int(round(shape[0] / zoom)), 8), max(int(round(shape[1] / zoom)), 8))
    s = make_sample(seed, small)
    fy, fx = shape[0] / small[0], shape[1] / small[1]
    image = ndimage.zoom(s.image.astype(np.float32), (fy, fx, 1), order=1)[: shape[0], : shape[1]]
    instances = ndimage.zoom(s.instances, (fy, fx), order=0)[: shape[0], : shape[1]]
    semantic = ndimage.zoom(s.semantic, (fy, fx), order=0)[: shape[0], : shape[1]]
    if hue_turn:
        image = _turn_hue(image, hue_turn)
    present = set(np.unique(instances).tolist()) - {0}
    classes = {i: c for i, c in s.classes.items() if i in present}
    return SyntheticSample(np.clip(image, 0, 255).astype(np.uint8), instances, classes, semantic)


def _turn_hue(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate colours about the grey axis (a hue turn that keeps brightness)."""
    t = np.deg2rad(degrees)
    k = np.ones(3) / np.sqrt(3)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rot = np.eye(3) + np.sin(t) * kx + (1 - np.cos(t)) * kx @ kx
    return rgb @ rot.T


def nucleus_features(
    sample: SyntheticSample, classify: bool = True, names: Optional[dict[int, str]] = None
) -> list[dict]:
    """The sample's nuclei as QuPath detection features (level-0 = sample pixels).

    Args:
        sample: The sample.
        classify: Give each nucleus its class.
        names: Class id -> name (default PanNuke's).

    Returns:
        GeoJSON features.
    """
    names = names or CLASS_NAMES
    out = []
    for i in sorted(sample.classes):
        geom = mask_to_geometry(sample.instances == i)
        props: dict = {"objectType": "detection"}
        if classify:
            props["classification"] = {"name": names[sample.classes[i]]}
        out.append({"type": "Feature", "geometry": mapping(geom), "properties": props})
    return out


def region_feature(x0: float, y0: float, x1: float, y1: float, cls: str, geom=None) -> dict:
    """A region annotation (a rectangle unless ``geom`` is given)."""
    shape = geom if geom is not None else box(x0, y0, x1, y1)
    return {
        "type": "Feature",
        "geometry": mapping(shape),
        "properties": {"objectType": "annotation", "classification": {"name": cls}},
    }


def write_annotated_image(
    folder: Path, name: str, sample: SyntheticSample, regions: Sequence[dict], extra: Optional[list[dict]] = None,
    classify: bool = True,
    names: Optional[dict[int, str]] = None,
) -> Path:  # fmt: skip
    """Write ``NAME.tif`` and ``NAME.geojson`` (nuclei + regions) into ``folder``.

    Args:
        folder: Where to write.
        name: File stem.
        sample: The pixels and nuclei.
        regions: Region features (``region_feature``).
        extra: Further features (e.g. objects with unknown classes).
        classify: Give the nuclei their classes.
        names: Class id -> name for the nuclei (default PanNuke's).

    Returns:
        The image path.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.tif"
    tifffile.imwrite(path, sample.image, photometric="rgb")
    features = nucleus_features(sample, classify, names) + list(regions) + list(extra or [])
    (folder / f"{name}.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path
