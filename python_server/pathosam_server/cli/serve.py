"""`pathosam serve`: run the gRPC server until interrupted."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from .. import __version__
from .common import CliError, add_model_args, add_segment_args, model_manager, params

log = logging.getLogger("pathosam")


def add_parser(sub: Any) -> None:
    """Add ``serve`` to the ``pathosam`` parser.

    Args:
        sub: The subparsers object of ``cli.build_parser``.
    """
    s = sub.add_parser("serve", help="run the gRPC server")
    add_model_args(s)
    s.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; 0.0.0.0 = all)")
    s.add_argument("--port", type=int, default=50051, help="TCP port (0 = any free port)")
    s.add_argument(
        "--workers",
        type=int,
        default=16,
        help="gRPC worker threads (at least --max-open-calls + 8 are used, so health always answers)",
    )
    s.add_argument("--max-message-mb", type=int, default=64, help="largest gRPC message in MiB")
    s.add_argument("--max-tile-size", type=int, default=2048, help="largest tile edge in pixels")
    s.add_argument(
        "--max-concurrent",
        type=int,
        default=8,
        help="tiles and prompts queued or running at once, all clients together",
    )
    s.add_argument("--max-per-client", type=int, default=4, help="of those, at most this many for one client host")
    s.add_argument(
        "--max-open-calls",
        type=int,
        default=16,
        help="segmentation/prompt calls open at once (streams included); more are refused at once",
    )
    s.add_argument(
        "--stream-idle-timeout",
        type=float,
        default=120.0,
        help="seconds a region stream may send nothing before it is closed (its slot freed)",
    )
    s.add_argument("--cache-mb", type=int, default=1024, help="embedding cache budget in MiB (prompts)")
    s.add_argument("--token", help="require this bearer token (or set PATHOSAM_TOKEN)")
    s.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve TLS (with --tls-key)")
    s.add_argument("--tls-key", type=Path, help="PEM private key for --tls-cert")
    s.add_argument("--lazy", action="store_true", help="load the model on the first request, not at start")
    add_segment_args(s, min_size_help="default minimum nucleus size (tile px)")
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the gRPC server until interrupted.

    Args:
        args: Parsed options.

    Returns:
        Exit status.
    """
    from ..rpc.admission import Limits
    from ..rpc.server import create_server, serve_forever

    models = model_manager(args)
    if not args.lazy:
        models.get()  # fail now, with a clear message, rather than on the first request
    limits = Limits(
        max_tile_size=args.max_tile_size,
        max_message_bytes=args.max_message_mb * 1024 * 1024,
        max_concurrent_streams=args.max_concurrent,
        cache_bytes=args.cache_mb * 1024 * 1024,
        max_open_calls=args.max_open_calls,
        max_work_per_client=args.max_per_client,
        stream_idle_timeout=args.stream_idle_timeout,
    )
    if min(args.max_concurrent, args.max_per_client, args.max_open_calls) < 1 or not args.stream_idle_timeout > 0:
        raise CliError(
            "--max-concurrent, --max-per-client and --max-open-calls must be at least 1, and "
            "--stream-idle-timeout positive"
        )
    token = args.token or os.environ.get("PATHOSAM_TOKEN") or None
    tls = None
    if bool(args.tls_cert) != bool(args.tls_key):
        raise CliError("TLS needs both --tls-cert and --tls-key")
    if args.tls_cert:
        tls = (args.tls_key.read_bytes(), args.tls_cert.read_bytes())
    server, port, health = create_server(
        models, args.host, args.port, limits, params(args), workers=args.workers, token=token, tls=tls
    )
    log.info("PathoSAM %s serving %s on %s:%d (%s)", __version__, models.default, args.host, port, models.device)
    print(f"PathoSAM server listening on {args.host}:{port}", flush=True)
    serve_forever(server, health)
    return 0
