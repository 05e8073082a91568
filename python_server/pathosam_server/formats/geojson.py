"""QuPath GeoJSON: nuclei out as detections (drag-and-drop importable), annotations in.

QuPath's schema: a Feature per object with ``properties.objectType`` ("detection", "annotation"),
``classification`` {name, color}, and ``measurements`` {name: value}.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Union

import shapely
from shapely.geometry import shape

from ..classes import COLOUR_BY_NAME, PROBABILITY_MEASUREMENT, SCORE_MEASUREMENT, UNKNOWN_CLASS_COLOUR, rgb_triple
from ..errors import SourceError
from ..files import atomic_write
from ..geometry.polygons import polygonal_part
from ..records import Annotation, NucleusRecord

log = logging.getLogger(__name__)


def nucleus_feature(n: NucleusRecord) -> dict:
    """One QuPath detection feature (level-0 coordinates).

    Args:
        n: The nucleus.

    Returns:
        A GeoJSON Feature with QuPath's ``objectType``, ``classification`` and ``measurements``.
    """
    props: dict = {
        "objectType": "detection",
        "measurements": {SCORE_MEASUREMENT: round(n.score, 6)},
    }
    if n.class_name:
        rgb = COLOUR_BY_NAME.get(n.class_name, UNKNOWN_CLASS_COLOUR)
        props["classification"] = {"name": n.class_name, "color": list(rgb_triple(rgb))}
        props["measurements"][PROBABILITY_MEASUREMENT] = round(n.class_probability, 6)
    return {
        "type": "Feature",
        "id": str(uuid.uuid4()),
        "geometry": shapely.geometry.mapping(n.geometry),
        "properties": props,
    }


def write_geojson(nuclei: Iterable[NucleusRecord], path: Union[str, os.PathLike]) -> int:
    """Write a FeatureCollection atomically, so a crash never leaves half a file.

    Args:
        nuclei: The nuclei.
        path: Output file.

    Returns:
        Number of features written.
    """
    return write_features([nucleus_feature(n) for n in nuclei], path)


def write_features(features: list[dict], path: Union[str, os.PathLike]) -> int:
    """Write ready-made features as a FeatureCollection, atomically.

    Args:
        features: GeoJSON features.
        path: Output file.

    Returns:
        Number of features written.
    """
    atomic_write(path, json.dumps({"type": "FeatureCollection", "features": features}))
    return len(features)


def read_annotation_geojson(path: Path) -> list[Annotation]:
    """Annotations from a QuPath GeoJSON export (FeatureCollection, feature list or one feature).

    Detections, cells and tiles in the file are ignored; invalid polygons are repaired as QuPath does
    (make_valid), and non-polygonal shapes (points, lines) are skipped.

    Args:
        path: The .geojson file.

    Returns:
        The annotations.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SourceError(f"cannot read annotations '{path}': {err}") from err
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features", [])
    elif isinstance(data, list):
        features = data
    elif isinstance(data, dict) and data.get("type") == "Feature":
        features = [data]
    else:
        raise SourceError(f"'{path}' is not GeoJSON (expected a FeatureCollection, a Feature or a list of Features)")
    out = []
    for f in features:
        props = (f or {}).get("properties") or {}
        if props.get("objectType", "annotation") != "annotation" or not f.get("geometry"):
            continue
        try:
            geom = polygonal_part(shapely.make_valid(shape(f["geometry"])))
        except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as err:
            log.warning("%s: skipping an annotation with a broken geometry (%s)", path.name, err)
            continue
        if geom.is_empty:
            continue
        cls = props.get("classification")
        cls_name = cls.get("name", "") if isinstance(cls, dict) else (cls if isinstance(cls, str) else "")
        out.append(Annotation(geom, cls_name or "", str(props.get("name") or "")))
    return out
