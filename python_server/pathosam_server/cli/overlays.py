"""The overlay options that ``segment`` and ``batch`` share: checked before anything slow starts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

from .common import CliError


def check_overlay_args(args: argparse.Namespace) -> None:
    """Refuse overlay options that cannot work, before the model loads.

    Args:
        args: Parsed options (``common.add_overlay_args``).
    """
    d = getattr(args, "overlay_downsample", None)
    if d is not None and not d > 0:
        raise CliError(f"--overlay-downsample must be positive, got {d}")
    png: Optional[Path] = getattr(args, "overlay", None)
    if png is not None:
        if png.suffix.lower() != ".png":
            raise CliError(f"--overlay writes a PNG picture: give a name ending in .png, got '{png}'")
        if not png.parent.is_dir():
            raise CliError(f"folder of --overlay '{png.parent}' does not exist")
    folder: Optional[Path] = getattr(args, "overlay_dir", None)
    if folder is not None and folder.exists() and not folder.is_dir():
        raise CliError(f"--overlay-dir '{folder}' is a file, not a folder")
