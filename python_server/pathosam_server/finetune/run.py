"""One fine-tuning run: read the regions, score the base model, train, write a servable model folder.

The folder is what ``pathosam serve --model-path DIR`` serves as it is: ``model.pt`` (micro-sam's
format: SAM + ``decoder_state``), ``semantic_decoder.pt``, ``pathosam_model.json`` (class names,
working pixel size, tile, halo) and ``MODEL_CARD.md``. ``training/`` keeps torch-em's checkpoints,
so rerunning the same command after a kill resumes where the last epoch ended.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

import torch

from .. import __version__
from ..batch.sources import BatchSource
from ..errors import PathoSamError
from ..inference.models import LoadedModel, ModelSpec, assemble_model, load_model, local_spec, read_states
from ..inference.weights import MODEL_FORMAT, MODEL_MANIFEST, file_sha256
from .data import TrainingData, collect
from .dataset import WindowDataset
from .evaluate import Scores, evaluate
from .trainer import (
    FinetuneModel,
    FinetuneTrainer,
    Settings,
    TimeUp,
    bound_cuda_memory,
    build_model,
    latest_iteration,
    seed_everything,
    trainable_parameters,
)

log = logging.getLogger(__name__)

CHECKPOINT_FILE, SEMANTIC_FILE, CARD_FILE = "model.pt", "semantic_decoder.pt", "MODEL_CARD.md"
# Settings a resumed run must share with the run it continues (the rest, e.g. steps, may change).
_RESUME_KEYS = ("freeze", "window", "seed")


@dataclass
class FinetuneJob:
    """A fine-tuning run.

    Attributes:
        source: Images with their QuPath objects.
        source_label: What the source is, for the card.
        base: The model to start from.
        out: The model folder to write.
        name: Name the new model is served under.
        class_names: Classes to learn (the base's unless the user gives a list).
        settings: Training settings.
        train_class: Class of training regions.
        val_class: Class of validation regions.
        restart: Start over even when ``out`` holds a run to resume.
        default_pixel_size_um: Pixel size for uncalibrated images.
    """

    source: BatchSource
    source_label: str
    base: ModelSpec
    out: Path
    name: str
    class_names: tuple[str, ...]
    settings: Settings
    train_class: str = "Training"
    val_class: str = "Validation"
    restart: bool = False
    default_pixel_size_um: Optional[float] = None


def finetune(job: FinetuneJob, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the job end to end.

    Args:
        job: What to do.
        say: Where progress messages go.

    Returns:
        The model card's data (also written as ``MODEL_CARD.md`` and into the manifest).
    """
    t0 = time.time()
    s = job.settings
    data = collect(
        job.source, job.class_names, job.base.pixel_size_um, job.train_class, job.val_class,
        job.default_pixel_size_um,
    )  # fmt: skip
    for w in data.warnings:
        say(f"warning: {w}")
    train, val = data.split("train"), data.split("val")
    per_class = {k: data.nuclei_per_class(k, job.class_names) for k in ("train", "val")}
    say(
        f"{len(train)} training and {len(val)} validation region(s) from {data.images} image(s); nuclei: "
        f"train {per_class['train']}, validation {per_class['val']}"
    )
    states = read_states(job.base)
    base_weights = [{"role": r, "name": p.name, "sha256": file_sha256(p)} for r, p in states.files]
    same_classes = tuple(job.base.class_names) == tuple(job.class_names)
    base_model = assemble_model(replace(job.base), states, s.device)
    before = _scored(base_model, val)
    if not same_classes or base_model.semantic_decoder is None:
        before.class_accuracy = float("nan")  # the base has other classes, or none
    del base_model
    say(f"base model on validation: {_line(before)}")

    seed_everything(s.seed)
    bound_cuda_memory(s.device, s.max_memory_gb)
    model = build_model(states, len(job.class_names), s.device)
    template = ModelSpec(
        name=job.name, architecture=job.base.architecture, checkpoint=job.out / CHECKPOINT_FILE,
        tile_size=job.base.tile_size, halo=job.base.halo,
        pixel_size_um=job.base.pixel_size_um, class_names=job.class_names, input_edge=job.base.input_edge,
    )  # fmt: skip

    def validate(m: FinetuneModel) -> tuple[float, dict]:
        scores = _scored(assemble_model(replace(template), m.states(), s.device), val)
        return 1.0 - scores.msa, {"msa": scores.msa, "sa50": scores.sa50, "class_accuracy": scores.class_accuracy}

    params = trainable_parameters(model, s.freeze)
    optimizer = torch.optim.AdamW(params, lr=s.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=2)
    loader = torch.utils.data.DataLoader(WindowDataset(train, s.window, s.validate_every, s.seed), batch_size=1)
    val_loader: Any = torch.utils.data.DataLoader(list(range(len(val))), batch_size=1)  # type: ignore[arg-type]
    save_root = job.out / "training"
    trainer = FinetuneTrainer(model, loader, val_loader, optimizer, scheduler, s, validate, save_root)
    done, resumed = _resume_point(save_root, s, job.restart)
    stopped = "steps done"
    if done < s.steps:
        say(f"training {sum(p.numel() for p in params) / 1e6:.1f} M parameters on {s.device} "
            f"(frozen: {', '.join(s.freeze) or 'nothing'}), steps {done}..{s.steps}")  # fmt: skip
        try:
            trainer.fit(iterations=s.steps - done, load_from_checkpoint="latest" if resumed else None)
            if trainer._iteration < trainer.max_iteration:
                stopped = "early stop (validation mSA stopped improving)"
        except TimeUp:
            stopped = f"time cap ({s.minutes:g} min)"
    else:
        say(f"the run in {save_root} already finished {done} steps: writing its best model")
    trained = max(trainer._iteration, done)
    history = list(trainer.history)  # loading "best" below brings back the history as it was then
    best = trainer.load_checkpoint("best")
    if not best:
        raise PathoSamError(f"no checkpoint in {save_root}: training ended before its first validation")
    files = _export(model, job, template)
    after = _scored(load_model(local_spec(job.out), s.device), val)  # the folder as the server will load it
    say(f"fine-tuned model on validation: {_line(after)}")
    card = {
        "name": job.name,
        "server_version": __version__,
        "base": {"model": job.base.name, "source": job.base.source, "weights": base_weights,
                 "class_names": list(job.base.class_names)},
        "class_names": list(job.class_names),
        "data": _data_summary(data, job),
        "settings": s.as_dict(),
        "training": {
            "steps": trained, "best_step": int(best["iteration"]),
            "resumed_from_step": done if resumed else None, "stopped": stopped,
            "seconds": round(time.time() - t0, 1), "peak_memory_gb": round(trainer.peak_gb, 2),
            "history": history,
        },
        "validation": {"before": before.as_dict(), "after": after.as_dict()},
        "files": {role: {"name": n, "sha256": file_sha256(job.out / n)} for role, n in files.items()},
    }  # fmt: skip
    _write_text(job.out / CARD_FILE, model_card(card))
    _write_text(job.out / "training" / "card.json", json.dumps(card, indent=1, default=str))
    say(f"wrote {job.out} ({stopped}); serve it with: pathosam serve --model-path {job.out}")
    return card


def _scored(model: LoadedModel, regions: list) -> Scores:
    """Evaluate a model built for this alone, then let its queue's worker (and so the model) go."""
    try:
        return evaluate(model, regions)
    finally:
        if model.scheduler is not None:
            model.scheduler.close()


def _resume_point(save_root: Path, s: Settings, restart: bool) -> tuple[int, bool]:
    """(steps done, whether to resume) for a run folder."""
    found = None if restart else latest_iteration(save_root)
    if found is None:
        return 0, False
    done, settings = found
    differs = [k for k in _RESUME_KEYS if settings.get(k) != s.as_dict().get(k)]
    if differs:
        raise PathoSamError(
            f"{save_root} holds a run with other settings ({', '.join(differs)}); rerun with those settings to "
            "resume it, or pass --restart to start over"
        )
    log.info("resuming the run in %s after step %d", save_root, done)
    return done, True


def _export(model: FinetuneModel, job: FinetuneJob, template: ModelSpec) -> dict[str, str]:
    """Write the weights, then the manifest last: a folder without a manifest is not a model yet."""
    job.out.mkdir(parents=True, exist_ok=True)
    states = model.states()
    _save(job.out / CHECKPOINT_FILE, {"model_state": states.sam, "decoder_state": states.decoder})
    files = {"checkpoint": CHECKPOINT_FILE}
    if states.semantic is not None:
        _save(job.out / SEMANTIC_FILE, states.semantic)
        files["semantic_decoder"] = SEMANTIC_FILE
    manifest = {
        "format": MODEL_FORMAT, "name": job.name, "architecture": template.architecture,
        "checkpoint": CHECKPOINT_FILE, "semantic_decoder": files.get("semantic_decoder"),
        "class_names": list(job.class_names), "pixel_size_um": template.pixel_size_um,
        "tile_size": template.tile_size, "halo": template.halo, "base_model": job.base.name,
        "server_version": __version__,
    }  # fmt: skip
    _write_text(job.out / MODEL_MANIFEST, json.dumps(manifest, indent=1))
    return files


def _save(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".part")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _data_summary(data: TrainingData, job: FinetuneJob) -> dict:
    return {
        "source": job.source_label,
        "images": data.images,
        "regions": {"train": len(data.split("train")), "val": len(data.split("val"))},
        "region_classes": {"train": job.train_class, "val": job.val_class},
        "nuclei": {k: data.nuclei_per_class(k, job.class_names) for k in ("train", "val")},
        "nuclei_cut_by_region_borders": sum(r.n_partial for r in data.regions),
        "objects_outside_regions": data.outside,
        "warnings": data.warnings,
    }


def _line(s: Scores) -> str:
    return f"mSA {_fmt(s.msa)}, SA50 {_fmt(s.sa50)}, class accuracy {_fmt(s.class_accuracy)}"


def _fmt(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"  # NaN: not comparable


def model_card(card: dict) -> str:
    """The model card as Markdown.

    Args:
        card: ``finetune``'s record.

    Returns:
        The text.
    """
    d, t, v = card["data"], card["training"], card["validation"]
    b, a = v["before"], v["after"]
    rows = "\n".join(
        f"| {label} | {_fmt(b[k])} | {_fmt(a[k])} |"
        for label, k in (("mSA", "msa"), ("SA50", "sa50"), ("class accuracy", "class_accuracy"))
    )
    weights = "\n".join(f"- {w['role']}: `{w['name']}` sha256 `{w['sha256']}`" for w in card["base"]["weights"])
    out_files = "\n".join(f"- {r}: `{f['name']}` sha256 `{f['sha256']}`" for r, f in card["files"].items())
    settings = ", ".join(f"{k}={v}" for k, v in card["settings"].items())
    warnings = "".join(f"\n- warning: {w}" for w in d["warnings"])
    return f"""# {card["name"]}

Fine-tuned with `pathosam finetune` (pathosam {card["server_version"]}) from **{card["base"]["model"]}**
({card["base"]["source"]}). Serve it with `pathosam serve --model-path <this folder>`.

## Classes
{", ".join(card["class_names"])} (base model: {", ".join(card["base"]["class_names"])})

## Data
- source: {d["source"]}
- images: {d["images"]}; regions: {d["regions"]["train"]} training ('{d["region_classes"]["train"]}'), \
{d["regions"]["val"]} validation ('{d["region_classes"]["val"]}')
- nuclei, training: {d["nuclei"]["train"]}
- nuclei, validation: {d["nuclei"]["val"]}
- nuclei cut by region borders (left out of the loss): {d["nuclei_cut_by_region_borders"]}
- objects outside regions (not used): {d["objects_outside_regions"]}{warnings}

## Training
- {t["steps"]} steps (best validation at step {t["best_step"]}), stopped by: {t["stopped"]}
- resumed from step: {t["resumed_from_step"]}
- {t["seconds"]:.0f} s in all, peak memory {t["peak_memory_gb"]} GB
- settings: {settings}

## Validation (the server's tiled pipeline on the validation regions)
| metric | before | after |
| --- | --- | --- |
{rows}

Validation nuclei: {a["nuclei"]}; matched with a class: before {b["matched_with_class"]}, \
after {a["matched_with_class"]}.

## Weights
Base:
{weights}

This model:
{out_files}
"""


__all__ = ["FinetuneJob", "Scores", "Settings", "finetune", "model_card"]
