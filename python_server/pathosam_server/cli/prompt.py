"""`pathosam prompt`: segment nuclei from points / boxes given on the command line; write QuPath GeoJSON."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .common import CliError, add_model_args, add_segment_args, model_manager, params

if TYPE_CHECKING:
    from ..geometry.coords import TileFrame
    from ..inference.prompts import PromptObject


def add_parser(sub: Any) -> None:
    """Add ``prompt`` to the ``pathosam`` parser.

    Args:
        sub: The subparsers object of ``cli.build_parser``.
    """
    q = sub.add_parser("prompt", help="segment nuclei from points / boxes and write QuPath GeoJSON")
    q.add_argument("image", type=Path, help="PNG, JPEG, TIFF or (pyramidal) OME-TIFF")
    q.add_argument("-o", "--output", type=Path, required=True, help="output .geojson")
    q.add_argument("--point", type=float, nargs=2, action="append", metavar=("X", "Y"), help="positive point")
    q.add_argument("--negative", type=float, nargs=2, action="append", metavar=("X", "Y"), help="negative point")
    q.add_argument(
        "--box", type=float, nargs=4, action="append", metavar=("X", "Y", "W", "H"), help="box (one object each)"
    )
    q.add_argument("--downsample", type=float, default=1.0, help="level-0 pixels per working pixel")
    q.add_argument("--window", type=int, default=512, help="context window edge in working pixels")
    add_segment_args(q, min_size_help="drop mask parts smaller than this (tile px)")
    add_model_args(q)
    q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Segment nuclei from points / boxes given on the command line; write QuPath GeoJSON.

    Args:
        args: Parsed options.

    Returns:
        Exit status.
    """
    import numpy as np

    from ..formats.geojson import write_geojson
    from ..formats.readers import open_image
    from ..geometry.coords import TileFrame
    from ..inference.embedding_cache import EmbeddingCache
    from ..inference.prompts import segment_prompts, window_around, window_embedding

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
    model = model_manager(args).get()
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
    assert entry is not None  # pixels were given, so the embedding was computed
    nuclei = segment_prompts(model, cache, entry, objects, frame, params(args))
    count = write_geojson([n for n in nuclei if n.area > 0], args.output)
    print(f"{count} nuclei -> {args.output}")
    return 0


def _prompt_object(
    points: list[tuple[float, float, int]], box: Optional[Sequence[float]], frame: TileFrame
) -> PromptObject:
    """One prompt object from level-0 points (x, y, 1 positive / 0 negative) and an optional box (x, y, w, h)."""
    import numpy as np

    from ..geometry.coords import level0_to_tile
    from ..inference.prompts import PromptObject

    xy = np.asarray([(x, y) for x, y, _ in points], dtype=np.float64).reshape(-1, 2)
    labels = np.asarray([lab for _, _, lab in points], dtype=np.int32)
    tile_box = None
    if box is not None:
        x, y, w, h = box
        tile_box = tuple(level0_to_tile(np.array([[x, y], [x + w, y + h]]), frame).ravel().tolist())
    return PromptObject(level0_to_tile(xy, frame), labels, tile_box)
