"""Compare PathoSAM's measurements with QuPath's own ``ObjectMeasurements`` on the same ROIs and pixels.

Needs a QuPath installation's classes (``QuPath/lib/app/*`` of QuPath 0.6 or 0.7) and a JDK 21+ ``javac``;
nothing else of QuPath. It writes our objects as GeoJSON, lets ``tools/qupath_check/QuPathMeasure.java``
read them with QuPath's own GeoJSON reader and measure them with ``ObjectMeasurements``
(``addShapeMeasurements``; ``addIntensityMeasurements`` on the stain-deconvolved image with QuPath's H&E
default stains), and compares the two sets name by name.

Two parts:
  shapes    rasterised discs, ellipses, squares, a holed square, a rotated rectangle and an L at pixel sizes
            0.25 and 0.5 µm and uncalibrated: the shape figures must agree to float precision.
  segment   ``pathosam segment --measure all`` of a synthetic H&E region with the trained tiny test model,
            nuclei only and with cells (expansion 3 µm) at the model's working resolution (0.5 µm), and
            with cells on the same pixels declared 0.25 µm (the server works at downsample 2, QuPath
            measures intensities there too): shape figures to float precision; intensities are reported
            (at downsample 2 each side resamples its own pixel grid, so they differ by a few per cent).

Usage:
    python tools/qupath_measurements_check.py --qupath-classpath "/opt/QuPath/lib/app/*" [--workdir DIR]

Exit status 0 when every shape figure (and every intensity at the working resolution) agrees within
``--shape-rtol`` and every name matches, 1 otherwise,
2 when QuPath or a JDK is missing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from shapely import affinity
from shapely.geometry import Polygon, box, mapping

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python_server"))

from pathosam_server._testing.synthetic import make_sample  # noqa: E402
from pathosam_server.analysis import shape  # noqa: E402
from pathosam_server.geometry import polygons  # noqa: E402

JAVA_SOURCE = ROOT / "tools" / "qupath_check" / "QuPathMeasure.java"
TINY = ROOT / "tests" / "fixtures" / "tiny_model"
STAIN_WORDS = ("Hematoxylin", "Eosin")
EXACT_INTENSITY = ("segment nuclei px=0.5", "segment cells px=0.5")
OURS_ONLY = ("PathoSAM: score", "PathoSAM: class probability")  # the model's own figures, not measurements


def rasterised_shapes() -> list[Any]:
    """Level-0 polygons traced from rasterised masks, as the server traces nuclei."""
    yy, xx = np.mgrid[0:120, 0:120]
    masks = [
        (xx - 30) ** 2 + (yy - 30) ** 2 <= 12**2,  # disc
        ((xx - 80) / 18.0) ** 2 + ((yy - 30) / 9.0) ** 2 <= 1,  # ellipse
        (abs(xx - 30) <= 10) & (abs(yy - 85) <= 10),  # square
    ]
    holed = (abs(xx - 85) <= 14) & (abs(yy - 85) <= 14) & ~((abs(xx - 85) <= 5) & (abs(yy - 85) <= 5))
    masks.append(holed)
    out = [polygons.mask_to_geometry(m.astype(bool)) for m in masks]
    out.append(affinity.rotate(box(0, 0, 30, 8), 27, origin=(0, 0)).buffer(0))  # rotated rectangle
    out.append(Polygon([(0, 0), (20, 0), (20, 6), (6, 6), (6, 20), (0, 20)]))  # L
    return out


def write_detections(geoms: list[Any], pixel_size_um: float, path: Path) -> None:
    """GeoJSON detections carrying our shape measurements, in QuPath's schema."""
    features = [
        {
            "type": "Feature",
            "geometry": mapping(g),
            "properties": {"objectType": "detection", "measurements": shape.shape_measurements(g, pixel_size_um)},
        }
        for g in geoms
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def compile_java(classpath: str, javac: str, out: Path) -> None:
    """Compile the QuPath-side program against the given QuPath classes."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [javac, "-nowarn", "-cp", classpath, "-d", str(out), str(JAVA_SOURCE)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"javac failed (is --qupath-classpath a QuPath 0.6+ lib/app/*?):\n{res.stderr[-3000:]}")


def qupath_measure(
    java: str, classpath: str, geojson: Path, px: float, image: str, out: Path, downsample: float = 1.0
) -> list[dict]:
    """Run QuPathMeasure and return its entries."""
    cmd = [java, "-cp", classpath, "QuPathMeasure", str(geojson), str(px), image, str(out), str(downsample)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"QuPathMeasure failed on {geojson.name}:\n{res.stderr[-3000:]}")
    return json.loads(out.read_text())


def segment(workdir: Path, image: Path, cell_expansion: float, px: float) -> Path:
    """``pathosam segment --measure all`` of the region with the tiny test model."""
    out = workdir / f"segment-cells{cell_expansion:g}-px{px:g}.geojson"
    if out.exists():  # a rerun in the same --workdir compares again without segmenting again
        return out
    cmd = [
        sys.executable, "-m", "pathosam_server", "segment", str(image), "-o", str(out), "-q", "--device", "cpu",
        "--model-path", str(TINY / "vit_t_synthetic.pt"),
        "--semantic-decoder-path", str(TINY / "vit_t_synthetic_semantic_decoder.pt"), "--model-name", "tiny",
        "--measure", "all", "--cell-expansion", str(cell_expansion), "--image-pixel-size-um", str(px),
        "--no-skip-background",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python_server"))
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise SystemExit(f"pathosam segment failed:\n{res.stderr[-3000:]}")
    return out


def compare(entries: list[dict], label: str, rows: dict[tuple[str, str], list[float]], problems: list[str]) -> None:
    """Collect |ours - QuPath's| per (part, measurement name); names on one side only are problems."""
    for i, e in enumerate(entries):
        ours, qp = e["ours"], e["qupath"]
        ours_only = sorted(set(ours) - set(qp) - set(OURS_ONLY))
        qp_only = sorted(set(qp) - set(ours))
        if ours_only or qp_only:
            problems.append(f"{label} object {i} ({e['type']}): ours only {ours_only}, QuPath only {qp_only}")
        for k, v in ours.items():
            if k in qp and v is not None and qp[k] is not None and not (math.isnan(v) and math.isnan(qp[k])):
                rows[(label, k)].append(abs(v - qp[k]) / max(abs(qp[k]), 1e-12))


def _is_stain(name: str) -> bool:
    return any(w in name for w in STAIN_WORDS)


def main(argv: list[str] | None = None) -> int:
    """Run both parts and print the comparison table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qupath-classpath", default=os.environ.get("PATHOSAM_QUPATH_CLASSPATH", ""),
                    help="QuPath's classes, e.g. '/opt/QuPath/lib/app/*' (env PATHOSAM_QUPATH_CLASSPATH)")  # fmt: skip
    ap.add_argument("--workdir", type=Path, default=None, help="where to write the files (default: a temp dir)")
    ap.add_argument("--javac", default=shutil.which("javac") or "javac")
    ap.add_argument("--java", default=shutil.which("java") or "java")
    ap.add_argument("--shape-rtol", type=float, default=1e-6)  # PolygonROI keeps float32 vertices
    ap.add_argument("--skip-segment", action="store_true", help="only the rasterised shapes")
    args = ap.parse_args(argv)
    if not args.qupath_classpath:
        print("error: give --qupath-classpath (a QuPath installation's lib/app/*)", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="qupath-check-"))
    workdir.mkdir(parents=True, exist_ok=True)
    classes = workdir / "classes"
    compile_java(args.qupath_classpath, args.javac, classes)
    cp = f"{args.qupath_classpath}{os.pathsep}{classes}"

    rows: dict[tuple[str, str], list[float]] = defaultdict(list)
    problems: list[str] = []
    geoms = rasterised_shapes()
    for px in (0.25, 0.5, 0.0):
        gj = workdir / f"shapes-{px:g}.geojson"
        write_detections(geoms, px, gj)
        label = f"shapes px={px:g}" if px > 0 else "shapes uncalibrated"
        compare(
            qupath_measure(args.java, cp, gj, px, "-", workdir / f"shapes-{px:g}.qupath.json"), label, rows, problems
        )

    if not args.skip_segment:
        png = workdir / "region.png"
        Image.fromarray(make_sample(1_000_000 + 21, (512, 512)).image).save(png)
        # 0.5 µm is the tiny model's working pixel size (downsample 1); at 0.25 µm the server works at
        # downsample 2 and QuPath measures intensities there too, as StarDist does at its detection resolution
        for px, expansion in ((0.5, 0.0), (0.5, 3.0), (0.25, 3.0)):
            gj = segment(workdir, png, expansion, px)
            label = f"segment {'cells' if expansion else 'nuclei'} px={px:g}"
            downsample = 0.5 / px
            entries = qupath_measure(args.java, cp, gj, px, str(png), gj.with_suffix(".qupath.json"), downsample)
            compare(entries, label, rows, problems)

    print(f"{'part':22s} {'measurement':36s} {'n':>5s} {'max rel diff':>13s} {'median':>10s}")
    failed = False
    for (label, name), diffs in sorted(rows.items()):
        d = np.asarray(diffs)
        # at the working resolution both sides measure the same pixels: intensities must agree as well
        strict = not _is_stain(name) or label in EXACT_INTENSITY
        bad = strict and float(d.max()) > args.shape_rtol
        failed |= bad
        print(f"{label:22s} {name:36s} {d.size:5d} {d.max():13.3g} {np.median(d):10.3g}{'  FAIL' if bad else ''}")
    for p in problems:
        print("problem:", p)
    print(f"files in {workdir}")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
