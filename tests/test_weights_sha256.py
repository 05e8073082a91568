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
