"""Nuclei as GeoJSON in QuPath's own schema (drag-and-drop importable as detections)."""
from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Iterable

import shapely

from .models import CLASS_COLOURS, CLASS_NAMES
from .pipeline import NucleusRecord

_COLOUR_BY_NAME = {name: CLASS_COLOURS[cid] for cid, name in CLASS_NAMES.items()}


def nucleus_feature(n: NucleusRecord) -> dict:
    """One QuPath detection feature (level-0 coordinates).

    Args:
        n: The nucleus.

    Returns:
        A GeoJSON Feature with QuPath's ``objectType``, ``classification`` and ``measurements``.
    """
    props: dict = {
        "objectType": "detection",
        "measurements": {"PathoSAM: score": round(n.score, 6)},
    }
    if n.class_name:
        rgb = _COLOUR_BY_NAME.get(n.class_name, 0x808080)
        props["classification"] = {"name": n.class_name, "color": [rgb >> 16, (rgb >> 8) & 255, rgb & 255]}
        props["measurements"]["PathoSAM: class probability"] = round(n.class_probability, 6)
    return {
        "type": "Feature",
        "id": str(uuid.uuid4()),
        "geometry": shapely.geometry.mapping(n.geometry),
        "properties": props,
    }


def write_geojson(nuclei: Iterable[NucleusRecord], path: str | os.PathLike) -> int:
    """Write a FeatureCollection atomically (temp file + rename), so a crash never leaves half a file.

    Args:
        nuclei: The nuclei.
        path: Output file.

    Returns:
        Number of features written.
    """
    path = Path(path)
    features = [nucleus_feature(n) for n in nuclei]
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"type": "FeatureCollection", "features": features}, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(features)
