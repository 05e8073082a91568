"""A half-glass, slide-like region with and without skipping glass tiles, in one run.

Both runs use the same in-process pipeline (``inference.regions.segment_region``, as ``pathosam segment``
and the in-process batch run it) on the same region from ``_testing.glass.make_slide_region``: tissue
islands on the left, glass on the right, faint nuclei just outside tissue edges and isolated nuclei on
glass. Prints one JSON line per run, then the ratio, the encoded tiles and whether the nuclei are equal.

    python benchmarks/skip_background.py [--size 768 1536] [--tissue 0.3] [--isolated 1] [--checkpoint CKPT]

The image reaches 64 px beyond the region on the right and at the bottom, so that no tile of the region
is cut by the image border: such a tile is padded with SAM's pixel mean, and the model answers the edge
between glass and padding with slivers that a full run returns as nuclei (a separate flaw).

With the tiny test model (default) a tile costs what a tile costs for its vit_t encoder, so the time
ratio is close to the ratio of encoded tiles, which is what a real model's ratio is too: the glass test
costs a few milliseconds per tile, against seconds (CPU) or tens of milliseconds (GPU) for a ViT-B tile.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))
TINY = ROOT / "tests" / "fixtures" / "tiny_model"


def main() -> None:
    """Run both sides and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, nargs=2, default=(768, 1536), metavar=("H", "W"))
    ap.add_argument("--tissue", type=float, default=0.3, help="share of the area covered by tissue islands")
    ap.add_argument("--isolated", type=int, default=1, help="nuclei alone on glass (0-3), each keeps its tile")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--checkpoint", type=Path, default=TINY / "vit_t_synthetic.pt")
    ap.add_argument("--semantic", type=Path, default=TINY / "vit_t_synthetic_semantic_decoder.pt")
    args = ap.parse_args()

    from pathosam_server._testing.glass import make_slide_region
    from pathosam_server.formats.images import ArraySource
    from pathosam_server.geometry.tiling import plan_tiles
    from pathosam_server.inference import tissue
    from pathosam_server.inference.models import ModelManager, local_spec
    from pathosam_server.inference.regions import segment_region
    from pathosam_server.records import Params, Rect

    h, w = args.size
    slide = make_slide_region(args.seed, shape=(h + 64, w + 64), tissue_fraction=args.tissue, isolated=args.isolated)
    source = ArraySource(slide.sample.image)
    region = Rect(0, 0, w, h)
    semantic = args.semantic if args.semantic.is_file() else None
    model = ModelManager([local_spec(args.checkpoint, name="bench", semantic_decoder=semantic)], "cpu").get()
    tiles = plan_tiles(region, 1.0, model.spec.tile_size, model.spec.halo, source.width, source.height)

    t0 = time.perf_counter()
    for t in tiles:  # the glass test alone, on every tile
        tissue.has_tissue(source.read(t.rect, 1.0))
    check_ms = 1000 * (time.perf_counter() - t0) / len(tiles)

    results = {}
    for skip in (False, True):
        skipped: list[int] = []
        t0 = time.perf_counter()
        nuclei = list(segment_region(model, source, region, 1.0, Params(skip_background=skip), on_skipped=skipped.append))
        seconds = time.perf_counter() - t0
        results[skip] = (seconds, nuclei)
        line = {
            "skip_background": skip,
            "seconds": round(seconds, 1),
            "tiles": len(tiles),
            "tiles_encoded": len(tiles) - len(skipped),
            "nuclei": len(nuclei),
        }
        print(json.dumps(line), flush=True)

    def key(n) -> tuple:
        return (round(n.centroid_x, 6), round(n.centroid_y, 6), n.geometry.wkb, n.class_name)

    (full_s, full), (fast_s, fast) = results[False], results[True]
    encoded = len(tiles) - sum(1 for t in tiles if not tissue.has_tissue(source.read(t.rect, 1.0)))
    print(
        json.dumps(
            {
                "region": list(args.size),
                "tissue_fraction": round(float(slide.tissue.mean()), 3),
                "glass_test_ms_per_tile": round(check_ms, 2),
                "encoded_tile_ratio": round(encoded / len(tiles), 3),
                "speedup": round(full_s / fast_s, 2),
                "same_nuclei": sorted(map(key, full)) == sorted(map(key, fast)),
                "isolated_found": int(
                    sum(any(np.hypot(n.centroid_x - x, n.centroid_y - y) < 8 for n in fast) for x, y in slide.isolated)
                ),
                "isolated": len(slide.isolated),
            }
        )
    )


if __name__ == "__main__":
    main()
