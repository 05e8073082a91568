"""QuPath GeoJSON: nuclei out as detections (drag-and-drop importable), annotations in.

QuPath's schema: a Feature per object with ``properties.objectType`` ("detection", "annotation"),
``classification`` {name, color}, and ``measurements`` {name: value}.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Union

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
    return [
        Annotation(geom, cls_name, str(props.get("name") or ""))
        for geom, props, cls_name in _polygons(path, "annotation", ("annotation",), repair=True)
    ]


def _polygons(path: Path, what: str, kinds: tuple[str, ...], repair: bool) -> Iterator[tuple[Any, dict, str]]:
    """(polygonal geometry, properties, class name) of the file's features of some object types.

    Args:
        path: The .geojson file.
        what: What the features are, for messages.
        kinds: ``objectType`` values to keep (a feature without one is an annotation, as QuPath reads it).
        repair: Repair invalid polygons as QuPath does (make_valid).

    Yields:
        One tuple per non-empty polygonal feature; broken geometries are skipped with a warning.
    """
    for f in _features(path, what + "s"):
        props = (f or {}).get("properties") or {}
        if props.get("objectType", "annotation") not in kinds or not f.get("geometry"):
            continue
        try:
            geom = shape(f["geometry"])
            geom = polygonal_part(shapely.make_valid(geom) if repair else geom)
        except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as err:
            log.warning("%s: skipping a %s with a broken geometry (%s)", path.name, what, err)
            continue
        if geom.is_empty:
            continue
        cls = props.get("classification")
        cls_name = cls.get("name", "") if isinstance(cls, dict) else (cls if isinstance(cls, str) else "")
        yield geom, props, cls_name or ""


def _features(path: Path, what: str) -> list:
    """The features of a GeoJSON file (FeatureCollection, feature list or one feature)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SourceError(f"cannot read {what} '{path}': {err}") from err
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        return list(data.get("features", []))
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and data.get("type") == "Feature":
        return [data]
    raise SourceError(f"'{path}' is not GeoJSON (expected a FeatureCollection, a Feature or a list of Features)")


def read_detection_geojson(path: Path) -> list[NucleusRecord]:
    """Nuclei back from a GeoJSON file this project wrote (or any QuPath export of detections / cells).

    The inverse of ``nucleus_feature`` as far as the file holds it: outline, class, score and class
    probability; area and centroid come from the outline (the file has no mask), and whether a nucleus
    touched its tile's edge is not in the file (False).

    Args:
        path: The .geojson file.

    Returns:
        The nuclei, in file order.
    """
    out = []
    for geom, props, cls_name in _polygons(path, "detection", ("detection", "cell"), repair=False):
        m = props.get("measurements") or {}
        if isinstance(m, list):  # QuPath before 0.4 wrote [{name, value}]
            m = {e.get("name"): e.get("value") for e in m if isinstance(e, dict)}
        c = geom.centroid
        out.append(
            NucleusRecord(
                geometry=geom,
                score=float(m.get(SCORE_MEASUREMENT) or 0.0),
                area=float(geom.area),
                centroid_x=float(c.x),
                centroid_y=float(c.y),
                touches_tile_edge=False,
                class_name=cls_name,
                class_probability=float(m.get(PROBABILITY_MEASUREMENT) or 0.0),
            )
        )
    return out
