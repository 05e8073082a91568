"""`pathosam models`: list registry models and whether their weights are cached."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    """Add ``models`` to the ``pathosam`` parser.

    Args:
        sub: The subparsers object of ``cli.build_parser``.
    """
    m = sub.add_parser("models", help="list models and what is cached")
    m.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the registry models and the cache folder.

    Args:
        args: Parsed options (none).

    Returns:
        Exit status.
    """
    from micro_sam.util import microsam_cachedir

    from ..inference.models import DEFAULT_MODEL, REGISTRY_MODELS, is_cached

    print(f"micro-sam cache: {Path(microsam_cachedir()) / 'models'}")
    for name in REGISTRY_MODELS:
        flags = ["cached" if is_cached(name) else "not downloaded"]
        if name == DEFAULT_MODEL:
            flags.append("default")
        print(f"  {name:24s} {', '.join(flags)}")
    print("Local checkpoints: pass --model-path (and --decoder-path / --semantic-decoder-path) to any command.")
    return 0
