"""`pathosam doctor`: everything a support question needs, in one report (and, given a server, whether it
answers and whether it and this client are compatible)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__

PACKAGES = (
    "torch",
    "micro-sam",
    "segment-anything-py",
    "torch-em",
    "grpcio",
    "protobuf",
    "numpy",
    "shapely",
    "tifffile",
    "paquo",
)


def add_parser(sub: Any) -> None:
    """Add ``doctor`` to the ``pathosam`` parser.

    Args:
        sub: The subparsers object of ``cli.build_parser``.
    """
    d = sub.add_parser("doctor", help="report versions, devices, cached models and (optionally) a server's state")
    d.add_argument("--server", metavar="HOST:PORT", help="also check this server: health, version, models")
    d.add_argument("--token", help="bearer token of the server (or set PATHOSAM_TOKEN)")
    d.add_argument("--tls-ca", type=Path, metavar="PEM", help="the server speaks TLS: trust this certificate")
    d.add_argument("--verify", action="store_true", help="hash cached weights and compare with the registry")
    d.add_argument("--json", action="store_true", help="print the report as JSON")
    d.set_defaults(func=run)


def _versions() -> dict[str, str]:
    out = {"pathosam": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _devices() -> dict[str, Any]:
    import torch

    from ..inference.semantic import resolve_precision

    info: dict[str, Any] = {"cpu_cores": os.cpu_count(), "torch_cuda": torch.version.cuda or "none (CPU build)"}
    try:
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):  # not on every OS
        pass
    info["cpu_bfloat16_native"] = resolve_precision("auto", "cpu") is not None
    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(i)
            gpus.append(
                {
                    "index": i,
                    "name": torch.cuda.get_device_name(i),
                    "free_gib": round(free / 2**30, 1),
                    "total_gib": round(total / 2**30, 1),
                }
            )
    info["cuda_devices"] = gpus
    info["mps"] = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return info


def _models(verify: bool) -> dict[str, Any]:
    import hashlib

    from micro_sam import util

    from ..inference.models import REGISTRY_MODELS

    folder = Path(util.microsam_cachedir()) / "models"
    registry = util.models().registry
    out: dict[str, Any] = {"cache": str(folder), "models": {}}
    for name in REGISTRY_MODELS:
        for part in (name, f"{name}_decoder"):
            path = folder / part
            entry: dict[str, Any] = {"cached": path.is_file(), "expected_sha256": str(registry.get(part, ""))}
            if path.is_file():
                entry["bytes"] = path.stat().st_size
                if verify:
                    digest = hashlib.sha256()
                    with open(path, "rb") as f:
                        for chunk in iter(lambda: f.read(1 << 20), b""):
                            digest.update(chunk)
                    entry["sha256"] = digest.hexdigest()
                    entry["hash_ok"] = entry["expected_sha256"].removeprefix("sha256:") == entry["sha256"]
            out["models"][part] = entry
    return out


def _server(address: str, token: str | None, tls_ca: bytes | None) -> dict[str, Any]:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from ..errors import RunnerError
    from ..rpc.client import PathoSamClient, compatibility

    out: dict[str, Any] = {"address": address}
    with PathoSamClient(address, token, tls_ca=tls_ca) as client:
        try:
            health = health_pb2_grpc.HealthStub(client.channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            out["health"] = health_pb2.HealthCheckResponse.ServingStatus.Name(health.status)
        except grpc.RpcError as err:
            out["health"] = f"no answer ({err.code().name}: {err.details()})"
            return out
        try:
            info = client.info(timeout=30)
        except RunnerError as err:
            out["error"] = str(err)
            return out
    ok, verdict = compatibility(__version__, info.server_version)
    out.update(
        server_version=info.server_version,
        micro_sam=info.micro_sam_version,
        torch=info.torch_version,
        device=info.device,
        compatible=ok,
        verdict=verdict,
        models=[
            {
                "name": m.name,
                "default": m.is_default,
                "loaded": m.loaded,
                "classes": m.has_semantic_decoder,
                "tile": m.default_tile_size,
                "halo": m.default_halo,
                "source": m.source,
            }
            for m in info.models
        ],
    )
    return out


def run(args: argparse.Namespace) -> int:
    """Print the report.

    Args:
        args: Parsed options.

    Returns:
        0, or 1 when a given server does not answer or is incompatible.
    """
    report: dict[str, Any] = {"versions": _versions(), "devices": _devices(), "weights": _models(args.verify)}
    if args.server:
        token = args.token or os.environ.get("PATHOSAM_TOKEN") or None
        report["server"] = _server(args.server, token, args.tls_ca.read_bytes() if args.tls_ca else None)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report)
    server = report.get("server")
    return 1 if server and not server.get("compatible") else 0


def _print(report: dict[str, Any]) -> None:
    w = sys.stdout.write
    w("versions:\n" + "".join(f"  {k:22s} {v}\n" for k, v in report["versions"].items()))
    w("devices:\n" + "".join(f"  {k:22s} {v}\n" for k, v in report["devices"].items()))
    weights = report["weights"]
    w(f"weights (micro-sam cache {weights['cache']}):\n")
    for name, entry in weights["models"].items():
        state = "cached" if entry["cached"] else "not downloaded"
        if "hash_ok" in entry:
            state += ", hash ok" if entry["hash_ok"] else ", HASH MISMATCH (delete the file to download it again)"
        w(f"  {name:34s} {state}\n")
    server = report.get("server")
    if server:
        w(f"server {server['address']}:\n")
        for key in ("health", "error", "server_version", "micro_sam", "torch", "device", "verdict"):
            if key in server:
                w(f"  {key:22s} {server[key]}\n")
        for m in server.get("models", []):
            flags = ", ".join(
                f for f, on in (("default", m["default"]), ("loaded", m["loaded"]), ("classes", m["classes"])) if on
            )
            w(f"  model {m['name']} ({flags}; tiles {m['tile']} + {m['halo']}; {m['source']})\n")
