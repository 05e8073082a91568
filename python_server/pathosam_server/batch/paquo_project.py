"""A QuPath project as a batch source and sink, through paquo: the ONE module that imports paquo.

paquo starts a JVM from a QuPath installation when it is imported; without one it cannot do anything,
so ``load_paquo`` turns every way that import fails into one message saying how to point paquo at
QuPath. What paquo 0.9 offers and what this module relies on (read from its source):

* ``QuPathProject(path, mode="r+")``; ``project.images`` entries with ``image_name``, ``entry_id``,
  ``entry_path``, ``uri``, ``is_readable()``, ``width``/``height``, ``hierarchy``, ``properties``
  (ImageData properties, saved inside ``data.qpdata``) and ``save()`` (QuPath's
  ``saveImageData``; it silently skips an image whose file is missing, so we check first).
* ``hierarchy.add_detection(roi=, path_class=, measurements=)`` adds at the top level only (QuPath's
  ``addObject`` never resolves parents; checked in QuPath 0.3.2 and 0.6.0), so detections are built
  with QuPath's geometry factory (``_detection``) and placed under their annotation with QuPath's own
  ``addObjectBelowParent`` (``addPathObjectBelowParent`` before 0.4) on ``hierarchy.java_object``.
* Saving is not atomic in QuPath (see ``batch.journal``); every save here runs inside ``guarded``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional

import shapely

from ..classes import PROBABILITY_MEASUREMENT, SCORE_MEASUREMENT, rgb_triple
from ..errors import ImageReadError, SourceError
from ..formats.images import PixelSource
from ..formats.readers import file_pixel_size_um, open_image
from ..records import Annotation
from .journal import guarded, recover
from .sources import ProjectWrite, Region, check_size

log = logging.getLogger(__name__)

DONE_PROPERTY = "PathoSAM batch settings"  # in data.qpdata, saved together with the detections

PAQUO_HELP = (
    "paquo needs a QuPath installation (QuPath 0.2 or newer) to open .qpproj projects. Install QuPath, then "
    "point paquo at it: set the environment variable PAQUO_QUPATH_DIR=/path/to/QuPath (the folder holding "
    'QuPath\'s app; on macOS /Applications/QuPath.app), or put qupath_dir = "/path/to/QuPath" in a '
    ".paquo.toml settings file (`python -m paquo config --search-tree` lists where paquo looks for it). "
    "Without QuPath, run the batch on a folder of images instead: pathosam batch --images-dir DIR "
    "--geojson-dir OUT, and import the GeoJSON in QuPath later."
)


class QuPathUnavailable(SourceError):
    """paquo cannot be imported or cannot find QuPath."""


def load_paquo() -> Any:
    """Import paquo's project module, or fail with one clear message.

    Returns:
        The ``paquo.projects`` module.
    """
    try:
        import paquo.projects
    except ImportError as err:
        if getattr(err, "name", "") and str(err.name).split(".")[0] in ("paquo", "jpype", "dynaconf"):
            raise QuPathUnavailable(f"paquo is not installed ({err}): pip install paquo==0.9.0. {PAQUO_HELP}") from err
        raise QuPathUnavailable(f"paquo could not start QuPath ({err}). {PAQUO_HELP}") from err
    except Exception as err:  # paquo raises ValueError/FileNotFoundError/JVM errors while starting QuPath's JVM
        raise QuPathUnavailable(f"paquo could not start QuPath ({type(err).__name__}: {err}). {PAQUO_HELP}") from err
    _quiet_qupath()
    return paquo.projects


def _quiet_qupath() -> None:
    """Turn QuPath's Java logging back down to warnings (unless pathosam runs with -v).

    paquo sets QuPath's root log level to DEBUG when it is imported, and QuPath's logback writes to the
    process's real stdout: with QuPath 0.6.0 every image opened printed DEBUG lines into the batch's
    summary table on stdout.
    """
    if log.isEnabledFor(logging.DEBUG):
        return
    try:
        from paquo.java import LogManager  # None where QuPath lacks it (before 0.3)

        if LogManager is not None:
            LogManager.setWarn()
    except Exception as err:  # logging is cosmetic: never fail the batch over it
        log.debug("could not lower QuPath's log level: %s", err)


def project_file(path: Path) -> Path:
    """The .qpproj file for a project file or folder (checked before paquo starts a JVM)."""
    candidate = path / "project.qpproj" if path.is_dir() else path
    if candidate.suffix != ".qpproj" or not candidate.is_file():
        raise SourceError(
            f"'{path}' is not a QuPath project (expected a .qpproj file or a folder holding project.qpproj)"
        )
    return candidate


def recover_project(project_dir: Path) -> None:
    """Roll back any project or image save that a kill interrupted (before paquo reads anything)."""
    if (project_dir / "classifiers").is_dir():
        recover(project_dir / "classifiers")
    for journal in sorted((project_dir / "data").glob("*/pathosam-journal.json")):
        recover(journal.parent)


def _detection(geometry: Any, path_class: Any, measurements: dict, probability: float, cell: Any = None) -> Any:
    """A paquo detection (a cell when ``cell`` is its outline) whose ROIs use QuPath's own geometry factory.

    paquo's ``from_shapely`` reads the WKB with a default JTS factory (floating precision): every
    multi-part or holed nucleus then becomes a ``GeometryROI`` that logs a precision-model warning
    (seen with QuPath 0.6.0: one log line per such nucleus) and does not match the geometries QuPath
    makes itself. Reading with ``GeometryTools.getDefaultFactory()`` gives QuPath's 0.01 px grid.
    """
    from paquo.java import GeometryTools, PathObjects, WKBReader
    from paquo.pathobjects import QuPathPathCellObject, QuPathPathDetectionObject

    reader = WKBReader(GeometryTools.getDefaultFactory())
    roi = GeometryTools.geometryToROI(reader.read(shapely.to_wkb(geometry)), None)  # None: the default plane
    jclass = path_class.java_object if path_class is not None else None
    if cell is None:
        java_obj = PathObjects.createDetectionObject(roi, jclass)
    else:  # QuPath's cell: the cell outline is its ROI, the nucleus its nucleus ROI, the class on the cell
        cell_roi = GeometryTools.geometryToROI(reader.read(shapely.to_wkb(cell)), None)
        java_obj = PathObjects.createCellObject(cell_roi, roi, jclass, None)
    if not math.isnan(probability):
        java_obj.setPathClass(java_obj.getPathClass(), probability)
    det = QuPathPathDetectionObject(java_obj) if cell is None else QuPathPathCellObject(java_obj)
    det.measurements.update(measurements)
    return det


def provenance_metadata(p: dict) -> dict[str, str]:
    """The run's provenance as the entry's metadata (QuPath keeps string values only)."""
    if not p:
        return {}
    params = p.get("params") or {}
    return {
        "PathoSAM model": f"{p.get('model', '')} ({p.get('architecture', '')})",
        "PathoSAM weights sha256": "; ".join(f"{w['role']}={w['sha256']}" for w in p.get("weights", [])),
        "PathoSAM version": str(p.get("server_version", "")),
        "PathoSAM precision": str(p.get("precision", "")),
        "PathoSAM tiles": f"{p.get('tile_size', '')} + {p.get('halo', '')} halo",
        "PathoSAM parameters": json.dumps(params, sort_keys=True),
    }


class QuPathImage:
    """One project entry as a batch image."""

    def __init__(self, entry: Any, project: QuPathSource) -> None:
        self.entry = entry
        self._project = project
        self.key = f"entry:{entry.entry_id}"
        self.name = str(entry.image_name)

    def file_path(self) -> Path:
        """The image file behind the entry's URI (file:// only)."""
        from paquo.images import ImageProvider

        uri = self.entry.uri
        try:
            return Path(ImageProvider.path_from_uri(uri))
        except NotImplementedError as err:
            raise ImageReadError(
                f"'{self.name}': only file:// images can be read headlessly, this one is {uri}"
            ) from err

    def open_pixels(self) -> PixelSource:
        """Open the entry's image file; a moved image gets a message saying how to remap it."""
        path = self.file_path()
        if not path.is_file():
            raise ImageReadError(
                f"'{self.name}': image file {path} is missing (moved or renamed?). Remap the project's URIs with "
                f"paquo: QuPathProject('{self._project.path}', mode='r+').update_image_paths(try_relative=True) when "
                "the images moved together with the project, or .update_image_paths(uri2uri={old_uri: new_uri}) for "
                "any other move (or open the project in QuPath and fix the paths when it asks), then rerun the batch."
            )
        source = open_image(path)
        check_size(self, source, (int(self.entry.width), int(self.entry.height)))
        return source

    def pixel_size_um(self) -> Optional[float]:
        """QuPath's calibration for the entry (the user may have set it there), else the file's."""
        try:
            cal = self.entry._image_server.getPixelCalibration()  # paquo exposes no public accessor
            if bool(cal.hasPixelSizeMicrons()):
                size = float(cal.getAveragedPixelSizeMicrons())
                if math.isfinite(size) and size > 0:
                    return size
        except Exception as err:  # older QuPath, or a server QuPath cannot open
            log.debug("no QuPath calibration for %s: %s", self.name, err)
        return file_pixel_size_um(self.file_path())

    def annotations(self) -> list[Annotation]:
        """The entry's annotations, each keeping its paquo object as the parent handle."""
        out = []
        for ann in self.entry.hierarchy.annotations:
            pc = ann.path_class
            out.append(Annotation(ann.roi, str(pc.id if pc is not None else ""), str(ann.name or ""), ann))
        return out

    def objects(self) -> list[Annotation]:
        """Annotations and detections of the entry; a cell counts as its nucleus outline."""
        out = self.annotations()
        for det in self.entry.hierarchy.detections:
            pc = det.path_class
            roi = det.roi
            nucleus = getattr(det.java_object, "getNucleusROI", lambda: None)()  # a cell: its nucleus
            if nucleus is not None:
                from paquo.pathobjects import _qupath_roi_to_shapely_geometry  # paquo's own ROI -> shapely

                roi = _qupath_roi_to_shapely_geometry(nucleus)
            out.append(Annotation(roi, str(pc.id if pc is not None else ""), str(det.name or "")))
        return out

    def written(self, settings: str) -> Optional[dict]:
        """What this entry's saved data says our batch wrote with these settings, or None.

        Covers a kill after QuPath saved but before the ledger was written: the property is saved in
        the same ``data.qpdata`` as the detections, so it is there exactly when they are.
        """
        props = self.entry.properties
        if DONE_PROPERTY not in props:
            return None
        try:
            saved = json.loads(str(props[DONE_PROPERTY]))
        except ValueError:
            return None
        return saved.get("info", {}) if saved.get("settings") == settings else None

    def write(self, result: ProjectWrite) -> None:
        """Add the detections (as children of their annotation) and save the entry, all or nothing.

        Args:
            result: Regions, their nuclei, the settings hash and counts; with ``replace`` our earlier
                detections (those with a ``PathoSAM: score``) in the regions go first.
        """
        regions, nuclei, classes = result.regions, result.nuclei, result.classes
        hierarchy = self.entry.hierarchy
        jh = hierarchy.java_object
        if result.replace:
            self._remove_ours(hierarchy, regions)
        below = getattr(jh, "addObjectBelowParent", None) or jh.addPathObjectBelowParent  # QuPath >= 0.4 / older
        add_top = getattr(jh, "addObject", None)
        for region, found in zip(regions, nuclei):
            for n in found:
                measurements = {SCORE_MEASUREMENT: float(n.score)}
                if n.class_name:
                    measurements[PROBABILITY_MEASUREMENT] = float(n.class_probability)
                measurements.update({k: float(v) for k, v in n.measurements.items() if math.isfinite(v)})
                det = _detection(
                    n.geometry,
                    classes.get(n.class_name),
                    measurements,
                    float(n.class_probability) if n.class_name else math.nan,
                    n.cell_geometry,
                )
                if region.handle is not None:
                    below(region.handle.java_object, det.java_object, False)
                elif add_top is not None:
                    add_top(det.java_object, False)
                else:
                    jh.addPathObjectWithoutUpdate(det.java_object)
        self.entry.properties[DONE_PROPERTY] = json.dumps({"settings": result.settings, "info": result.info})
        for key, value in provenance_metadata(result.info.get("provenance") or {}).items():
            self.entry.metadata[key] = value  # shown in QuPath's project list and readable by scripts
        hierarchy.flush(invalidate_proxy_cache=True)  # one change event: marks the ImageData as changed
        with guarded(
            Path(str(self.entry.entry_path)), {"data.qpdata": "link", "summary.json": "copy", "server.json": "copy"}
        ):
            self.entry.save()
            if self.entry.is_changed():  # paquo skips saving silently when it thinks the image is unreadable
                raise SourceError(f"QuPath did not save '{self.name}' (is its image file reachable?)")

    @staticmethod
    def _remove_ours(hierarchy: Any, regions: Sequence[Region]) -> None:
        from paquo.pathobjects import QuPathPathDetectionObject

        doomed = []
        for jobj in hierarchy.java_object.getDetectionObjects():
            if SCORE_MEASUREMENT not in QuPathPathDetectionObject(jobj).measurements:
                continue
            roi = jobj.getROI()
            cx, cy = float(roi.getCentroidX()), float(roi.getCentroidY())
            if any(shapely.contains_xy(r.roi, cx, cy) for r in regions):
                doomed.append(jobj)
        if doomed:
            hierarchy.java_object.removeObjects(doomed, True)
            log.info("removed %d earlier PathoSAM detections", len(doomed))


class QuPathSource:
    """A QuPath project opened through paquo.

    Args:
        path: The .qpproj file or its folder.
        writable: Open for writing (False for --dry-run).
    """

    def __init__(self, path: Path, writable: bool) -> None:
        self.path = project_file(path)
        self.location = self.path.parent
        projects = load_paquo()
        recover_project(self.location)
        try:
            self.project = projects.QuPathProject(self.path, mode="r+" if writable else "r")
        except Exception as err:  # Java exceptions arrive as several types
            raise SourceError(f"paquo cannot open the project '{self.path}': {err}") from err

    def images(self) -> Iterator[QuPathImage]:
        """The project's image entries, in project order."""
        for entry in self.project.images:
            yield QuPathImage(entry, self)

    def path_classes(self, colours: dict[str, int]) -> dict[str, Any]:
        """PathClasses for our class names, adding the missing ones to the project with the server's colours.

        Args:
            colours: Class name -> 0xRRGGBB.

        Returns:
            Class name -> paquo QuPathPathClass.
        """
        from paquo.classes import QuPathPathClass

        existing = {str(pc.name): pc for pc in self.project.path_classes}
        missing = {name: rgb for name, rgb in colours.items() if name not in existing}
        if missing:
            added = [QuPathPathClass(n, color=rgb_triple(rgb)) for n, rgb in missing.items()]
            # QuPath writes classes.json in place; guard it like an image save
            with guarded(self.location / "classifiers", {"classes.json": "copy"}):
                self.project.path_classes = list(self.project.path_classes) + added
            existing.update({str(pc.name): pc for pc in added})
        return existing

    def close(self) -> None:
        """Nothing to flush: every image is saved on its own, and project.qpproj is not changed."""
