"""`pathosam report`: rebuild a batch's QC report from its outputs (ledger + GeoJSON), running nothing."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import CliError


def add_parser(sub: Any) -> None:
    """Add ``report`` to the ``pathosam`` parser.

    Args:
        sub: The subparsers object of ``cli.build_parser``.
    """
    r = sub.add_parser(
        "report",
        help="rebuild a batch's QC report (HTML) from its ledger and GeoJSON files, without rerunning it",
    )
    r.add_argument("--geojson-dir", type=Path, required=True, help="the batch's --geojson-dir")
    r.add_argument("--ledger", type=Path, help="the batch's ledger (default: GEOJSON_DIR/pathosam-batch.ledger)")
    r.add_argument("--images-dir", type=Path, help="the images, for thumbnails (without: outlines on white)")
    r.add_argument("-o", "--output", type=Path, required=True, help="the report .html to write")
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Rebuild the report.

    Args:
        args: Parsed options.

    Returns:
        Exit status.
    """
    from ..batch.ledger import LEDGER_NAME, Ledger
    from ..batch.report import ReportBuilder, collect_image
    from ..batch.run import geojson_names
    from ..errors import ImageReadError
    from ..formats.readers import open_image

    if not args.geojson_dir.is_dir():
        raise CliError(f"--geojson-dir '{args.geojson_dir}' is not a folder")
    ledger_path = args.ledger or args.geojson_dir / LEDGER_NAME
    if not ledger_path.is_file():
        raise CliError(f"no ledger at '{ledger_path}' (give the batch's --ledger)")
    if args.images_dir is not None and not args.images_dir.is_dir():
        raise CliError(f"--images-dir '{args.images_dir}' is not a folder")
    if args.output.suffix.lower() not in (".html", ".htm") or not args.output.parent.is_dir():
        raise CliError(f"-o needs an .html file in an existing folder, got '{args.output}'")
    ledger = Ledger(ledger_path, lock=False)
    records = ledger.latest()
    if not records:
        raise CliError(f"the ledger '{ledger_path}' lists no finished image")
    images = [argparse.Namespace(key=k, name=str(r.get("name") or k)) for k, r in records.items()]
    names = geojson_names(images)  # the names the batch gave the files
    builder = ReportBuilder(args.output, "PathoSAM batch report", {"rebuilt from": ledger_path})
    for im in images:
        pixels = None
        path = args.images_dir / im.name if args.images_dir is not None else None
        if path is not None and path.exists():
            try:
                pixels = open_image(path)
            except ImageReadError as err:
                print(f"{im.name}: no thumbnail pixels ({err})")
        try:
            builder.add(collect_image(im.name, "done", records[im.key], args.geojson_dir / names[im.key], pixels))
        finally:
            getattr(pixels, "close", lambda: None)()
    builder.write()
    flagged = sum(1 for qc in builder.images.values() if qc.flags)
    print(f"report -> {args.output} ({len(images)} images, {flagged} flagged)")
    return 0
