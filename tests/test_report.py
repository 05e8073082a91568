"""The batch QC report: the flags' rules on known figures, and a real three-image batch (trained tiny model)
whose page holds every image with the CSV's counts, flags the image run at a wrong scale, references nothing
outside itself, and is rebuilt from the outputs with the same figures."""
from __future__ import annotations

import csv
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tiny_model_helpers import TINY_MODEL, TINY_SEMANTIC

from pathosam_server._testing.slides import write_ome_tiff
from pathosam_server._testing.synthetic import make_sample
from pathosam_server.batch.qc import ImageQc, QcThresholds, apply_flags
from pathosam_server.cli import main


def qc(name: str, area: float, score: float = 0.8, n: int = 100, edge: int = 0, mpp: float = 0.25) -> ImageQc:
    tissue_px = n / 3000 / (mpp / 1000) ** 2  # 3,000 nuclei per mm2 of tissue
    return ImageQc(name, per_class=Counter(Neoplastic=n), scores=[score] * n, areas_px=[area / mpp**2] * n,
                   tissue_area_px=tissue_px, edge_nuclei=edge, pixel_size_um=mpp)  # fmt: skip


def test_flags_follow_their_stated_rules() -> None:
    images = [qc("a", 30.0), qc("b", 33.0), qc("c", 28.0), qc("quarter", 7.5), qc("dim", 31.0, score=0.5),
              qc("edges", 30.0, edge=10)]  # fmt: skip
    apply_flags(images)
    flags = {im.name: im.flags for im in images}
    assert flags["a"] == flags["b"] == flags["c"] == []
    assert len(flags["quarter"]) == 1 and "wrong scale" in flags["quarter"][0] and "0.25x" in flags["quarter"][0]
    assert len(flags["dim"]) == 1 and "mean score 0.50" in flags["dim"][0]
    assert flags["edges"] == ["10% of nuclei touch a tile edge"]
    sparse, dense, small = qc("sparse", 30.0), qc("dense", 30.0), qc("small", 19.0)
    sparse.tissue_area_px *= 100  # 30 nuclei per mm2
    dense.tissue_area_px /= 2.5  # 7,500 per mm2: 2.5x the cohort's 3,000
    empty = ImageQc("empty", tissue_area_px=1e6, pixel_size_um=0.25)
    apply_flags([*images[:3], sparse, dense, small, empty])
    assert images[0].flags == []
    assert sparse.flags == ["30 nuclei per mm\u00b2 vs cohort 3,000 (0.01x)",
                            "30 nuclei per mm\u00b2 of tissue (expected 200-20,000)"]  # fmt: skip
    assert dense.flags == ["7,500 nuclei per mm\u00b2 vs cohort 3,000 (2.50x)"]
    assert len(small.flags) == 1 and "(0.63x)" in small.flags[0]  # beyond 1.5x
    assert empty.flags == ["no nuclei found in its tissue"]


def test_too_small_a_cohort_compares_nothing() -> None:
    images = [qc("a", 30.0), qc("quarter", 7.5)]
    apply_flags(images, QcThresholds(min_cohort=3))
    assert images[0].flags == images[1].flags == []


def test_report_options_are_checked_before_anything_runs(tmp_path: Path, capsys) -> None:
    assert main(["batch", "--images-dir", str(tmp_path), "--report", str(tmp_path / "r.pdf"), "--dry-run"]) == 2
    assert "--report writes an HTML page" in capsys.readouterr().err
    assert main(["report", "--geojson-dir", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 2
    assert "no ledger at" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "x.png"), "-o", str(tmp_path / "x.geojson"), "--overlay",
                 str(tmp_path / "x.jpg"), "--model-path", str(TINY_MODEL)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "does not exist" in err or "--overlay writes a PNG" in err


class _Page(HTMLParser):
    """Rows of the images table (cells' text and pictures) and every src / href on the page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict] = {}
        self.refs: list[str] = []
        self._row: dict | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        self.refs.extend(v for k, v in attrs if k in ("src", "href") and v is not None)
        if tag == "tr" and (a.get("id") or "").startswith("img-"):
            self._row = {"class": a.get("class") or "", "cells": [], "imgs": []}
            self.rows[a["id"]] = self._row
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "img" and self._row is not None:
            self._row["imgs"].append(a.get("src"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row["cells"].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.mark.model
@pytest.mark.slow
def test_three_image_batch_report_flags_the_wrong_scale_and_rebuilds_the_same(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    # Three images of the same kind of tissue at 0.25 um/px; the third's file claims 0.0625 um/px (a 40x slide
    # labelled as 160x), so the batch (asked for 0.25 um/px) reads it at downsample 4: the model sees nuclei at a
    # quarter of their size.
    for name, seed, mpp in (("a.ome.tif", 41, 0.25), ("b.ome.tif", 42, 0.25), ("wrong-scale.ome.tif", 43, 0.0625)):
        write_ome_tiff(images / name, make_sample(seed, (384, 384)).image, mpp=mpp, levels=1)
    out = tmp_path / "out"
    report, counts = tmp_path / "report.html", tmp_path / "counts.csv"
    model = ["--model-path", str(TINY_MODEL), "--semantic-decoder-path", str(TINY_SEMANTIC), "--device", "cpu"]
    code = main(["batch", "--images-dir", str(images), "--geojson-dir", str(out), "--regions", "whole",
                 "--pixel-size-um", "0.25", "--csv", str(counts), "--report", str(report), "-q", *model])  # fmt: skip
    assert code == 0
    page = parse(report)
    with open(counts, newline="") as f:
        rows = {r["image"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"a.ome.tif", "b.ome.tif", "wrong-scale.ome.tif"}
    by_name = {r["cells"][0]: r for r in page.rows.values()}
    assert set(by_name) == set(rows)
    for name, r in rows.items():
        assert by_name[name]["cells"][2].replace(",", "") == r["total"], name  # nuclei column = the CSV's total
        assert by_name[name]["imgs"] and by_name[name]["imgs"][0].startswith("data:image/jpeg;base64,")
    assert int(rows["a.ome.tif"]["total"]) > 10 and int(rows["b.ome.tif"]["total"]) > 10
    assert by_name["wrong-scale.ome.tif"]["class"] == "flagged"
    assert by_name["a.ome.tif"]["class"] == by_name["b.ome.tif"]["class"] == ""
    # self-contained: every picture is inline, every link points into the page
    assert page.refs and all(ref.startswith(("data:", "#")) for ref in page.refs)
    # rebuilt from the ledger and GeoJSON (and the images, for thumbnails): the same figures and pictures
    rebuilt = tmp_path / "rebuilt.html"
    assert main(["report", "--geojson-dir", str(out), "--images-dir", str(images), "-o", str(rebuilt)]) == 0
    again = parse(rebuilt)
    assert {k: (r["class"], r["cells"], r["imgs"]) for k, r in again.rows.items()} == {
        k: (r["class"], r["cells"], r["imgs"]) for k, r in page.rows.items()
    }
