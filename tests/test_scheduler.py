"""The model's one queue: batched tiles equal tiles run alone, and a stream keeps several tiles in flight."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pytest
import torch
from conftest import noise_image, raw_image
from tiny_model_helpers import HELD_OUT_SEED, TINY_MODEL, TINY_SEMANTIC

from pathosam_server._testing.synthetic import make_sample
from pathosam_server.errors import Cancelled
from pathosam_server.grpc_api import pathosam_pb2 as pb
from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc
from pathosam_server.inference import scheduler
from pathosam_server.inference.models import ModelManager, local_spec
from pathosam_server.inference.pipeline import TileJob, segment_tile
from pathosam_server.inference.scheduler import TileScheduler, per_sample_batch_norm
from pathosam_server.records import Params, Rect


def test_train_mode_batch_norm_normalises_each_sample_alone() -> None:
    torch.manual_seed(0)
    bn = torch.nn.BatchNorm2d(4).train()
    bn.weight.data.uniform_(0.5, 2)
    bn.bias.data.uniform_(-1, 1)
    reference = torch.nn.BatchNorm2d(4).train()
    reference.load_state_dict(bn.state_dict())
    assert per_sample_batch_norm(torch.nn.Sequential(bn)) == 1
    x = torch.randn(3, 4, 8, 8) * torch.tensor([1.0, 5.0, 0.2])[:, None, None, None]
    with torch.no_grad():
        together = bn(x)
        for i in range(3):  # each sample as if it were alone in train mode
            assert torch.allclose(together[i : i + 1], reference(x[i : i + 1]), atol=1e-5)
            assert torch.equal(bn(x[i : i + 1]), reference(x[i : i + 1]))  # one sample: the layer's own code


@pytest.fixture(scope="module")
def float32_tiny():
    """The trained tiny model in float32 (so batched and single passes can be compared to rounding)."""
    spec = local_spec(TINY_MODEL, name="tiny32", semantic_decoder=TINY_SEMANTIC, precision="float32")
    return ModelManager([spec], "cpu").get()


def _tiles() -> list[TileJob]:
    jobs = []
    for k, (h, w) in enumerate([(512, 512), (300, 512)]):  # the second one an edge tile
        image = make_sample(HELD_OUT_SEED + 20 + k).image[:h, :w]
        jobs.append(TileJob(image, Rect(0, 0, w, h), 1.0, image_size=(w, h)))
    return jobs


def _assert_same_within_rounding(got, reference, what: str) -> None:
    """The same nuclei in the same order, classes equal, outlines equal but for a rounding pixel.

    oneDNN picks its convolution kernels by batch size, and in channels-last layout (``layout``) the
    batched and single kernels sum in different orders: the decoder maps differ by ~4e-4, which can move
    a pixel of an outline across the watershed's threshold, never a nucleus.
    """
    assert len(got.nuclei) == len(reference.nuclei), f"{what}: batched found another number of nuclei"
    moved = []
    for a, b in zip(got.nuclei, reference.nuclei):
        assert a.class_id == b.class_id, f"{what}: a nucleus changed class"
        assert abs(a.class_probability - b.class_probability) < 2e-3 and abs(a.score - b.score) < 2e-3
        moved.append(a.geometry.symmetric_difference(b.geometry).area)
    print(f"{what}: {sum(m == 0 for m in moved)} of {len(moved)} outlines identical, the others moved by "
          f"{sorted(m for m in moved if m)} px")  # fmt: skip
    assert max(moved, default=0) <= 4, f"{what}: an outline moved by more than rounding: {max(moved)} px"


@pytest.mark.model
@pytest.mark.slow
def test_batched_tiles_equal_tiles_run_one_at_a_time(float32_tiny) -> None:
    model = float32_tiny
    jobs = _tiles()
    model.scheduler = TileScheduler(model, max_batch=1)
    alone = [segment_tile(model, job, Params()) for job in jobs]
    assert model.scheduler.batches == 2

    batched = TileScheduler(model, max_batch=2, max_wait_s=2.0)
    model.scheduler = batched
    results: dict[int, object] = {}
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, segment_tile(model, jobs[i], Params())))
        for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert batched.batches == 1 and batched.tiles == 2, "the two tiles should have shared one model pass"
    total = 0
    for i in range(2):
        _assert_same_within_rounding(results[i], alone[i], f"tile {i}")
        total += len(alone[i].nuclei)
    assert total > 30
    print(f"{total} nuclei in 2 tiles (one an edge tile): the same batched (one pass) and one at a time")


@pytest.mark.model
def test_a_tile_whose_caller_left_is_not_run_and_a_bad_tile_fails_alone(float32_tiny) -> None:
    model = float32_tiny
    encoded: list[int] = []
    real = scheduler.encode

    def counting(m, images):
        encoded.append(len(images))
        return real(m, images)

    sched = TileScheduler(model, max_batch=3, max_wait_s=1.0)
    good = noise_image(3, 64, 64)
    orig = scheduler.encode
    scheduler.encode = counting
    try:
        gone = sched.submit(good, False, alive=lambda: False)
        bad = sched.submit(np.zeros((64, 64, 4), np.uint8), False)  # four channels: SAM cannot take it
        fine = sched.submit(good, False)
        with pytest.raises(Cancelled):
            gone.result(timeout=300)
        with pytest.raises(RuntimeError):
            bad.result(timeout=300)
        out = fine.result(timeout=300)
    finally:
        scheduler.encode = orig
    assert out.ais is not None and out.ais.shape == (3, 64, 64)
    assert encoded[0] == 2 and 1 in encoded[1:], encoded  # the batch failed, then each tile ran alone
    # the worker is still there for the next caller
    assert sched.run(good, False).ais.shape == (3, 64, 64)


@pytest.mark.slow
def test_a_stream_whose_client_waits_for_each_answer_still_flows(random_model) -> None:
    """The server keeps several tiles of a stream in flight, but must not wait for a next tile that a
    client sends only after hearing of the last one."""
    from pathosam_server.rpc.admission import Limits
    from pathosam_server.rpc.server import create_server

    srv, port, _ = create_server(random_model, "127.0.0.1", 0, Limits(max_tile_size=1024, stream_idle_timeout=600))
    srv.start()
    width = 128
    image = noise_image(5, 128, width * 3)
    heard = threading.Semaphore(0)

    def requests():
        yield pb.SegmentRegionRequest(
            start=pb.RegionStart(region=pb.Rect(x=0, y=0, width=3 * width, height=128), image_width=3 * width,
                                 image_height=128)
        )
        for i in range(3):
            pixels = np.ascontiguousarray(image[:, i * width : (i + 1) * width])
            tile = pb.Tile(region=pb.Rect(x=i * width, y=0, width=width, height=128), index=i, image=raw_image(pixels))
            yield pb.SegmentRegionRequest(tile=tile)
            assert heard.acquire(timeout=300), "the server did not answer a tile while waiting for the next"
        yield pb.SegmentRegionRequest(end=pb.RegionEnd())

    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            t0 = time.monotonic()
            order = []
            for resp in pb_grpc.PathoSamStub(ch).SegmentRegion(requests(), timeout=600):
                if resp.WhichOneof("message") == "progress":
                    order.append(resp.progress.index)
                    heard.release()
                elif resp.WhichOneof("message") == "summary":
                    assert resp.summary.tiles == 3
            assert order == [0, 1, 2]
            assert time.monotonic() - t0 < 300
    finally:
        srv.stop(0).wait()
