"""What runs a batch image's regions (the ``Runner`` protocol), and the in-process runner.

The others hand tiles to an engine built for spreading work: ``grpc_pool.ServerPool`` (gRPC's own load
balancing over servers) and ``dask_runner.DaskRunner`` (Dask's scheduler over workers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Optional, Protocol

from ..classes import class_table
from ..formats.images import PixelSource
from ..geometry.tiling import PlannedTile, plan_tiles
from ..records import NucleusRecord, Params, Rect

if TYPE_CHECKING:  # the model (torch) is imported only when a batch runs in process
    from ..inference.models import ModelManager

TileCallback = Callable[[], None]


class Runner(Protocol):
    """What segments a batch image's regions: in process or on servers."""

    params: Params
    tile_size: int
    halo: int
    identity: dict[str, Any]  # what makes the results what they are (model, weights), for the ledger
    class_colours: dict[str, int]
    tiles_per_worker: Counter[str]

    @property
    def tiles_skipped(self) -> int:
        """Tiles not encoded because they held no tissue (``Params.skip_background``), over all runs so far."""
        ...

    def run(
        self, source: PixelSource, rects: Sequence[Rect], downsample: float, on_tile: TileCallback
    ) -> list[list[NucleusRecord]]:
        """Segment every region; one nucleus list per region."""
        ...

    def provenance(self) -> dict[str, Any]:
        """What makes this runner's nuclei (``inference.provenance.describe``'s keys), with its current params."""
        ...

    def close(self) -> None:
        """Release servers or models."""
        ...


def plan_regions(
    rects: Sequence[Rect], downsample: float, tile_size: int, halo: int, width: int, height: int
) -> list[list[PlannedTile]]:
    """The tile plan of each region, exactly as ``regions.segment_region`` plans it.

    Args:
        rects: Level-0 region rectangles.
        downsample: Level-0 pixels per working pixel.
        tile_size: Inner tile edge (working pixels).
        halo: Halo (working pixels).
        width: Level-0 image width.
        height: Level-0 image height.

    Returns:
        One tile list per region.
    """
    return [plan_tiles(r, downsample, tile_size, halo, width, height) for r in rects]


class InProcessRunner:
    """The model in this process, through ``inference.regions.segment_region`` as ``pathosam segment`` uses it.

    Args:
        manager: The model manager (built from the same options as ``segment``).
        params: Segmentation parameters.
        tile_size: Inner tile edge (None = the model's).
        halo: Halo (None = the model's).
    """

    def __init__(self, manager: ModelManager, params: Params, tile_size: Optional[int], halo: Optional[int]) -> None:
        spec = manager.specs[manager.default]
        self._manager = manager
        self.params = params
        self.tile_size = tile_size or spec.tile_size
        self.halo = spec.halo if halo is None else halo
        spec.check_tiles(self.tile_size, self.halo)  # before the first image, not at it
        self.identity = {"model": spec.name, "source": spec.source, "semantic": str(spec.semantic_decoder or "")}
        self.class_colours = dict(class_table(spec.class_names).values())
        self.tiles_per_worker: Counter[str] = Counter()
        self._skipped = 0

    @property
    def tiles_skipped(self) -> int:
        """Tiles not encoded because they held no tissue, over all runs so far."""
        return self._skipped

    def _count_skip(self, index: int) -> None:
        self._skipped += 1

    def run(
        self, source: PixelSource, rects: Sequence[Rect], downsample: float, on_tile: TileCallback
    ) -> list[list[NucleusRecord]]:
        """Segment every region; one nucleus list per region (each nucleus once, by the ownership rule)."""
        from ..inference.regions import segment_region

        model = self._manager.get()  # loads once, on the first image that needs it
        out = []
        for rect in rects:
            nuclei = list(
                segment_region(
                    model,
                    source,
                    rect,
                    downsample,
                    self.params,
                    self.tile_size,
                    self.halo,
                    on_tile=lambda i, n: on_tile(),
                    on_skipped=self._count_skip,
                )
            )
            out.append(nuclei)
            self.tiles_per_worker["in-process"] += len(
                plan_tiles(rect, downsample, self.tile_size, self.halo, source.width, source.height)
            )
        return out

    def provenance(self) -> dict[str, Any]:
        """The loaded model's files and hashes, precision, this package's version and the parameters."""
        from ..inference.provenance import describe

        return describe(self._manager.get(), self.params)

    def close(self) -> None:
        """Nothing to release."""
