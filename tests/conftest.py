"""Shared fixtures: a random-weights checkpoint and a real gRPC server on a free port."""
from __future__ import annotations

import os
import sys
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two xdist workers share two cores: one torch/OpenMP thread each keeps both busy without
    # oversubscription. Set before torch is imported, so every server and Dask worker a test starts
    # inherits it, and in-process references sum in the same order as the one-thread servers.
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"

import grpc
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))

from pathosam_server.grpc_api import pathosam_pb2 as pb  # noqa: E402
from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_under_xdist() -> None:
    """Pin torch to one thread in xdist workers, also where torch was imported before this file set OMP_NUM_THREADS."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vit_t checkpoint with random weights and a random AIS decoder (plumbing only)."""
    from pathosam_server._testing.checkpoints import make_random_checkpoint

    folder = tmp_path_factory.mktemp("random_model")
    return make_random_checkpoint(folder / "random_vit_t.pt", "vit_t", seed=0, semantic=folder / "random_sem.pt")


@pytest.fixture(scope="session")
def random_model(random_checkpoint: Path):
    """The random model loaded once for in-process comparisons."""
    from pathosam_server.inference.models import ModelManager, local_spec

    spec = local_spec(random_checkpoint, name="random", semantic_decoder=random_checkpoint.parent / "random_sem.pt")
    manager = ModelManager([spec], "cpu")
    manager.get()  # as `pathosam serve` does at start
    return manager


def _serve(manager, max_message_bytes: int):
    """Start a real gRPC server on a free loopback port; yields its address, stops it afterwards."""
    from pathosam_server.rpc.admission import Limits
    from pathosam_server.rpc.server import create_server

    limits = Limits(max_tile_size=1024, max_message_bytes=max_message_bytes, max_concurrent_streams=2,
                    max_region_pixels=1024 * 1024)
    srv, port, _ = create_server(manager, "127.0.0.1", 0, limits)
    srv.start()
    yield f"127.0.0.1:{port}"
    srv.stop(0).wait()


def _stub(address: str):
    with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        yield pb_grpc.PathoSamStub(channel)


@pytest.fixture(scope="session")
def server(random_model):
    """A real gRPC server (port 0 = a free port) serving the random model; yields its address."""
    yield from _serve(random_model, 8 * 1024 * 1024)


@pytest.fixture()
def stub(server: str):
    """A stub over a real channel to the session server."""
    yield from _stub(server)


def noise_image(seed: int, height: int, width: int) -> np.ndarray:
    """A deterministic random RGB image (plumbing tests on random weights need no structure)."""
    return (np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8)


def raw_image(arr: np.ndarray) -> pb.Image:
    """RAW_RGB8 message of an (H, W, 3) array."""
    return pb.Image(width=arr.shape[1], height=arr.shape[0], encoding=pb.RAW_RGB8, data=arr.tobytes())


@pytest.fixture(scope="session")
def tiny_model():
    """The trained tiny test model (tests/fixtures/tiny_model, see its MODEL_CARD.md), loaded once."""
    from tiny_model_helpers import TINY_MODEL, TINY_SEMANTIC

    from pathosam_server.inference.models import ModelManager, local_spec

    assert TINY_MODEL.is_file(), f"the trained test model is missing: {TINY_MODEL}"
    manager = ModelManager([local_spec(TINY_MODEL, name="tiny", semantic_decoder=TINY_SEMANTIC)], "cpu")
    manager.get()
    return manager


@pytest.fixture(scope="session")
def tiny_server(tiny_model):
    """A real gRPC server serving the tiny model; yields its address."""
    yield from _serve(tiny_model, 16 * 1024 * 1024)


@pytest.fixture()
def tiny_stub(tiny_server: str):
    """A stub over a real channel to the tiny-model server."""
    yield from _stub(tiny_server)


# Fixtures that load a model (random weights or the tiny trained one): tests using them are marked `model`.
MODEL_FIXTURES = {"random_checkpoint", "random_model", "server", "stub", "tiny_model", "tiny_server", "tiny_stub",
                  "micro_sam_stub", "held_out", "two_grids"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that runs a model, so `-m "not model"` is the geometry/batch/format loop."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)
