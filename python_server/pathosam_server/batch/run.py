"""Headless batches: every selected image of a QuPath project (or image folder), resumable.

Per image, in this order, so that a kill at any moment loses nothing and duplicates nothing:
1. skip it if the ledger (or, for a project, the image's own saved data) says its outputs are done
   with these settings;
2. compute all its regions' nuclei in memory (nothing is written while the model runs);
3. write the GeoJSON file atomically (temp file + rename);
4. write the project entry: remove our earlier detections (--replace), add the new ones, save it
   all-or-nothing (``batch.journal``) together with a property naming the settings;
5. append the image to the ledger (fsync'ed).
A kill before 5 redoes the image: 3 is an overwrite, 4 either rolled back or recognised by its
property in 1. So every image ends up written exactly once.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import shapely
from shapely.geometry.base import BaseGeometry

from ..analysis.measure import halo_problem, wanted
from ..classes import UNCLASSIFIED
from ..errors import ImageReadError
from ..formats.geojson import write_geojson
from ..formats.overlay import write_overlay
from ..formats.slide import describe
from ..geometry.polygons import polygonal_part
from ..records import NucleusRecord, Params
from .ledger import Ledger, settings_hash
from .qc import qc_info, region_box
from .report import tissue_area
from .runner import Runner, plan_regions
from .sources import OUTPUT_SUFFIX, BatchImage, BatchSource, ProjectWrite, RegionSelection, select_regions

log = logging.getLogger(__name__)


@dataclass
class BatchOptions:
    """What a batch does besides segmenting.

    Attributes:
        regions: Which regions of each image.
        image_pattern: Glob on image names.
        downsample: Fixed level-0 pixels per working pixel (None: from pixel_size_um, else 1).
        pixel_size_um: Working pixel size; downsample = this / the image's pixel size.
        replace: Remove our earlier detections in the regions before writing (project only).
        force: Redo images the ledger lists as done (implies replace, so nothing is duplicated).
        dry_run: Only list what would run.
        geojson_dir: Also write one QuPath GeoJSON per image here.
        write_project: Write detections into the project (QuPath source only).
        quiet: No progress bars.
        qc: Record what a QC report needs beyond the GeoJSON (tissue area, nuclei at tile edges, the
            regions' box) in each image's ledger record (``batch.qc.qc_info``).
        overlay_dir: Also draw one overlay PNG per image here (``formats.overlay``).
        overlay_downsample: Level-0 pixels per overlay pixel (None: automatic).
    """

    regions: RegionSelection
    image_pattern: str = "*"
    downsample: Optional[float] = None
    pixel_size_um: Optional[float] = None
    replace: bool = False
    force: bool = False
    dry_run: bool = False
    geojson_dir: Optional[Path] = None
    write_project: bool = False
    quiet: bool = False
    qc: bool = False
    overlay_dir: Optional[Path] = None
    overlay_downsample: Optional[float] = None


@dataclass
class ImageReport:
    """What happened to one image (one row of the closing table)."""

    name: str
    status: str
    regions: int = 0
    tiles: int = 0
    downsample: float = 1.0
    per_class: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    reader: str = ""  # reader:format that read the pixels, e.g. openslide:aperio
    pixel_size_um: Optional[float] = None  # the calibration the downsample was derived from (None: uncalibrated)
    tiles_skipped: int = 0  # of ``tiles``: held no tissue, not encoded (Params.skip_background)
    provenance: dict = field(default_factory=dict)  # what made the nuclei (Runner.provenance + tiles)

    @property
    def total(self) -> int:
        return sum(self.per_class.values())


def batch_settings(runner: Runner, options: BatchOptions) -> dict:
    """Everything that changes the results, for the ledger's settings hash.

    Not in it: servers, token, image pattern, and the outputs (the ledger tracks those per image, so
    adding ``--geojson-dir`` later writes the missing files without adding detections twice).
    """
    p = runner.params
    return {
        "model": runner.identity,
        "tile_size": runner.tile_size,
        "halo": runner.halo,
        "downsample": options.downsample,
        "pixel_size_um": options.pixel_size_um,
        "regions": str(options.regions),
        "params": {"classify": p.classify, "simplify": p.simplify_tolerance, "min_size": p.min_size},
        # only when asked for, so that ledgers of earlier runs (nuclei only) still match
        **({"analysis": _analysis_settings(p)} if wanted(p) else {}),
    }


def _analysis_settings(p: Params) -> dict:
    """The measurement and cell options, for the ledger's settings hash."""
    return {
        "shape": p.measure_shape,
        "intensity": p.measure_intensity,
        "stains": p.stains.describe() if p.stains is not None else None,
        "cell_expansion": p.cell_expansion,
        "cell_constrain_scale": p.cell_constrain_scale,
    }


def wanted_outputs(options: BatchOptions) -> set[str]:
    """The outputs a run must produce for each image: ``project`` and/or ``geojson:DIR``."""
    out = {"project"} if options.write_project else set()
    if options.geojson_dir is not None:
        out.add(f"geojson:{options.geojson_dir.resolve()}")
    return out


def image_downsample(image: BatchImage, options: BatchOptions) -> float:
    """The downsample for one image: fixed, or the working pixel size over the image's calibration."""
    if options.pixel_size_um is None:
        return options.downsample or 1.0
    size = image.pixel_size_um()
    if not size:
        log.warning(
            "'%s' has no pixel size calibration: using downsample 1 instead of %.3g um/px",
            image.name,
            options.pixel_size_um,
        )
        return 1.0
    return options.pixel_size_um / size


def clip_to_roi(nuclei: Iterable[NucleusRecord], roi: BaseGeometry) -> list[NucleusRecord]:
    """Keep the nuclei whose centroid lies in the ROI, their outlines cut at its border.

    Args:
        nuclei: Nuclei of the region's bounding box.
        roi: The region's polygon.

    Returns:
        The kept nuclei (geometry and area updated where cut).
    """
    shapely.prepare(roi)
    out = []
    for n in nuclei:
        if not shapely.contains_xy(roi, n.centroid_x, n.centroid_y):
            continue
        if not roi.covers(n.geometry):
            cut = n.geometry.intersection(roi)
            parts = [g for g in getattr(cut, "geoms", [cut]) if g.geom_type == "Polygon" and g.area > 0]
            if not parts:
                continue
            n.geometry = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
            n.area = float(n.geometry.area)
            # the server measured the whole nucleus: figures that no longer describe the outline go
            n.measurements = {}
            if n.cell_geometry is not None:
                n.cell_geometry = polygonal_part(n.cell_geometry.intersection(roi))
        out.append(n)
    return out


def geojson_names(images: Sequence[BatchImage]) -> dict[str, str]:
    """Output file name per image key: the image name made file-safe, the key added where names repeat."""
    safe = {im.key: re.sub(r"[^A-Za-z0-9._ -]", "_", im.name) or "image" for im in images}
    counts = Counter(safe.values())
    return {
        k: (f"{v}-{re.sub(r'[^A-Za-z0-9]', '_', k)}" if counts[v] > 1 else v) + OUTPUT_SUFFIX for k, v in safe.items()
    }


def _bar(quiet: bool, **kwargs: Any):
    from tqdm import tqdm

    return tqdm(disable=quiet, dynamic_ncols=True, **kwargs)


# Called after each image with (image, its report, its ledger record or None, its GeoJSON file name).
ImageHook = Callable[[BatchImage, "ImageReport", Optional[dict], str], None]


def run_batch(
    source: BatchSource,
    runner: Runner,
    options: BatchOptions,
    ledger: Ledger,
    classes: Optional[dict[str, Any]] = None,
    on_image: Optional[ImageHook] = None,
) -> list[ImageReport]:
    """Run (or, with dry_run, plan) the batch over the source's selected images.

    Args:
        source: FolderSource or QuPathSource.
        runner: InProcessRunner or ServerPool.
        options: Batch options.
        ledger: The ledger (a dry run opens it without its lock).
        classes: Class name -> project PathClass (project writes only).
        on_image: Called after each image (e.g. to update the QC report while the batch runs).

    Returns:
        One report per selected image.
    """
    images = [im for im in source.images() if fnmatch.fnmatchcase(im.name, options.image_pattern)]
    batch = _BatchRun(
        runner,
        options,
        ledger,
        settings_hash(batch_settings(runner, options)),
        classes or {},
        geojson_names(images),
        runner.params,
    )
    reports = []
    overall = _bar(options.quiet, total=len(images), unit="image", desc="images", position=0)
    for image in images:
        t0 = time.perf_counter()
        report = batch.process(image)
        report.seconds = report.seconds or time.perf_counter() - t0
        reports.append(report)
        if on_image is not None:
            on_image(image, report, ledger.get(image.key, batch.settings), batch.names[image.key])
        overall.update(1)
    overall.close()
    return reports


def _done_report(name: str, rec: Optional[dict], status: str) -> ImageReport:
    rec = rec or {}
    return ImageReport(
        name,
        status,
        rec.get("regions", 0),
        rec.get("tiles", 0),
        rec.get("downsample", 1.0),
        Counter(rec.get("per_class", {})),
        rec.get("seconds", 0.0),
        rec.get("reader", ""),
        rec.get("pixel_size_um"),
        rec.get("tiles_skipped", 0),
        rec.get("provenance") or {},
    )


@dataclass
class _BatchRun:
    """What every image of one batch shares: how it runs, where results go, the settings hash."""

    runner: Runner
    options: BatchOptions
    ledger: Ledger
    settings: str
    classes: dict[str, Any]
    names: dict[str, str]  # GeoJSON file name per image key
    base_params: Params = field(default_factory=Params)  # the run's parameters before each image's calibration

    def process(self, image: BatchImage) -> ImageReport:
        """Skip, or segment and write, one image (the order of work in the module docstring)."""
        options, ledger, settings = self.options, self.ledger, self.settings
        have = ledger.outputs(image.key, settings) if not options.force else set()
        needed = (wanted_outputs(options) or {"(no output: dry run)"}) - have
        if not needed:
            return _done_report(image.name, ledger.get(image.key, settings), "done earlier")
        if "project" in needed and not options.dry_run and not options.force:
            saved = image.written(settings)
            if saved is not None:
                # saved by a run killed before it reached the ledger: the ledger catches up, nothing is redone
                have.add("project")
                needed.discard("project")
                ledger.record(image.key, settings, outputs=have, name=image.name, **saved)
                if not needed:
                    return _done_report(image.name, saved, "done earlier")
        try:
            pixels = image.open_pixels()
        except ImageReadError as err:
            log.error("%s", err)
            return ImageReport(image.name, f"failed: {err}")
        try:
            return self._segment_and_write(image, pixels, have, needed)
        except ImageReadError as err:  # e.g. a truncated file: that image fails, the batch goes on
            log.error("%s", err)
            return ImageReport(image.name, f"failed: {err}")
        finally:
            getattr(pixels, "close", lambda: None)()

    def _segment_and_write(self, image: BatchImage, pixels: Any, have: set[str], needed: set[str]) -> ImageReport:
        options, runner = self.options, self.runner
        t0 = time.perf_counter()
        downsample = image_downsample(image, options)
        regions = select_regions(image.annotations(), options.regions, pixels.width, pixels.height)
        report = ImageReport(image.name, "no regions", len(regions), downsample=downsample, reader=describe(pixels))
        report.pixel_size_um = image.pixel_size_um()
        if not regions:
            return report
        # measurements and cells are in µm where this image is calibrated: the parameters follow the image
        params = dataclasses.replace(self.base_params, pixel_size_um=report.pixel_size_um or 0.0)
        problem = halo_problem(params, runner.halo, downsample)
        if problem:
            report.status = f"failed: {problem} (--halo)"
            return report
        runner.params = params
        plans = plan_regions(
            [r.rect for r in regions], downsample, runner.tile_size, runner.halo, pixels.width, pixels.height
        )
        report.tiles = sum(len(p) for p in plans)
        if options.dry_run:
            report.status = "would run"
            return report
        bar = _bar(options.quiet, total=report.tiles, unit="tile", desc=image.name[:24], position=1, leave=False)
        skipped_before = runner.tiles_skipped

        def on_tile() -> None:
            skipped = runner.tiles_skipped - skipped_before
            if skipped:
                bar.set_postfix_str(f"{skipped} glass skipped", refresh=False)
            bar.update(1)

        try:
            found = runner.run(pixels, [r.rect for r in regions], downsample, on_tile=on_tile)
        finally:
            bar.close()
        report.tiles_skipped = runner.tiles_skipped - skipped_before
        found = [clip_to_roi(n, r.roi) for n, r in zip(found, regions)]
        for group in found:
            report.per_class.update(n.class_name or UNCLASSIFIED for n in group)
        report.seconds = time.perf_counter() - t0
        report.provenance = {**runner.provenance(), "tile_size": runner.tile_size, "halo": runner.halo}
        info = {
            "regions": report.regions,
            "tiles": report.tiles,
            "downsample": downsample,
            "per_class": dict(report.per_class),
            "nuclei": report.total,
            "seconds": round(report.seconds, 1),
            "reader": report.reader,
            "pixel_size_um": report.pixel_size_um,
            "tiles_skipped": report.tiles_skipped,
            "provenance": report.provenance,
        }
        nuclei = [n for group in found for n in group]
        if options.qc:
            info["qc"] = qc_info(nuclei, regions, tissue_area(pixels, regions))
        if options.overlay_dir is not None:
            box = region_box([r.rect for r in regions])
            name = self.names[image.key][: -len(OUTPUT_SUFFIX)] + ".png"
            write_overlay(options.overlay_dir / name, pixels, box, nuclei, options.overlay_downsample)
        if any(o.startswith("geojson:") for o in needed):
            assert options.geojson_dir is not None  # a geojson output is only wanted with a folder
            write_geojson(nuclei, options.geojson_dir / self.names[image.key], report.provenance)
        if "project" in needed:
            image.write(
                ProjectWrite(regions, found, self.settings, options.replace or options.force, self.classes, info)
            )
        report.status = "done"
        self.ledger.record(image.key, self.settings, outputs=have | needed, name=image.name, **info)
        return report
