"""The committed Python stubs are generated from the current proto (the single source)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_committed_stubs_match_proto(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "tools" / "generate_stubs.py"), str(tmp_path)], check=True)
    for name in ("pathosam_pb2.py", "pathosam_pb2_grpc.py", "pathosam_pb2.pyi"):
        fresh = (tmp_path / "pathosam_server" / "grpc_api" / name).read_text()
        committed = (ROOT / "python_server" / "pathosam_server" / "grpc_api" / name).read_text()
        assert fresh == committed, f"{name} is stale: run python tools/generate_stubs.py"
