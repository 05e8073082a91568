"""Label images <-> polygons, level-0 placement and the ownership rule (no model needed)."""
from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy import ndimage

from pathosam_server.geometry import polygons as geometry
from pathosam_server.geometry.tiling import Rect, plan_tiles
from pathosam_server.inference.pipeline import TileJob, nuclei_from_labels
from pathosam_server.records import Params

EXACT = Params(simplify_tolerance=0.0, min_size=0, classify=False)


def _disc_labels(shape, centres, radius):
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    lab = np.zeros(shape, np.int32)
    for i, (r, c) in enumerate(centres, start=1):
        lab[(rr - r) ** 2 + (cc - c) ** 2 <= radius**2] = i
    return lab


@pytest.mark.parametrize("seed", range(40))
def test_random_masks_round_trip(seed: int) -> None:
    mask = np.random.default_rng(seed).random((13, 17)) > 0.45
    geom = geometry.mask_to_geometry(mask)
    assert geom.is_valid
    assert geom.area == pytest.approx(mask.sum())
    back = geometry.rasterize([(1, geom)], mask.shape)
    np.testing.assert_array_equal(back.astype(bool), mask)


def test_hole_and_parts_kept() -> None:
    mask = np.zeros((30, 40), bool)
    mask[2:20, 2:20] = True
    mask[6:12, 6:12] = False  # a hole
    mask[22:28, 30:38] = True  # a second part
    geom = geometry.mask_to_geometry(mask)
    assert geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2
    assert sum(len(p.interiors) for p in geom.geoms) == 1
    np.testing.assert_array_equal(geometry.rasterize([(1, geom)], mask.shape).astype(bool), mask)


def test_touching_nuclei_give_back_their_labels() -> None:
    lab = _disc_labels((60, 80), [(20, 20), (20, 33), (40, 27), (5, 75)], 8)  # overlapping discs touch
    geoms = [(i, geometry.mask_to_geometry(lab == i)) for i in range(1, lab.max() + 1)]
    np.testing.assert_array_equal(geometry.rasterize(geoms, lab.shape), lab)


def test_level0_placement_non_square_off_origin_downsample_2() -> None:
    lab = np.zeros((30, 50), np.int32)  # 30 rows, 50 columns
    lab[3, 7] = 1  # one pixel at row 3, column 7
    lab[10:14, 40:48] = 2  # 4 rows x 8 columns
    job = TileJob(np.zeros((30, 50, 3), np.uint8), Rect(1000, 2000, 100, 60), 2.0)
    nuclei = nuclei_from_labels(lab, job, EXACT)
    by_area = sorted(nuclei, key=lambda n: n.area)
    one, block = by_area
    assert one.geometry.bounds == (1014.0, 2006.0, 1016.0, 2008.0)  # x = 1000 + 7*2, y = 2000 + 3*2
    assert (one.centroid_x, one.centroid_y) == (1015.0, 2007.0)
    assert one.area == 4.0
    assert block.geometry.bounds == (1080.0, 2020.0, 1096.0, 2028.0)
    assert block.area == 32 * 4


def test_ownership_returns_every_nucleus_once_and_whole() -> None:
    """Crop one label image into overlapping tiles: owned nuclei == all nuclei, each once, uncut."""
    rng = np.random.default_rng(3)
    shape = (300, 420)
    centres = [(int(r), int(c)) for r, c in zip(rng.integers(0, shape[0], 60), rng.integers(0, shape[1], 60))]
    lab = _disc_labels(shape, centres, 9)
    lab, _ = ndimage.label(lab > 0)  # merged blobs become single nuclei, labels contiguous
    region = Rect(0, 0, shape[1], shape[0])
    expected = {i: geometry.mask_to_geometry(lab == i) for i in range(1, lab.max() + 1)}
    for tile, halo in ((100, 32), (128, 40), (77, 30)):
        got = []
        for t in plan_tiles(region, 1.0, tile, halo, shape[1], shape[0]):
            crop = lab[t.rect.y : t.rect.y1, t.rect.x : t.rect.x1]
            job = TileJob(np.zeros(crop.shape + (3,), np.uint8), t.rect, 1.0, t.core, (shape[1], shape[0]))
            got.extend(nuclei_from_labels(crop, job, EXACT))
        assert len(got) == len(expected)
        for n in got:
            label = lab[int(n.centroid_y), int(n.centroid_x)] or np.bincount(
                geometry.rasterize([(1, n.geometry)], shape).ravel() * lab.ravel()
            )[1:].argmax() + 1
            ref = expected[int(label)]
            if ref.area < 2000:  # blobs wider than the halo may be cut; normal nuclei never are
                assert shapely.equals(n.geometry, ref)
                assert not n.touches_tile_edge


def test_simplification_stays_within_tolerance() -> None:
    lab = _disc_labels((64, 64), [(32, 32)], 20)
    exact = geometry.mask_to_geometry(lab == 1)
    simple = geometry.simplify(exact, 0.5)
    assert len(simple.exterior.coords) < len(exact.exterior.coords)
    assert exact.hausdorff_distance(simple) <= 0.5 + 1e-9
