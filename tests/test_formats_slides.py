"""Every slide through one reader interface: files the tests write as scanners do (Aperio SVS, generic tiled
TIFF, Leica SCN with bounds, OME-TIFF, DICOM WSI), read by the library that knows them, pixel for pixel."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import openslide
import pytest
import tifffile
from conftest import ROOT, noise_image
from PIL import Image

from pathosam_server._testing.slides import (
    pyramid,
    write_dicom_wsi,
    write_generic_tiff,
    write_leica_scn,
    write_ome_tiff,
    write_svs,
)
from pathosam_server.batch.sources import FolderSource
from pathosam_server.errors import ImageReadError
from pathosam_server.formats.readers import SUPPORTED, file_pixel_size_um, open_image
from pathosam_server.formats.slide import Level, best_level, estimate_downsample, resize
from pathosam_server.records import Rect

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "python_server")}
H, W = 700, 1000  # non-square, not a multiple of the 256 px tiles
ARR = noise_image(22, H, W)
RECT = Rect(17, 33, 301, 157)  # off-origin, non-square, across tile borders


def _write(kind: str, folder: Path, pyr: list[np.ndarray] | None = None) -> Path:
    if kind == "svs":
        write_svs(folder / "s.svs", ARR, mpp=0.25, pyr=pyr)
        return folder / "s.svs"
    if kind == "generic":
        write_generic_tiff(folder / "g.tif", ARR, mpp=0.5, pyr=pyr)
        return folder / "g.tif"
    if kind == "ome":
        write_ome_tiff(folder / "o.ome.tif", ARR, mpp=0.25, pyr=pyr)
        return folder / "o.ome.tif"
    write_dicom_wsi(folder / "dicom", ARR, mpp=0.25, pyr=pyr[:2] if pyr else None)
    return folder / "dicom"


# kind -> (reader, format, levels' downsamples, pixel size)
EXPECTED = {
    "svs": ("openslide", "aperio", [1.0, 2.0, 4.0], 0.25),
    "generic": ("openslide", "generic-tiff", [1.0, 2.0, 4.0], 0.5),
    "ome": ("tifffile", "ome-tiff", [1.0, 2.0, 4.0], 0.25),
    "dicom": ("openslide", "dicom", [1.0, 2.0], 0.25),
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_slide_reads_its_source_pixels_geometry_and_calibration(tmp_path: Path, kind: str) -> None:
    path = _write(kind, tmp_path)
    reader, fmt, downsamples, mpp = EXPECTED[kind]
    src = open_image(path)
    try:
        assert (src.reader, src.format) == (reader, fmt)
        assert (src.width, src.height) == (W, H) and src.bounds == Rect(0, 0, W, H)
        assert [lv.downsample for lv in src.levels] == downsamples
        assert (src.levels[1].width, src.levels[1].height) == (500, 350)
        assert src.pixel_size_um == pytest.approx(mpp)
        np.testing.assert_array_equal(src.read(RECT, 1.0), ARR[RECT.y : RECT.y1, RECT.x : RECT.x1])
        np.testing.assert_array_equal(src.read(Rect(0, 0, W, H), 1.0), ARR)  # every tile, edge tiles too
    finally:
        src.close()
    assert file_pixel_size_um(path) == pytest.approx(mpp)


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_a_downsample_is_read_from_the_closest_finer_level_not_level_0(tmp_path: Path, kind: str) -> None:
    # levels whose pixels are NOT a downscale of level 0: what comes back shows which level was read
    pyr = pyramid(ARR, 3)
    odd = [pyr[0], 255 - pyr[1], np.roll(pyr[2], 7, axis=1)]
    src = open_image(_write(kind, tmp_path, odd))
    try:
        region = Rect(400, 200, 512, 256)  # multiples of 4: level pixels line up exactly
        top = len(src.levels) - 1
        d = src.levels[top].downsample
        got = src.read(region, d)
        want = odd[top][200 // int(d) : (200 + 256) // int(d), 400 // int(d) : (400 + 512) // int(d)]
        np.testing.assert_array_equal(got, want)
        # within 1 % of a level: still that level, at exactly the size asked for
        assert src.read(region, d * 1.005).shape == (round(256 / (d * 1.005)), round(512 / (d * 1.005)), 3)
        np.testing.assert_array_equal(src.read(region, d * 0.995)[:4, :4], want[:4, :4])
        # 3 lies between levels 2 and 4: read from 2 (the finer one), box-filtered to 3
        got3 = src.read(region, 3.0)
        l1 = odd[1][100:228, 200:456]
        np.testing.assert_array_equal(got3, resize(l1, round(512 / 3), round(256 / 3)))
    finally:
        src.close()


def test_level_choice_and_downsamples_follow_qupath() -> None:
    levels = (Level(1000, 700, 1.0), Level(500, 350, 2.0), Level(251, 175, 3.98), Level(125, 87, 8.0))
    assert [best_level(levels, d) for d in (0.5, 1.0, 1.99, 2.0, 3.0, 3.97, 4.0, 7.9, 100.0)] == [
        0, 0, 1, 1, 1, 2, 2, 2, 3,
    ]  # fmt: skip
    assert estimate_downsample((1000, 701), (500, 350)) == 2.0  # a power of two within 2 px
    assert estimate_downsample((99_999, 50_001), (33_333, 16_667)) == 3.0  # integers within 1 px per axis
    assert estimate_downsample((1000, 1000), (700, 700)) == pytest.approx(1000 / 700)


def test_leica_bounds_are_the_image_and_its_origin_as_qupath_crops(tmp_path: Path) -> None:
    path = tmp_path / "l.scn"
    write_leica_scn(path, ARR, offset=(300, 200), canvas=(1600, 1200), mpp=0.5)
    raw = openslide.OpenSlide(str(path))
    assert raw.dimensions == (1600, 1200)  # OpenSlide's level 0 is the whole slide...
    assert [raw.properties[f"openslide.bounds-{k}"] for k in ("x", "y", "width", "height")] == ["300", "200", "1000", "700"]
    assert np.asarray(raw.read_region((0, 0), 0, (8, 8)))[..., 3].max() == 0  # ...mostly transparent
    raw.close()
    src = open_image(path)
    try:
        assert (src.reader, src.format, src.bounds) == ("openslide", "leica", Rect(300, 200, 1000, 700))
        assert (src.width, src.height) == (W, H)  # ...while the image QuPath shows is the bounds
        assert [(lv.width, lv.height, lv.downsample) for lv in src.levels] == [(1000, 700, 1.0), (500, 350, 2.0)]
        np.testing.assert_array_equal(src.read(RECT, 1.0), ARR[RECT.y : RECT.y1, RECT.x : RECT.x1])
        np.testing.assert_array_equal(src.read(Rect(400, 200, 512, 256), 2.0), pyramid(ARR, 2)[1][100:228, 200:456])
        with pytest.raises(ImageReadError, match="outside"):
            src.read(Rect(900, 0, 101, 10), 1.0)  # beyond the bounds, though inside the slide
    finally:
        src.close()


def test_transparent_slide_areas_come_back_white(tmp_path: Path) -> None:
    # an SVS is opaque; a region OpenSlide paints outside the scanned image is transparent: composite on white
    path = tmp_path / "l.scn"
    write_leica_scn(path, ARR, offset=(0, 0), canvas=(1200, 800), mpp=0.5)  # the image at the origin
    src = open_image(path)
    assert src.bounds == Rect(0, 0, W, H)
    src.close()
    from pathosam_server.formats.openslide_reader import OpenSlideReader

    whole = OpenSlideReader(path, "leica")
    whole.bounds, whole.width, whole.height = Rect(0, 0, 1200, 800), 1200, 800  # look past the bounds
    corner = whole.read(Rect(1000, 700, 200, 100), 1.0)
    whole.close()
    assert corner.shape == (100, 200, 3) and (corner == 255).all()


def test_plain_tiffs_stay_with_tifffile_and_rgba_png_is_drawn_on_white(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "strips.tif", ARR, photometric="rgb")  # untiled: not OpenSlide's
    deep = (ARR.astype(np.uint16) * 16).astype(np.uint16)
    tifffile.imwrite(tmp_path / "deep.tif", deep, photometric="rgb", tile=(256, 256), bitspersample=12)
    for name in ("strips.tif", "deep.tif"):
        src = open_image(tmp_path / name)
        assert (src.reader, src.format) == ("tifffile", "tiff"), name
        got = src.read(RECT, 1.0).astype(int)
        src.close()
        assert np.abs(got - ARR[RECT.y : RECT.y1, RECT.x : RECT.x1]).max() <= 1  # 12 bit scaled to 8: +-1
    rgba = np.dstack([ARR, np.full((H, W), 255, np.uint8)])
    rgba[:10, :10, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "a.png")
    src = open_image(tmp_path / "a.png")
    assert (src.reader, src.format, src.pixel_size_um) == ("pillow", "png", None)
    px = src.read(Rect(0, 0, 20, 20), 1.0)
    assert (px[:10, :10] == 255).all() and np.array_equal(px[10:, 10:], ARR[10:20, 10:20])


def _bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, words its message must name)."""
    (folder / "notes.txt").write_text("hello slide\n")
    (folder / "empty.svs").write_bytes(b"")
    (folder / "array.npy").write_bytes(b"\x93NUMPY\x01\x00" + bytes(200))
    write_svs(folder / "cut.svs", ARR)
    data = (folder / "cut.svs").read_bytes()
    (folder / "cut.svs").write_bytes(data[: len(data) // 3])  # truncated mid-tiles: directories gone
    Image.fromarray(ARR).save(folder / "bad.png")
    (folder / "bad.png").write_bytes((folder / "bad.png").read_bytes()[:200])
    (folder / "zip.tif").write_bytes(b"PK\x03\x04" + bytes(100))  # a TIFF by name only
    return {
        "notes.txt": (folder / "notes.txt", "text ('hello slide')"),
        "empty.svs": (folder / "empty.svs", "empty file"),
        "array.npy": (folder / "array.npy", "unknown binary data"),
        "cut.svs": (folder / "cut.svs", "TIFF"),
        "bad.png": (folder / "bad.png", "PNG"),
        "zip.tif": (folder / "zip.tif", "ZIP archive"),
    }


def test_files_no_reader_opens_say_what_they_are_and_what_is_supported(tmp_path: Path) -> None:
    for name, (path, words) in _bad_files(tmp_path).items():
        with pytest.raises(ImageReadError) as info:
            open_image(path)
        message = str(info.value)
        assert words in message and f"Supported: {SUPPORTED}" in message, (name, message)
        assert file_pixel_size_um(path) is None


def test_segment_refuses_an_unreadable_file_with_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    bad = _bad_files(tmp_path)
    for name in ("notes.txt", "cut.svs"):
        out = tmp_path / f"{name}.geojson"
        res = subprocess.run([sys.executable, "-m", "pathosam_server", "segment", str(bad[name][0]), "-o", str(out),
                              "--model-path", "/nonexistent.pt", "-q"], env=ENV, capture_output=True, text=True,
                             timeout=300)  # fmt: skip
        assert res.returncode == 2, res.stderr
        assert "no reader opens" in res.stderr and "Supported:" in res.stderr and "Traceback" not in res.stderr
        assert not out.exists() and not out.with_name(out.name + ".partial").exists()


def test_an_image_folder_lists_slides_by_content(tmp_path: Path) -> None:
    write_svs(tmp_path / "a.svs", ARR)
    write_dicom_wsi(tmp_path / "b_dicom", ARR)  # a DICOM WSI is a folder of files: one image
    write_leica_scn(tmp_path / "c.scn", ARR, (300, 200), (1600, 1200))
    Image.fromarray(ARR).save(tmp_path / "d.jpg")
    (tmp_path / "e.txt").write_text("not an image")
    (tmp_path / "a.svs.nuclei.geojson").write_text("{}")
    (tmp_path / "empty_folder").mkdir()
    names = [im.name for im in FolderSource(tmp_path).images()]
    assert names == ["a.svs", "b_dicom", "c.scn", "d.jpg"]
    src = next(im for im in FolderSource(tmp_path).images() if im.name == "b_dicom").open_pixels()
    assert (src.reader, src.format, src.width, src.height) == ("openslide", "dicom", W, H)
    src.close()


def test_any_file_of_a_dicom_series_opens_the_whole_slide(tmp_path: Path) -> None:
    files = write_dicom_wsi(tmp_path / "series", ARR, levels=2)
    assert [p.name for p in files] == ["level-0.dcm", "level-1.dcm"]
    src = open_image(files[1])  # the half-size level's file: OpenSlide finds level 0 next to it
    try:
        assert (src.format, src.width, src.height, len(src.levels)) == ("dicom", W, H, 2)
        np.testing.assert_array_equal(src.read(RECT, 1.0), ARR[RECT.y : RECT.y1, RECT.x : RECT.x1])
    finally:
        src.close()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageReadError, match="folder without DICOM files"):
        open_image(tmp_path / "empty")
