"""Keep one nucleus where two tiles of a region disagree about it.

Ownership by centroid returns every nucleus once when neighbouring tiles agree on it. When they
disagree (one tile sees two touching nuclei as one blob, its neighbour sees them apart), the blob's
centroid can fall in one core and a part's centroid in the other, and both would come back as
overlapping detections. ``SeamGuard`` drops the later of two nuclei from different tiles that share
more than half of the smaller one's area.

A neighbouring tile sees at most its halo into this tile's core, so only nuclei within that band
along the core border can be the same as one of its nuclei: those are remembered, as geometries
bucketed on a coarse grid. Memory grows with the nuclei along core borders, never with pixels, and a
cap evicts the oldest (a client streams neighbouring tiles close together in time).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from shapely.geometry.base import BaseGeometry

from ..records import NucleusRecord, Rect

Bounds = tuple[float, float, float, float]


class SeamGuard:
    """Admits each tile's owned nuclei unless another tile already returned the same nucleus.

    Args:
        min_shared: Share of the smaller nucleus's area above which two nuclei are the same one.
        max_entries: Most border-crossing nuclei remembered (oldest evicted first).
        bucket: Grid cell edge in level-0 pixels for the spatial lookup.
    """

    def __init__(self, min_shared: float = 0.5, max_entries: int = 50_000, bucket: int = 1024) -> None:
        self.min_shared = min_shared
        self.max_entries = max_entries
        self.bucket = bucket
        self.dropped = 0
        self._entries: OrderedDict[int, tuple[BaseGeometry, Rect, Bounds]] = OrderedDict()
        self._buckets: dict[tuple[int, int], set[int]] = {}
        self._next = 0

    def _keys(self, bounds: Bounds) -> Iterable[tuple[int, int]]:
        b = self.bucket
        for bx in range(int(bounds[0] // b), int(bounds[2] // b) + 1):
            for by in range(int(bounds[1] // b), int(bounds[3] // b) + 1):
                yield bx, by

    def _duplicate(self, geom: BaseGeometry, bounds: Bounds, core: Rect) -> bool:
        seen: set[int] = set()
        for key in self._keys(bounds):
            for k in self._buckets.get(key, ()):
                if k in seen:
                    continue
                seen.add(k)
                other, other_core, ob = self._entries[k]
                if (
                    other_core == core
                    or ob[0] >= bounds[2]
                    or bounds[0] >= ob[2]
                    or ob[1] >= bounds[3]
                    or bounds[1] >= ob[3]
                ):
                    continue
                shared = geom.intersection(other).area
                if shared > self.min_shared * min(geom.area, other.area):
                    return True
        return False

    def _remember(self, geom: BaseGeometry, bounds: Bounds, core: Rect) -> None:
        k = self._next
        self._next += 1
        self._entries[k] = (geom, core, bounds)
        for key in self._keys(bounds):
            self._buckets.setdefault(key, set()).add(k)
        if len(self._entries) > self.max_entries:
            old, (_, _, ob) = self._entries.popitem(last=False)
            for key in self._keys(ob):
                self._buckets[key].discard(old)

    def admit(self, nuclei: list[NucleusRecord], core: Rect, rect: Rect) -> list[NucleusRecord]:
        """The nuclei of one tile that no other tile returned already; remembers those near the core border.

        Args:
            nuclei: The tile's owned nuclei (level-0).
            core: The tile's core.
            rect: The tile's pixels (core plus halo); the halo is the band neighbours can see.

        Returns:
            The nuclei to return, in order.
        """
        inner = (2 * core.x - rect.x, 2 * core.y - rect.y, 2 * core.x1 - rect.x1, 2 * core.y1 - rect.y1)
        kept = []
        for n in nuclei:
            geom = n.geometry
            if geom.is_empty:
                kept.append(n)
                continue
            bounds = geom.bounds
            if self._duplicate(geom, bounds, core):
                self.dropped += 1
                continue
            kept.append(n)
            if bounds[0] < inner[0] or bounds[1] < inner[1] or bounds[2] > inner[2] or bounds[3] > inner[3]:
                self._remember(geom, bounds, core)
        return kept
