"""The fine-tuning loop: torch-em's ``DefaultTrainer`` (the trainer micro-sam's trainers build on) with
PathoSAM's heads.

torch-em runs the loop: epochs, validation, ``best`` and ``latest`` checkpoints (with optimizer and
scheduler state, so a killed run resumes), early stopping on the validation metric, mixed precision
and the progress bar. What is ours is one training step that feeds ONE encoder pass (frozen or not)
to all three heads, as micro-sam's ``JointSamTrainer`` trains two of them with two passes:

- micro-sam's AIS decoder (UNETR, torch-em's ``DiceBasedDistanceLoss``, masked);
- SAM's prompt encoder and mask decoder (prompts from micro-sam's ``ConvertToSamInputs`` and
  ``IterativePromptGenerator``, as ``SamTrainer``);
- PathoSAM's semantic decoder (UNETR with one channel per class plus background).

The validation metric is 1 - mSA of the server's own tiled pipeline on the validation regions.
"""

from __future__ import annotations

import logging
import math
import os
import resource
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch_em.trainer import DefaultTrainer

from ..errors import PathoSamError
from ..inference.models import ModelStates
from . import losses

log = logging.getLogger(__name__)

FREEZABLE = ("encoder", "prompt-decoder", "class-decoder")
_SHARED = ("ais.encoder.", "semantic.encoder.")  # the UNETRs share SAM's encoder: saved once, as sam's


class MemoryLimitError(PathoSamError):
    """Training passed its memory bound; the last checkpoint stays and the run can resume."""


class TimeUp(Exception):
    """The time cap was reached after a validated, saved epoch."""


@dataclass
class Settings:
    """What a fine-tuning run does (recorded in the checkpoint and the model card).

    Attributes:
        steps: Training steps (one window each).
        validate_every: Steps per epoch: validation, checkpoint and early-stopping tick.
        early_stop: Epochs without a better validation mSA before stopping (0 = never).
        lr: AdamW learning rate.
        freeze: Parts kept as they are (``FREEZABLE``); the AIS decoder always trains.
        window: Window edge in working pixels (the model's input edge).
        minutes: Time cap of this run (0 = none); it ends after a validated epoch.
        max_memory_gb: Peak-memory bound (process RSS on a CPU, the allocator's cap on CUDA).
        seed: Seed of the windows and the prompts.
        n_objects: Objects prompted per window.
        n_sub_iterations: Prompting rounds per window.
        class_every: Train the class decoder every k-th step (it costs as much as the instance decoder).
        warmup: Steps over which the learning rate ramps up from lr / warmup (Adam's first steps are large).
        device: Torch device.
        mixed_precision: bfloat16 (CPU with AMX / AVX512-BF16) or float16 (CUDA) autocast.
    """

    steps: int = 200
    validate_every: int = 25
    early_stop: int = 4
    lr: float = 1e-4
    freeze: tuple[str, ...] = ("encoder",)
    window: int = 512
    minutes: float = 0.0
    max_memory_gb: float = 16.0
    seed: int = 0
    n_objects: int = 8
    n_sub_iterations: int = 2
    class_every: int = 2
    warmup: int = 10
    device: str = "cpu"
    mixed_precision: bool = True

    def as_dict(self) -> dict:
        """Plain dict for JSON."""
        d = asdict(self)
        d["freeze"] = list(self.freeze)
        return d


class FinetuneModel(torch.nn.Module):
    """SAM (micro-sam's ``TrainableSAM``) with the AIS and semantic UNETRs built on its encoder.

    Its state dict holds the shared encoder once (under ``sam.``), so checkpoints stay one model large.

    Args:
        sam: The trainable SAM.
        ais: The AIS UNETR.
        semantic: The semantic UNETR or None.
    """

    sam: Any  # submodules, typed loosely: micro-sam's and torch-em's classes carry no type hints
    ais: Any
    semantic: Any

    def __init__(self, sam: torch.nn.Module, ais: torch.nn.Module, semantic: Optional[torch.nn.Module]) -> None:
        super().__init__()
        self.sam, self.ais, self.semantic = sam, ais, semantic

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        state = super().state_dict(*args, **kwargs)
        return OrderedDict((k, v) for k, v in state.items() if not k.startswith(_SHARED))

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        missing = [k for k in result.missing_keys if not k.startswith(_SHARED)]
        if strict and (missing or result.unexpected_keys):
            raise RuntimeError(f"checkpoint does not fit: missing {missing}, unexpected {result.unexpected_keys}")
        return result

    def states(self) -> ModelStates:
        """Detached CPU copies of the weights, in the server's format (``assemble_model`` builds from them)."""

        def copy(module: torch.nn.Module, skip_encoder: bool) -> dict:
            return OrderedDict(
                (k, v.detach().float().cpu().clone() if v.is_floating_point() else v.detach().cpu().clone())
                for k, v in module.state_dict().items()
                if not (skip_encoder and k.startswith("encoder"))
            )

        return ModelStates(
            sam=copy(self.sam.sam, False),
            decoder=copy(self.ais, True),
            semantic=copy(self.semantic, True) if self.semantic is not None else None,
            files=[],
        )


def build_model(states: ModelStates, n_classes: int, device: str) -> FinetuneModel:
    """The trainable model from a base model's weights.

    A base without an AIS or semantic decoder gets a fresh one; a semantic decoder with another number
    of classes keeps its weights but a fresh output layer (micro-sam's ``flexible_load_checkpoint``).

    Args:
        states: The base model's weights.
        n_classes: Nucleus classes to predict.
        device: Torch device.

    Returns:
        The model on ``device``.
    """
    from micro_sam.instance_segmentation import get_unetr
    from micro_sam.training.trainable_sam import TrainableSAM
    from micro_sam.util import sam_model_registry

    from ..inference.weights import architecture_of

    sam = sam_model_registry[architecture_of(states.sam)]()
    sam.load_state_dict(states.sam)
    trainable = TrainableSAM(sam).to(device)
    encoder = trainable.sam.image_encoder
    ais = get_unetr(encoder, decoder_state=states.decoder, device=device, out_channels=3)
    semantic = get_unetr(
        encoder, decoder_state=states.semantic, device=device, out_channels=1 + n_classes,
        final_activation=None, flexible_load_checkpoint=True,
    )  # fmt: skip
    return FinetuneModel(trainable, ais, semantic).to(device)


def trainable_parameters(model: FinetuneModel, freeze: tuple[str, ...]) -> list[torch.nn.Parameter]:
    """Mark frozen parts and list what trains (the shared encoder once).

    Args:
        model: The model.
        freeze: Parts to keep (``FREEZABLE``).

    Returns:
        The parameters the optimizer updates.
    """
    sam = model.sam.sam
    parts = {
        "encoder": list(sam.image_encoder.parameters()),
        "prompt-decoder": list(sam.prompt_encoder.parameters()) + list(sam.mask_decoder.parameters()),
        "class-decoder": [p for n, p in model.semantic.named_parameters() if not n.startswith("encoder")],
    }
    params = [p for n, p in model.ais.named_parameters() if not n.startswith("encoder")]
    for part, ps in parts.items():
        for p in ps:
            p.requires_grad_(part not in freeze)
        if part not in freeze:
            params += ps
    return params


class FinetuneTrainer(DefaultTrainer):
    """torch-em's trainer with PathoSAM's step and the server's validation.

    Args:
        model: The model.
        train_loader: Windows of the training regions.
        val_loader: One item per validation region (the regions themselves are in ``validate``).
        optimizer: The optimizer over ``trainable_parameters``.
        lr_scheduler: Stepped with the validation metric each epoch.
        settings: The run's settings.
        validate: Scores the current weights; returns (metric to minimise, scores for the record).
        save_root: Where torch-em keeps ``checkpoints/finetune/{best,latest}.pt``.
    """

    def __init__(
        self,
        model: FinetuneModel,
        train_loader: torch.utils.data.DataLoader,
        val_loader: torch.utils.data.DataLoader,
        optimizer: torch.optim.Optimizer,
        lr_scheduler: Any,
        settings: Settings,
        validate: Callable[[FinetuneModel], tuple[float, dict]],
        save_root: Path,
    ) -> None:
        super().__init__(  # fmt: skip
            name="finetune", train_loader=train_loader, val_loader=val_loader, model=model,
            loss=losses.masked_ais_loss(), optimizer=optimizer, metric=losses.masked_ais_loss(),
            device=settings.device, lr_scheduler=lr_scheduler, mixed_precision=settings.mixed_precision,
            early_stopping=settings.early_stop or None, logger=None, save_root=str(save_root), compile_model=False,
        )  # fmt: skip
        from micro_sam.prompt_generators import IterativePromptGenerator
        from micro_sam.training.util import ConvertToSamInputs

        self.settings = settings
        self.validate_fn = validate
        self.convert = ConvertToSamInputs(transform=model.sam.transform, box_distortion_factor=0.025)
        self.generator = IterativePromptGenerator()
        self.history: list[dict] = []
        self.deadline = time.time() + settings.minutes * 60 if settings.minutes else math.inf
        self.time_up = False
        self.peak_gb = 0.0

    # -- torch-em hooks -------------------------------------------------------------------------------

    def _build_init(self) -> dict:
        # torch-em would pickle the model, loaders and loss to rebuild the trainer; a run is rebuilt from
        # its settings instead, so a checkpoint holds weights and settings only.
        return {"pathosam_settings": self.settings.as_dict()}

    def _initialize(self, iterations: Any, load_from_checkpoint: Any, epochs: Any = None) -> float:
        with warnings.catch_warnings():  # torch-em warns it could not rebuild the trainer: _build_init says why
            warnings.filterwarnings("ignore", message="Constructor arguments", category=UserWarning)
            best = super()._initialize(iterations, load_from_checkpoint, epochs)
        # torch-em starts every fit at an infinite best metric; a resumed run keeps the one it had.
        return float(getattr(self, "best_metric", best)) if load_from_checkpoint else best

    def save_checkpoint(self, name: str, current_metric: float, best_metric: float, **extra: Any) -> None:
        # Written then renamed: a kill while saving leaves the previous checkpoint whole.
        super().save_checkpoint(name + ".part", current_metric, best_metric, history=self.history, **extra)
        folder = Path(self.checkpoint_folder)
        os.replace(folder / f"{name}.part.pt", folder / f"{name}.pt")

    def load_checkpoint(self, checkpoint: Any = "best") -> Any:
        save_dict = super().load_checkpoint(checkpoint)
        if save_dict:
            self.history = list(save_dict.get("history", []))
        return save_dict

    def _train_epoch_impl(self, progress: Any, forward_context: Any, backprop: Callable) -> float:
        if self.time_up:
            raise TimeUp()
        self._check_memory()  # loading alone may pass the bound: say so before the first step
        self.model.train()
        dataset = self.train_loader.dataset
        if hasattr(dataset, "set_epoch"):  # new windows each epoch (torch-em only tells distributed samplers)
            dataset.set_epoch(self._epoch)
        n_iter, t0 = 0, time.time()
        for x, y in self.train_loader:
            x, y = x.to(self.device), y.to(self.device)
            self.optimizer.zero_grad(set_to_none=True)
            self._warm_up()
            with forward_context():
                loss = self._step(x, y)
            backprop(loss)
            self._check_memory()
            self._iteration += 1
            n_iter += 1
            progress.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            progress.update(1)
            if self._iteration >= self.max_iteration:
                break
            if time.time() > self.deadline:
                self.time_up = True
                break
        return (time.time() - t0) / max(n_iter, 1)

    def _validate_impl(self, forward_context: Any) -> float:
        self.model.eval()
        metric, scores = self.validate_fn(self.model)
        self.history.append({"step": self._iteration, **scores})
        log.info("step %d: validation %s", self._iteration, " ".join(f"{k}={v:.3f}" for k, v in scores.items()))
        return metric

    def _warm_up(self) -> None:
        """Linear warm-up over the first steps; torch-em's scheduler then acts at epoch ends only."""
        if not hasattr(self, "_base_lrs"):
            self._base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        if self._iteration <= self.settings.warmup:
            factor = min(1.0, (self._iteration + 1) / max(self.settings.warmup, 1))
            for g, lr in zip(self.optimizer.param_groups, self._base_lrs):
                g["lr"] = lr * factor

    # -- the step -------------------------------------------------------------------------------------

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Loss of one batch of windows: AIS + prompts + classes on one encoder pass."""
        model: Any = self.model
        instances, distances, valid, classes = y[:, :1], y[:, 1:4], y[:, 4:5], y[:, 5].long()
        freeze = self.settings.freeze
        with torch.set_grad_enabled("encoder" not in freeze):
            features, input_size = model.ais.encode(x)
        size = tuple(x.shape[-2:])
        ais_out = model.ais.decode(features, input_size, size)
        loss = self.loss(ais_out.float(), torch.cat([distances, valid.expand_as(distances)], dim=1))
        if "prompt-decoder" not in freeze:
            for b in range(x.shape[0]):
                loss = loss + losses.prompt_loss(
                    model.sam, self.convert, self.generator, features[0][b : b + 1], x[b : b + 1],
                    instances[b : b + 1].long(), self._iteration, self.settings.n_objects,
                    self.settings.n_sub_iterations,
                ) / x.shape[0]  # fmt: skip
        if (
            "class-decoder" not in freeze
            and model.semantic is not None
            and self._iteration % self.settings.class_every == 0
        ):
            sem_out = model.semantic.decode(features, input_size, size)
            loss = loss + losses.semantic_loss(sem_out.float(), classes)
        return loss

    def _check_memory(self) -> None:
        """Stop cleanly (last checkpoint kept) when the process passes its memory bound."""
        if self.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.device) / 2**30
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
        self.peak_gb = max(self.peak_gb, peak)
        if peak > self.settings.max_memory_gb:
            raise MemoryLimitError(
                f"training used {peak:.1f} GB, over --max-memory-gb {self.settings.max_memory_gb:g}; freeze the "
                "encoder (--freeze encoder), use a smaller model, or raise the bound. The last checkpoint is kept: "
                "rerun the same command to resume"
            )


def bound_cuda_memory(device: str, max_gb: float) -> None:
    """Cap the CUDA allocator at ``max_gb`` so that training fails with a clear error instead of taking the GPU."""
    if device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        total = torch.cuda.get_device_properties(index).total_memory / 2**30
        torch.cuda.set_per_process_memory_fraction(min(1.0, max_gb / total), index)


def latest_iteration(save_root: Path) -> Optional[tuple[int, dict]]:
    """(steps done, settings) of the run's latest checkpoint, or None when there is none."""
    path = save_root / "checkpoints" / "finetune" / "latest.pt"
    if not path.is_file():
        return None
    # our own file; mapped, not read: the trainer reads its weights again when it resumes
    state = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    return int(state["iteration"]), dict(state.get("init", {}).get("pathosam_settings", {}))


def seed_everything(seed: int) -> None:
    """Seed torch and numpy (prompt sampling uses both)."""
    torch.manual_seed(seed)
    np.random.seed(seed)
