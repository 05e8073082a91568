"""`pathosam batch`: the command line of headless batches over a QuPath project or an image folder."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from ..batch.ledger import LEDGER_NAME, Ledger
from ..batch.run import BatchOptions, run_batch
from ..batch.runner import InProcessRunner, Runner
from ..batch.sources import BatchSource, FolderSource, RegionSelection
from ..batch.tables import summary_table, write_csv
from ..errors import RunnerError
from .common import (
    CliError,
    add_measure_args,
    add_model_args,
    add_overlay_args,
    add_segment_args,
    add_skip_background_arg,
    model_manager,
    params,
    resolve_skip_background,
)
from .overlays import check_overlay_args

log = logging.getLogger("pathosam")
REPORT_INTERVAL_S = 20.0  # the report is rewritten at most this often while a batch runs (and at its end)

EPILOG = """\
examples:
  pathosam batch project.qpproj --regions class:Tumor --server gpu1:50051 --server gpu2:50051
  pathosam batch project.qpproj --server dns:///pathosam.lab.internal:50051
  pathosam batch project.qpproj --cluster local:4 --model-path weights.pt
  pathosam batch project.qpproj --cluster slurm --cluster-config slurm.yaml --model-path weights.pt
  pathosam batch project.qpproj --images '*.svs' --regions whole --pixel-size-um 0.25 --dry-run
  pathosam batch --images-dir slides/ --geojson-dir nuclei/ --regions annotations --csv counts.csv

A killed run resumes where it stopped: run the same command again. The ledger
(PROJECT_DIR/pathosam-batch.ledger, or GEOJSON_DIR/pathosam-batch.ledger for --images-dir)
records each finished image with a hash of the settings; changed settings redo the images.
Do not run a batch on a project that is open in QuPath at the same time.
"""


def add_parser(sub: Any) -> None:
    """Add the ``batch`` subcommand to the ``pathosam`` parser.

    Args:
        sub: The subparsers object of ``cli.build_parser``.
    """
    b = sub.add_parser(
        "batch",
        help="segment a QuPath project (or a folder of images) headlessly, resumably",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument(
        "project", nargs="?", type=Path, help="QuPath project: a .qpproj file or its folder (needs QuPath + paquo)"
    )
    b.add_argument(
        "--images-dir",
        type=Path,
        help="instead of a project: a folder of images, each with optional "
        "annotations in NAME.geojson next to it (QuPath's GeoJSON); no QuPath needed; needs --geojson-dir",
    )
    b.add_argument("--images", default="*", metavar="PATTERN", help="glob on image names (default: all)")
    b.add_argument(
        "--regions",
        default="annotations",
        metavar="WHICH",
        help="whole | annotations | class:NAME (default annotations: every annotation of each image)",
    )
    res = b.add_mutually_exclusive_group()
    res.add_argument("--downsample", type=float, help="level-0 pixels per working pixel (default 1)")
    res.add_argument(
        "--pixel-size-um",
        type=float,
        help="working pixel size: downsample = this / the image's pixel "
        "size (PathoSAM was trained at about 0.25); uncalibrated images fall back to downsample 1",
    )
    add_segment_args(b)
    add_skip_background_arg(b, "on for --regions whole, off for annotations: they already are tissue")
    add_measure_args(b, image_pixel_size=False)
    b.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="PathoSAM server; repeat (or give one dns:///NAME:PORT) for a pool: gRPC balances the tiles "
        "over it, retries and routes around servers that go down (default: run the model in this process)",
    )
    b.add_argument(
        "--cluster",
        metavar="SPEC",
        help="run the model on Dask workers: local:N (N worker processes here), tcp://HOST:PORT (a running "
        "Dask scheduler) or slurm (see --cluster-config); this process reads pixels and writes results",
    )
    b.add_argument(
        "--cluster-config",
        type=Path,
        metavar="FILE",
        help="YAML/JSON with dask_jobqueue.SLURMCluster options (queue, cores, memory, walltime, "
        "job_extra_directives, ...) and jobs: N, for --cluster slurm",
    )
    b.add_argument("--token", help="bearer token of the servers (or set PATHOSAM_TOKEN)")
    b.add_argument(
        "--tls-ca",
        type=Path,
        metavar="PEM",
        help="the servers speak TLS: trust this certificate (e.g. the one given to `serve --tls-cert`)",
    )
    b.add_argument("--replace", action="store_true", help="first remove earlier PathoSAM detections in the regions")
    b.add_argument("--force", action="store_true", help="redo images the ledger lists as done (implies --replace)")
    b.add_argument("--dry-run", action="store_true", help="list images, regions and tile counts; run nothing")
    b.add_argument("--geojson-dir", type=Path, help="also write one QuPath GeoJSON file per image here")
    b.add_argument("--csv", type=Path, help="write nuclei per class per image to this CSV file")
    b.add_argument(
        "--report",
        type=Path,
        metavar="HTML",
        help="write a QC report (one self-contained HTML page: thumbnails with outlines, counts, class "
        "composition, cohort plots, flags for images to check), updated after every image; it needs the GeoJSON "
        "files: without --geojson-dir they go to REPORT_STEM-nuclei/ next to the report",
    )
    add_overlay_args(b, batch=True)
    b.add_argument("--ledger", type=Path, help="ledger file (default: next to the project / in --geojson-dir)")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_model_args(b)
    b.set_defaults(func=run)


def _check(args: argparse.Namespace) -> RegionSelection:
    """Validate option combinations before anything slow starts."""
    if (args.project is None) == (args.images_dir is None):
        raise CliError("give either a QuPath project (PROJECT.qpproj) or --images-dir DIR")
    if args.images_dir is not None and args.geojson_dir is None and not args.dry_run:
        raise CliError("--images-dir needs --geojson-dir: without a project the results go to GeoJSON files")
    try:
        selection = RegionSelection.parse(args.regions)
    except ValueError as err:
        raise CliError(str(err)) from err
    resolve_skip_background(args, whole_image=selection.kind == "whole")
    for name in ("downsample", "pixel_size_um"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise CliError(f"--{name.replace('_', '-')} must be positive, got {value}")
    if args.simplify is not None and not 0 <= args.simplify <= 1:
        raise CliError(f"--simplify must be in [0, 1] tile pixels, got {args.simplify}")
    if args.server and (args.model_path or args.decoder_path or args.semantic_decoder_path):
        raise CliError(
            "--model-path/--decoder-path are for in-process inference; servers load their own weights "
            "(use --model NAME to pick one of a server's models)"
        )
    for address in args.server:
        if "://" in address:
            if len(args.server) > 1:
                raise CliError(f"--server '{address}' names a whole pool: give it alone, or HOST:PORT entries")
            continue
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise CliError(f"--server needs HOST:PORT (or one dns:///NAME:PORT), got '{address}'")
    if args.cluster is not None:
        if args.server:
            raise CliError("give --server (gRPC servers) or --cluster (Dask workers), not both")
        from ..batch.dask_runner import parse_cluster

        try:
            kind, _ = parse_cluster(args.cluster)
        except RunnerError as err:
            raise CliError(str(err)) from err
        if args.cluster_config is not None and kind != "slurm":
            raise CliError("--cluster-config is for --cluster slurm")
        if args.cluster_config is not None and not args.cluster_config.is_file():
            raise CliError(f"--cluster-config '{args.cluster_config}' does not exist")
    elif args.cluster_config is not None:
        raise CliError("--cluster-config needs --cluster slurm")
    if args.csv is not None and not args.csv.parent.is_dir():
        raise CliError(f"folder of --csv '{args.csv.parent}' does not exist")
    check_overlay_args(args)
    if args.report is not None:
        if args.report.suffix.lower() not in (".html", ".htm"):
            raise CliError(f"--report writes an HTML page: give a name ending in .html, got '{args.report}'")
        if not args.report.parent.is_dir():
            raise CliError(f"folder of --report '{args.report.parent}' does not exist")
        if args.geojson_dir is None:
            args.geojson_dir = args.report.parent / f"{args.report.stem}-nuclei"
    return selection


def run(args: argparse.Namespace) -> int:
    """Run a batch.

    Args:
        args: Parsed options.

    Returns:
        0 when every selected image is done, 1 when some failed.
    """
    selection = _check(args)
    for folder in (args.geojson_dir, args.overlay_dir):
        if folder is not None and not args.dry_run:
            folder.mkdir(parents=True, exist_ok=True)
    project = None
    with contextlib.ExitStack() as stack:
        source: BatchSource
        if args.project is not None:
            from ..batch.paquo_project import QuPathSource  # the one module that imports paquo (starts QuPath's JVM)

            source = project = QuPathSource(args.project, writable=not args.dry_run)
        else:
            source = FolderSource(args.images_dir)
        stack.callback(source.close)
        settings = params(args)
        token = args.token or os.environ.get("PATHOSAM_TOKEN") or None
        runner: Runner
        if args.server:
            from ..batch.grpc_pool import ServerPool

            tls_ca = args.tls_ca.read_bytes() if args.tls_ca else None
            runner = ServerPool(
                args.server, args.model or "", settings, token, args.tile_size, args.halo, tls_ca=tls_ca
            )
        elif args.cluster is not None and not args.dry_run:
            from ..batch.dask_runner import DaskRunner

            runner = DaskRunner(
                model_manager(args), settings, args.tile_size, args.halo, args.cluster, args.cluster_config
            )
        else:
            runner = InProcessRunner(model_manager(args), settings, args.tile_size, args.halo)
        stack.callback(runner.close)
        ledger_path = args.ledger or (
            (source.location if args.project else args.geojson_dir or source.location) / LEDGER_NAME
        )
        ledger = Ledger(ledger_path, lock=not args.dry_run)
        stack.callback(ledger.close)
        options = BatchOptions(
            regions=selection,
            image_pattern=args.images,
            downsample=args.downsample,
            pixel_size_um=args.pixel_size_um,
            replace=args.replace,
            force=args.force,
            dry_run=args.dry_run,
            geojson_dir=args.geojson_dir,
            write_project=args.project is not None,
            quiet=args.quiet,
            qc=args.report is not None,
            overlay_dir=args.overlay_dir,
            overlay_downsample=args.overlay_downsample,
        )
        classes = None
        if project is not None and not args.dry_run and settings.classify:
            classes = project.path_classes(runner.class_colours)
        hook = None
        if args.report is not None and not args.dry_run:
            from ..batch.report import BatchReportHook, ReportBuilder

            assert args.geojson_dir is not None  # _check gave the report a GeoJSON folder
            model_name = runner.identity.get("model", "")
            settings_shown = {
                "model": model_name,
                "regions": str(selection),
                "tile": runner.tile_size,
                "halo": runner.halo,
            }
            title = f"PathoSAM batch: {args.project or args.images_dir}"
            builder = ReportBuilder(args.report, title, settings_shown, interval=REPORT_INTERVAL_S)
            stack.callback(builder.close)  # the last images' figures, also when the batch is interrupted
            hook = BatchReportHook(builder, args.geojson_dir)
        reports = run_batch(source, runner, options, ledger, classes, on_image=hook)
    print(summary_table(reports))
    if not reports:
        print(f"no image matches --images '{args.images}'")
    for worker, tiles in sorted(runner.tiles_per_worker.items()):
        print(f"tiles on {worker}: {tiles}")
    if args.csv is not None and args.dry_run:
        print(f"dry run: {args.csv} not written")
    elif args.csv is not None:
        write_csv(reports, args.csv)
        print(f"counts -> {args.csv}")
    if not args.dry_run:
        print(f"ledger: {ledger.path}")
    if args.report is not None and not args.dry_run:
        print(f"report -> {args.report}")
    return 1 if any(r.status.startswith("failed") for r in reports) else 0
