"""Overlay pictures: outlines in class colours exactly where the level-0 polygons are, the image's own pixels
elsewhere, at full resolution and downsampled, and bounded memory for a slide-sized region."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import shapely
import tifffile
from PIL import Image

from pathosam_server.formats.images import ArraySource
from pathosam_server.formats.overlay import (
    LEGEND_HEIGHT,
    auto_downsample,
    class_colour,
    render_overlay,
    sample_crops,
    write_overlay,
)
from pathosam_server.records import NucleusRecord, Rect

BACKGROUND = (212, 170, 205)  # a pink the palette never uses


def nucleus(geom, cls: str) -> NucleusRecord:
    c = geom.centroid
    return NucleusRecord(geom, 0.9, geom.area, c.x, c.y, False, class_name=cls)


def picture(nuclei, width=300, height=200, region=None, downsample=1.0) -> np.ndarray:
    src = ArraySource(np.full((height, width, 3), BACKGROUND, np.uint8))
    region = region or Rect(0, 0, width, height)
    img, d, _ = render_overlay(src, region, nuclei, downsample, crops=0)
    assert d == downsample
    overview = int(np.ceil(region.height / downsample))
    assert img.height >= overview + LEGEND_HEIGHT
    return np.asarray(img)[:overview]


def coloured(arr: np.ndarray, rgb) -> np.ndarray:
    return np.all(arr == np.array(rgb, np.uint8), axis=2)


def boundary_distance(geom, shape, origin=(0.0, 0.0), downsample=1.0) -> np.ndarray:
    """Distance (canvas pixels) of every canvas pixel centre from the geometry's boundary."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    x = origin[0] + (xx + 0.5) * downsample
    y = origin[1] + (yy + 0.5) * downsample
    return shapely.distance(geom.boundary, shapely.points(x.ravel(), y.ravel())).reshape(h, w) / downsample


@pytest.mark.parametrize("downsample", [1.0, 2.0])
def test_outline_pixels_have_the_class_colour_where_the_level0_polygon_says(downsample: float) -> None:
    square = shapely.box(60, 40, 140, 110)
    ring = shapely.Point(220, 120).buffer(30).difference(shapely.Point(220, 120).buffer(12))  # a hole
    arr = picture([nucleus(square, "Neoplastic"), nucleus(ring, "Inflammatory")], 300, 200, downsample=downsample)
    assert arr.shape[:2] == (round(200 / downsample), round(300 / downsample))
    for geom, cls in ((square, "Neoplastic"), (ring, "Inflammatory")):
        mask = coloured(arr, class_colour(cls))
        dist = boundary_distance(geom, mask.shape, downsample=downsample)
        assert mask.sum() > 0.8 * geom.boundary.length / downsample  # the whole outline is drawn
        assert dist[mask].max() <= 1.5  # ... and nowhere but along it (within a line width and rounding)
    # holes are outlined too: pixels on the inner ring
    inner = coloured(arr, class_colour("Inflammatory")) & (
        boundary_distance(shapely.Point(220, 120).buffer(12), arr.shape[:2], downsample=downsample) <= 1.0
    )
    assert inner.sum() > 0.8 * 2 * np.pi * 12 / downsample
    # far from every outline, the picture is the image
    far = boundary_distance(shapely.union(square, ring), arr.shape[:2], downsample=downsample) > 2
    assert np.all(arr[far] == np.array(BACKGROUND, np.uint8))


def test_off_origin_region_places_outlines_by_level0_coordinates() -> None:
    region = Rect(100, 50, 200, 150)
    tri = shapely.Polygon([(150, 80), (260, 90), (180, 170)])
    arr = picture([nucleus(tri, "Epithelial")], 400, 300, region=region, downsample=2.0)
    mask = coloured(arr, class_colour("Epithelial"))
    assert mask.any()
    assert boundary_distance(tri, mask.shape, origin=(100, 50), downsample=2.0)[mask].max() <= 1.5


def test_image_pixels_show_through_at_a_downsample(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (128, 192, 3), dtype=np.uint8)
    out = write_overlay(tmp_path / "o.png", ArraySource(rgb), Rect(0, 0, 192, 128), [], downsample=2.0, crops=0)
    with Image.open(out.path) as img:
        arr = np.asarray(img.convert("RGB"))[:64]
    expected = rgb.reshape(64, 2, 96, 2, 3).mean(axis=(1, 3))  # the box filter of the readers
    assert np.abs(arr.astype(float) - expected).max() <= 1.0


def test_big_region_gets_an_overview_and_full_resolution_crops_where_nuclei_are(tmp_path: Path) -> None:
    src = ArraySource(np.full((3000, 5000, 3), BACKGROUND, np.uint8))
    nuclei = [nucleus(shapely.Point(x, y).buffer(8), "Neoplastic") for x in range(400, 4600, 300) for y in (500, 2500)]
    info = write_overlay(tmp_path / "big.png", src, Rect(0, 0, 5000, 3000), nuclei)
    assert info.downsample == auto_downsample(Rect(0, 0, 5000, 3000)) == 4.0
    assert 1 <= len(info.crops) <= 4
    assert all(any(c.contains_point(n.centroid_x, n.centroid_y) for n in nuclei) for c in info.crops)
    with Image.open(info.path) as img:
        w, h = img.size
    row = sum(c.width for c in info.crops) + 8 * (len(info.crops) - 1)
    assert w == max(1250, row) and h in (750 + 8 + 384 + LEGEND_HEIGHT * k for k in (1, 2))  # overview, crops, legend
    assert sample_crops(nuclei, Rect(0, 0, 5000, 3000), 4) == list(info.crops)  # deterministic


def test_overview_of_a_slide_sized_tiff_reads_block_by_block(tmp_path: Path) -> None:
    """An untiled-pyramid 8192 x 8192 TIFF (192 MiB of RGB) drawn at downsample 16: numpy memory stays far below
    one full-resolution canvas."""
    edge, tile = 8192, 512
    path = tmp_path / "slide.tif"

    def tiles():
        for _ in range((edge // tile) ** 2):
            yield np.full((tile, tile, 3), BACKGROUND, np.uint8)

    tifffile.imwrite(path, tiles(), shape=(edge, edge, 3), dtype=np.uint8, tile=(tile, tile), compression="zlib",
                     photometric="rgb")  # fmt: skip
    # Measured in a fresh interpreter: tracemalloc counts every thread's allocations, and a thread left
    # by an earlier test in this pytest worker once added 13 MiB to the peak here (33 MiB against 19.8 alone).
    code = textwrap.dedent(f"""
        import json, tracemalloc
        import shapely
        from pathosam_server.formats.images import TiffSource
        from pathosam_server.formats.overlay import render_overlay
        from pathosam_server.records import NucleusRecord, Rect
        src = TiffSource({str(path)!r})
        geom = shapely.Point(4000, 4000).buffer(20)
        nuclei = [NucleusRecord(geom, 0.9, geom.area, 4000.0, 4000.0, False, class_name="Dead")]
        tracemalloc.start()
        img, d, crops = render_overlay(src, Rect(0, 0, {edge}, {edge}), nuclei, 16.0, crops=2)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        src.close()
        print(json.dumps([d, img.width, len(crops), peak]))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    d, width, n_crops, peak = json.loads(run.stdout.strip().splitlines()[-1])
    assert d == 16 and width == 512 and n_crops == 1
    full = edge * edge * 3
    assert peak < full / 8, f"peak {peak / 2**20:.0f} MiB of numpy memory for a {full / 2**20:.0f} MiB image"
