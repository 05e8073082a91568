"""The glass test (inference.tissue), its wire fields and its command-line options; no model runs here."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from pathosam_server._testing.glass import GLASS_RGB, _add_nucleus
from pathosam_server._testing.synthetic import make_sample
from pathosam_server.cli import build_parser
from pathosam_server.cli.batch import _check
from pathosam_server.cli.common import CliError, params, resolve_skip_background
from pathosam_server.grpc_api import pathosam_pb2 as pb
from pathosam_server.inference import tissue
from pathosam_server.records import Params
from pathosam_server.rpc import params_wire


def _glass(seed: int = 0, shape: tuple[int, int] = (512, 512), level: float | None = None, noise: float = 4.0):
    rng = np.random.default_rng(seed)
    base = np.asarray(GLASS_RGB if level is None else (level, level, level))
    return np.clip(base + rng.normal(0, noise, (*shape, 3)), 0, 255)


def _with_nucleus(image: np.ndarray, centre: tuple[int, int], radius: float, h_level: float) -> np.ndarray:
    out = image.copy()
    _add_nucleus(out, np.zeros(out.shape[:2], np.int32), centre, radius, h_level, 1)
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("level", [None, 235.0, 250.0, 255.0])
def test_clean_glass_is_not_tissue(level: float | None) -> None:
    assert not tissue.has_tissue(_glass(1, level=level).astype(np.uint8))


def test_noisy_glass_with_uneven_illumination_is_not_tissue() -> None:
    ramp = np.linspace(-6, 6, 512)[None, :, None]  # vignetting across the tile
    assert not tissue.has_tissue(np.clip(_glass(2, noise=6.0) + ramp, 0, 255).astype(np.uint8))


@pytest.mark.parametrize(
    "radius, h_level, where",
    [
        (4.0, 0.8, (256, 256)),  # a tiny, faint nucleus alone on glass (~50 px)
        (9.0, 0.5, (100, 400)),  # a medium, very pale one
        (3.2, 1.0, (0, 511)),  # a smallest one, cut by the tile's corner (a quarter of it inside)
        (6.0, 2.0, (500, 7)),  # a dark lymphocyte at the edge
    ],
)
def test_one_faint_or_small_nucleus_on_glass_is_tissue(radius: float, h_level: float, where: tuple[int, int]) -> None:
    tile = _with_nucleus(_glass(3), where, radius, h_level)
    assert tissue.has_tissue(tile)


def test_pale_and_ordinary_tissue_is_tissue() -> None:
    sample = make_sample(5, (256, 256))
    assert tissue.has_tissue(sample.image)
    # Pale eosin only (stroma without nuclei), stain halved: still coloured, so still tissue.
    od = -np.log(np.clip(sample.image.astype(np.float64), 1, 255) / 255.0)
    pale = (255 * np.exp(-0.5 * od))[sample.instances == 0]
    strip = np.broadcast_to(pale[: 64 * 64].reshape(64, 64, 3), (64, 64, 3))
    tile = _glass(4).copy()
    tile[200:264, 200:264] = strip
    assert tissue.has_tissue(tile.astype(np.uint8))
    # A pink tint that is barely darker than glass, caught by saturation rather than density.
    tint = _glass(6, shape=(64, 64), level=240.0) * np.array([1.0, 0.93, 0.98])
    tile[0:64, 0:64] = tint
    assert tissue.has_tissue(np.clip(tile, 0, 255).astype(np.uint8))


def test_mask_dilates_around_tissue_and_block_means_are_exact() -> None:
    tile = _with_nucleus(_glass(7), (64, 64), 5.0, 1.5)
    bare = tissue.tissue_mask(tile, dilation=0)
    grown = tissue.tissue_mask(tile)
    assert bare.shape == (128, 128) and 0 < bare.sum() < grown.sum()
    assert grown[bare].all()  # dilation only adds
    ragged = np.arange(13 * 10 * 3, dtype=np.uint8).reshape(13, 10, 3)
    np.testing.assert_allclose(tissue.block_means(ragged)[3, 2], ragged[12:, 8:].mean(axis=(0, 1)), rtol=1e-6)
    with pytest.raises(ValueError):
        tissue.block_means(np.zeros((4, 4), np.uint8))
    assert not tissue.has_tissue(np.zeros((0, 0, 3), np.uint8))


def test_skip_background_travels_and_unset_is_off() -> None:
    assert not params_wire.params_from_proto(pb.SegmentParams(), Params()).skip_background  # older clients: unchanged
    assert params_wire.params_from_proto(pb.SegmentParams(skip_background=True), Params()).skip_background
    assert not params_wire.params_from_proto(pb.SegmentParams(skip_background=False), Params(skip_background=True)).skip_background
    msg = pb.SegmentParams.FromString(params_wire.params_to_proto(Params(skip_background=True)).SerializeToString())
    assert msg.HasField("skip_background") and msg.skip_background
    done = pb.TileDone.FromString(pb.TileDone(index=3, skipped=True).SerializeToString())
    summary = pb.RegionSummary.FromString(pb.RegionSummary(tiles=9, tiles_skipped=4).SerializeToString())
    assert done.skipped and (summary.tiles, summary.tiles_skipped) == (9, 4)
    assert not pb.TileDone().skipped and pb.RegionSummary().tiles_skipped == 0


def _segment_args(*extra: str) -> argparse.Namespace:
    return build_parser().parse_args(["segment", "slide.svs", "-o", "out.geojson", *extra])


def test_segment_skips_glass_for_whole_images_only_unless_told() -> None:
    for extra, whole, expected in [
        ((), True, True),
        (("--region", "0", "0", "10", "10"), False, False),
        (("--no-skip-background",), True, False),
        (("--skip-background", "--region", "0", "0", "10", "10"), False, True),
    ]:
        args = _segment_args(*extra)
        resolve_skip_background(args, whole_image=whole)
        assert params(args).skip_background is expected, extra


def _batch_args(*extra: str) -> argparse.Namespace:
    return build_parser().parse_args(["batch", "--images-dir", ".", "--dry-run", *extra])


@pytest.mark.parametrize(
    "extra, expected",
    [
        (("--regions", "whole"), True),
        ((), False),  # annotations already are tissue
        (("--regions", "class:Tumor"), False),
        (("--regions", "whole", "--no-skip-background"), False),
        (("--regions", "annotations", "--skip-background"), True),
    ],
)
def test_batch_default_follows_the_regions(extra: tuple[str, ...], expected: bool) -> None:
    args = _batch_args(*extra)
    _check(args)
    assert params(args).skip_background is expected


def test_both_spellings_at_once_take_the_last_and_bad_regions_still_fail() -> None:
    assert _batch_args("--skip-background", "--no-skip-background").skip_background is False
    with pytest.raises(CliError):
        _check(_batch_args("--regions", "nonsense"))
