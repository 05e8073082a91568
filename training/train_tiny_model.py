"""Train the project's tiny PathoSAM-like test model (vit_t) from random weights on synthetic nuclei.

One loop trains all three heads on one shared image encoder, so each step runs the encoder once:

(a) the AIS decoder: micro-sam's UNETR (``get_unetr``, 3 channels: foreground, centre and boundary
    distances; torch-em's ``DiceBasedDistanceLoss``), as ``train_instance_segmentation`` trains it;
(b) SAM's prompt encoder + mask decoder, with point and box prompts from micro-sam's
    ``ConvertToSamInputs`` and corrective points from its ``IterativePromptGenerator``
    (dice + IoU-regression loss, as micro-sam's ``SamTrainer``; no mask inputs, to save time);
(c) PathoSAM's semantic decoder: ``get_unetr(image_encoder, out_channels=6)``, cross-entropy + dice.

The learning-rate schedule (warm-up, then cosine) runs on the further of step count and elapsed share
of the time cap, so a slow or shared machine ends the run on time with a completed schedule. Outputs (fp16 weights, loadable with ``torch.load(weights_only=True)``):
``vit_t_synthetic.pt`` (micro-sam format with ``decoder_state``) and
``vit_t_synthetic_semantic_decoder.pt`` (non-encoder keys of the semantic UNETR).

Example:
    PYTHONPATH=python_server python training/train_tiny_model.py --out tests/fixtures/tiny_model
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch_em.loss import DiceBasedDistanceLoss

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python_server"))

from micro_sam.instance_segmentation import get_unetr  # noqa: E402
from micro_sam.prompt_generators import IterativePromptGenerator  # noqa: E402
from micro_sam.training.util import ConvertToSamInputs, get_trainable_sam_model  # noqa: E402
from synthetic_dataset import SyntheticNucleiDataset  # noqa: E402  (training/, next to this script)

from pathosam_server.finetune.losses import prompt_loss, soft_dice  # noqa: E402

MODEL_FILE = "vit_t_synthetic.pt"
SEMANTIC_FILE = "vit_t_synthetic_semantic_decoder.pt"
# Keep these in fp32: SAM's pixel statistics and batch-norm statistics lose accuracy in fp16.
_FP32_KEYS = ("pixel_mean", "pixel_std", "running_mean", "running_var")
# micro-sam's default AIS loss (train_instance_segmentation).
ais_loss_fn = DiceBasedDistanceLoss(mask_distances_in_bg=True)


def build_models(
    seed: int, work_dir: Path, resume: Path | None = None
) -> tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module]:
    """Build a vit_t SAM plus the AIS and semantic UNETRs sharing its image encoder.

    Args:
        seed: Torch seed for the random initialisation.
        work_dir: Where the random-init checkpoint is written (micro-sam loads models from a file).
        resume: Optional folder with an earlier export of this script to continue from.

    Returns:
        The trainable SAM (micro-sam ``TrainableSAM``), the AIS UNETR and the semantic UNETR.
    """
    from mobile_sam import sam_model_registry

    torch.manual_seed(seed)
    if resume is None:
        init_path = work_dir / "vit_t_random_init.pt"
        torch.save(sam_model_registry["vit_t"]().state_dict(), init_path)
        ais_state = sem_state = None
    else:
        init_path = resume / MODEL_FILE
        ais_state = torch.load(init_path, map_location="cpu", weights_only=True)["decoder_state"]
        sem_state = torch.load(resume / SEMANTIC_FILE, map_location="cpu", weights_only=True)
    # A local checkpoint keeps micro-sam from trying to download weights.
    sam = get_trainable_sam_model(model_type="vit_t", device="cpu", checkpoint_path=init_path)
    encoder = sam.sam.image_encoder
    ais = get_unetr(encoder, decoder_state=ais_state, device="cpu", out_channels=3)
    # PathoSAM's semantic decoder outputs class logits; softmax is applied at inference.
    semantic = get_unetr(encoder, decoder_state=sem_state, device="cpu", out_channels=6, final_activation=None)
    return sam, ais, semantic


def parameter_groups(sam: torch.nn.Module, *unetrs: torch.nn.Module, prompt_lr_mult: float = 1.0) -> list[dict]:
    """Optimizer groups: SAM's prompt encoder + mask decoder (own lr multiplier), and the rest.

    The rest is SAM's image encoder plus the decoder (non-encoder) parameters of each UNETR; the
    shared encoder is listed once.
    """
    prompt = [p for n, p in sam.sam.named_parameters() if not n.startswith("image_encoder")]
    rest = list(sam.sam.image_encoder.parameters())
    for unetr in unetrs:
        rest += [p for name, p in unetr.named_parameters() if not name.startswith("encoder")]
    return [{"params": rest, "lr_mult": 1.0}, {"params": prompt, "lr_mult": prompt_lr_mult}]


def semantic_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus multi-class dice (dice keeps the small classes from being ignored)."""
    ce = F.cross_entropy(logits, target)
    probs = torch.softmax(logits, dim=1)
    one_hot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    return ce + soft_dice(probs, one_hot, dims=(0, 2, 3)).mean()


def _half(state: dict[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """Floating tensors to fp16 (except statistics that need fp32); other tensors unchanged."""
    return OrderedDict(
        (k, v.detach().clone().half() if v.is_floating_point() and not k.endswith(_FP32_KEYS) else v.detach().clone())
        for k, v in state.items()
    )


def export(sam: torch.nn.Module, ais: torch.nn.Module, semantic: torch.nn.Module, out_dir: Path) -> None:
    """Write the two fixture files (plain dicts of tensors, fp16).

    Args:
        sam: The trainable SAM (its ``.sam`` is the segment-anything model).
        ais: The AIS UNETR.
        semantic: The semantic UNETR.
        out_dir: Output folder.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    decoder = {k: v for k, v in ais.state_dict().items() if not k.startswith("encoder")}
    sem = {k: v for k, v in semantic.state_dict().items() if not k.startswith("encoder")}
    model = {"model_state": _half(sam.sam.state_dict()), "decoder_state": _half(decoder)}
    # Write then rename, so a reader never sees half a file.
    for name, obj in ((MODEL_FILE, model), (SEMANTIC_FILE, _half(sem))):
        tmp = out_dir / (name + ".tmp")
        torch.save(obj, tmp)
        os.replace(tmp, out_dir / name)


def lr_factor(progress: float, warmup: float = 0.04, floor: float = 0.05) -> float:
    """Linear warm-up then cosine decay to ``floor``, as a function of progress in [0, 1]."""
    if progress < warmup:
        return max(progress / warmup, 0.05)
    t = min(1.0, (progress - warmup) / (1 - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


def prompt_updates(
    args: argparse.Namespace, sam, optimizer, convert, generator, embeddings: torch.Tensor,
    image: torch.Tensor, instances: torch.Tensor, step: int, n_updates: int,
) -> float:
    """Prompt-decoder-only updates on fixed (detached) embeddings; returns the last loss.

    Prompt decoding learns slowest from scratch and is cheap next to the encoder and the 1024 px
    UNETR heads, so it gets extra updates per encoded image. Only the prompt encoder and mask decoder
    receive gradients; AdamW skips parameters without one.
    """
    loss = float("nan")
    for k in range(n_updates):
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            p_loss = prompt_loss(
                sam, convert, generator, embeddings, image, instances, step + k, args.n_objects, args.n_sub_iterations
            )
        p_loss.backward()
        optimizer.step()
        loss = p_loss.item()
    return loss


def joint_step(args, sam, ais, semantic, optimizer, convert, generator, sample, step: int) -> str:
    """One joint step (AIS + prompts + every k-th step semantic) plus extra prompt updates.

    Args:
        args: Command-line arguments.
        sam, ais, semantic: The models.
        optimizer: The optimizer.
        convert, generator: micro-sam's prompt sampling helpers.
        sample: (image, instances, distances, semantic target), each with a batch axis.
        step: The training step.

    Returns:
        A log message with the losses.
    """
    image, instances, distances, sem_target = sample
    optimizer.zero_grad(set_to_none=True)
    s_loss = torch.tensor(float("nan"))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features, input_size = ais.encode(image)
        ais_out = ais.decode(features, input_size, tuple(image.shape[-2:]))
        # The semantic head costs as much as the AIS head (both decode at 1024 px): every k-th step only.
        train_semantic = step % args.semantic_every == 0
        sem_out = semantic.decode(features, input_size, tuple(image.shape[-2:])) if train_semantic else None
        p_loss = prompt_loss(
            sam, convert, generator, features[0], image, instances, step, args.n_objects, args.n_sub_iterations,
        )
    a_loss = ais_loss_fn(ais_out.float(), distances)
    loss = a_loss + p_loss
    if sem_out is not None:
        s_loss = semantic_loss(sem_out.float(), sem_target)
        loss = loss + s_loss
    loss.backward()
    optimizer.step()
    inner = prompt_updates(
        args, sam, optimizer, convert, generator, features[0].detach(), image, instances, step + 1,
        args.prompt_inner_steps,
    )
    return f"ais={a_loss.item():.4f} sem={s_loss.item():.4f} prompt={p_loss.item():.4f} inner={inner:.4f}"


def prompt_only_step(args, sam, ais, optimizer, convert, generator, sample, step: int) -> str:
    """Prompt-only step: encoder and UNETR heads frozen, embeddings without gradients.

    Args:
        args: Command-line arguments.
        sam, ais: The models (``ais`` only provides the encoder's preprocessing).
        optimizer: The optimizer.
        convert, generator: micro-sam's prompt sampling helpers.
        sample: (image, instances, distances, semantic target), each with a batch axis.
        step: The training step.

    Returns:
        A log message with the loss.
    """
    image, instances = sample[0], sample[1]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        embeddings = ais.encode(image)[0][0]
    loss = prompt_updates(
        args, sam, optimizer, convert, generator, embeddings, image, instances, step, 1 + args.prompt_inner_steps
    )
    return f"prompt={loss:.4f}"


def main() -> None:
    """Parse arguments and train."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/tiny_model"))
    parser.add_argument("--work-dir", type=Path, default=Path("training/logs"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=240, help="planned number of steps")
    parser.add_argument("--minutes", type=float, default=150.0, help="hard time cap (shortens the schedule)")
    parser.add_argument("--lr", type=float, default=4e-4)
    parser.add_argument("--n-objects", type=int, default=6)
    parser.add_argument("--n-sub-iterations", type=int, default=2)
    parser.add_argument("--semantic-every", type=int, default=3, help="train the semantic head every k steps")
    parser.add_argument("--prompt-lr-mult", type=float, default=2.5,
                        help="learning-rate multiplier for SAM's prompt encoder and mask decoder")
    parser.add_argument("--prompt-inner-steps", type=int, default=2,
                        help="extra prompt-decoder-only updates per step on the (detached) embeddings")
    parser.add_argument("--resume", type=Path, default=None, help="folder with an earlier export to continue")
    parser.add_argument("--start-step", type=int, default=0, help="first step when resuming (seeds, schedule)")
    parser.add_argument("--stop-step", type=int, default=None,
                        help="stop (and export) on reaching this step, leaving the schedule unfinished")
    parser.add_argument("--prompt-only", action="store_true",
                        help="train only SAM's prompt encoder and mask decoder (use with --resume)")
    parser.add_argument("--save-every", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    sam, ais, semantic = build_models(args.seed, args.work_dir, args.resume)
    groups = parameter_groups(sam, ais, semantic, prompt_lr_mult=args.prompt_lr_mult)
    n_params = sum(p.numel() for g in groups for p in g["params"])
    print(f"trainable parameters: {n_params / 1e6:.2f} M", flush=True)
    optimizer = torch.optim.AdamW(groups, lr=args.lr)
    convert = ConvertToSamInputs(transform=sam.transform, box_distortion_factor=0.025)
    generator = IterativePromptGenerator()
    # Training seeds start at 0; evaluation uses seeds from 1_000_000 on.
    dataset = SyntheticNucleiDataset(length=args.steps, seed_offset=args.seed * 100_000)

    sam.train(), ais.train(), semantic.train()
    if args.prompt_only:
        # Frozen encoder: keep its batch-norm statistics fixed too.
        sam.sam.image_encoder.eval()
    budget = args.minutes * 60.0
    start = time.time()
    n_done = args.start_step
    start_fraction = args.start_step / args.steps
    for step in range(args.start_step, min(args.steps, args.stop_step or args.steps)):
        elapsed = time.time() - start
        # When resuming, --minutes is the time left for the rest of the schedule.
        progress = max(step / args.steps, start_fraction + (1 - start_fraction) * elapsed / budget)
        if progress >= 1.0:
            break
        for group in optimizer.param_groups:
            # A resumed run starts with empty Adam moments: ramp up again over a few steps.
            rewarm = min(1.0, (step - args.start_step + 1) / 5) if args.resume else 1.0
            group["lr"] = args.lr * group["lr_mult"] * lr_factor(progress) * rewarm
        sample = tuple(t[None] for t in dataset[step])
        if args.prompt_only:
            message = prompt_only_step(args, sam, ais, optimizer, convert, generator, sample, step)
        else:
            message = joint_step(args, sam, ais, semantic, optimizer, convert, generator, sample, step)
        lr = optimizer.param_groups[0]["lr"]
        print(f"step {step:5d} t={time.time() - start:7.1f}s lr={lr:.2e} {message}", flush=True)
        n_done = step + 1
        if n_done % args.save_every == 0:
            export(sam, ais, semantic, args.work_dir / "checkpoint")
    sam.eval(), ais.eval(), semantic.eval()
    export(sam, ais, semantic, args.out)
    total = time.time() - start
    n_run = n_done - args.start_step
    print(f"done: steps {args.start_step}..{n_done - 1} in {total:.0f} s ({total / max(n_run, 1):.1f} s/step)", flush=True)
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
