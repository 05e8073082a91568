"""The closing table and the CSV of a batch: nuclei per class per image."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from ..classes import UNCLASSIFIED
from ..files import atomic_write
from .run import ImageReport


def summary_table(reports: Sequence[ImageReport]) -> str:
    """The closing table: nuclei per class per image, plus regions, tiles (skipped ones when any) and status."""
    classes = sorted({c for r in reports for c in r.per_class}, key=lambda c: (c == UNCLASSIFIED, c))
    skips = any(r.tiles_skipped for r in reports)  # the column only appears when a run skipped glass
    head = ["image", *classes, "total", "regions", "tiles", *(["skipped"] if skips else []), "status"]
    rows = [
        [
            r.name,
            *(str(r.per_class.get(c, 0)) for c in classes),
            str(r.total),
            str(r.regions),
            str(r.tiles),
            *([str(r.tiles_skipped)] if skips else []),
            r.status[:60],
        ]
        for r in reports
    ]
    if reports:
        rows.append(
            [
                "TOTAL",
                *(str(sum(r.per_class.get(c, 0) for r in reports)) for c in classes),
                str(sum(r.total for r in reports)),
                str(sum(r.regions for r in reports)),
                str(sum(r.tiles for r in reports)),
                *([str(sum(r.tiles_skipped for r in reports))] if skips else []),
                "",
            ]
        )
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]

    def fmt(cells: list[str]) -> str:  # first and last column left-aligned, numbers right-aligned
        return "  ".join(
            c.ljust(w) if i == 0 or i == len(cells) - 1 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    return "\n".join([fmt(head), fmt(["-" * w for w in widths]), *map(fmt, rows)])


PROVENANCE_COLUMNS = ("model", "weights_sha256", "server_version", "precision", "measurements", "cell_expansion")


def provenance_cells(p: dict) -> list[str]:
    """The provenance columns of one image (empty cells for an image that did not run)."""
    if not p:
        return [""] * len(PROVENANCE_COLUMNS)
    params = p.get("params") or {}
    kinds = (("shape", "measure_shape"), ("intensity", "measure_intensity"))
    measured = [name for name, key in kinds if params.get(key)]
    return [
        str(p.get("model", "")),
        ";".join(f"{w['role']}={w['sha256']}" for w in p.get("weights", [])),
        str(p.get("server_version", "")),
        str(p.get("precision", "")),
        ",".join(measured),
        f"{params.get('cell_expansion', 0):g}",
    ]


def write_csv(reports: Sequence[ImageReport], path: Path) -> None:
    """The per-image, per-class counts as CSV, written atomically.

    Columns: image, status, reader, pixel_size_um, regions, tiles, downsample, one per class, total, seconds,
    then tiles_skipped, then the provenance: model, weights_sha256 (role=hash, ';'-separated), server_version,
    precision, measurements, cell_expansion (appended last so that readers of the earlier columns keep working).
    """
    classes = sorted({c for r in reports for c in r.per_class}, key=lambda c: (c == UNCLASSIFIED, c))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "image",
            "status",
            "reader",
            "pixel_size_um",
            "regions",
            "tiles",
            "downsample",
            *classes,
            "total",
            "seconds",
            "tiles_skipped",
            *PROVENANCE_COLUMNS,
        ]
    )
    for r in reports:
        w.writerow(
            [
                r.name,
                r.status,
                r.reader,
                "" if r.pixel_size_um is None else f"{r.pixel_size_um:.6g}",
                r.regions,
                r.tiles,
                f"{r.downsample:.4g}",
                *(r.per_class.get(c, 0) for c in classes),
                r.total,
                f"{r.seconds:.1f}",
                r.tiles_skipped,
                *provenance_cells(r.provenance),
            ]
        )
    atomic_write(path, buf.getvalue())
