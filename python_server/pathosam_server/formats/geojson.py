"""QuPath GeoJSON: nuclei out as detections (drag-and-drop importable), annotations in.

QuPath's schema: a Feature per object with ``properties.objectType`` ("detection", "cell",
"annotation"), ``classification`` {name, color}, and ``measurements`` {name: value}; a cell's Feature
has the cell outline as ``geometry`` and its nucleus as ``nucleusGeometry``. The FeatureCollection
carries the run's provenance as a foreign member ``"pathosam"`` (QuPath reads only the features).
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Optional, Union

import shapely
from shapely.geometry import shape

from ..classes import (
    COLOUR_BY_NAME,
    PROBABILITY_MEASUREMENT,
    SCORE_MEASUREMENT,
    UNKNOWN_CLASS_COLOUR,
    class_colour,
    rgb_triple,
)
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
        "objectType": "detection" if n.cell_geometry is None else "cell",
        "measurements": {SCORE_MEASUREMENT: round(n.score, 6)},
    }
    if n.class_name:
        # a fine-tuned model's own classes get the palette colour GetInfo reports for them
        rgb = (
            class_colour(n.class_name, n.class_id - 1)
            if n.class_id > 0
            else COLOUR_BY_NAME.get(n.class_name, UNKNOWN_CLASS_COLOUR)
        )
        props["classification"] = {"name": n.class_name, "color": list(rgb_triple(rgb))}
        props["measurements"][PROBABILITY_MEASUREMENT] = round(n.class_probability, 6)
    # NaN is not JSON: QuPath writes a missing value by leaving the measurement out
    props["measurements"].update({k: v for k, v in n.measurements.items() if math.isfinite(v)})
    feature: dict[str, Any] = {"type": "Feature", "id": str(uuid.uuid4())}
    if n.cell_geometry is None:
        feature["geometry"] = shapely.geometry.mapping(n.geometry)
    else:
        feature["geometry"] = shapely.geometry.mapping(n.cell_geometry)
        feature["nucleusGeometry"] = shapely.geometry.mapping(n.geometry)
    feature["properties"] = props
    return feature


def write_geojson(
    nuclei: Iterable[NucleusRecord], path: Union[str, os.PathLike], provenance: Optional[dict] = None
) -> int:
    """Write a FeatureCollection atomically, so a crash never leaves half a file.

    Args:
        nuclei: The nuclei.
        path: Output file.
        provenance: What made them (``inference.provenance.describe``), kept as the member "pathosam".

    Returns:
        Number of features written.
    """
    return write_features([nucleus_feature(n) for n in nuclei], path, provenance)


def write_features(features: list[dict], path: Union[str, os.PathLike], provenance: Optional[dict] = None) -> int:
    """Write ready-made features as a FeatureCollection, atomically.

    Args:
        features: GeoJSON features.
        path: Output file.
        provenance: Optional provenance, kept as the FeatureCollection's member "pathosam".

    Returns:
        Number of features written.
    """
    data: dict = {"type": "FeatureCollection", "features": features}
    if provenance is not None:
        data["pathosam"] = provenance
    atomic_write(path, json.dumps(data))
    return len(features)


def read_provenance(path: Path) -> Optional[dict]:
    """The provenance a file of ours records (None: not there, e.g. a QuPath export)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SourceError(f"cannot read '{path}': {err}") from err
    return data.get("pathosam") if isinstance(data, dict) else None


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


def read_objects_geojson(path: Path) -> list[Annotation]:
    """Every polygonal object of a QuPath GeoJSON export, annotations and detections alike.

    Fine-tuning reads its regions and nuclei from here: a nucleus may be drawn by hand (an annotation)
    or be a detection corrected by hand; for a cell, its nucleus outline is the object.

    Args:
        path: The .geojson file.

    Returns:
        One Annotation (outline, class name, name) per object, in file order.
    """
    out = []
    for geom, props, cls_name in _polygons(path, "object", ("annotation", "detection", "cell"), repair=True):
        nucleus = props.get("_nucleus")
        if props.get("objectType") == "cell" and isinstance(nucleus, dict):
            geom = polygonal_part(shapely.make_valid(shape(nucleus)))
        out.append(Annotation(geom, cls_name, str(props.get("name") or "")))
    return out


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
        if f.get("nucleusGeometry"):
            props = dict(props, _nucleus=f["nucleusGeometry"])
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

    The inverse of ``nucleus_feature`` as far as the file holds it: outline, class, score, class
    probability, measurements and, for a cell, its outline (the nucleus is its ``nucleusGeometry``);
    area and centroid come from the outline (the file has no mask), and whether a nucleus touched its
    tile's edge is not in the file (False).

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
        cell = None
        if props.get("objectType") == "cell" and isinstance(nucleus := props.pop("_nucleus", None), dict):
            cell, geom = geom, polygonal_part(shape(nucleus))
        c = geom.centroid
        extra = {
            k: float(v)
            for k, v in m.items()
            if k not in (SCORE_MEASUREMENT, PROBABILITY_MEASUREMENT) and isinstance(v, (int, float))
        }
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
                measurements=extra,
                cell_geometry=cell,
            )
        )
    return out
