"""Region read throughput: the OpenSlide path vs the tifffile path on the same Aperio SVS, in one run.

Writes a JPEG-compressed Aperio-style SVS (synthetic H&E tiled over the slide, 256 px tiles, a stripped
thumbnail, levels 1, 4, 16 as Aperio writes them), then reads a 4096 x 4096 level-0 region at downsample 1 and 4 through each reader
(``OpenSlideReader`` and ``TiffSource``, the two ``SlideReader``s that can read an SVS), and the pipeline's own
tile grid over that region (384 px cores + 64 px halo = 512 px reads, downsample 1), and prints one JSON line
per measurement: MB/s of RGB delivered and tiles/s.

    python benchmarks/read_bench.py [--size 8192] [--region 4096] [--keep slide.svs]

One run each, no warm-up beyond opening the file (the OS file cache is warm after writing it); on a shared,
loaded machine expect the figures to vary by 2x or more.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))


def write_slide(path: Path, size: int) -> None:
    """A JPEG (quality 90) Aperio SVS of ``size`` x ``size`` px with 4x-spaced levels, tissue-like content."""
    from pathosam_server._testing.slides import write_svs
    from pathosam_server._testing.synthetic import make_sample

    block = make_sample(7, shape=(1024, 1024)).image
    reps = -(-size // 1024)
    row = np.concatenate([block if i % 2 == 0 else block[:, ::-1] for i in range(reps)], axis=1)
    rgb = np.concatenate([row if j % 2 == 0 else row[::-1] for j in range(reps)], axis=0)[:size, :size]
    levels = [rgb]
    while levels[-1].shape[0] >= 4 * 512:
        a = levels[-1]
        h, w = a.shape[0] // 4, a.shape[1] // 4
        levels.append(a[: 4 * h, : 4 * w].reshape(h, 4, w, 4, 3).mean(axis=(1, 3)).astype(np.uint8))
    write_svs(path, rgb, mpp=0.25, pyr=levels, jpeg=90, big=True)


def measure(name: str, reader, region, downsample: float) -> dict:
    """Read one region once; MB/s of RGB delivered."""
    t0 = time.perf_counter()
    out = reader.read(region, downsample)
    seconds = time.perf_counter() - t0
    return {"reader": name, "what": f"{region.width}x{region.height} region", "downsample": downsample,
            "seconds": round(seconds, 3), "out_px": f"{out.shape[1]}x{out.shape[0]}",
            "MB_per_s": round(out.nbytes / 1e6 / seconds, 1),
            "level0_Mpx_per_s": round(region.width * region.height / 1e6 / seconds, 1)}


def measure_tiles(name: str, reader, region, tile: int = 384, halo: int = 64) -> dict:
    """Read the pipeline's tile grid over the region once (what a segment run reads, in its order)."""
    from pathosam_server.geometry.tiling import plan_tiles

    tiles = plan_tiles(region, 1.0, tile, halo, reader.width, reader.height)
    t0 = time.perf_counter()
    nbytes = sum(reader.read(t.rect, 1.0).nbytes for t in tiles)
    seconds = time.perf_counter() - t0
    return {"reader": name, "what": f"{len(tiles)} tiles ({tile}+{halo} px)", "downsample": 1.0,
            "seconds": round(seconds, 3), "tiles_per_s": round(len(tiles) / seconds, 1),
            "MB_per_s": round(nbytes / 1e6 / seconds, 1)}


def main() -> None:
    """Write the slide, read it both ways, print JSON lines."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=8192, help="slide edge, level-0 px")
    p.add_argument("--region", type=int, default=4096, help="region edge, level-0 px")
    p.add_argument("--keep", type=Path, help="write the SVS here (default: a temporary folder)")
    args = p.parse_args()

    from pathosam_server.formats.images import TiffSource
    from pathosam_server.formats.openslide_reader import OpenSlideReader
    from pathosam_server.records import Rect

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.svs"
        t0 = time.perf_counter()
        write_slide(path, args.size)
        print(json.dumps({"slide": str(path.name), "size": args.size, "MB": round(path.stat().st_size / 1e6, 1),
                          "write_s": round(time.perf_counter() - t0, 1)}))
        start = (args.size - args.region) // 2
        region = Rect(start, start, args.region, args.region)
        readers = [("openslide", OpenSlideReader(path, "aperio")), ("tifffile", TiffSource(path))]
        for name, reader in readers:
            print(json.dumps({"reader": name, "levels": [lv.downsample for lv in reader.levels]}))
        for d in (1.0, 4.0):
            for name, reader in readers:
                print(json.dumps(measure(name, reader, region, d)))
        for name, reader in readers:
            print(json.dumps(measure_tiles(name, reader, region)))
        for _, reader in readers:
            reader.close()


if __name__ == "__main__":
    main()
