"""The overlay options that ``segment`` and ``batch`` share: checks before anything slow, then drawing."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from ..formats.overlay import OverlayInfo, write_overlay
from ..formats.slide import PixelSource
from ..records import NucleusRecord, Rect
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


def overlay_for(
    args: argparse.Namespace, path: Path, pixels: PixelSource, region: Rect, nuclei: Sequence[NucleusRecord]
) -> OverlayInfo:
    """Draw one overlay with the options' downsample.

    Args:
        args: Parsed options.
        path: The PNG to write.
        pixels: The image.
        region: Level-0 region shown.
        nuclei: Its nuclei.

    Returns:
        What was written.
    """
    return write_overlay(path, pixels, region, nuclei, args.overlay_downsample)
