"""Server results equal micro-sam's own AIS (parity) and streamed regions keep the ownership rule."""
from __future__ import annotations

import random

import numpy as np
import pytest
from conftest import _serve, _stub, noise_image, raw_image
from shapely.geometry import MultiPolygon, Polygon

from pathosam_server.formats.images import ArraySource
from pathosam_server.geometry import polygons as geometry
from pathosam_server.geometry.seams import SeamGuard
from pathosam_server.geometry.tiling import Rect, plan_tiles
from pathosam_server.grpc_api import pathosam_pb2 as pb
from pathosam_server.inference.regions import segment_region
from pathosam_server.records import Params
from pathosam_server.rpc import wire


def proto_to_shapely(g: pb.Geometry):
    """Packed rings -> shapely (the test's own reader, independent of the server's writer)."""
    polys = []
    for p in g.polygons:
        ext = np.asarray(p.exterior.xy).reshape(-1, 2)
        holes = [np.asarray(h.xy).reshape(-1, 2) for h in p.holes]
        polys.append(Polygon(ext, holes))
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Two label images are equal up to relabelling."""
    if not np.array_equal(a > 0, b > 0):
        return False
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return pairs.shape[1] == len(np.unique(a)) == len(np.unique(b))


@pytest.fixture(scope="module")
def micro_sam_stub(random_checkpoint):
    """A server whose tiles are stretched per channel as micro-sam's inference does (--tile-normalization
    micro-sam) and in float32 as micro-sam computes (on a CPU with AMX/AVX512-BF16 the server's auto
    precision is bfloat16): with both the pipeline must reproduce micro-sam exactly."""
    from pathosam_server.inference.models import ModelManager, local_spec

    spec = local_spec(random_checkpoint, name="random", tile_normalization="micro-sam", precision="float32")
    manager = ModelManager([spec], "cpu")
    serving = _serve(manager, 8 * 1024 * 1024)
    yield from _stub(next(serving))
    next(serving, None)  # stops the server


def test_server_instances_equal_micro_sam_ais(micro_sam_stub, random_checkpoint) -> None:
    from micro_sam.automatic_segmentation import automatic_instance_segmentation, get_predictor_and_segmenter

    image = noise_image(7, 200, 264)
    kwargs = dict(min_size=5, center_distance_threshold=0.5, boundary_distance_threshold=0.5, foreground_threshold=0.5)
    predictor, segmenter = get_predictor_and_segmenter("vit_t", str(random_checkpoint), "cpu", segmentation_mode="ais")
    expected = automatic_instance_segmentation(predictor, segmenter, image, ndim=2, verbose=False, **kwargs)
    assert expected.max() > 3  # random weights still give instances: plumbing, not quality

    tile = pb.Tile(region=pb.Rect(x=0, y=0, width=264, height=200), image=raw_image(image))
    params = pb.SegmentParams(simplify_tolerance=0, classify=False, min_size=5)
    resp = micro_sam_stub.SegmentTile(pb.SegmentTileRequest(tile=tile, params=params))
    got = geometry.rasterize([(n.id, proto_to_shapely(n.geometry)) for n in resp.nuclei], image.shape[:2])
    assert len(resp.nuclei) == len(np.unique(expected)) - 1
    assert same_partition(got, np.asarray(expected))


@pytest.mark.slow
def test_streamed_region_any_order_owns_each_nucleus_once(stub, random_model) -> None:
    image = noise_image(11, 370, 690)
    region = Rect(50, 30, 600, 300)  # off-origin, non-square: two tiles, one seam (each tile costs seconds)
    plan = plan_tiles(region, 1.0, 320, 32, image.shape[1], image.shape[0])
    assert len(plan) == 2
    tiles = []
    for i, t in enumerate(plan):
        pixels = np.ascontiguousarray(image[t.rect.y : t.rect.y1, t.rect.x : t.rect.x1])
        tiles.append(pb.Tile(region=wire.rect_to_proto(t.rect), core=wire.rect_to_proto(t.core),
                             image=raw_image(pixels), index=i))
    random.Random(0).shuffle(tiles)
    start = pb.RegionStart(region=wire.rect_to_proto(region), downsample=1.0, image_width=690, image_height=370,
                           params=pb.SegmentParams(simplify_tolerance=0, classify=False))

    def requests():
        yield pb.SegmentRegionRequest(start=start)
        for t in tiles:
            yield pb.SegmentRegionRequest(tile=t)
        yield pb.SegmentRegionRequest(end=pb.RegionEnd())

    nuclei, progress, summaries = [], [], []
    for resp in stub.SegmentRegion(requests()):
        kind = resp.WhichOneof("message")
        if kind == "nuclei":
            core = next(t.core for t in tiles if t.index == resp.nuclei.tile_index)
            for n in resp.nuclei.nuclei:
                assert core.x <= n.centroid_x < core.x + core.width and core.y <= n.centroid_y < core.y + core.height
            nuclei.extend(resp.nuclei.nuclei)
        elif kind == "progress":
            progress.append(resp.progress)
        else:
            summaries.append(resp.summary)
    assert [p.index for p in progress] == [t.index for t in tiles]
    (summary,) = summaries
    assert summary.nuclei == len(nuclei) > 0 and summary.tiles == 2 and summary.core_coverage == pytest.approx(1.0)
    assert len({n.id for n in nuclei}) == len(nuclei)

    # The same plan in process (what `pathosam segment` runs) gives exactly the same nuclei.
    guard = SeamGuard()
    local = list(segment_region(random_model.get(), ArraySource(image), region, 1.0,
                                Params(simplify_tolerance=0, classify=False), tile_size=320, halo=32, guard=guard))
    assert summary.nuclei_dropped_at_seams == guard.dropped
    key = lambda c: (round(c[0], 6), round(c[1], 6))  # noqa: E731
    assert sorted(key((n.centroid_x, n.centroid_y)) for n in nuclei) == sorted(
        key((n.centroid_x, n.centroid_y)) for n in local
    )
    streamed = {key((n.centroid_x, n.centroid_y)): proto_to_shapely(n.geometry) for n in nuclei}
    for n in local:
        assert streamed[key((n.centroid_x, n.centroid_y))].equals(n.geometry)
