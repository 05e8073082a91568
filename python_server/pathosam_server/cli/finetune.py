"""`pathosam finetune`: teach a model a lab's slides from annotated regions in QuPath."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from ..batch.sources import BatchSource, FolderSource
from .common import CliError, add_model_args, model_manager

EPILOG = """\
how to:
  1. In QuPath, draw annotations of class 'Training' (and at least one of class 'Validation') around
     nuclei you have drawn or corrected (e.g. PathoSAM's own detections fixed by hand). Every nucleus in
     a region needs its whole outline inside it; nuclei cut by a region's border are left out of the loss.
  2. Save the project (or export each image's objects as GeoJSON next to it: IMAGE.geojson).
  3. pathosam finetune project.qpproj --out my_model --from base_weights.pt
  4. pathosam serve --model-path my_model   (then rerun your workflow script)

examples:
  pathosam finetune project.qpproj --out lab_model                   # from vit_b_histopathology
  pathosam finetune --images-dir annotated/ --out lab_model --from vit_b.pt --minutes 30
  pathosam finetune project.qpproj --out lab_model_2 --from lab_model   # continue from an earlier run
  pathosam finetune project.qpproj --out lab_model --classes "Tumour,Lymphocyte,Stroma"

A killed run resumes: run the same command again (--restart starts over).
"""


def add_parser(sub: Any) -> None:
    """Add the ``finetune`` subcommand.

    Args:
        sub: The subparsers object of ``cli.build_parser``.
    """
    f = sub.add_parser(
        "finetune",
        help="fine-tune the model on regions annotated in QuPath; writes a folder `serve --model-path` serves",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    f.add_argument("project", nargs="?", type=Path, help="QuPath project (.qpproj or its folder; needs paquo + QuPath)")
    f.add_argument("--images-dir", type=Path, help="instead of a project: images with QuPath GeoJSON next to them")
    f.add_argument("--out", type=Path, required=True, help="model folder to write (and resume in)")
    f.add_argument(
        "--from", dest="from_model", metavar="MODEL",
        help="model to start from: a registry name (vit_b_histopathology) or a checkpoint / model folder path; "
        "the same as --model / --model-path",
    )  # fmt: skip
    f.add_argument("--name", help="name the new model is served under (default: the folder's name)")
    f.add_argument("--classes", help="comma-separated class names to learn instead of the base model's")
    f.add_argument("--train-class", default="Training", help="class of training regions (default Training)")
    f.add_argument("--val-class", default="Validation", help="class of validation regions (default Validation)")
    f.add_argument("--steps", type=int, default=200, help="training steps, one window each (default 200)")
    f.add_argument("--validate-every", type=int, default=25, help="steps between validations/checkpoints (25)")
    f.add_argument("--early-stop", type=int, default=4, help="validations without improvement before stopping (4)")
    f.add_argument("--minutes", type=float, default=0.0, help="time cap; ends after a validated epoch (0 = none)")
    f.add_argument("--lr", type=float, default=1e-4, help="AdamW learning rate (default 1e-4)")
    f.add_argument(
        "--freeze", default=None,
        help="comma-separated parts to keep: encoder, prompt-decoder, class-decoder, or none "
        "(default: encoder on a CPU, none on a GPU); the instance decoder always trains",
    )  # fmt: skip
    f.add_argument("--class-every", type=int, default=2, help="train the class decoder every k-th step (2)")
    f.add_argument("--max-memory-gb", type=float, default=16.0, help="stop cleanly past this peak memory (16)")
    f.add_argument("--seed", type=int, default=0, help="seed of windows and prompts")
    f.add_argument("--restart", action="store_true", help="start over instead of resuming a run in --out")
    f.add_argument(
        "--image-pixel-size-um", type=float, default=None,
        help="pixel size of uncalibrated images (default: read them at full resolution)",
    )  # fmt: skip
    add_model_args(f)
    f.set_defaults(func=run)


def _freeze(text: str | None, device: str) -> tuple[str, ...]:
    from ..finetune.trainer import FREEZABLE

    if text is None:
        return ("encoder",) if device == "cpu" else ()
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    if parts == ("none",):
        return ()
    bad = [p for p in parts if p not in FREEZABLE]
    if bad:
        raise CliError(f"--freeze: unknown part(s) {', '.join(bad)}; choose from {', '.join(FREEZABLE)} or none")
    return parts


def _classes(text: str | None, default: tuple[str, ...], region_classes: tuple[str, str]) -> tuple[str, ...]:
    if text is None:
        return default
    names = tuple(n.strip() for n in text.split(","))
    if not names or any(not n for n in names) or len(set(names)) != len(names):
        raise CliError(f"--classes needs distinct, non-empty comma-separated names, got '{text}'")
    clash = set(names) & set(region_classes)
    if clash:
        raise CliError(f"--classes may not contain the region classes ({', '.join(sorted(clash))})")
    return names


def run(args: argparse.Namespace) -> int:
    """Run ``pathosam finetune``.

    Args:
        args: Parsed options.

    Returns:
        0 on success.
    """
    from ..finetune.run import FinetuneJob, finetune
    from ..finetune.trainer import Settings
    from ..inference.precision import resolve_model_precision

    if (args.project is None) == (args.images_dir is None):
        raise CliError("give a QuPath project or --images-dir (one of them)")
    for flag, value in (
        ("--steps", args.steps),
        ("--validate-every", args.validate_every),
        ("--class-every", args.class_every),
    ):
        if value < 1:
            raise CliError(f"{flag} must be at least 1, got {value}")
    if args.early_stop < 0 or args.minutes < 0 or not args.lr > 0 or not args.max_memory_gb > 0:
        raise CliError("--early-stop and --minutes must be >= 0, --lr and --max-memory-gb > 0")
    if args.from_model:
        from ..inference.models import REGISTRY_MODELS

        if args.model or args.model_path:
            raise CliError("give the base model once: --from, or --model / --model-path")
        if args.from_model in REGISTRY_MODELS:
            args.model = args.from_model
        else:
            args.model_path = Path(args.from_model)
    manager = model_manager(args)
    base = manager.specs[manager.default]
    device = manager.device
    classes = _classes(args.classes, base.class_names, (args.train_class, args.val_class))
    settings = Settings(
        steps=args.steps, validate_every=args.validate_every, early_stop=args.early_stop, lr=args.lr,
        freeze=_freeze(args.freeze, device), window=base.input_edge, minutes=args.minutes,
        max_memory_gb=args.max_memory_gb, seed=args.seed, device=device, class_every=args.class_every,
        mixed_precision=resolve_model_precision("auto", device) is not None,
    )  # fmt: skip
    with contextlib.ExitStack() as stack:
        source: BatchSource
        if args.project is not None:
            from ..batch.paquo_project import QuPathSource  # the one module that imports paquo

            source = QuPathSource(args.project, writable=False)
            label = f"QuPath project {args.project}"
        else:
            source = FolderSource(args.images_dir)
            label = f"image folder {args.images_dir}"
        stack.callback(source.close)
        job = FinetuneJob(
            source=source, source_label=label, base=base, out=args.out, name=args.name or args.out.resolve().name,
            class_names=classes, settings=settings, train_class=args.train_class, val_class=args.val_class,
            restart=args.restart, default_pixel_size_um=args.image_pixel_size_um,
        )  # fmt: skip
        finetune(job)
    return 0
