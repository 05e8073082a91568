"""Cost of classes, measured on the same tiles in one run:

- instances only;
- instances + classes, one shared encoder pass (the server; semantic decoder in the precision
  ``--class-precision auto`` picks on this machine);
- the same in float32;
- the patho-sam way: instances as above, then patho-sam's whole semantic UNETR on the tile (the
  encoder runs a second time).

    python benchmarks/bench_classes.py [--arch vit_b] [--checkpoint CKPT --semantic SEM] [--tiles 3]

Without --checkpoint the weights are random (timing only; the decoders cost the same whatever their
weights). Tiles are synthetic H&E (512 px, which SAM resizes to 1024 like every tile). The variants
are interleaved tile by tile after one warm-up tile, so machine noise hits them alike.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))


def main() -> None:
    """Parse arguments, run the variants, print one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="vit_b")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--semantic", default=None)
    ap.add_argument("--tiles", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from micro_sam.instance_segmentation import get_unetr

    from pathosam_server._testing.checkpoints import make_random_checkpoint
    from pathosam_server._testing.synthetic import make_sample
    from pathosam_server.inference.models import load_model, local_spec
    from pathosam_server.inference.pipeline import TileJob, segment_tile
    from pathosam_server.records import Params, Rect

    with tempfile.TemporaryDirectory() as tmp:
        ckpt, sem = args.checkpoint, args.semantic
        if ckpt is None:
            sem = Path(tmp) / "sem.pt"
            ckpt = make_random_checkpoint(Path(tmp) / "m.pt", args.arch, semantic=sem)
        model = load_model(local_spec(ckpt, semantic_decoder=Path(sem)), args.device)
        state = torch.load(sem, map_location="cpu", weights_only=True)
    auto_dtype = model.semantic_dtype
    # patho-sam's semantic inference: its own UNETR (same encoder weights) run on the tile, eval mode.
    unetr = get_unetr(model.predictor.model.image_encoder, state, args.device, out_channels=6,
                      final_activation=None).eval()

    def instances(job):
        return segment_tile(model, job, Params(classify=False))

    def classes(job, dtype):
        model.semantic_dtype = dtype
        return segment_tile(model, job, Params(classify=True))

    def patho_sam_way(job):
        segment_tile(model, job, Params(classify=False))
        x = torch.from_numpy(np.ascontiguousarray(job.image.transpose(2, 0, 1)))[None].float().to(args.device)
        with torch.inference_mode():
            unetr(x).cpu()

    variants = {
        "instances_only": instances,
        "instances_and_classes": lambda job: classes(job, auto_dtype),
        "instances_and_classes_float32": lambda job: classes(job, None),
        "patho_sam_encoder_twice": patho_sam_way,
    }
    totals = dict.fromkeys(variants, 0.0)
    parts = {"encoder": 0.0, "decoders_without_classes": 0.0, "decoders_with_classes": 0.0}
    for i in range(args.tiles + 1):
        image = make_sample(2_000_000 + i).image[:512, :512]
        job = TileJob(image, Rect(0, 0, 512, 512), 1.0)
        for name, run in variants.items():
            t0 = time.perf_counter()
            result = run(job)
            if i == 0:
                continue  # warm-up
            totals[name] += time.perf_counter() - t0
            if name == "instances_only":
                parts["encoder"] += result.encoder_seconds
                parts["decoders_without_classes"] += result.decoder_seconds
            elif name == "instances_and_classes":
                parts["decoders_with_classes"] += result.decoder_seconds
    base = totals["instances_only"]
    print(json.dumps({
        "arch": args.arch, "device": args.device, "threads": torch.get_num_threads(), "tiles": args.tiles,
        "class_precision_auto": str(auto_dtype or torch.float32),
        "seconds_per_tile": {k: round(v / args.tiles, 2) for k, v in totals.items()},
        "model_seconds_per_tile": {k: round(v / args.tiles, 2) for k, v in parts.items()},
        "ratio_classes_over_instances": round(totals["instances_and_classes"] / base, 3),
        "ratio_classes_float32_over_instances": round(totals["instances_and_classes_float32"] / base, 3),
        "ratio_patho_sam_way_over_instances": round(totals["patho_sam_encoder_twice"] / base, 3),
    }))


if __name__ == "__main__":
    main()
