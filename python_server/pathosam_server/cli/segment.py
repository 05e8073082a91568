"""`pathosam segment`: segment an image file (or a region of it) in process and write QuPath GeoJSON."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from .common import (
    CliError,
    add_measure_args,
    add_model_args,
    add_overlay_args,
    add_segment_args,
    add_skip_background_arg,
    model_manager,
    params,
    parse_region,
    resolve_skip_background,
)
from .overlays import check_overlay_args


def add_parser(sub: Any) -> None:
    """Add ``segment`` to the ``pathosam`` parser.

    Args:
        sub: The subparsers object of ``cli.build_parser``.
    """
    g = sub.add_parser("segment", help="segment an image file and write QuPath GeoJSON")
    g.add_argument(
        "image",
        type=Path,
        help="a slide OpenSlide reads (SVS, DICOM WSI file or folder, MRXS, NDPI, SCN...), OME-TIFF, TIFF, PNG, JPEG",
    )
    g.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="output .geojson (finished tiles are kept in OUTPUT.partial: a rerun resumes there)",
    )
    g.add_argument("--region", type=int, nargs=4, metavar=("X", "Y", "W", "H"), help="level-0 region")
    g.add_argument("--downsample", type=float, default=1.0, help="level-0 pixels per working pixel")
    add_segment_args(g)
    add_skip_background_arg(g, "on for the whole image, off with --region")
    add_measure_args(g)
    add_overlay_args(g)
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_model_args(g)
    g.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Segment the image and write the nuclei.

    Args:
        args: Parsed options.

    Returns:
        Exit status.
    """
    from tqdm import tqdm

    from ..analysis.measure import expansion_tile_px, halo_problem
    from ..batch.ledger import settings_hash
    from ..formats.partial import PartialOutput
    from ..formats.readers import open_image
    from ..geometry.seams import SeamGuard
    from ..inference import provenance
    from ..inference.regions import segment_region
    from ..records import Rect

    source = open_image(args.image)
    region = parse_region(args.region) or Rect(0, 0, source.width, source.height)
    resolve_skip_background(args, whole_image=args.region is None)
    if region.x1 > source.width or region.y1 > source.height:
        raise CliError(f"--region {region} extends beyond the {source.width} x {source.height} image")
    if not args.output.parent.exists():
        raise CliError(f"output folder '{args.output.parent}' does not exist")
    if not (args.downsample > 0):
        raise CliError(f"--downsample must be positive, got {args.downsample}")
    check_overlay_args(args)
    manager = model_manager(args)
    spec = manager.specs[manager.default]
    calibration = args.image_pixel_size_um if args.image_pixel_size_um is not None else source.pixel_size_um
    if calibration is not None and not 0 <= calibration <= 1000:
        raise CliError(f"--image-pixel-size-um must be in [0, 1000], got {calibration}")
    run_params = params(args).updated(pixel_size_um=calibration)
    problem = halo_problem(run_params, spec.halo, args.downsample)  # the server's rule, before the model loads
    if problem:
        raise CliError(f"{problem}: pass --halo {math.ceil(2 * expansion_tile_px(run_params, args.downsample))}")
    stat = args.image.stat()
    settings = settings_hash(
        {
            "image": str(args.image.resolve()),
            "size": stat.st_size,
            "mtime": stat.st_mtime_ns,
            "region": [region.x, region.y, region.width, region.height],
            "downsample": args.downsample,
            "model": spec.source,
            "decoder": str(spec.decoder or ""),
            "semantic": str(spec.semantic_decoder or ""),
            "tiles": [spec.tile_size, spec.halo],
            "normalization": spec.tile_normalization,
            "precision": [spec.precision, spec.class_precision],
            # Skipping glass does not change the nuclei, so a resumed run may switch it.
            "params": {k: v for k, v in run_params.as_dict().items() if k != "skip_background"},
        }
    )
    partial = PartialOutput(args.output, settings)
    if partial.done:
        print(f"resuming: {len(partial.done)} tiles done earlier ({partial.path})")
    model = manager.get()
    t0 = time.perf_counter()
    bar = tqdm(total=None, unit="tile", disable=args.quiet, desc="segmenting")

    skipped: list[int] = []

    def progress(done: int, total: int) -> None:
        bar.total = total
        if skipped:
            bar.set_postfix_str(f"{len(skipped)} glass skipped", refresh=False)
        bar.update(done - bar.n)

    guard = SeamGuard()
    try:
        for _ in segment_region(
            model,
            source,
            region,
            args.downsample,
            run_params,
            on_tile=progress,
            guard=guard,
            done=partial.done,
            on_tile_nuclei=partial.add,
            on_skipped=skipped.append,
        ):
            pass
    finally:
        bar.close()
        partial.close()
    count = partial.finish(provenance.describe(model, run_params))
    seams = f"; {guard.dropped} dropped where two tiles disagreed" if guard.dropped else ""
    glass = f"; {len(skipped)} tiles of glass skipped" if skipped else ""
    print(f"{count} nuclei -> {args.output} ({time.perf_counter() - t0:.1f} s{seams}{glass})")
    if args.overlay is not None:
        from ..formats.geojson import read_detection_geojson
        from ..formats.overlay import write_overlay

        nuclei = read_detection_geojson(args.output)
        info = write_overlay(args.overlay, source, region, nuclei, args.overlay_downsample)
        print(f"overlay -> {info.path} ({info.size[0]} x {info.size[1]} px, downsample {info.downsample:g})")
    return 0
