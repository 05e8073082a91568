"""Hardening found by an outside probe: sizes refused before anything is allocated, work nobody waits for
stops, idle streams time out and never block other users, health always answers, refusals are exact."""
from __future__ import annotations

import threading
import time
import tracemalloc

import grpc
import numpy as np
import pytest
from conftest import noise_image, raw_image
from grpc_health.v1 import health_pb2, health_pb2_grpc

from pathosam_server.grpc_api import pathosam_pb2 as pb
from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc
from pathosam_server.rpc.admission import Admission, Limits, client_of
from pathosam_server.rpc.wire import RequestError


def _server(manager, **limits):
    from pathosam_server.rpc.server import create_server

    srv, port, _ = create_server(manager, "127.0.0.1", 0, Limits(**limits))
    srv.start()
    return srv, f"127.0.0.1:{port}"


def _ring(x, y, w, h) -> pb.Ring:
    return pb.Ring(xy=[x, y, x + w, y, x + w, y + h, x, y + h])


def _prompt(window: pb.Rect, downsample=1.0, digest="", objects=1, previous=True, pixels=None) -> pb.PromptRequest:
    obj = pb.PromptObject(points=[pb.Point(x=window.x + 10.5, y=window.y + 10.5, positive=True)])
    if previous:
        obj.previous.polygons.add().exterior.CopyFrom(_ring(window.x + 2, window.y + 2, 20, 20))
    req = pb.PromptRequest(window=window, downsample=downsample, digest=digest, objects=[obj] * objects)
    if pixels is not None:
        req.image.CopyFrom(raw_image(pixels))
    return req


def _peak_bytes(call) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _code(fn) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        fn()
    return err.value.code(), err.value.details()


def test_prompt_sizes_are_refused_before_anything_is_allocated(stub) -> None:
    huge = pb.Rect(x=0, y=0, width=1 << 31, height=1 << 31)
    (code, msg), peak = _peak_bytes(lambda: _code(lambda: stub.Prompt(_prompt(huge, digest="ab" * 32, objects=2))))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "accepts windows up to 2048 px" in msg, msg
    assert peak < 20 << 20, f"refusing the request allocated {peak >> 20} MB"
    tiny_downsample = pb.Rect(x=0, y=0, width=1000, height=1000)  # 1000 level-0 px at 0.02 = 50000 px
    code, msg = _code(lambda: stub.Prompt(_prompt(tiny_downsample, downsample=0.02, digest="ab" * 32)))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "would be 50000 x 50000 px" in msg, msg
    # a digest-only request is looked up before its (64) previous outlines would be rasterised
    big = pb.Rect(x=0, y=0, width=2000, height=2000)
    (code, msg), peak = _peak_bytes(lambda: _code(lambda: stub.Prompt(_prompt(big, digest="cd" * 32, objects=64))))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "is not cached" in msg, msg
    assert peak < 20 << 20, f"refusing the request allocated {peak >> 20} MB"
    # with pixels, the outlines' total size is checked before any of them is drawn
    window = pb.Rect(x=0, y=0, width=900, height=900)
    code, msg = _code(lambda: stub.Prompt(_prompt(window, objects=64, pixels=noise_image(5, 900, 900))))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "64 previous outlines of 900 x 900 px" in msg, msg


@pytest.mark.parametrize("ring,words", [
    ([0, 0, 10, 0, 10], "odd number of coordinates"),
    ([0, 0, 10, 10], "has 2 vertices; a ring needs at least 3"),
])
def test_malformed_previous_outlines_are_invalid_argument(stub, ring, words) -> None:
    window = pb.Rect(x=0, y=0, width=64, height=64)
    for where in ("exterior", "hole"):
        req = _prompt(window, previous=False, pixels=noise_image(6, 64, 64))
        poly = req.objects[0].previous.polygons.add()
        if where == "exterior":
            poly.exterior.xy.extend(ring)
        else:
            poly.exterior.CopyFrom(_ring(1, 1, 30, 30))
            poly.holes.add().xy.extend(ring)
        code, msg = _code(lambda req=req: stub.Prompt(req))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and words in msg and "previous outline" in msg, msg


def test_unauthenticated_garbage_body_is_unauthenticated(random_model) -> None:
    from pathosam_server.rpc.server import create_server

    srv, port, _ = create_server(random_model, "127.0.0.1", 0, token="s3cret")
    srv.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            raw = ch.unary_unary("/pathosam.v1.PathoSam/SegmentTile", request_serializer=None,
                                 response_deserializer=None)
            code, msg = _code(lambda: raw(b"\xff\xff\xff not a protobuf", timeout=30))
    finally:
        srv.stop(0).wait()
    assert code == grpc.StatusCode.UNAUTHENTICATED and "bearer token" in msg, msg


def _idle_stream(stub, done: list) -> None:
    """A SegmentRegion stream that sends its RegionStart and then nothing."""
    stop = threading.Event()

    def requests():
        yield pb.SegmentRegionRequest(start=pb.RegionStart(region=pb.Rect(x=0, y=0, width=64, height=64)))
        stop.wait(60)

    try:
        list(stub.SegmentRegion(requests(), timeout=60))
        done.append(grpc.StatusCode.OK)
    except grpc.RpcError as err:
        done.append(err.code())
    finally:
        stop.set()


def test_idle_streams_time_out_never_block_work_and_health_answers(random_model) -> None:
    srv, address = _server(random_model, max_open_calls=4, max_concurrent_streams=1, stream_idle_timeout=8.0,
                           max_tile_size=1024)
    tile = pb.Tile(region=pb.Rect(x=0, y=0, width=96, height=64), image=raw_image(noise_image(7, 64, 96)))
    try:
        with grpc.insecure_channel(address) as ch:
            stub = pb_grpc.PathoSamStub(ch)
            outcomes: list = []
            threads = [threading.Thread(target=_idle_stream, args=(stub, outcomes)) for _ in range(4)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            # every call slot is held by a silent stream: health and GetInfo still answer at once, and the
            # next segmentation call is refused at once rather than queued
            t0 = time.perf_counter()
            health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1.0)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            assert stub.GetInfo(pb.GetInfoRequest(), timeout=1.0).limits.max_open_calls == 4
            code, msg = _code(lambda: stub.SegmentTile(pb.SegmentTileRequest(tile=tile), timeout=30))
            assert time.perf_counter() - t0 < 5.0
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "calls already open" in msg, msg
            # the silent streams end by themselves and free their slots
            for t in threads:
                t.join(timeout=60)
            assert outcomes == [grpc.StatusCode.DEADLINE_EXCEEDED] * 4, outcomes
            # an open stream holds a call slot, not the (single) work slot: a tile runs beside it
            idle = threading.Thread(target=_idle_stream, args=(stub, outcomes))
            idle.start()
            time.sleep(1.0)
            assert stub.SegmentTile(pb.SegmentTileRequest(tile=tile), timeout=600).summary.tiles == 1
            idle.join(timeout=60)
    finally:
        srv.stop(0).wait()


def test_work_nobody_waits_for_stops(random_model, monkeypatch) -> None:
    """A tile whose deadline passes while it waits for the model is never encoded; a cancelled stream
    stops at its current tile instead of finishing the rest."""
    from pathosam_server.inference import scheduler

    encoded: list[int] = []
    real = scheduler.encode

    def counting(model, images):
        encoded.extend(image.shape[1] for image in images)
        return real(model, images)

    monkeypatch.setattr(scheduler, "encode", counting)
    # three work slots: the stream holds two (a tile on the model and its next one queued), the tile below one
    srv, address = _server(random_model, max_concurrent_streams=3, max_tile_size=1024)
    width = 512
    image = noise_image(8, 512, width * 4)
    tiles = [pb.Tile(region=pb.Rect(x=i * width, y=0, width=width, height=512), index=i,
                     image=raw_image(np.ascontiguousarray(image[:, i * width:(i + 1) * width]))) for i in range(4)]
    start = pb.RegionStart(region=pb.Rect(x=0, y=0, width=4 * width, height=512), image_width=4 * width,
                           image_height=512)
    try:
        with grpc.insecure_channel(address) as ch:
            stub = pb_grpc.PathoSamStub(ch)
            stream = stub.SegmentRegion(iter([pb.SegmentRegionRequest(start=start)]
                                             + [pb.SegmentRegionRequest(tile=t) for t in tiles]
                                             + [pb.SegmentRegionRequest(end=pb.RegionEnd())]), timeout=600)
            first = next(stream)  # the first tile is done (nuclei or progress)
            while first.WhichOneof("message") != "progress":
                first = next(stream)
            # a short-deadline tile queues behind the stream's next tile and expires there
            small = pb.Tile(region=pb.Rect(x=0, y=0, width=96, height=64), image=raw_image(noise_image(9, 64, 96)))
            code, _ = _code(lambda: stub.SegmentTile(pb.SegmentTileRequest(tile=small), timeout=0.3))
            assert code == grpc.StatusCode.DEADLINE_EXCEEDED
            stream.cancel()
        time.sleep(1.0)
        deadline = time.time() + 120
        while len(encoded) < 2 and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(3.0)  # long enough for another tile to have started if the cancel were ignored
        # tile 0, then tile 1 (running when the stream was cancelled); never the queued 96 px tile, never 2 or 3
        assert encoded[:1] == [width] and 96 not in encoded and len(encoded) <= 2, encoded
    finally:
        srv.stop(0).wait()


def test_admission_caps_each_client_and_frees_slots() -> None:
    adm = Admission(max_open_calls=3, max_work=3, max_per_client=2)
    assert client_of("ipv4:10.0.0.7:53211") == "10.0.0.7" and client_of("ipv6:[::1]:4000") == "[::1]"
    alive = lambda: True  # noqa: E731
    with adm.work("a", alive, wait=False), adm.work("a", alive, wait=False):
        with pytest.raises(RequestError) as err:
            with adm.work("a", alive, wait=False):
                pass
        assert "per-client limit" in err.value.message
        with adm.work("b", alive, wait=False):  # another client still gets the third slot
            assert adm.snapshot() == {"open_calls": 0, "work": 3, "clients": 2}
    assert adm.snapshot()["work"] == 0
    # a waiting call takes the slot as soon as it is free, and gives up when its caller goes away
    got = []

    def take() -> None:
        slot = adm.work("a", alive, wait=True)
        slot.__enter__()
        got.append(slot)  # keep it held

    with adm.work("a", alive, wait=False), adm.work("a", alive, wait=False):
        t = threading.Thread(target=take)
        t.start()
        time.sleep(0.3)
        assert not got
    t.join(timeout=5)
    assert got and adm.snapshot()["work"] == 1
    got[0].__exit__(None, None, None)
    from pathosam_server.errors import Cancelled

    gone = threading.Event()
    with adm.work("c", alive, wait=False), adm.work("c", alive, wait=False):
        threading.Timer(0.3, gone.set).start()
        with pytest.raises(Cancelled):
            with adm.work("c", lambda: not gone.is_set(), wait=True):
                pass
    with adm.call(), adm.call(), adm.call():
        with pytest.raises(RequestError) as err:
            with adm.call():
                pass
    assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
