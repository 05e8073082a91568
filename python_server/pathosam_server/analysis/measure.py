"""Per-tile measurements and cells for the nuclei a tile owns (called by ``inference.pipeline``).

Names follow QuPath 0.6+: a nucleus without a cell is a detection and its measurements carry no prefix
("Area µm^2", "Hematoxylin: Mean"); with cells, QuPath's cell names ("Nucleus: Area µm^2",
"Cell: Area µm^2", "Nucleus/Cell area ratio", "Nucleus: Hematoxylin: Mean", "Cytoplasm: ...", "Cell: ...").
Shapes are measured on the polygons the client receives (as QuPath measures ROIs); intensities on the
tile's pixels of each object's mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from scipy import ndimage

from ..errors import InvalidInput
from ..geometry import coords, polygons
from ..records import Params, Rect
from . import cells, shape
from .stains import HE_DEFAULT, stain_statistics


@dataclass
class Measured:
    """What the analysis adds to one owned nucleus."""

    measurements: dict[str, float]
    cell_geometry: Optional[Any] = None


def wanted(params: Params) -> bool:
    """Whether the parameters ask for any measurement or for cells."""
    return params.measure_shape or params.measure_intensity or params.cell_expansion > 0


def expansion_tile_px(params: Params, downsample: float) -> float:
    """The cell expansion distance in tile pixels (µm when the image is calibrated, level-0 px otherwise)."""
    level0 = params.cell_expansion / params.pixel_size_um if params.pixel_size_um > 0 else params.cell_expansion
    return level0 / downsample


def halo_problem(params: Params, halo: float, downsample: float) -> Optional[str]:
    """Why a halo (tile pixels) is too small for the cells asked for, or None when it is enough (2 x the expansion)."""
    need = 2 * expansion_tile_px(params, downsample)
    if params.cell_expansion <= 0 or halo + 1e-6 >= need:
        return None
    return (
        f"the tile halo of {halo:.0f} px is too small for a cell expansion of {params.cell_expansion:g} "
        f"{shape.unit(params.pixel_size_um)}: it must be at least {need:.0f} tile px (2 x the expansion) so that "
        "cells at tile seams are whole; widen the halo or reduce the expansion"
    )


def check_halo(params: Params, rect: Rect, core: Optional[Rect], downsample: float) -> None:
    """Refuse a tile whose halo cannot hold the cells of the nuclei near its core's edge.

    A cell reaches ``d`` beyond its nucleus and competes with nuclei up to ``2 d`` away, so every inner
    side of the tile needs a halo of at least ``2 d`` (sides where core and tile meet are the region's edge).

    Raises:
        InvalidInput: The halo is too small; the message says how large it must be.
    """
    if params.cell_expansion <= 0 or core is None:
        return
    sides = (core.x - rect.x, core.y - rect.y, rect.x1 - core.x1, rect.y1 - core.y1)
    inner = [s / downsample for s in sides if s > 0]
    problem = halo_problem(params, min(inner), downsample) if inner else None
    if problem:
        raise InvalidInput(problem)


def measure_tile(
    labels: np.ndarray,
    owned_ids: list[int],
    exact: list[Any],
    outlines: list[Any],
    image: np.ndarray,
    frame: coords.TileFrame,
    params: Params,
) -> list[Measured]:
    """Measurements (and cells) of the nuclei a tile owns.

    Args:
        labels: (H, W) instance labels of the tile (every nucleus, owned or not).
        owned_ids: Labels of the owned nuclei, in output order.
        exact: Their exact pixel outlines in tile pixels (before simplification).
        outlines: Their level-0 polygons as returned to the client.
        image: (H, W, 3) uint8 tile pixels (for intensities).
        frame: The tile's placement (tile pixels -> level-0).
        params: What to measure, pixel size, stains and cell expansion.

    Returns:
        One ``Measured`` per owned nucleus.
    """
    level0_px = params.pixel_size_um
    with_cells = params.cell_expansion > 0
    out = [Measured({}) for _ in owned_ids]
    cell_labels = None
    if with_cells:
        grown = cells.expand(labels, expansion_tile_px(params, frame.downsample))
        cell_labels = np.zeros_like(labels)
        slices = ndimage.find_objects(grown)
        for n, i in enumerate(owned_ids):
            sl = slices[i - 1]
            mask = cells.constrain(
                grown[sl] == i, labels[sl] == i, exact[n], (sl[1].start, sl[0].start), params.cell_constrain_scale
            )
            cell_labels[sl][mask] = i
            geom = polygons.mask_to_geometry(mask, offset=(sl[1].start, sl[0].start))
            out[n].cell_geometry = coords.geometry_to_level0(geom, frame)
    if params.measure_shape:
        for n, m in enumerate(out):
            if not with_cells:
                m.measurements.update(shape.shape_measurements(outlines[n], level0_px))
                continue
            assert m.cell_geometry is not None
            nuc = shape.shape_measurements(outlines[n], level0_px, "Nucleus: ")
            cell = shape.shape_measurements(m.cell_geometry, level0_px, "Cell: ")
            m.measurements.update(nuc)
            m.measurements.update(cell)
            cell_area = m.cell_geometry.area
            m.measurements["Nucleus/Cell area ratio"] = outlines[n].area / cell_area if cell_area > 0 else 0.0
    if params.measure_intensity:
        stains = params.stains or HE_DEFAULT
        conc = stains.deconvolve(image)
        if not with_cells:
            parts = [("", labels)]
        else:
            assert cell_labels is not None
            cytoplasm = np.where(labels == cell_labels, 0, cell_labels)
            parts = [("Nucleus: ", labels), ("Cytoplasm: ", cytoplasm), ("Cell: ", cell_labels)]
        for prefix, lab in parts:
            for m, stats in zip(out, stain_statistics(conc, lab, owned_ids, stains, prefix)):
                m.measurements.update(stats)
    return out
