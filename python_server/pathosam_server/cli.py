"""`pathosam serve | segment | prompt | models | batch`: the command line. Errors end as one message, never a traceback."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from . import __version__

log = logging.getLogger("pathosam")


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None, help="micro-sam registry name (default vit_b_histopathology)")
    g.add_argument("--model-path", type=Path, help="local checkpoint (works offline)")
    g.add_argument("--decoder-path", type=Path, help="local AIS decoder weights, if not inside the checkpoint")
    g.add_argument("--semantic-decoder-path", type=Path, help="local semantic (class) decoder weights")
    g.add_argument("--model-name", help="name to serve a local checkpoint under (default: file stem)")
    g.add_argument("--tile-size", type=int, default=None, help="inner tile edge in working pixels (384)")
    g.add_argument("--halo", type=int, default=None, help="tile halo in working pixels (64)")
    g.add_argument("--no-classes", action="store_true", help="do not load a semantic (class) decoder")
    g.add_argument("--class-precision", choices=("auto", "float32", "bfloat16"), default="auto",
                   help="arithmetic of the semantic decoder; auto = bfloat16 where the CPU/GPU runs it natively")
    g.add_argument("--tile-normalization", choices=("none", "micro-sam"), default="none",
                   help="none: tiles reach the model as they are (as PathoSAM was trained); micro-sam: stretch "
                        "each tile's channels to 0-255 like micro-sam's own inference (tile-dependent; parity)")
    g.add_argument("--allow-pickle", action="store_true", help="allow unpickling a trusted local checkpoint")
    g.add_argument("--device", default=os.environ.get("PATHOSAM_DEVICE", "auto"), help="auto|cpu|cuda|cuda:N|mps")


def _model_manager(args: argparse.Namespace):
    from .models import DEFAULT_MODEL, ModelManager, local_spec, registry_spec, select_device

    extra = {k: v for k, v in (("tile_size", args.tile_size), ("halo", args.halo)) if v is not None}
    extra["class_precision"] = args.class_precision
    extra["tile_normalization"] = args.tile_normalization
    if args.model_path:
        spec = local_spec(
            args.model_path,
            name=args.model_name or args.model,
            decoder=args.decoder_path,
            semantic_decoder=None if args.no_classes else args.semantic_decoder_path,
            allow_pickle=args.allow_pickle,
            pixel_size_um=0.0,
            **extra,
        )
    else:
        spec = registry_spec(args.model or DEFAULT_MODEL, args.semantic_decoder_path, classes=not args.no_classes)
        spec.decoder = args.decoder_path
        for k, v in extra.items():
            setattr(spec, k, v)
    return ModelManager([spec], select_device(args.device))


def _params(args: argparse.Namespace):
    from .pipeline import Params

    return Params().updated(
        classify=not args.no_classify if hasattr(args, "no_classify") else None,
        simplify_tolerance=args.simplify,
        min_size=args.min_size,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the gRPC server until interrupted."""
    from .server import create_server, serve_forever
    from .service import Limits

    models = _model_manager(args)
    if not args.lazy:
        models.get()  # fail now, with a clear message, rather than on the first request
    limits = Limits(
        max_tile_size=args.max_tile_size,
        max_message_bytes=args.max_message_mb * 1024 * 1024,
        max_concurrent_streams=args.max_concurrent,
        cache_bytes=args.cache_mb * 1024 * 1024,
    )
    token = args.token or os.environ.get("PATHOSAM_TOKEN") or None
    tls = None
    if bool(args.tls_cert) != bool(args.tls_key):
        raise CliError("TLS needs both --tls-cert and --tls-key")
    if args.tls_cert:
        tls = (args.tls_key.read_bytes(), args.tls_cert.read_bytes())
    server, port, health = create_server(
        models, args.host, args.port, limits, _params(args), workers=args.workers, token=token, tls=tls
    )
    log.info("PathoSAM %s serving %s on %s:%d (%s)", __version__, models.default, args.host, port, models.device)
    print(f"PathoSAM server listening on {args.host}:{port}", flush=True)
    serve_forever(server, health)
    return 0


def _parse_region(values: Optional[Sequence[int]]):
    from .tiling import Rect

    if values is None:
        return None
    x, y, w, h = values
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise CliError(f"--region needs X Y WIDTH HEIGHT with non-negative origin and positive size, got {values}")
    return Rect(x, y, w, h)


def cmd_segment(args: argparse.Namespace) -> int:
    """Segment an image (or a level-0 region of it) in process and write QuPath GeoJSON."""
    from tqdm import tqdm

    from .geojson import write_geojson
    from .images import open_image
    from .regions import segment_region
    from .tiling import Rect

    source = open_image(args.image)
    region = _parse_region(args.region) or Rect(0, 0, source.width, source.height)
    if region.x1 > source.width or region.y1 > source.height:
        raise CliError(f"--region {region} extends beyond the {source.width} x {source.height} image")
    if not args.output.parent.exists():
        raise CliError(f"output folder '{args.output.parent}' does not exist")
    if not (args.downsample > 0):
        raise CliError(f"--downsample must be positive, got {args.downsample}")
    model = _model_manager(args).get()
    t0 = time.perf_counter()
    bar = tqdm(total=None, unit="tile", disable=args.quiet, desc="segmenting")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    nuclei = list(segment_region(model, source, region, args.downsample, _params(args), on_tile=progress))
    bar.close()
    count = write_geojson(nuclei, args.output)
    print(f"{count} nuclei -> {args.output} ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_prompt(args: argparse.Namespace) -> int:
    """Segment nuclei from points / boxes given on the command line; write QuPath GeoJSON."""
    import numpy as np

    from .embedding_cache import EmbeddingCache
    from .geojson import write_geojson
    from .geometry import TileFrame
    from .images import open_image
    from .prompts import segment_prompts, window_around, window_embedding

    if not args.point and not args.negative and not args.box:
        raise CliError("give at least one --point or --box")
    if args.negative and not args.point and not args.box:
        raise CliError("negative points need a --point or --box for the same object")
    if any(w <= 0 or h <= 0 for _, _, w, h in args.box or []):
        raise CliError("every --box needs a positive WIDTH and HEIGHT")
    source = open_image(args.image)
    corners = [(x, y) for x, y in (args.point or []) + (args.negative or [])]
    corners += [c for x, y, w, h in (args.box or []) for c in ((x, y), (x + w, y + h))]
    pts = np.asarray(corners, dtype=np.float64)
    if (pts < 0).any() or (pts[:, 0] > source.width).any() or (pts[:, 1] > source.height).any():
        raise CliError(f"prompts must lie inside the {source.width} x {source.height} image")
    window = window_around(pts, (source.width, source.height), args.downsample, args.window)
    if not all(window.contains_point(x, y) for x, y in pts if x < source.width and y < source.height):
        raise CliError(f"prompts span more than one {args.window} px window; run them separately")
    model = _model_manager(args).get()
    pixels = source.read(window, args.downsample)
    cache = EmbeddingCache(1 << 30)
    entry, _, _ = window_embedding(model, cache, pixels, "")
    frame = TileFrame(window.x, window.y, args.downsample)
    objects = []
    points = [(x, y, 1) for x, y in args.point or []] + [(x, y, 0) for x, y in args.negative or []]
    boxes = args.box or []
    if points and len(boxes) <= 1:  # points (and at most one box) describe one object
        box = boxes.pop() if boxes else None
        objects.append(_prompt_object(points, box, frame))
    elif points:
        raise CliError("with several boxes, points are ambiguous: give points with at most one --box")
    objects += [_prompt_object([], b, frame) for b in boxes]
    nuclei = segment_prompts(model, cache, entry, objects, frame, _params(args))
    count = write_geojson([n for n in nuclei if n.area > 0], args.output)
    print(f"{count} nuclei -> {args.output}")
    return 0


def _prompt_object(points, box, frame):
    import numpy as np

    from .geometry import level0_to_tile
    from .prompts import PromptObject

    xy = np.asarray([(x, y) for x, y, _ in points], dtype=np.float64).reshape(-1, 2)
    labels = np.asarray([lab for _, _, lab in points], dtype=np.int32)
    tile_box = None
    if box is not None:
        x, y, w, h = box
        tile_box = tuple(level0_to_tile(np.array([[x, y], [x + w, y + h]]), frame).ravel().tolist())
    return PromptObject(level0_to_tile(xy, frame), labels, tile_box)


def cmd_models(args: argparse.Namespace) -> int:
    """List registry models and whether their weights are cached."""
    from micro_sam.util import microsam_cachedir

    from .models import DEFAULT_MODEL, REGISTRY_MODELS, is_cached

    print(f"micro-sam cache: {Path(microsam_cachedir()) / 'models'}")
    for name in REGISTRY_MODELS:
        flags = ["cached" if is_cached(name) else "not downloaded"]
        if name == DEFAULT_MODEL:
            flags.append("default")
        print(f"  {name:24s} {', '.join(flags)}")
    print("Local checkpoints: pass --model-path (and --decoder-path / --semantic-decoder-path) to any command.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all subcommands."""
    p = argparse.ArgumentParser(prog="pathosam", description="PathoSAM nucleus segmentation for QuPath")
    p.add_argument("--version", action="version", version=f"pathosam {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the gRPC server")
    _add_model_args(s)
    s.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; 0.0.0.0 = all)")
    s.add_argument("--port", type=int, default=50051, help="TCP port (0 = any free port)")
    s.add_argument("--workers", type=int, default=16, help="gRPC worker threads")
    s.add_argument("--max-message-mb", type=int, default=64, help="largest gRPC message in MiB")
    s.add_argument("--max-tile-size", type=int, default=2048, help="largest tile edge in pixels")
    s.add_argument("--max-concurrent", type=int, default=8, help="segmentation calls served at once")
    s.add_argument("--cache-mb", type=int, default=1024, help="embedding cache budget in MiB (prompts)")
    s.add_argument("--token", help="require this bearer token (or set PATHOSAM_TOKEN)")
    s.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve TLS (with --tls-key)")
    s.add_argument("--tls-key", type=Path, help="PEM private key for --tls-cert")
    s.add_argument("--lazy", action="store_true", help="load the model on the first request, not at start")
    s.add_argument("--simplify", type=float, default=None, help="default polygon simplification (tile px)")
    s.add_argument("--min-size", type=int, default=None, help="default minimum nucleus size (tile px)")
    s.set_defaults(func=cmd_serve)

    g = sub.add_parser("segment", help="segment an image file and write QuPath GeoJSON")
    g.add_argument("image", type=Path, help="PNG, JPEG, TIFF or (pyramidal) OME-TIFF")
    g.add_argument("-o", "--output", type=Path, required=True, help="output .geojson")
    g.add_argument("--region", type=int, nargs=4, metavar=("X", "Y", "W", "H"), help="level-0 region")
    g.add_argument("--downsample", type=float, default=1.0, help="level-0 pixels per working pixel")
    g.add_argument("--simplify", type=float, default=None, help="polygon simplification in tile pixels (0.5)")
    g.add_argument("--min-size", type=int, default=None, help="minimum nucleus size in tile pixels")
    g.add_argument("--no-classify", action="store_true", help="instances only (faster)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_model_args(g)
    g.set_defaults(func=cmd_segment)

    q = sub.add_parser("prompt", help="segment nuclei from points / boxes and write QuPath GeoJSON")
    q.add_argument("image", type=Path, help="PNG, JPEG, TIFF or (pyramidal) OME-TIFF")
    q.add_argument("-o", "--output", type=Path, required=True, help="output .geojson")
    q.add_argument("--point", type=float, nargs=2, action="append", metavar=("X", "Y"), help="positive point")
    q.add_argument("--negative", type=float, nargs=2, action="append", metavar=("X", "Y"), help="negative point")
    q.add_argument("--box", type=float, nargs=4, action="append", metavar=("X", "Y", "W", "H"), help="box (one object each)")
    q.add_argument("--downsample", type=float, default=1.0, help="level-0 pixels per working pixel")
    q.add_argument("--window", type=int, default=512, help="context window edge in working pixels")
    q.add_argument("--simplify", type=float, default=None, help="polygon simplification in tile pixels (0.5)")
    q.add_argument("--min-size", type=int, default=None, help="drop mask parts smaller than this (tile px)")
    q.add_argument("--no-classify", action="store_true", help="no classes (faster)")
    _add_model_args(q)
    q.set_defaults(func=cmd_prompt)

    m = sub.add_parser("models", help="list models and what is cached")
    m.set_defaults(func=cmd_models)

    from . import batch_cli  # `pathosam batch` lives in its own module

    batch_cli.add_parser(sub)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from .images import ImageReadError
    from .models import ModelError

    try:
        return args.func(args)
    except (CliError, ModelError, ImageReadError, OSError) as err:
        print(f"pathosam: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pathosam: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
