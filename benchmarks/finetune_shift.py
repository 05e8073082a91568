"""Evidence for `pathosam finetune`: a domain the tiny test model handles badly, fixed from a few regions.

The shifted domain comes from the project's synthetic generator with other settings: stain hue turned
by ``--hue`` degrees and nuclei ``--zoom`` times larger. The script writes an annotated image folder
(QuPath GeoJSON: nuclei as detections, "Training" and "Validation" regions), runs the same code as
`pathosam finetune` on it, and scores base and fine-tuned model with the server's tiled pipeline on
held-out shifted tiles and on original-domain tiles (no collapse).

Example (about 30 min on 2 CPU cores):
    PYTHONPATH=python_server python benchmarks/finetune_shift.py --work /tmp/shift --minutes 30
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python_server"))

from pathosam_server._testing.annotated import region_feature, shifted_sample, write_annotated_image  # noqa: E402
from pathosam_server.batch.sources import FolderSource  # noqa: E402
from pathosam_server.finetune.data import TrainingRegion  # noqa: E402
from pathosam_server.finetune.evaluate import evaluate  # noqa: E402
from pathosam_server.finetune.run import FinetuneJob, finetune  # noqa: E402
from pathosam_server.finetune.trainer import Settings  # noqa: E402
from pathosam_server.inference.models import load_model, local_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny_model"


def held_out(hue: float, zoom: float, seeds: range, edge: int) -> list[TrainingRegion]:
    """Whole tiles with all their nuclei, for scoring."""
    out = []
    for seed in seeds:
        s = shifted_sample(seed, (edge, edge), hue, zoom)
        out.append(TrainingRegion(f"seed {seed}", "val", s.image, s.instances.astype(np.int32), dict(s.classes),
                                  np.ones(s.instances.shape, bool)))  # fmt: skip
    return out


def main() -> None:
    """Build the data, fine-tune, score, print JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--hue", type=float, default=45.0)
    p.add_argument("--zoom", type=float, default=1.5)
    p.add_argument("--train-images", type=int, default=6)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--validate-every", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--freeze", default="encoder")
    p.add_argument("--test-tiles", type=int, default=4)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    data = args.work / "data"
    for i in range(args.train_images):  # training images: one region each, 512 px; seeds 3_000_000+
        s = shifted_sample(3_000_000 + i, (512, 512), args.hue, args.zoom)
        write_annotated_image(data, f"train{i}", s, [region_feature(0, 0, 512, 512, "Training")])
    s = shifted_sample(3_100_000, (384, 384), args.hue, args.zoom)
    write_annotated_image(data, "val0", s, [region_feature(0, 0, 384, 384, "Validation")])

    base = local_spec(TINY / "vit_t_synthetic.pt", semantic_decoder=TINY / "vit_t_synthetic_semantic_decoder.pt",
                      pixel_size_um=0)  # fmt: skip
    freeze = tuple(x for x in args.freeze.split(",") if x and x != "none")
    settings = Settings(steps=args.steps, validate_every=args.validate_every, minutes=args.minutes, lr=args.lr,
                        freeze=freeze, device="cpu", early_stop=1000)  # fmt: skip
    out = args.work / "model"
    t0 = time.time()
    card = finetune(FinetuneJob(FolderSource(data), f"folder {data}", base, out, "shifted", base.class_names, settings,
                                restart=True))  # fmt: skip
    seconds = time.time() - t0

    shifted = held_out(args.hue, args.zoom, range(3_200_000, 3_200_000 + args.test_tiles), 384)
    original = held_out(0.0, 1.0, range(3_300_000, 3_300_000 + args.test_tiles), 384)
    result = {"settings": vars(args) | {"work": str(args.work)}, "train_seconds": round(seconds, 1),
              "steps": card["training"]["steps"], "stopped": card["training"]["stopped"],
              "history": card["training"]["history"]}  # fmt: skip
    for label, spec in (("base", base), ("finetuned", local_spec(out))):
        model = load_model(spec, "cpu")
        result[label] = {"shifted": evaluate(model, shifted).as_dict(), "original": evaluate(model, original).as_dict()}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
