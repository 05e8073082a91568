"""What several commands share: the user-facing error, model options, segmentation options."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..errors import PathoSamError
from ..records import Params, Rect

if TYPE_CHECKING:  # torch loads only when a command builds a model
    from ..inference.models import ModelManager


class CliError(PathoSamError):
    """A user-facing error of the command line: printed as one line, exit status 2."""


def add_model_args(p: argparse.ArgumentParser) -> None:
    """The options that choose and load a model (serve, segment, prompt, batch).

    Args:
        p: The subcommand's parser.
    """
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None, help="micro-sam registry name (default vit_b_histopathology)")
    g.add_argument(
        "--model-path", type=Path, help="local checkpoint, or a model folder from `pathosam finetune` (works offline)"
    )
    g.add_argument("--decoder-path", type=Path, help="local AIS decoder weights, if not inside the checkpoint")
    g.add_argument("--semantic-decoder-path", type=Path, help="local semantic (class) decoder weights")
    g.add_argument("--model-name", help="name to serve a local checkpoint under (default: file stem)")
    # `batch` has its own --pixel-size-um (the run's working pixel size), which means the same thing.
    if "--pixel-size-um" not in p._option_string_actions:
        g.add_argument(
            "--pixel-size-um",
            type=float,
            default=None,
            help="working pixel size of the model in um, reported to clients (GetInfo), which read calibrated "
            "images at it; default: 0.25 for PathoSAM's registry models and local copies of their weights, "
            "unknown (full resolution) for other checkpoints",
        )
    g.add_argument("--tile-size", type=int, default=None, help="inner tile edge in working pixels (384)")
    g.add_argument("--halo", type=int, default=None, help="tile halo in working pixels (64)")
    g.add_argument(
        "--no-classes",
        action="store_true",
        help="instances only: no semantic (class) decoder is loaded and no classes are computed",
    )
    g.add_argument(
        "--class-precision",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="arithmetic of the semantic decoder; auto = bfloat16 where the CPU/GPU runs it natively",
    )
    g.add_argument(
        "--precision",
        choices=("auto", "float32", "bfloat16", "float16"),
        default="auto",
        help="arithmetic of the image encoder and instance decoder; auto = bfloat16 where the CPU/GPU runs it "
        "natively and faster (float16 on a CUDA GPU without bfloat16), else float32",
    )
    g.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the encoder and decoders at start (~1 min the first time, seconds once cached; "
        "then faster per tile)",
    )
    g.add_argument(
        "--max-batch",
        type=_batch_size,
        default=0,
        metavar="N",
        help="most tiles per encoder/decoder pass, from every stream and call together (0 = auto: from free "
        "GPU memory on CUDA, 1 on a CPU, where larger batches measured slower)",
    )
    g.add_argument(
        "--tile-normalization",
        choices=("none", "micro-sam"),
        default="none",
        help="none: tiles reach the model as they are (as PathoSAM was trained); micro-sam: stretch "
        "each tile's channels to 0-255 like micro-sam's own inference (tile-dependent; parity)",
    )
    g.add_argument("--allow-pickle", action="store_true", help="allow unpickling a trusted local checkpoint")
    g.add_argument("--device", default=os.environ.get("PATHOSAM_DEVICE", "auto"), help="auto|cpu|cuda|cuda:N|mps")


def _batch_size(text: str) -> int:
    """``--max-batch``: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of tiles >= 0 (0 = auto), got '{text}'")
    return value


def add_segment_args(p: argparse.ArgumentParser, min_size_help: str = "minimum nucleus size in tile pixels") -> None:
    """The per-run segmentation options (``--simplify``, ``--min-size``).

    Args:
        p: The subcommand's parser.
        min_size_help: Help text for ``--min-size``.
    """
    p.add_argument(
        "--simplify", type=float, default=None, help="polygon simplification in tile pixels (0..1, default 0.5)"
    )
    p.add_argument("--min-size", type=int, default=None, help=min_size_help)


MEASUREMENTS = ("shape", "intensity")


def add_measure_args(p: argparse.ArgumentParser, image_pixel_size: bool = True) -> None:
    """``--measure``, ``--cell-expansion``, ``--cell-constrain-scale`` (and ``--image-pixel-size-um``).

    Args:
        p: The subcommand's parser.
        image_pixel_size: Offer ``--image-pixel-size-um`` (one image; a batch reads each image's own).
    """
    g = p.add_argument_group("measurements and cells (computed by the model's process, QuPath's names)")
    g.add_argument(
        "--measure",
        default="",
        metavar="LIST",
        help="comma-separated: shape (area, length, circularity, solidity, max/min diameter), intensity "
        "(H&E hematoxylin/eosin optical density by colour deconvolution), or all; default none",
    )
    g.add_argument(
        "--cell-expansion",
        type=float,
        default=None,
        help="grow each nucleus into a cell by this distance (µm when the image is calibrated, else px; "
        "default 0 = nuclei only); the halo must be at least 2 x the distance",
    )
    g.add_argument(
        "--cell-constrain-scale",
        type=float,
        default=None,
        help="keep each cell inside its nucleus scaled by this factor (>= 1; default no limit)",
    )
    if not image_pixel_size:
        return
    g.add_argument(
        "--image-pixel-size-um",
        type=float,
        default=None,
        help="the image's level-0 pixel size, for files without calibration (default: the file's own)",
    )


def measure_choice(text: str) -> tuple[bool, bool]:
    """``--measure`` as (shape, intensity).

    Raises:
        CliError: An unknown name.
    """
    names = {t.strip().lower() for t in text.split(",") if t.strip()}
    if "all" in names:
        names = (names - {"all"}) | set(MEASUREMENTS)
    unknown = names - set(MEASUREMENTS)
    if unknown:
        raise CliError(f"--measure takes shape, intensity or all (comma-separated), not {', '.join(sorted(unknown))}")
    return "shape" in names, "intensity" in names


def add_skip_background_arg(p: argparse.ArgumentParser, default: str) -> None:
    """``--skip-background / --no-skip-background`` (None when neither is given: the command decides).

    Args:
        p: The subcommand's parser.
        default: What the command does when neither is given, for the help text.
    """
    p.add_argument(
        "--skip-background",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="do not encode tiles that hold no tissue (glass); no nucleus a full run finds is lost, a stained "
        f"speck or one nucleus on glass keeps its tile (default: {default})",
    )


def add_overlay_args(p: argparse.ArgumentParser, batch: bool = False) -> None:
    """``--overlay PNG`` (``--overlay-dir DIR`` for batches) and ``--overlay-downsample``.

    Args:
        p: The subcommand's parser.
        batch: Whether the command runs over many images (a folder of pictures, one per image).
    """
    if batch:
        p.add_argument(
            "--overlay-dir",
            type=Path,
            metavar="DIR",
            help="also draw one PNG per image here: the regions with every nucleus outlined in its class colour",
        )
    else:
        p.add_argument(
            "--overlay",
            type=Path,
            metavar="PNG",
            help="also draw the region with every nucleus outlined in its class colour (and a legend) to this PNG",
        )
    p.add_argument(
        "--overlay-downsample",
        type=float,
        default=None,
        metavar="D",
        help="level-0 pixels per overlay pixel (default: 1, or the power of two that fits 2048 px; a downsampled "
        "overview gets full-resolution crops of a few tiles below it)",
    )


def resolve_skip_background(args: argparse.Namespace, whole_image: bool) -> None:
    """Fill ``args.skip_background`` where neither option was given: on for whole images, off otherwise.

    A user-drawn annotation (or ``--region``) already is where the tissue is, so checking its tiles for glass
    gains little; a whole slide is often more than half glass.

    Args:
        args: Parsed options (``add_skip_background_arg``).
        whole_image: Whether the run covers whole images.
    """
    if getattr(args, "skip_background", None) is None:
        args.skip_background = whole_image


def model_manager(args: argparse.Namespace) -> ModelManager:
    """The model manager the model options describe (nothing is loaded yet).

    Args:
        args: Parsed options of ``add_model_args``.

    Returns:
        The manager, serving one model.
    """
    from ..inference.models import DEFAULT_MODEL, ModelManager, local_spec, registry_spec, select_device

    pixel_size = getattr(args, "pixel_size_um", None)
    if pixel_size is not None and not pixel_size > 0:
        raise CliError(f"--pixel-size-um must be a positive number of micrometres, got {pixel_size}")
    extra = {k: v for k, v in (("tile_size", args.tile_size), ("halo", args.halo)) if v is not None}
    extra["class_precision"] = args.class_precision
    extra["precision"] = args.precision
    extra["compile"] = args.compile
    extra["max_batch"] = args.max_batch
    extra["tile_normalization"] = args.tile_normalization
    if args.model_path:
        spec = local_spec(
            args.model_path,
            name=args.model_name or args.model,
            decoder=args.decoder_path,
            semantic_decoder=None if args.no_classes else args.semantic_decoder_path,
            allow_pickle=args.allow_pickle,
            pixel_size_um=pixel_size,
            **extra,
        )
        if args.no_classes:  # a model folder names its semantic decoder; --no-classes still wins
            spec.semantic_decoder = None
    else:
        spec = registry_spec(args.model or DEFAULT_MODEL, args.semantic_decoder_path, classes=not args.no_classes)
        spec.decoder = args.decoder_path
        if pixel_size is not None:
            extra["pixel_size_um"] = pixel_size
        for k, v in extra.items():
            setattr(spec, k, v)
    return ModelManager([spec], select_device(args.device))


def params(args: argparse.Namespace) -> Params:
    """Segmentation parameters from the options (unset options keep the defaults).

    Args:
        args: Parsed options.

    Returns:
        The parameters.
    """
    shape, intensity = measure_choice(getattr(args, "measure", "") or "")
    expansion = getattr(args, "cell_expansion", None)
    scale = getattr(args, "cell_constrain_scale", None)
    if expansion is not None and not 0 <= expansion <= 1000:
        raise CliError(f"--cell-expansion must be in [0, 1000], got {expansion}")
    if scale is not None and not (scale == 0 or 1 <= scale <= 100):
        raise CliError(f"--cell-constrain-scale must be 0 (no limit) or in [1, 100], got {scale}")
    return Params().updated(
        classify=False if getattr(args, "no_classes", False) else None,
        simplify_tolerance=getattr(args, "simplify", None),
        min_size=getattr(args, "min_size", None),
        skip_background=getattr(args, "skip_background", None),
        measure_shape=shape or None,
        measure_intensity=intensity or None,
        cell_expansion=expansion,
        cell_constrain_scale=scale,
    )


def parse_region(values: Optional[Sequence[int]]) -> Optional[Rect]:
    """``--region X Y W H`` as a level-0 rectangle.

    Args:
        values: The four integers, or None.

    Returns:
        The rectangle, or None when the option was not given.
    """
    if values is None:
        return None
    x, y, w, h = values
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise CliError(f"--region needs X Y WIDTH HEIGHT with non-negative origin and positive size, got {values}")
    return Rect(x, y, w, h)
