"""CLI room: `pathosam serve | segment | prompt | models | batch | finetune | report | doctor`, one module per
command, shared options in ``common``. Errors end as one message and a non-zero exit, never a traceback.

May import every room; nothing imports the CLI.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Optional

from .. import __version__
from . import batch, doctor, finetune, models, prompt, report, segment, serve


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all subcommands.

    Returns:
        The parser; each subcommand sets ``func``.
    """
    p = argparse.ArgumentParser(prog="pathosam", description="PathoSAM nucleus segmentation for QuPath")
    p.add_argument("--version", action="version", version=f"pathosam {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    for command in (serve, segment, prompt, models, batch, finetune, report, doctor):
        command.add_parser(sub)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point.

    Args:
        argv: Arguments (default: sys.argv[1:]).

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from ..errors import PathoSamError

    try:
        return int(args.func(args))
    except (PathoSamError, OSError) as err:
        print(f"pathosam: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pathosam: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
