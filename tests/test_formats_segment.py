"""The same synthetic tissue stored as PNG, OME-TIFF, Aperio SVS, DICOM WSI and a Leica SCN with bounds gives
the same nuclei through a real batch (trained tiny model), and the batch CSV and ledger say which reader read
each image and what pixel size it found."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from pathosam_server._testing.slides import write_dicom_wsi, write_leica_scn, write_ome_tiff, write_svs
from pathosam_server._testing.synthetic import make_sample
from pathosam_server.batch.ledger import Ledger
from pathosam_server.batch.run import BatchOptions, run_batch
from pathosam_server.batch.runner import InProcessRunner
from pathosam_server.batch.sources import FolderSource, RegionSelection
from pathosam_server.batch.tables import write_csv
from pathosam_server.records import Params

# image name -> (reader, pixel size the batch records)
EXPECTED = {
    "tissue.png": ("pillow:png", ""),
    "tissue.ome.tif": ("tifffile:ome-tiff", "0.25"),
    "tissue.svs": ("openslide:aperio", "0.25"),
    "tissue_dicom": ("openslide:dicom", "0.25"),
    "tissue.scn": ("openslide:leica", ""),  # OpenSlide states no pixel size for Leica (nor does QuPath then)
}


@pytest.mark.slow
def test_same_tissue_in_five_formats_gives_the_same_nuclei_and_records_its_reader(tmp_path: Path, tiny_model) -> None:
    sample = make_sample(2207, shape=(384, 384))  # one tile at the model's scale
    rgb = sample.image
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    out.mkdir()
    Image.fromarray(rgb).save(images / "tissue.png")
    write_ome_tiff(images / "tissue.ome.tif", rgb, mpp=0.25, levels=2)
    write_svs(images / "tissue.svs", rgb, mpp=0.25, levels=2)
    write_dicom_wsi(images / "tissue_dicom", rgb, mpp=0.25, levels=2)
    write_leica_scn(images / "tissue.scn", rgb, offset=(250, 130), canvas=(900, 700), mpp=0.25)  # bounds

    runner = InProcessRunner(tiny_model, Params(), None, None)
    options = BatchOptions(regions=RegionSelection("whole"), pixel_size_um=0.25, geojson_dir=out, quiet=True)
    ledger = Ledger(out / "pathosam-batch.ledger")
    try:
        reports = run_batch(FolderSource(images), runner, options, ledger)
    finally:
        ledger.close()
    assert sorted(r.name for r in reports) == sorted(EXPECTED) and all(r.status == "done" for r in reports)
    assert all(r.tiles == 1 and r.downsample == pytest.approx(1.0) for r in reports)

    def shapes(name: str) -> list[str]:
        features = json.loads((out / f"{name}.nuclei.geojson").read_text())["features"]
        return sorted(json.dumps([f["geometry"], f["properties"]["classification"]], sort_keys=True) for f in features)

    reference = shapes("tissue.png")
    assert len(reference) >= 0.5 * len(sample.classes)  # real nuclei, not an empty agreement
    for name in EXPECTED:
        assert shapes(name) == reference, name  # same pixels in: same nuclei (and classes) out, at the same place

    write_csv(reports, tmp_path / "counts.csv")
    with open(tmp_path / "counts.csv", newline="") as f:
        rows = {row["image"]: row for row in csv.DictReader(f)}
    for name, (reader, size) in EXPECTED.items():
        assert (rows[name]["reader"], rows[name]["pixel_size_um"]) == (reader, size), name
        assert int(rows[name]["total"]) == len(reference)
    records = {}
    for line in (out / "pathosam-batch.ledger").read_text().splitlines():
        rec = json.loads(line)
        records[rec["image"]] = rec
    assert records["tissue.svs"]["reader"] == "openslide:aperio"
    assert records["tissue.svs"]["pixel_size_um"] == pytest.approx(0.25)
    assert records["tissue.png"]["pixel_size_um"] is None
