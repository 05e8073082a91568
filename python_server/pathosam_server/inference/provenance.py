"""Provenance of a run: which model, which weights files, which code and which parameters made it.

One plain dict, the same whether the model ran in this process (batches, ``pathosam segment``) or behind
a server (``RegionSummary.provenance``, ``rpc.wire.provenance_from_proto``), so GeoJSON, the batch CSV
and QuPath project metadata record the same keys.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..records import Params
from .models import LoadedModel
from .precision import dtype_name


def describe(model: LoadedModel, params: Params) -> dict[str, Any]:
    """Provenance of detections made by ``model`` with ``params`` in this process.

    Args:
        model: The loaded model.
        params: The effective parameters.

    Returns:
        {"model", "architecture", "weights": [{"role", "name", "sha256", "bytes"}], "server_version",
        "precision", "class_precision", "params", "working_pixel_size_um"}.
    """
    return {
        "model": model.spec.name,
        "architecture": model.spec.architecture,
        "weights": [{"role": r, "name": n, "sha256": h, "bytes": b} for r, n, h, b in model.weights],
        "server_version": __version__,
        "precision": dtype_name(model.compute_dtype),
        "class_precision": dtype_name(model.semantic_dtype) if model.semantic_decoder is not None else "",
        "params": params.as_dict(),
        "working_pixel_size_um": model.spec.pixel_size_um,
    }
