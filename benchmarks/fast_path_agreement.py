"""Agreement of the server's fast path with its own float32, no-skip output on one slide-like region.

The fast path is what a whole-image run gets by default: glass tiles skipped, ``--precision auto``
(bfloat16 where the CPU or GPU runs it natively) and the model's queue. The reference is the same server
with ``precision="float32"`` and every tile encoded. Both stream the same region (tile 384 + halo 64)
through SegmentRegion to a real server on loopback, with the trained tiny test model (agreement on
random weights would say nothing). Reported:

- SA50 and mSA of the fast output against the reference, on the reference's nuclei that lie on tissue
  (islands from the generator, and the isolated / faint nuclei it put on glass);
- the reference's nuclei in tiles the fast path skipped (the server's own ``has_tissue`` says which),
  and how many of those are real (IoU >= 0.5 with a ground-truth nucleus): a real one there would be lost;
- wall time of both runs (a ratio within one run).

    python benchmarks/fast_path_agreement.py [--size 2048 2048] [--seed 6]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))
sys.path.insert(0, str(ROOT / "benchmarks"))  # bench_region.stream_region
TINY = ROOT / "tests" / "fixtures" / "tiny_model"


def stream(image: np.ndarray, precision: str, skip: bool) -> tuple[list, dict]:
    """One region through a fresh server with the tiny model at the given precision; returns nuclei and summary."""
    from bench_region import stream_region

    from pathosam_server.inference.models import local_spec
    from pathosam_server.rpc import wire

    spec = local_spec(TINY / "vit_t_synthetic.pt", name="tiny", precision=precision)
    found, summary, seconds, tiles, used = stream_region(image, spec, skip_background=skip)
    nuclei = [(tile, wire.geometry_from_proto(n.geometry)) for tile, n in found]
    info = {"seconds": seconds, "tiles": tiles, "tiles_skipped": summary.tiles_skipped, "nuclei": len(nuclei)}
    return nuclei, {**info, "precision": used}


def main() -> None:
    """Run reference and fast path on one region and print the agreement as JSON."""
    from bench_region import HALO, TILE
    from elf.evaluation import mean_segmentation_accuracy

    from pathosam_server._testing.glass import make_slide_region
    from pathosam_server.geometry import polygons
    from pathosam_server.geometry.tiling import Rect, plan_tiles
    from pathosam_server.inference.tissue import has_tissue

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, nargs=2, default=(2048, 2048), metavar=("WIDTH", "HEIGHT"))
    ap.add_argument("--seed", type=int, default=6)
    args = ap.parse_args()
    width, height = args.size
    slide = make_slide_region(args.seed, shape=(height, width), tissue_fraction=0.5, isolated=1)
    image, truth = slide.sample.image, slide.sample.instances

    reference, ref_info = stream(image, "float32", skip=False)
    fast, fast_info = stream(image, "auto", skip=True)

    plan = plan_tiles(Rect(0, 0, width, height), 1.0, TILE, HALO, width, height)
    skipped = {i for i, t in enumerate(plan) if not has_tissue(image[t.rect.y : t.rect.y1, t.rect.x : t.rect.x1])}
    ref_labels = polygons.rasterize([(k + 1, g) for k, (_, g) in enumerate(reference)], (height, width))
    fast_labels = polygons.rasterize([(k + 1, g) for k, (_, g) in enumerate(fast)], (height, width))

    def on_tissue(labels: np.ndarray) -> np.ndarray:
        """Labels on tissue: touching an island, or mostly on a ground-truth nucleus (those put on glass)."""
        area = np.bincount(labels.ravel())
        island = np.bincount(labels.ravel(), weights=slide.tissue.ravel())
        nucleus = np.bincount(labels.ravel(), weights=(truth > 0).ravel())
        keep = (island > 0) | (nucleus > 0.5 * np.maximum(area, 1))
        keep[0] = False
        return np.flatnonzero(keep)

    ref_tissue = np.where(np.isin(ref_labels, on_tissue(ref_labels)), ref_labels, 0)
    fast_tissue = np.where(np.isin(fast_labels, on_tissue(fast_labels)), fast_labels, 0)
    msa, accs = mean_segmentation_accuracy(fast_tissue, ref_tissue, return_accuracies=True)

    # reference nuclei in tiles the fast path skipped, and which of them match a real nucleus (IoU >= 0.5)
    in_skipped = np.asarray([k + 1 for k, (tile, _) in enumerate(reference) if tile in skipped], dtype=np.int64)
    real_in_skipped = 0
    if in_skipped.size:
        n_gt = int(truth.max()) + 1
        skipped_labels = set(in_skipped.tolist())
        pairs, overlap = np.unique(ref_labels.astype(np.int64) * n_gt + truth, return_counts=True)
        ref_area, gt_area = np.bincount(ref_labels.ravel()), np.bincount(truth.ravel())
        for pair, c in zip(pairs, overlap):
            r, g = divmod(int(pair), n_gt)
            if r and g and r in skipped_labels and c / (ref_area[r] + gt_area[g] - c) >= 0.5:
                real_in_skipped += 1
    n_ref_tissue = int(len(np.unique(ref_tissue)) - 1)
    print(json.dumps({
        "size": [width, height], "tile": TILE, "halo": HALO, "reference": ref_info, "fast": fast_info,
        "speedup": ref_info["seconds"] / fast_info["seconds"],
        "tiles_skipped_by_has_tissue": len(skipped),
        "reference_nuclei_on_tissue": n_ref_tissue, "sa50_on_tissue": float(accs[0]), "msa_on_tissue": float(msa),
        "reference_nuclei_in_skipped_tiles": int(in_skipped.size), "of_them_real": real_in_skipped,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
