"""Prompt RPC plumbing over a real channel: validation, the embedding cache, eviction, concurrency."""
from __future__ import annotations

import threading

import grpc
import numpy as np
import pytest
from conftest import noise_image, raw_image

from pathosam_server.grpc_api import pathosam_pb2 as pb
from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc
from pathosam_server.inference.embedding_cache import window_digest

WINDOW = pb.Rect(x=1000, y=500, width=256, height=192)  # off-origin, non-square
PIXELS = noise_image(21, 192, 256)


def _req(objects, image=True, digest="", window=WINDOW, pixels=PIXELS, downsample=1.0, classify=False):
    r = pb.PromptRequest(window=window, downsample=downsample, objects=objects, digest=digest,
                         params=pb.SegmentParams(classify=classify))
    if image:
        r.image.CopyFrom(raw_image(pixels))
    return r


def _point(x, y, positive=True):
    return pb.PromptObject(points=[pb.Point(x=x, y=y, positive=positive)])


def test_point_and_box_answers_in_level0_and_caches_the_window(stub) -> None:
    box = pb.PromptObject(box=pb.Rect(x=1100, y=550, width=40, height=30))
    first = stub.Prompt(_req([_point(1120.5, 560.5), box], classify=True))
    assert not first.embedding_cached and first.digest == window_digest(PIXELS)
    assert len(first.nuclei) == 2
    assert all(n.class_name and 0 < n.class_probability <= 1 for n in first.nuclei)
    for n in first.nuclei:
        for p in n.geometry.polygons:
            xy = np.asarray(p.exterior.xy).reshape(-1, 2)
            assert (xy[:, 0] >= 1000).all() and (xy[:, 0] <= 1256).all()
            assert (xy[:, 1] >= 500).all() and (xy[:, 1] <= 692).all()
    before = stub.GetInfo(pb.GetInfoRequest()).embedding_cache
    again = stub.Prompt(_req([_point(1120.5, 560.5)], image=False, digest=first.digest, classify=True))
    assert again.embedding_cached
    after = stub.GetInfo(pb.GetInfoRequest()).embedding_cache
    assert after.hits == before.hits + 1 and after.entries >= 1 and after.bytes > 0
    # the same click gives the same outline whether the pixels were sent or not
    assert again.nuclei[0].geometry == first.nuclei[0].geometry


@pytest.mark.parametrize(
    "request_fn,code,words",
    [
        (lambda: _req([_point(10, 10)]), "INVALID_ARGUMENT", "outside the window"),
        (lambda: _req([]), "INVALID_ARGUMENT", "no prompt objects"),
        (lambda: _req([pb.PromptObject()]), "INVALID_ARGUMENT", "neither points nor a box"),
        (lambda: _req([pb.PromptObject(box=pb.Rect(x=1100, y=550, width=0, height=30))]), "INVALID_ARGUMENT", "zero area"),
        (lambda: _req([pb.PromptObject(points=[pb.Point(x=1100, y=550)] * 65)]), "INVALID_ARGUMENT", "limit is 64"),
        (lambda: _req([_point(float("nan"), 600)]), "INVALID_ARGUMENT", "non-finite"),
        (lambda: _req([_point(1100, 600)], image=False), "INVALID_ARGUMENT", "pixels"),
        (lambda: _req([_point(1100, 600)], digest="0" * 64), "INVALID_ARGUMENT", "does not match"),
        (lambda: _req([_point(1100, 600)], image=False, digest="f" * 64), "FAILED_PRECONDITION", "not cached"),
        (lambda: _req([_point(1100, 600)], downsample=2.0), "INVALID_ARGUMENT", "does not match its level-0"),
    ],
)
def test_bad_prompts(stub, request_fn, code, words) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.Prompt(request_fn())
    assert err.value.code().name == code and words in err.value.details()


def test_digest_only_after_eviction_asks_for_pixels(random_model) -> None:
    from pathosam_server.rpc.admission import Limits
    from pathosam_server.rpc.server import create_server

    srv, port, _ = create_server(random_model, "127.0.0.1", 0, Limits(cache_bytes=1))  # room for one window
    srv.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = pb_grpc.PathoSamStub(ch)
            other = noise_image(22, 192, 256)
            d1 = stub.Prompt(_req([_point(1100, 600)])).digest
            stub.Prompt(_req([_point(1100, 600)], pixels=other))  # evicts the first window
            with pytest.raises(grpc.RpcError) as err:
                stub.Prompt(_req([_point(1100, 600)], image=False, digest=d1))
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert stub.GetInfo(pb.GetInfoRequest()).embedding_cache.evictions >= 1
            assert stub.Prompt(_req([_point(1100, 600)])).nuclei  # resending pixels works
    finally:
        srv.stop(0).wait()


def test_two_clients_on_different_windows_concurrently(server: str) -> None:
    results: dict[int, pb.PromptResponse] = {}
    errors: list[BaseException] = []

    def client(k: int) -> None:
        try:
            pixels = noise_image(100 + k, 192, 256)
            window = pb.Rect(x=k * 5000, y=0, width=256, height=192)
            with grpc.insecure_channel(server) as ch:
                stub = pb_grpc.PathoSamStub(ch)
                for _ in range(3):
                    results[k] = stub.Prompt(_req([_point(k * 5000 + 100.5, 90.5)], window=window, pixels=pixels))
            assert results[k].digest == window_digest(pixels)
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a prompt client hung (no answer within 300 s)"
    assert not errors, errors
    for k, resp in results.items():
        xy = np.asarray(resp.nuclei[0].geometry.polygons[0].exterior.xy).reshape(-1, 2)
        assert k * 5000 <= xy[:, 0].min() and xy[:, 0].max() <= k * 5000 + 256
