"""Regenerate the committed Python gRPC stubs from proto/ (run after editing the .proto).

Usage: python tools/generate_stubs.py [OUTPUT_ROOT]   (default: python_server)
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]


def generate(out_root: Path) -> None:
    """Write pathosam_server/grpc_api/pathosam_pb2*.py under ``out_root``."""
    (out_root / "pathosam_server" / "grpc_api").mkdir(parents=True, exist_ok=True)
    # Map the proto into the package so the generated imports read `pathosam_server.grpc_api`.
    args = [
        "protoc",
        f"-Ipathosam_server/grpc_api={ROOT / 'proto' / 'pathosam' / 'v1'}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--pyi_out={out_root}",
        str(ROOT / "proto" / "pathosam" / "v1" / "pathosam.proto"),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "python_server")
