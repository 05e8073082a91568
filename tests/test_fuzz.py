"""Fuzzing every RPC with mutated messages (hypothesis), bounded in time.

Whatever arrives, the server answers with a status that names the problem (never UNKNOWN or INTERNAL),
health keeps answering within a second, and memory stays bounded. `PATHOSAM_FUZZ_SECONDS` sets the
budget per RPC family (default 15 s).
"""
from __future__ import annotations

import os
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathosam_server.grpc_api import pathosam_pb2 as pb
from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc

BUDGET = float(os.environ.get("PATHOSAM_FUZZ_SECONDS", "15"))
BAD = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
SETTINGS = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

i64 = st.one_of(st.integers(-5, 700), st.sampled_from([0, -1, 1 << 31, (1 << 63) - 1, -(1 << 63)]))
i32 = st.one_of(st.integers(-5, 700), st.sampled_from([0, -1, (1 << 31) - 1, -(1 << 31)]))
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1.0, 2.0, 0.02, 1e-300]))
rects = st.builds(pb.Rect, x=i64, y=i64, width=i64, height=i64)
small = st.integers(1, 48)


@st.composite
def images(draw) -> pb.Image:
    w, h = draw(small), draw(small)
    encoding = draw(st.sampled_from([pb.RAW_RGB8, pb.PNG, pb.JPEG, pb.PIXEL_ENCODING_UNSPECIFIED, 9]))
    data = draw(st.one_of(st.binary(max_size=64), st.just(bytes(w * h * 3)), st.binary(min_size=w * h * 3,
                                                                                      max_size=w * h * 3)))
    return pb.Image(width=draw(st.one_of(st.just(w), i32)), height=draw(st.one_of(st.just(h), i32)),
                    encoding=encoding, data=data)


@st.composite
def tiles(draw) -> pb.Tile:
    image = draw(images())
    tile = pb.Tile(image=image, index=draw(st.integers(0, 5)))
    if draw(st.booleans()):  # often consistent, so that validation goes deep
        tile.region.CopyFrom(pb.Rect(x=draw(st.integers(0, 100)), y=draw(st.integers(0, 100)), width=image.width,
                                     height=image.height))
    else:
        tile.region.CopyFrom(draw(rects))
    if draw(st.booleans()):
        tile.core.CopyFrom(draw(rects))
    return tile


params = st.builds(pb.SegmentParams, classify=st.booleans(), simplify_tolerance=floats, min_size=i32,
                   center_distance_threshold=floats, foreground_threshold=floats)
rings = st.builds(pb.Ring, xy=st.lists(floats, max_size=9))
polygons = st.builds(pb.Polygon, exterior=rings, holes=st.lists(rings, max_size=2))
objects = st.builds(
    pb.PromptObject,
    points=st.lists(st.builds(pb.Point, x=floats, y=floats, positive=st.booleans()), max_size=4),
    previous=st.builds(pb.Geometry, polygons=st.lists(polygons, max_size=2)),
)
prompts = st.builds(pb.PromptRequest, model=st.sampled_from(["", "random", "nope"]), window=rects, downsample=floats,
                    objects=st.lists(objects, max_size=4), digest=st.sampled_from(["", "ab" * 32, "x"]),
                    params=params)


def _answers(fn) -> None:
    try:
        fn()
    except grpc.RpcError as err:
        assert err.code() not in BAD, f"{err.code().name}: {err.details()}"
        assert "Traceback" not in (err.details() or "")


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


class _Budget:
    def __init__(self, channel: grpc.Channel) -> None:
        self.health = health_pb2_grpc.HealthStub(channel)
        self.start = time.monotonic()
        self.rss0 = _rss_mb()
        self.calls = 0

    def spent(self) -> bool:
        self.calls += 1
        if self.calls % 25 == 0:
            t0 = time.perf_counter()
            assert self.health.Check(health_pb2.HealthCheckRequest(), timeout=1.0).status == 1
            assert time.perf_counter() - t0 < 1.0
            assert _rss_mb() - self.rss0 < 1500, f"RSS grew by {_rss_mb() - self.rss0:.0f} MB"
        return time.monotonic() - self.start > BUDGET


@pytest.fixture()
def fuzz_channel(server: str):
    with grpc.insecure_channel(server, options=[("grpc.max_receive_message_length", 64 << 20)]) as ch:
        yield ch


@pytest.mark.slow
def test_fuzz_segment_tile(fuzz_channel) -> None:
    stub, budget = pb_grpc.PathoSamStub(fuzz_channel), _Budget(fuzz_channel)

    @SETTINGS
    @given(req=st.builds(pb.SegmentTileRequest, model=st.sampled_from(["", "nope"]), tile=tiles(),
                         downsample=floats, params=params, image_width=i64, image_height=i64))
    def run(req: pb.SegmentTileRequest) -> None:
        if not budget.spent():
            _answers(lambda: stub.SegmentTile(req, timeout=120))

    run()


@pytest.mark.slow
def test_fuzz_prompt(fuzz_channel) -> None:
    stub, budget = pb_grpc.PathoSamStub(fuzz_channel), _Budget(fuzz_channel)

    @SETTINGS
    @given(req=prompts, image=st.one_of(st.none(), images()))
    def run(req: pb.PromptRequest, image) -> None:
        if image is not None:
            req.image.CopyFrom(image)
        if not budget.spent():
            _answers(lambda: stub.Prompt(req, timeout=120))

    run()


@pytest.mark.slow
def test_fuzz_region_streams_and_raw_bytes(fuzz_channel) -> None:
    stub, budget = pb_grpc.PathoSamStub(fuzz_channel), _Budget(fuzz_channel)
    raw = fuzz_channel.unary_unary("/pathosam.v1.PathoSam/SegmentTile", request_serializer=None,
                                   response_deserializer=None)
    message = st.one_of(
        st.builds(lambda s: pb.SegmentRegionRequest(start=s),
                  st.builds(pb.RegionStart, model=st.sampled_from(["", "nope"]), region=rects, downsample=floats,
                            params=params, image_width=i64, image_height=i64)),
        st.builds(lambda t: pb.SegmentRegionRequest(tile=t), tiles()),
        st.just(pb.SegmentRegionRequest(end=pb.RegionEnd())),
        st.just(pb.SegmentRegionRequest()),
    )
    valid = pb.SegmentTileRequest(tile=pb.Tile(region=pb.Rect(width=8, height=8),
                                               image=pb.Image(width=8, height=8, data=bytes(192)))).SerializeToString()

    @SETTINGS
    @given(stream=st.lists(message, max_size=4), cut=st.integers(0, len(valid)),
           noise=st.binary(max_size=16), flips=st.lists(st.integers(0, len(valid) - 1), max_size=4))
    def run(stream, cut, noise, flips) -> None:
        if budget.spent():
            return
        _answers(lambda: list(stub.SegmentRegion(iter(stream), timeout=120)))
        body = bytearray(valid[:cut] + noise + valid[cut:])
        for i in flips:
            body[i % len(body)] ^= 0xFF
        _answers(lambda: raw(bytes(body), timeout=120))

    run()
