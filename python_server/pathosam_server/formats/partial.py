"""A resumable GeoJSON output: finished tiles are journalled next to the output as they come, so a run
stopped at tile 12 of 36 keeps its 12 tiles and the next run with the same settings does only the rest.

``OUT.geojson.partial`` is JSON lines: a header with the settings hash, then one line per finished tile
(its index and its nuclei as QuPath features), flushed and fsync'ed. A torn last line (a kill while
appending) is ignored. The final GeoJSON is written atomically and the journal removed, so the output
file exists only when it is complete.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import IO, Any, Optional

from shapely.geometry import shape

from ..classes import PROBABILITY_MEASUREMENT, SCORE_MEASUREMENT
from ..records import NucleusRecord
from .geojson import nucleus_feature, write_features

log = logging.getLogger(__name__)
SUFFIX = ".partial"


def _record(feature: dict) -> NucleusRecord:
    """A journalled feature back as a record (geometry, score, class: what output and seam guard use)."""
    geom = shape(feature.get("nucleusGeometry") or feature["geometry"])  # a cell's nucleus decides ownership
    props = feature.get("properties", {})
    cls = props.get("classification") or {}
    measurements = props.get("measurements", {})
    c = geom.centroid
    rec = NucleusRecord(
        geometry=geom,
        score=float(measurements.get(SCORE_MEASUREMENT, 0.0)),
        area=float(geom.area),
        centroid_x=c.x,
        centroid_y=c.y,
        touches_tile_edge=False,
        class_name=str(cls.get("name", "")),
        class_probability=float(measurements.get(PROBABILITY_MEASUREMENT, 0.0)),
    )
    return rec


class PartialOutput:
    """The journal of one ``segment`` output.

    Args:
        output: The final .geojson path.
        settings: A hash of everything that changes the result; a journal with another one is discarded.
    """

    def __init__(self, output: Path, settings: str) -> None:
        self.output = output
        self.path = output.with_name(output.name + SUFFIX)
        self.settings = settings
        self.done: dict[int, list[NucleusRecord]] = {}  # tiles of an earlier run, for the seam guard
        self._features: dict[int, list[dict[str, Any]]] = {}  # every finished tile's output, by index
        self._file: Optional[IO[str]] = None
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        try:
            header = json.loads(lines[0]) if lines else {}
        except ValueError:
            header = {}
        if header.get("settings") != self.settings:
            log.info("%s was written with other settings: starting again", self.path)
            return
        for line in lines[1:]:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line torn by a kill while appending
            self._features[int(rec["tile"])] = rec["features"]
            self.done[int(rec["tile"])] = [_record(f) for f in rec["features"]]

    def _open(self) -> IO[str]:
        if self._file is None:
            fresh = not self.done
            self._file = open(self.path, "w" if fresh else "a", encoding="utf-8")
            if fresh:
                self._file.write(json.dumps({"settings": self.settings}) + "\n")
        return self._file

    def add(self, tile: int, nuclei: list[NucleusRecord]) -> None:
        """Journal one finished tile (durably)."""
        f = self._open()
        features = [nucleus_feature(n) for n in nuclei]
        self._features[tile] = features
        f.write(json.dumps({"tile": tile, "features": features}) + "\n")
        f.flush()
        os.fsync(f.fileno())

    def finish(self, provenance: Optional[dict] = None) -> int:
        """Write the final GeoJSON (every tile's nuclei in plan order) atomically and remove the journal.

        Args:
            provenance: What made the nuclei, kept in the file (``geojson.write_features``).

        Returns:
            Number of features written.
        """
        features = [f for tile in sorted(self._features) for f in self._features[tile]]
        count = write_features(features, self.output, provenance)
        self.close()
        self.path.unlink(missing_ok=True)
        return count

    def close(self) -> None:
        """Close the journal (kept on disk for the next run)."""
        if self._file is not None:
            self._file.close()
            self._file = None
