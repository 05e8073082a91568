"""Cohorts on Dask distributed: the in-process pipeline on Dask workers, results back to one writer.

Each worker loads the model once (``ModelPlugin``, a Dask worker plugin, so a worker that Dask restarts
loads it again by itself). A task is one planned tile: its pixels, read by the coordinator in plan
order, go to whichever worker Dask picks; Dask does the scheduling, work stealing, and the rerun of a
lost worker's tasks. The coordinator keeps a bounded number of tiles in flight (``fanout``), so memory
stays flat whatever the cohort's size, and it alone writes the QuPath project, the GeoJSON and the
ledger (QuPath projects have one writer). Tiles rather than whole regions as tasks: a whole-slide
region is thousands of tiles, which would otherwise be one task on one worker.

Cluster specs (``--cluster``): ``local:N`` (N worker processes on this machine, one torch thread each),
``tcp://HOST:8786`` / ``tls://...`` (a running Dask scheduler), ``slurm`` (a ``dask_jobqueue.SLURMCluster``
built from ``--cluster-config``).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
from distributed import WorkerPlugin

from ..classes import class_table
from ..errors import RunnerError
from ..formats.images import PixelSource
from ..geometry.tiling import PlannedTile
from ..records import NucleusRecord, Params, Rect
from .fanout import FanoutStats, TileAnswer, run_in_order
from .runner import TileCallback, plan_regions

if TYPE_CHECKING:
    from ..inference.models import ModelManager, ModelSpec

log = logging.getLogger(__name__)

PLUGIN_NAME = "pathosam-model"
CLUSTER_SPECS = "local:N (N workers here), tcp://HOST:PORT or tls://HOST:PORT (a Dask scheduler), slurm"


class ModelPlugin(WorkerPlugin):
    """A Dask worker plugin that loads the model once per worker process.

    Args:
        spec: The model (its files must be readable where the workers run).
        device: Torch device on the workers ("cpu", "cuda", "cuda:0", ...).
        torch_threads: Torch threads per worker (1 when several workers share a machine's cores).
    """

    name = PLUGIN_NAME

    def __init__(self, spec: ModelSpec, device: str, torch_threads: Optional[int]) -> None:
        self.spec, self.device, self.torch_threads = spec, device, torch_threads
        self.model: Any = None

    def setup(self, worker: Any) -> None:
        """Load the model (Dask calls this on each worker, and again on a restarted one)."""
        import torch

        from ..inference.models import ModelManager

        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        self.model = ModelManager([self.spec], self.device).get()

    def teardown(self, worker: Any) -> None:
        """Release the model."""
        self.model = None


def segment_tile_task(
    pixels: np.ndarray, rect: Rect, core: Rect, downsample: float, image_size: tuple[int, int], params: Params
) -> tuple[list[NucleusRecord], str, bool]:
    """One tile on a Dask worker, with the model its ``ModelPlugin`` loaded.

    Args:
        pixels: (H, W, 3) uint8 tile pixels.
        rect: Level-0 rectangle the pixels cover.
        core: Level-0 rectangle the tile owns.
        downsample: Level-0 pixels per tile pixel.
        image_size: Level-0 (width, height) of the image.
        params: Segmentation parameters.

    Returns:
        (the owned nuclei in level-0, the worker's address, whether the tile was skipped as glass).
    """
    from distributed import get_worker

    from ..inference.pipeline import TileJob, segment_tile

    worker = get_worker()
    plugin: Any = worker.plugins[PLUGIN_NAME]
    model = plugin.model
    result = segment_tile(model, TileJob(pixels, rect, downsample, core, image_size), params)
    return result.nuclei, str(worker.address), result.skipped


def parse_cluster(spec: str) -> tuple[str, Any]:
    """Check a ``--cluster`` value before anything starts.

    Args:
        spec: The value.

    Returns:
        ("local", N) | ("scheduler", address) | ("slurm", None).

    Raises:
        RunnerError: Not one of the forms in ``CLUSTER_SPECS``.
    """
    if m := re.fullmatch(r"local:(\d+)", spec):
        n = int(m.group(1))
        if not 1 <= n <= 512:
            raise RunnerError(f"--cluster local:N needs 1 <= N <= 512 workers, got {n}")
        return "local", n
    if re.fullmatch(r"(tcp|tls)://[^\s:/]+:\d+", spec):
        return "scheduler", spec
    if spec == "slurm":
        return "slurm", None
    raise RunnerError(f"--cluster '{spec}' is not a cluster: use {CLUSTER_SPECS}")


def read_cluster_config(path: Optional[Path]) -> dict[str, Any]:
    """The keyword arguments of ``SLURMCluster`` (plus ``jobs``) from a JSON or YAML file.

    Args:
        path: The file (None: an empty config, i.e. dask-jobqueue's own ``jobqueue.slurm`` settings).

    Returns:
        The settings.

    Raises:
        RunnerError: The file is missing or not a mapping.
    """
    if path is None:
        return {}
    try:
        text = path.read_text()
    except OSError as err:
        raise RunnerError(f"--cluster-config '{path}': {err.strerror}") from err
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml  # a dependency of dask

            data = yaml.safe_load(text)
    except Exception as err:  # json.JSONDecodeError, yaml.YAMLError
        raise RunnerError(f"--cluster-config '{path}' is not valid {path.suffix[1:].upper() or 'YAML'}: {err}") from err
    if not isinstance(data, dict):
        raise RunnerError(f"--cluster-config '{path}' must hold a mapping of SLURMCluster options")
    return data


def connect(spec: str, config: Optional[Path] = None, timeout: float = 20.0) -> tuple[Any, Any]:
    """Start or reach the cluster a ``--cluster`` value names.

    Args:
        spec: The ``--cluster`` value.
        config: ``--cluster-config`` (slurm only).
        timeout: Seconds to wait for a scheduler.

    Returns:
        (dask client, the cluster object this process started, or None).

    Raises:
        RunnerError: A bad spec, an unreachable scheduler, dask-jobqueue missing.
    """
    kind, value = parse_cluster(spec)
    from distributed import Client, LocalCluster

    cluster: Any = None
    try:
        if kind == "local":
            # one torch thread per worker process: N workers on N cores, no oversubscription
            cluster = LocalCluster(n_workers=value, threads_per_worker=1, processes=True, dashboard_address=":0")
            client = Client(cluster)
        elif kind == "scheduler":
            client = Client(value, timeout=timeout)
        else:
            try:
                from dask_jobqueue import SLURMCluster
            except ImportError as err:
                raise RunnerError(
                    "--cluster slurm needs dask-jobqueue: pip install 'pathosam-server[cluster]'"
                ) from err
            settings = read_cluster_config(config)
            jobs = int(settings.pop("jobs", 1))
            cluster = SLURMCluster(**settings)
            cluster.scale(jobs=jobs)
            client = Client(cluster)
    except (OSError, TimeoutError) as err:
        if cluster is not None:
            cluster.close()
        raise RunnerError(f"cannot reach the Dask scheduler at {value}: {err}") from err
    return client, cluster


class _Pending:
    def __init__(self, future: Any) -> None:
        self.future = future

    def result(self) -> TileAnswer:
        try:
            nuclei, worker, skipped = self.future.result()
        except Exception as err:  # KilledWorker (a tile that killed several workers), a task's own error
            raise RunnerError(f"a tile failed on the Dask cluster: {type(err).__name__}: {err}") from err
        return TileAnswer(nuclei, worker, skipped)

    def cancel(self) -> None:
        self.future.cancel()


class DaskRunner:
    """The in-process pipeline on Dask workers (see the module docstring).

    Args:
        manager: The model manager the options describe; its default model runs on the workers.
        params: Segmentation parameters.
        tile_size: Inner tile edge (None = the model's).
        halo: Halo (None = the model's).
        cluster: The ``--cluster`` value.
        cluster_config: ``--cluster-config`` (slurm).
        torch_threads: Torch threads per worker (default: 1 for ``local:N``, torch's choice elsewhere).
    """

    def __init__(
        self,
        manager: ModelManager,
        params: Params,
        tile_size: Optional[int],
        halo: Optional[int],
        cluster: str,
        cluster_config: Optional[Path] = None,
        torch_threads: Optional[int] = None,
    ) -> None:
        spec = manager.specs[manager.default]
        self.params = params
        self.tile_size = tile_size or spec.tile_size
        self.halo = spec.halo if halo is None else halo
        spec.check_tiles(self.tile_size, self.halo)
        # the same identity as in process: the same nuclei, so a ledger of either resumes the other
        self.identity = {"model": spec.name, "source": spec.source, "semantic": str(spec.semantic_decoder or "")}
        self._spec = spec
        self._weights: Optional[list[dict[str, Any]]] = None
        self.class_colours = dict(class_table(spec.class_names).values())
        self.tiles_per_worker: Counter[str] = Counter()
        self.stats = FanoutStats()
        self.client, self._cluster = connect(cluster, cluster_config)
        if torch_threads is None and cluster.startswith("local:"):
            torch_threads = 1
        log.warning("Dask dashboard: %s", self.client.dashboard_link)
        self.client.register_plugin(ModelPlugin(spec, manager.device, torch_threads), name=PLUGIN_NAME)

    def window(self) -> int:
        """Tiles in flight: two per worker thread, so a worker never waits for the coordinator."""
        return max(2, 2 * sum(self.client.nthreads().values()))

    @property
    def tiles_skipped(self) -> int:
        """Tiles the engine did not encode because they held no tissue, over all runs so far."""
        return self.stats.skipped

    def run(
        self, source: PixelSource, rects: Sequence[Rect], downsample: float, on_tile: TileCallback
    ) -> list[list[NucleusRecord]]:
        """Segment every region's tiles on the cluster; one nucleus list per region."""
        plans = plan_regions(rects, downsample, self.tile_size, self.halo, source.width, source.height)
        size = (source.width, source.height)

        def submit(index: int, tile: PlannedTile, pixels: np.ndarray) -> _Pending:
            future = self.client.submit(
                segment_tile_task, pixels, tile.rect, tile.core, downsample, size, self.params, pure=False, retries=1
            )
            return _Pending(future)

        return run_in_order(
            source, plans, downsample, submit, self.window(), on_tile, self.tiles_per_worker, self.stats
        )

    def provenance(self) -> dict[str, Any]:
        """The model's local files hashed here (the workers load the same ones), the precision asked for,
        this package's version and the parameters."""
        from .. import __version__
        from ..inference.weights import file_sha256

        spec = self._spec
        if self._weights is None:
            files = [
                ("checkpoint", spec.checkpoint),
                ("decoder", spec.decoder),
                ("semantic_decoder", spec.semantic_decoder),
            ]
            self._weights = [
                {"role": r, "name": p.name, "sha256": file_sha256(p), "bytes": p.stat().st_size}
                for r, p in files
                if p is not None and Path(p).is_file()
            ]
        return {
            "model": spec.name,
            "architecture": spec.architecture,
            "weights": self._weights,
            "server_version": __version__,
            "precision": f"{spec.precision} (asked; decided on each worker)",
            "class_precision": spec.class_precision,
            "working_pixel_size_um": spec.pixel_size_um,
            "params": self.params.as_dict(),
        }

    def close(self) -> None:
        """Close the client and the cluster this runner started."""
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
