"""Shape and stain measurements against exact figures, and cells from nuclei (no model: labels given).

The shapes are rasterised masks traced the way the pipeline traces nuclei; the figures they must give
are worked out by hand from the geometry, at two pixel sizes (uncalibrated px and 0.5 µm).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import Point

from pathosam_server.analysis import shape
from pathosam_server.analysis.stains import HE_DEFAULT, Stains, stain_statistics
from pathosam_server.errors import InvalidInput
from pathosam_server.geometry import polygons
from pathosam_server.inference.pipeline import TileJob, nuclei_from_labels
from pathosam_server.records import Params, Rect

MU = "\u00b5m"


def _traced(mask: np.ndarray):
    return polygons.mask_to_geometry(mask, offset=(0, 0))


@pytest.mark.parametrize("px", [0.0, 0.5])
def test_square_and_holed_square_give_the_exact_figures(px: float) -> None:
    s = px or 1.0
    u = MU if px else "px"
    mask = np.zeros((60, 60), bool)
    mask[10:30, 10:30] = True  # 20 x 20 px square
    m = shape.shape_measurements(_traced(mask), px)
    assert m[f"Area {u}^2"] == pytest.approx(400 * s * s)
    assert m[f"Length {u}"] == pytest.approx(80 * s)
    assert m["Circularity"] == pytest.approx(math.pi / 4)
    assert m["Solidity"] == pytest.approx(1.0)
    assert m[f"Max diameter {u}"] == pytest.approx(20 * math.sqrt(2) * s)
    assert m[f"Min diameter {u}"] == pytest.approx(20 * s)

    holed = np.zeros((60, 60), bool)
    holed[10:40, 10:40] = True
    holed[20:30, 20:30] = False  # 30 x 30 with a 10 x 10 hole
    m = shape.shape_measurements(_traced(holed), px)
    assert m[f"Area {u}^2"] == pytest.approx(800 * s * s)
    assert m[f"Length {u}"] == pytest.approx((120 + 40) * s)  # QuPath's length counts the hole's ring
    assert m["Circularity"] == pytest.approx(math.pi / 4)  # of the exterior ring
    assert m["Solidity"] == pytest.approx(800 / 900)
    assert m[f"Min diameter {u}"] == pytest.approx(30 * s)


@pytest.mark.parametrize("px", [0.0, 0.25])
def test_disc_and_ellipse_are_close_to_their_analytic_figures(px: float) -> None:
    s = px or 1.0
    u = MU if px else "px"
    yy, xx = np.mgrid[:100, :100] + 0.5
    disc = (yy - 50) ** 2 + (xx - 50) ** 2 <= 20**2
    m = shape.shape_measurements(polygons.simplify(_traced(disc), 0.5), px)
    assert m[f"Area {u}^2"] == pytest.approx(math.pi * 400 * s * s, rel=0.02)
    # a traced outline runs along pixel edges: up to ~1 px wider than the disc it was rasterised from
    assert m[f"Max diameter {u}"] == pytest.approx(40 * s, abs=1.5 * s)
    assert m[f"Min diameter {u}"] == pytest.approx(40 * s, abs=1.5 * s)
    assert m["Solidity"] > 0.95
    ellipse = ((xx - 50) / 30) ** 2 + ((yy - 50) / 12) ** 2 <= 1
    m = shape.shape_measurements(polygons.simplify(_traced(ellipse), 0.5), px)
    assert m[f"Area {u}^2"] == pytest.approx(math.pi * 30 * 12 * s * s, rel=0.02)
    assert m[f"Max diameter {u}"] == pytest.approx(60 * s, abs=1.5 * s)
    assert m[f"Min diameter {u}"] == pytest.approx(24 * s, abs=1.5 * s)
    # Length and circularity of a traced outline follow its pixel steps (as QuPath measures such a ROI),
    # so their exact figures are checked on the smooth shapes themselves: Ramanujan's ellipse perimeter
    from shapely import affinity

    # (large enough that QuPath's 0.01 px grid, which the outline is snapped to first, cannot matter)
    a, b = 300, 120
    smooth = affinity.scale(Point(500, 500).buffer(1, 256), a, b)
    m = shape.shape_measurements(smooth, px)
    perimeter = math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b)))
    assert m[f"Length {u}"] == pytest.approx(perimeter * s, rel=1e-4)
    assert m["Circularity"] == pytest.approx(4 * math.pi * math.pi * a * b / perimeter**2, rel=1e-3)
    assert m[f"Max diameter {u}"] == pytest.approx(2 * a * s, rel=1e-4)
    assert m[f"Min diameter {u}"] == pytest.approx(2 * b * s, rel=1e-4)
    assert shape.shape_measurements(Point(0, 0).buffer(2000, 256), px)["Circularity"] == pytest.approx(1, abs=1e-5)


def test_min_caliper_width_of_a_rotated_rectangle() -> None:
    from shapely import affinity
    from shapely.geometry import box

    r = affinity.rotate(box(0, 0, 50, 8), 33, origin=(0, 0))
    assert shape.min_caliper_width(r) == pytest.approx(8)
    assert shape.min_caliper_width(Point(0, 0).buffer(10, 64)) == pytest.approx(20, rel=0.002)


def test_an_outline_between_grid_points_is_measured_as_qupath_holds_it() -> None:
    """QuPath snaps every ROI to a 0.01 px grid; a polygon from a fractional downsample is measured after it."""
    from shapely import affinity, set_precision
    from shapely.geometry import box

    off_grid = affinity.rotate(box(0, 0, 30, 8), 27, origin=(0, 0))  # irrational vertices
    snapped = set_precision(off_grid, 0.01)
    assert snapped.area != pytest.approx(off_grid.area, rel=1e-6)  # the snap is large enough to matter
    got = shape.shape_measurements(off_grid, 0.5)
    assert got[f"Area {MU}^2"] == pytest.approx(snapped.area * 0.25, rel=1e-12)
    assert got[f"Length {MU}"] == pytest.approx(snapped.length * 0.5, rel=1e-12)
    on_grid = affinity.translate(box(0, 0, 30, 8), 10.25, 3.5)  # already on the grid: unchanged
    assert shape.shape_measurements(on_grid, 0.0)["Area px^2"] == 240.0


def _pixels(stains: Stains, h: float, e: float) -> np.ndarray:
    """RGB of a pixel holding h units of the first stain and e of the second (Beer-Lambert, base 10)."""
    vec = np.asarray(stains.vectors)
    od = h * vec[0] + e * vec[1]
    return np.asarray(stains.background) * 10.0 ** (-od)


def test_stain_statistics_recover_known_optical_densities() -> None:
    rgb = np.zeros((40, 40, 3))
    rgb[:, :20] = _pixels(HE_DEFAULT, 0.4, 0.1)
    rgb[:, 20:] = _pixels(HE_DEFAULT, 0.8, 0.3)
    img = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    conc = HE_DEFAULT.deconvolve(img)
    labels = np.zeros((40, 40), np.int32)
    labels[5:35, 10:30] = 1  # half at (0.4, 0.1), half at (0.8, 0.3)
    labels[0:5, 0:10] = 2  # only the first
    stats = stain_statistics(conc, labels, [1, 2], HE_DEFAULT, "Nucleus: ")
    one, two = stats
    tol = 0.015  # 8-bit rounding of the pixels
    assert one["Nucleus: Hematoxylin: Mean"] == pytest.approx(0.6, abs=tol)
    assert one["Nucleus: Hematoxylin: Median"] == pytest.approx(0.6, abs=tol)
    assert one["Nucleus: Hematoxylin: Min"] == pytest.approx(0.4, abs=tol)
    assert one["Nucleus: Hematoxylin: Max"] == pytest.approx(0.8, abs=tol)
    n = 30 * 20
    assert one["Nucleus: Hematoxylin: Std.Dev."] == pytest.approx(0.2 * math.sqrt(n / (n - 1)), abs=tol)
    assert one["Nucleus: Eosin: Mean"] == pytest.approx(0.2, abs=tol)
    assert two["Nucleus: Eosin: Max"] == pytest.approx(0.1, abs=tol)
    assert two["Nucleus: Hematoxylin: Std.Dev."] == pytest.approx(0.0, abs=1e-6)
    assert not any("Residual" in k for k in one)

    # another stain set un-mixes its own pixels, and bad vectors are refused with a reason
    other = Stains.of("H-DAB", ("Hematoxylin", (0.65, 0.70, 0.29)), ("DAB", (0.27, 0.57, 0.78)), background=(240, 240, 245))
    img = np.clip(np.round(_pixels(other, 0.5, 0.7)), 0, 255).astype(np.uint8)[None, None, :]
    assert other.deconvolve(img)[0, 0, :2] == pytest.approx([0.5, 0.7], abs=0.02)
    with pytest.raises(ValueError, match="not independent"):
        Stains.of("bad", ("A", (1, 0, 0)), ("B", (2, 0, 0)))
    with pytest.raises(ValueError, match="not all zero"):
        Stains.of("bad", ("A", (0, 0, 0)), ("B", (1, 0, 0)))


def _disc_labels(shape: tuple[int, int], seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    labels = np.zeros(shape, np.int32)
    k = 0
    for _ in range(n * 3):
        cy, cx = rng.uniform(8, shape[0] - 8), rng.uniform(8, shape[1] - 8)
        r = rng.uniform(3.5, 7)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        if labels[disc].any():
            continue
        k += 1
        labels[disc] = k
        if k == n:
            break
    return labels


def _render(labels: np.ndarray) -> np.ndarray:
    img = np.full(labels.shape + (3,), 235, np.uint8)
    img[labels > 0] = (70, 40, 130)
    return img


def _tiles(labels: np.ndarray, img: np.ndarray, edge: int, halo: int, offset: int, params: Params):
    """Cut the image into tiles the way a stream does (cores on a grid, each grown by its halo)."""
    h, w = labels.shape
    xs = sorted({0, w, *range(offset, w, edge)} - {w}) + [w]
    ys = sorted({0, h, *range(offset, h, edge)} - {h}) + [h]
    out = []
    for y0, y1 in zip(ys, ys[1:]):
        for x0, x1 in zip(xs, xs[1:]):
            rx0, ry0, rx1, ry1 = max(0, x0 - halo), max(0, y0 - halo), min(w, x1 + halo), min(h, y1 + halo)
            job = TileJob(img[ry0:ry1, rx0:rx1], Rect(rx0, ry0, rx1 - rx0, ry1 - ry0), 1.0,
                          core=Rect(x0, y0, x1 - x0, y1 - y0), image_size=(w, h))
            out += nuclei_from_labels(labels[ry0:ry1, rx0:rx1], job, params)
    return out


def _by_centre(nuclei) -> dict:
    return {(round(n.centroid_x, 3), round(n.centroid_y, 3)): n for n in nuclei}


def test_cells_are_seam_free_disjoint_and_contain_their_nuclei() -> None:
    labels = _disc_labels((300, 340), seed=3, n=90)
    img = _render(labels)
    params = Params(simplify_tolerance=0.0, cell_expansion=6.0, measure_shape=True, measure_intensity=True)
    whole = nuclei_from_labels(labels, TileJob(img, Rect(0, 0, 340, 300), 1.0, image_size=(340, 300)), params)
    assert len(whole) == labels.max()
    ref = _by_centre(whole)
    for edge, halo, offset in [(128, 16, 0), (96, 24, 50)]:
        tiled = _by_centre(_tiles(labels, img, edge, halo, offset, params))
        assert tiled.keys() == ref.keys(), (edge, halo)
        ious = [ref[k].cell_geometry.intersection(t.cell_geometry).area / ref[k].cell_geometry.union(t.cell_geometry).area
                for k, t in tiled.items()]
        assert min(ious) >= 0.99, (edge, halo, min(ious))
        for k, t in tiled.items():  # the same pixels, so the same numbers
            assert t.measurements["Cell: Hematoxylin: Mean"] == pytest.approx(ref[k].measurements["Cell: Hematoxylin: Mean"])
    cells = [n.cell_geometry for n in whole]
    from shapely.ops import unary_union
    assert unary_union(cells).area == pytest.approx(sum(c.area for c in cells))  # no two cells overlap
    for n in whole:
        assert n.cell_geometry.contains(n.geometry)
        assert n.cell_geometry.area > n.geometry.area  # room around every disc here
        m = n.measurements
        assert m["Nucleus/Cell area ratio"] == pytest.approx(n.geometry.area / n.cell_geometry.area)
        assert m["Nucleus: Area px^2"] == pytest.approx(n.geometry.area)
        assert m["Cell: Area px^2"] == pytest.approx(n.cell_geometry.area)
        assert m["Nucleus: Hematoxylin: Mean"] > m["Cytoplasm: Hematoxylin: Mean"]
        # every cell pixel lies within the expansion of its nucleus (6 px; pixel outlines add < 1.5 px)
        assert n.cell_geometry.difference(n.geometry.buffer(6 + 1.5)).area == pytest.approx(0, abs=1e-6)

    # a simplified nucleus outline may cut a pixel corner, never more than the tolerance
    simplified = nuclei_from_labels(labels, TileJob(img, Rect(0, 0, 340, 300), 1.0), params.updated(simplify_tolerance=0.5))
    for n in simplified:
        assert n.geometry.difference(n.cell_geometry.buffer(0.5 + 1e-6)).area == pytest.approx(0, abs=1e-9)


def test_expansion_zero_leaves_nuclei_unchanged_and_constraint_limits_cells() -> None:
    labels = _disc_labels((160, 160), seed=5, n=20)
    img = _render(labels)
    job = TileJob(img, Rect(0, 0, 160, 160), 1.0)
    plain = nuclei_from_labels(labels, job, Params())
    again = nuclei_from_labels(labels, job, Params(cell_expansion=0.0))
    assert [n.geometry.wkt for n in plain] == [n.geometry.wkt for n in again]
    assert all(n.cell_geometry is None and not n.measurements for n in again)
    measured = nuclei_from_labels(labels, job, Params(measure_shape=True, pixel_size_um=0.5))
    assert [n.geometry.wkt for n in plain] == [n.geometry.wkt for n in measured]
    assert set(measured[0].measurements) == {f"Area {MU}^2", f"Length {MU}", "Circularity", "Solidity",
                                            f"Max diameter {MU}", f"Min diameter {MU}"}

    free = nuclei_from_labels(labels, job, Params(cell_expansion=10.0, simplify_tolerance=0.0))
    held = nuclei_from_labels(labels, job, Params(cell_expansion=10.0, cell_constrain_scale=1.5, simplify_tolerance=0.0))
    for f, h in zip(free, held):
        assert h.cell_geometry.area <= f.cell_geometry.area + 1e-6
        assert h.cell_geometry.contains(h.geometry)
        c = h.geometry.centroid
        from shapely import affinity
        limit = affinity.scale(h.geometry, 1.5, 1.5, origin=(c.x, c.y)).buffer(1.5)
        assert h.cell_geometry.difference(limit).area == pytest.approx(0, abs=1e-6)
    assert sum(h.cell_geometry.area for h in held) < 0.8 * sum(f.cell_geometry.area for f in free)

    # calibrated: the distance is in µm (10 µm at 2 µm/px = 5 px)
    um = nuclei_from_labels(labels, job, Params(cell_expansion=10.0, pixel_size_um=2.0, simplify_tolerance=0.0))
    px5 = nuclei_from_labels(labels, job, Params(cell_expansion=5.0, simplify_tolerance=0.0))
    assert [n.cell_geometry.wkt for n in um] == [n.cell_geometry.wkt for n in px5]


def test_a_halo_too_small_for_the_cells_is_refused_before_the_model_runs() -> None:
    from pathosam_server.analysis.measure import check_halo

    rect, core = Rect(0, 0, 200, 200), Rect(20, 20, 160, 160)
    check_halo(Params(cell_expansion=10.0), rect, core, 1.0)  # 20 px halo = 2 x 10
    with pytest.raises(InvalidInput, match="at least 30 tile px"):
        check_halo(Params(cell_expansion=15.0), rect, core, 1.0)
    with pytest.raises(InvalidInput, match="µm"):
        check_halo(Params(cell_expansion=6.0, pixel_size_um=0.25), rect, core, 2.0)  # 12 tile px each way
    check_halo(Params(cell_expansion=15.0), rect, None, 1.0)  # a single tile owns all of itself


def test_geojson_cells_round_trip_in_qupaths_schema(tmp_path) -> None:
    import json

    from pathosam_server.formats.geojson import read_detection_geojson, read_provenance, write_geojson

    labels = _disc_labels((80, 80), seed=9, n=4)
    job = TileJob(_render(labels), Rect(0, 0, 80, 80), 1.0)
    cells = nuclei_from_labels(labels, job, Params(cell_expansion=4.0, measure_shape=True, simplify_tolerance=0.0))
    path = tmp_path / "cells.geojson"
    write_geojson(cells, path, {"model": "m", "weights": []})
    data = json.loads(path.read_text())
    f = data["features"][0]
    assert f["properties"]["objectType"] == "cell" and "nucleusGeometry" in f and data["pathosam"]["model"] == "m"
    f["properties"]["measurements"]["From QuPath"] = None  # QuPath may leave a value empty
    path.write_text(json.dumps(data))
    back = read_detection_geojson(path)
    assert [b.geometry.equals(c.geometry) and b.cell_geometry.equals(c.cell_geometry) for b, c in zip(back, cells)] == [True] * len(cells)
    assert back[0].measurements == pytest.approx(cells[0].measurements) and "From QuPath" not in back[0].measurements
    assert read_provenance(path) == {"model": "m", "weights": []}
