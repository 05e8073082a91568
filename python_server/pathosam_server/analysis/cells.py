"""Cells from nuclei: each nucleus grown by a distance, stopped by its neighbours, optionally by its size.

Like QuPath's cell expansion (``CellTools.detectionsToCells``): a pixel joins the nearest nucleus within
the distance (Voronoi-like, no overlap), done with scikit-image's ``expand_labels`` on the tile's label
image. Cells are made in pixel space so that a cell's outline and the pixels its intensities are measured
on are the same; every nucleus of the tile (owned or in the halo) competes for pixels, so a cell near a
seam is the same whichever tile owns it, as long as the halo covers twice the distance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from shapely import affinity
from skimage.draw import polygon as fill_polygon
from skimage.segmentation import expand_labels

from ..geometry import polygons


def expand(labels: np.ndarray, distance_px: float) -> np.ndarray:
    """Grow every label by up to ``distance_px`` pixels into the background, never into another label.

    Args:
        labels: (H, W) instance labels (0 = background).
        distance_px: Expansion distance in the labels' pixels (0 = the labels unchanged).

    Returns:
        (H, W) cell labels, each containing its nucleus's pixels.
    """
    if distance_px <= 0:
        return labels
    return expand_labels(labels, distance=distance_px)


def constrain(
    cell_mask: np.ndarray, nucleus_mask: np.ndarray, nucleus_geom: Any, offset: tuple[int, int], scale: float
) -> np.ndarray:
    """Keep the part of a cell inside its nucleus scaled by ``scale`` about the nucleus's centroid.

    QuPath's ``cellConstrainScale``: a lone nucleus then does not get a ring as wide as the expansion
    distance when it is small. The nucleus's own pixels always stay in the cell.

    Args:
        cell_mask: (h, w) bool, the cell within its bounding box.
        nucleus_mask: (h, w) bool, the nucleus within the same box.
        nucleus_geom: The nucleus's exact outline in tile pixels (pixel (r, c) spans [c, c+1] x [r, r+1]).
        offset: (col, row) of the box's top-left pixel in the tile.
        scale: Scale factor (> 1; 0 or less = no constraint).

    Returns:
        The constrained cell mask.
    """
    if scale <= 0:
        return cell_mask
    c = nucleus_geom.centroid
    grown = affinity.scale(nucleus_geom, scale, scale, origin=(c.x, c.y))
    inside = np.zeros_like(cell_mask)
    for poly in polygons.polygons_of(grown):
        xy = np.asarray(poly.exterior.coords)
        # pixel centres are at index + 0.5; skimage fills the pixels whose index lies inside
        rr, cc = fill_polygon(xy[:, 1] - 0.5 - offset[1], xy[:, 0] - 0.5 - offset[0], shape=cell_mask.shape)
        inside[rr, cc] = True
    return cell_mask & (inside | nucleus_mask)
