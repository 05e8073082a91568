"""file_sha256: the provenance hash of a weights file, streamed and cached per path + mtime + size."""

import hashlib
import os

from pathosam_server.inference import weights


def test_sha256_matches_hashlib_and_is_cached(tmp_path, monkeypatch):
    path = tmp_path / "w.pt"
    data = os.urandom(3 * 1024 + 7)
    path.write_bytes(data)
    assert weights.file_sha256(path, chunk_bytes=1024) == hashlib.sha256(data).hexdigest()

    calls = []
    real = hashlib.sha256
    monkeypatch.setattr(weights.hashlib, "sha256", lambda: calls.append(1) or real())
    assert weights.file_sha256(path) == real(data).hexdigest()
    assert calls == []  # served from the cache

    new = data + b"x"
    path.write_bytes(new)
    os.utime(path, ns=(1, 1))  # a changed file (size and mtime) is hashed again
    assert weights.file_sha256(path) == real(new).hexdigest()
    assert calls == [1]


def test_get_info_reports_the_sha256_of_every_file_the_loaded_model_came_from(stub, random_checkpoint):
    from pathosam_server.grpc_api import pathosam_pb2 as pb

    info = stub.GetInfo(pb.GetInfoRequest(), timeout=60)
    (model,) = [m for m in info.models if m.loaded]
    files = {w.role: w for w in model.weights}
    assert set(files) == {"checkpoint", "semantic_decoder"}  # the random checkpoint holds its AIS decoder
    for role, path in (("checkpoint", random_checkpoint), ("semantic_decoder", random_checkpoint.parent / "random_sem.pt")):
        data = path.read_bytes()
        assert files[role].name == path.name
        assert files[role].sha256 == hashlib.sha256(data).hexdigest()  # the test's own hash, not the server's code
        assert files[role].bytes == len(data)
    assert model.precision in {"float32", "bfloat16", "float16"}
    assert model.class_precision in {"float32", "bfloat16"}
