"""Cost of cells + all measurements against nuclei only, on the same region, in one run.

Two figures, both as ratios measured in this one process:

1. The whole pipeline (``inference.regions.segment_region``, what ``pathosam segment`` and the
   in-process batch run) on a synthetic H&E-like region, once with nuclei only and once with
   ``--measure all --cell-expansion 5`` (µm, at 0.5 µm/px), alternating the two ``--repeat`` times so
   that drift on a noisy machine hits both. With random weights (vit_b by default: timing only) the
   model finds however many objects it finds, so:
2. the analysis step alone (``analysis.measure.measure_tile``) on the ground-truth nuclei of a tile
   of typical density, against the per-tile model time of (1): the overhead a real model's nuclei
   would add.

    python benchmarks/measurements.py [--arch vit_b] [--size 640 640] [--repeat 2] [--checkpoint CKPT]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))


def main() -> None:
    """Run both configurations and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="vit_b")
    ap.add_argument("--size", type=int, nargs=2, default=(640, 640), metavar=("H", "W"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--checkpoint", type=Path, default=None, help="weights (default: random weights of --arch)")
    args = ap.parse_args()

    from pathosam_server._testing.synthetic import make_sample
    from pathosam_server.analysis import measure
    from pathosam_server.formats.images import ArraySource
    from pathosam_server.geometry import coords, polygons
    from pathosam_server.geometry.tiling import plan_tiles
    from pathosam_server.inference.models import ModelManager, local_spec
    from pathosam_server.inference.regions import segment_region
    from pathosam_server.records import Params, Rect

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint
        if ckpt is None:
            from pathosam_server._testing.checkpoints import make_random_checkpoint

            ckpt = make_random_checkpoint(Path(tmp) / f"random_{args.arch}.pt", args.arch)
        model = ModelManager([local_spec(ckpt, name="bench")], "cpu").get()
        h, w = args.size
        sample = make_sample(7, (h, w))
        source = ArraySource(sample.image)
        region = Rect(0, 0, w, h)
        tiles = len(plan_tiles(region, 1.0, model.spec.tile_size, model.spec.halo, w, h))
        plain = Params(pixel_size_um=0.5)
        full = Params(pixel_size_um=0.5, measure_shape=True, measure_intensity=True, cell_expansion=5.0)
        times: dict[str, list[float]] = {"nuclei": [], "cells+measurements": []}
        counts = {}
        list(segment_region(model, source, Rect(0, 0, 64, 64), 1.0, plain))  # warm-up (first call allocates)
        for _ in range(args.repeat):
            for name, params in (("nuclei", plain), ("cells+measurements", full)):
                t0 = time.perf_counter()
                found = list(segment_region(model, source, region, 1.0, params))
                times[name].append(time.perf_counter() - t0)
                counts[name] = len(found)
        best = {k: min(v) for k, v in times.items()}
        print(json.dumps({"arch": args.arch, "region": [w, h], "tiles": tiles, "nuclei": counts, "seconds": times}))

        # (2) the analysis alone on ground-truth nuclei of one 512 x 512 tile of typical density
        tile = make_sample(8, (512, 512))
        labels = tile.instances.astype(np.int32)
        ids = [int(i) for i in np.unique(labels) if i]
        frame = coords.TileFrame(0, 0, 1.0)
        slices = ndimage.find_objects(labels)
        exact = []
        for i in ids:
            sl = slices[i - 1]
            exact.append(polygons.mask_to_geometry(labels[sl] == i, offset=(sl[1].start, sl[0].start)))
        outlines = [coords.geometry_to_level0(polygons.simplify(g, 0.5), frame) for g in exact]
        t0 = time.perf_counter()
        reps = 5
        for _ in range(reps):
            measure.measure_tile(labels, ids, exact, outlines, tile.image, frame, full)
        analysis = (time.perf_counter() - t0) / reps
        per_tile_model = best["nuclei"] / tiles
        print(json.dumps({
            "pipeline_ratio": round(best["cells+measurements"] / best["nuclei"], 4),
            "analysis_seconds_per_tile_of_gt_nuclei": round(analysis, 4),
            "gt_nuclei_per_tile": len(ids),
            "model_seconds_per_tile": round(per_tile_model, 3),
            "estimated_ratio_with_real_nuclei": round((per_tile_model + analysis) / per_tile_model, 4),
        }))


if __name__ == "__main__":
    main()
