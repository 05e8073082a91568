"""SegmentParams, StainVectors and Provenance messages <-> plain records, validating what clients send.

Split from ``wire`` (tiles, images, geometry) so that each stays short; errors are ``wire.invalid``
(INVALID_ARGUMENT with a message that says which field was wrong and why).
"""

from __future__ import annotations

import math
from typing import Any

from ..analysis.stains import Stains
from ..grpc_api import pathosam_pb2 as pb
from ..records import Params
from .wire import invalid


def _finite(name: str, value: float, lo: float, hi: float) -> float:
    if math.isnan(value) or math.isinf(value) or not lo <= value <= hi:
        raise invalid(f"{name} must be a number in [{lo}, {hi}], got {value}")
    return float(value)


def stains_from_proto(msg: pb.StainVectors) -> Stains:
    """A client's stain vectors (QuPath's ColorDeconvolutionStains) as a validated stain set."""
    for name in ("stain1", "stain2"):
        if len(getattr(msg, name)) != 3:
            raise invalid(f"stains.{name} must have 3 values (R, G, B optical density), got {len(getattr(msg, name))}")
    if len(msg.background) not in (0, 3):
        raise invalid(f"stains.background must have 3 values (R, G, B) or none, got {len(msg.background)}")
    background = tuple(msg.background) if msg.background else (255.0, 255.0, 255.0)
    try:
        return Stains.of(
            msg.name or "custom",
            (msg.stain1_name or "Stain 1", tuple(msg.stain1)),
            (msg.stain2_name or "Stain 2", tuple(msg.stain2)),
            background=background,
        )
    except ValueError as err:
        raise invalid(f"stains: {err}") from None


def stains_to_proto(s: Stains) -> pb.StainVectors:
    """A stain set as a message."""
    return pb.StainVectors(
        name=s.name,
        stain1_name=s.names[0],
        stain1=list(s.vectors[0]),
        stain2_name=s.names[1],
        stain2=list(s.vectors[1]),
        background=list(s.background),
    )


def params_from_proto(msg: pb.SegmentParams, defaults: Params) -> Params:
    """Merge the request's parameters over the server defaults, validating each."""
    changes: dict[str, object] = {}
    for name in ("classify", "all_class_probabilities", "skip_background", "measure_shape", "measure_intensity"):
        if msg.HasField(name):
            changes[name] = getattr(msg, name)
    if msg.HasField("simplify_tolerance"):
        changes["simplify_tolerance"] = _finite("simplify_tolerance", msg.simplify_tolerance, 0.0, 1.0)
    if msg.HasField("min_size"):
        if not 0 <= msg.min_size <= 1_000_000:
            raise invalid(f"min_size must be in [0, 1000000], got {msg.min_size}")
        changes["min_size"] = int(msg.min_size)
    for name in ("center_distance_threshold", "boundary_distance_threshold", "foreground_threshold"):
        if msg.HasField(name):
            changes[name] = _finite(name, getattr(msg, name), 0.0, 1.0)
    if msg.HasField("pixel_size_um"):
        changes["pixel_size_um"] = _finite("pixel_size_um", msg.pixel_size_um, 0.0, 1000.0)
    if msg.HasField("cell_expansion"):
        changes["cell_expansion"] = _finite("cell_expansion", msg.cell_expansion, 0.0, 1000.0)
    if msg.HasField("cell_constrain_scale"):
        scale = _finite("cell_constrain_scale", msg.cell_constrain_scale, 0.0, 100.0)
        if 0 < scale < 1:
            raise invalid(f"cell_constrain_scale must be 0 (no limit) or at least 1, got {scale}")
        changes["cell_constrain_scale"] = scale
    if msg.HasField("stains"):
        changes["stains"] = stains_from_proto(msg.stains)
    return defaults.updated(**changes)


def params_to_proto(p: Params) -> pb.SegmentParams:
    """Parameters as a message (GetInfo's defaults, provenance, Python clients)."""
    msg = pb.SegmentParams(
        classify=p.classify,
        simplify_tolerance=p.simplify_tolerance,
        min_size=p.min_size,
        center_distance_threshold=p.center_distance_threshold,
        boundary_distance_threshold=p.boundary_distance_threshold,
        foreground_threshold=p.foreground_threshold,
        all_class_probabilities=p.all_class_probabilities,
        skip_background=p.skip_background,
        measure_shape=p.measure_shape,
        measure_intensity=p.measure_intensity,
        pixel_size_um=p.pixel_size_um,
        cell_expansion=p.cell_expansion,
        cell_constrain_scale=p.cell_constrain_scale,
    )
    if p.stains is not None:
        msg.stains.CopyFrom(stains_to_proto(p.stains))
    return msg


def provenance_to_proto(d: dict[str, Any], params: Params) -> pb.Provenance:
    """``inference.provenance.describe``'s dict as a message."""
    msg = pb.Provenance(
        model=d["model"],
        architecture=d["architecture"],
        server_version=d["server_version"],
        precision=d["precision"],
        class_precision=d["class_precision"],
        working_pixel_size_um=d["working_pixel_size_um"],
    )
    for w in d["weights"]:
        msg.weights.add(role=w["role"], name=w["name"], sha256=w["sha256"], bytes=w["bytes"])
    msg.params.CopyFrom(params_to_proto(params))
    return msg


def provenance_from_proto(msg: pb.Provenance) -> dict[str, Any]:
    """A server's provenance as the same dict an in-process run records (``inference.provenance``)."""
    params = params_from_proto(msg.params, Params())  # the stains too, when the message has them
    return {
        "model": msg.model,
        "architecture": msg.architecture,
        "weights": [{"role": w.role, "name": w.name, "sha256": w.sha256, "bytes": w.bytes} for w in msg.weights],
        "server_version": msg.server_version,
        "precision": msg.precision,
        "class_precision": msg.class_precision,
        "params": params.as_dict(),
        "working_pixel_size_um": msg.working_pixel_size_um,
    }
