"""Cost of classes: instances only vs. instances + classes (one shared encoder pass) vs. the
patho-sam way (the encoder run a second time for the semantic decoder), on the same tiles, in one run.

    python benchmarks/bench_classes.py [--arch vit_t] [--checkpoint CKPT --semantic SEM] [--tiles 3]

The three variants are interleaved tile by tile so machine noise hits them alike.
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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="vit_t")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--semantic", default=None)
    ap.add_argument("--tiles", type=int, default=3)
    args = ap.parse_args()

    from micro_sam import util

    from pathosam_server.models import load_model, local_spec
    from pathosam_server.pipeline import Params, TileJob, segment_tile
    from pathosam_server.testing import make_random_checkpoint
    from pathosam_server.tiling import Rect

    with tempfile.TemporaryDirectory() as tmp:
        ckpt, sem = args.checkpoint, args.semantic
        if ckpt is None:
            sem = Path(tmp) / "sem.pt"
            ckpt = make_random_checkpoint(Path(tmp) / "m.pt", args.arch, semantic=sem)
        model = load_model(local_spec(ckpt, semantic_decoder=Path(sem)), "cpu")
    rng = np.random.default_rng(0)
    totals = {"instances_only": 0.0, "instances_and_classes": 0.0, "encoder_twice": 0.0}
    for i in range(args.tiles):
        tile = (rng.random((512, 512, 3)) * 255).astype(np.uint8)
        job = TileJob(tile, Rect(0, 0, 512, 512), 1.0)
        t0 = time.perf_counter()
        segment_tile(model, job, Params(classify=False))
        t1 = time.perf_counter()
        segment_tile(model, job, Params(classify=True))
        t2 = time.perf_counter()
        # patho-sam: instances as above, then a separate semantic pass that encodes the tile again
        segment_tile(model, job, Params(classify=False))
        with torch.inference_mode():
            emb = util.precompute_image_embeddings(model.predictor, tile, ndim=2, verbose=False)
            p = util.set_precomputed(model.predictor, emb)
            model.semantic_decoder(p.features, tuple(p.input_size), tuple(p.original_size))
        t3 = time.perf_counter()
        totals["instances_only"] += t1 - t0
        totals["instances_and_classes"] += t2 - t1
        totals["encoder_twice"] += t3 - t2
    base = totals["instances_only"]
    print(json.dumps({
        "arch": args.arch, "tiles": args.tiles, "seconds": {k: round(v, 2) for k, v in totals.items()},
        "ratio_classes_over_instances": round(totals["instances_and_classes"] / base, 3),
        "ratio_encoder_twice_over_instances": round(totals["encoder_twice"] / base, 3),
    }))


if __name__ == "__main__":
    main()
