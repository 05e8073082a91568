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
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))
TINY = ROOT / "tests" / "fixtures" / "tiny_model"
TILE, HALO = 384, 64


def stream(image: np.ndarray, precision: str, skip: bool) -> tuple[list, dict]:
    """One region through a fresh server with the tiny model at the given precision; returns nuclei and summary."""
    import grpc

    from pathosam_server.geometry.tiling import Rect, plan_tiles
    from pathosam_server.grpc_api import pathosam_pb2 as pb
    from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc
    from pathosam_server.inference.models import ModelManager, local_spec
    from pathosam_server.rpc import wire
    from pathosam_server.rpc.server import create_server

    height, width = image.shape[:2]
    spec = local_spec(TINY / "vit_t_synthetic.pt", name="tiny", precision=precision)
    models = ModelManager([spec], "cpu")
    models.get()
    server, port, _ = create_server(models, "127.0.0.1", 0)
    server.start()
    region = Rect(0, 0, width, height)
    plan = plan_tiles(region, 1.0, TILE, HALO, width, height)

    def requests():
        yield pb.SegmentRegionRequest(start=pb.RegionStart(
            region=wire.rect_to_proto(region), downsample=1.0, image_width=width, image_height=height,
            params=pb.SegmentParams(classify=False, skip_background=skip)))  # fmt: skip
        for i, t in enumerate(plan):
            px = np.ascontiguousarray(image[t.rect.y : t.rect.y1, t.rect.x : t.rect.x1])
            yield pb.SegmentRegionRequest(tile=pb.Tile(
                region=wire.rect_to_proto(t.rect), core=wire.rect_to_proto(t.core), index=i,
                image=pb.Image(width=px.shape[1], height=px.shape[0], encoding=pb.RAW_RGB8, data=px.tobytes())))  # fmt: skip
        yield pb.SegmentRegionRequest(end=pb.RegionEnd())

    t0 = time.perf_counter()
    nuclei, summary = [], None
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.PathoSamStub(channel)
        precision_used = stub.GetInfo(pb.GetInfoRequest()).models[0].precision
        for resp in stub.SegmentRegion(requests()):
            if resp.HasField("nuclei"):
                nuclei.extend(
                    (resp.nuclei.tile_index, wire.geometry_from_proto(n.geometry)) for n in resp.nuclei.nuclei
                )
            elif resp.HasField("summary"):
                summary = resp.summary
    seconds = time.perf_counter() - t0
    server.stop(0).wait()
    assert summary is not None
    return nuclei, {"seconds": seconds, "tiles": len(plan), "tiles_skipped": summary.tiles_skipped,
                    "nuclei": len(nuclei), "precision": precision_used}  # fmt: skip


def main() -> None:
    """Run reference and fast path on one region and print the agreement as JSON."""
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
