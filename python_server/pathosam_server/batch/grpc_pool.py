"""A pool of PathoSAM servers behind ONE gRPC channel: gRPC balances, retries and routes around the dead.

The channel's service config (``pool_service_config``) asks gRPC for ``round_robin`` over every address
of the target, client-side health checking (the servers' standard ``grpc.health.v1`` service, so a
server that stops serving is left out before a tile is lost on it), and a retry policy for the one call
a batch makes per tile, ``SegmentTile``: UNAVAILABLE (a server killed or restarting) and
RESOURCE_EXHAUSTED (a server whose slots are full) are retried with exponential backoff, on whichever
server the balancer picks next. ``SegmentTile`` is idempotent (the same tile gives the same nuclei), which
is what makes retrying it safe.

Per-tile calls rather than one ``SegmentRegion`` stream per server: they balance load by themselves (a
fast GPU box takes more tiles than a slow one), and a tile that fails is retried alone. The answers pass
the seam guard in plan order (``fanout.run_in_order``), so any number of servers gives the nuclei one
process gives.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, Optional

import grpc
import numpy as np

from ..classes import CLASS_COLOURS, CLASS_NAMES
from ..errors import RunnerError
from ..formats.images import PixelSource
from ..geometry.tiling import PlannedTile
from ..records import NucleusRecord, Params, Rect
from ..rpc.client import PathoSamClient, ServerUnreachable, TileCall, explain
from .fanout import FanoutStats, TileAnswer, run_in_order
from .runner import TileCallback, plan_regions

log = logging.getLogger(__name__)

SERVICE = "pathosam.v1.PathoSam"
# gRPC allows at most 5 attempts per call. A pool whose last live server has every slot busy can refuse
# all five within seconds while its tiles take longer, so such a call is sent again after a pause, this
# many times, before the image fails.
REISSUES = 6
# A tile's request holds its pixels (a 512 px window is 0.8 MB): gRPC only retries calls whose request
# fits its per-call retry buffer (256 kB by default), so the buffer is raised to hold any tile.
RETRY_BUFFER_BYTES = 64 << 20


def pool_service_config(max_attempts: int = 5) -> dict[str, Any]:
    """The channel's service config for a server pool (round robin, health checks, retries).

    Args:
        max_attempts: Attempts per call (gRPC caps this at 5).

    Returns:
        The service config as a dict (``json.dumps`` it into ``grpc.service_config``).
    """
    return {
        "loadBalancingConfig": [{"round_robin": {}}],
        "healthCheckConfig": {"serviceName": SERVICE},
        "methodConfig": [
            {
                "name": [{"service": SERVICE, "method": "SegmentTile"}, {"service": SERVICE, "method": "GetInfo"}],
                "retryPolicy": {
                    "maxAttempts": max_attempts,
                    "initialBackoff": "0.5s",
                    "maxBackoff": "10s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"],
                },
            }
        ],
    }


def pool_target(addresses: Sequence[str]) -> str:
    """One gRPC target naming every server of the pool.

    A single ``dns:///NAME:PORT`` (or any other URI gRPC resolves) passes through: DNS may return several
    addresses and gRPC re-resolves it when servers come and go. Several ``HOST:PORT`` become gRPC's static
    ``ipv4:``/``ipv6:`` list; gRPC's Python client has no static resolver for host names, so names are
    resolved once here.

    Args:
        addresses: ``HOST:PORT`` entries, or one target URI.

    Returns:
        The target.

    Raises:
        RunnerError: A name that does not resolve, or IPv4 and IPv6 mixed.
    """
    if len(addresses) == 1 and ("://" in addresses[0] or addresses[0].startswith(("ipv4:", "ipv6:", "unix:"))):
        return addresses[0]
    v4: list[str] = []
    v6: list[str] = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        try:
            ip = ipaddress.ip_address(host)
            found = [ip]
        except ValueError:
            try:
                infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
            except OSError as err:
                raise RunnerError(f"server '{address}': cannot resolve '{host}' ({err})") from err
            found = [ipaddress.ip_address(info[4][0]) for info in infos[:1]]
        for ip in found:
            (v4 if ip.version == 4 else v6).append(f"{ip}:{port}" if ip.version == 4 else f"[{ip}]:{port}")
    if v4 and v6:
        raise RunnerError("a pool mixes IPv4 and IPv6 servers; gRPC needs one family per channel")
    return f"ipv4:{','.join(v4)}" if v4 else f"ipv6:{','.join(v6)}"


def pool_options(max_message_bytes: int = 256 << 20) -> list[tuple[str, Any]]:
    """Channel options of a pool channel (service config, retries, message limits)."""
    return [
        ("grpc.service_config", json.dumps(pool_service_config())),
        ("grpc.enable_retries", 1),
        ("grpc.per_rpc_retry_buffer_size", RETRY_BUFFER_BYTES),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]


class _Pending:
    """One tile on the pool, sent again (bounded) when gRPC's own attempts were all refused or lost."""

    def __init__(self, call: TileCall, description: str) -> None:
        self.call, self.description = call, description

    def result(self) -> TileAnswer:
        for reissue in range(REISSUES + 1):
            try:
                nuclei, server = self.call.result()
                return TileAnswer(nuclei, server, self.call.skipped)
            except grpc.RpcError as err:
                code = err.code()
                if code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED) or reissue == REISSUES:
                    raise RunnerError(explain(self.description, err)) from err
                log.info("a tile was refused or lost on every attempt (%s); sending it again", code.name)
                time.sleep(min(30.0, 2.0 ** (reissue + 1)))
                self.call.resend()
        raise AssertionError("unreachable")

    def cancel(self) -> None:
        self.call.cancel()


class ServerPool:
    """Tiles spread over one or more PathoSAM servers through one load-balanced gRPC channel.

    Args:
        addresses: ``HOST:PORT`` of each server, or one ``dns:///NAME:PORT`` target.
        model: Model name on the servers ("" = each server's default).
        params: Segmentation parameters (sent explicitly, so results do not depend on server defaults).
        token: Bearer token, if the servers require one.
        tile_size: Inner tile edge (None = the model's default from GetInfo).
        halo: Halo (None = the model's default).
        timeout: Seconds allowed per tile, retries included.
        tls_ca: PEM certificate(s) to trust: the servers speak TLS (see ``PathoSamClient``).
    """

    def __init__(
        self,
        addresses: Sequence[str],
        model: str,
        params: Params,
        token: Optional[str],
        tile_size: Optional[int],
        halo: Optional[int],
        timeout: float = 900.0,
        tls_ca: Optional[bytes] = None,
    ) -> None:
        self.params = params
        self.timeout = timeout
        self.description = addresses[0] if len(addresses) == 1 else f"pool of {len(addresses)} servers"
        infos, self.window, self.server_version = self._preflight(addresses, model, token, tls_ca)
        first = infos[0]
        self.model = first.name
        self.tile_size = tile_size or first.default_tile_size
        self.halo = first.default_halo if halo is None else halo
        edge = first.input_edge or self.tile_size + 2 * self.halo  # servers before 0.2 did not say
        if self.tile_size + 2 * self.halo > edge:
            raise RunnerError(
                f"tile size {self.tile_size} + 2 x halo {self.halo} exceeds the input window of {edge} px of "
                f"{first.name} on the servers: choose tile + 2 x halo <= {edge} (tiles are padded, never rescaled)"
            )
        self.identity = {"model": first.name, "source": first.source, "classes": bool(first.has_semantic_decoder)}
        self._origin = {
            "model": first.name,
            "architecture": first.architecture,
            "weights": [{"role": w.role, "name": w.name, "sha256": w.sha256, "bytes": w.bytes} for w in first.weights],
            "server_version": self.server_version,
            "precision": first.precision,
            "class_precision": first.class_precision,
            "working_pixel_size_um": first.working_pixel_size_um,
        }
        self.class_colours = {c.name: c.rgb for c in first.classes} or {
            CLASS_NAMES[c]: v for c, v in CLASS_COLOURS.items()
        }
        self.tiles_per_worker: Counter[str] = Counter()
        self.stats = FanoutStats()
        self.client = PathoSamClient(pool_target(addresses), token, tls_ca=tls_ca, options=pool_options())

    @staticmethod
    def _preflight(
        addresses: Sequence[str], model: str, token: Optional[str], tls_ca: Optional[bytes]
    ) -> tuple[list[Any], int, str]:
        """Ask each server (one by one) for its model and limits: wrong tokens and models fail before any tile.

        Returns:
            (model info of each server that answered, how many tiles the pool takes at once, the first
            answering server's version).
        """
        infos, down, window, versions = [], [], 0, []
        for address in addresses:
            with PathoSamClient(address, token, tls_ca=tls_ca) as one:
                try:
                    info = one.info()
                except ServerUnreachable as err:  # one box down must not stop a batch the others can do
                    log.warning("%s; continuing without it (the pool uses it if it comes up)", err)
                    down.append(str(err))
                    continue
                infos.append(one.model_info(model, info=info))
                versions.append(info.server_version)
                limits = info.limits
                window += max(1, min(limits.max_work_per_client or 2, limits.max_concurrent_streams or 2))
        if not infos:
            raise RunnerError("; ".join(down))
        for address, m in zip(addresses[1:], infos[1:]):
            if (m.name, m.source) != (infos[0].name, infos[0].source):
                log.warning(
                    "%s serves %s from %s, %s serves it from %s: results may differ between tiles",
                    addresses[0], infos[0].name, infos[0].source, address, m.source,
                )  # fmt: skip
        return infos, window, versions[0]

    @property
    def tiles_skipped(self) -> int:
        """Tiles the engine did not encode because they held no tissue, over all runs so far."""
        return self.stats.skipped

    def run(
        self, source: PixelSource, rects: Sequence[Rect], downsample: float, on_tile: TileCallback
    ) -> list[list[NucleusRecord]]:
        """Segment every region's tiles on the pool; one nucleus list per region."""
        plans = plan_regions(rects, downsample, self.tile_size, self.halo, source.width, source.height)
        size = (source.width, source.height)

        def submit(index: int, tile: PlannedTile, pixels: np.ndarray) -> _Pending:
            call = self.client.tile_call(pixels, tile, index, downsample, size, self.model, self.params, self.timeout)
            return _Pending(call, self.description)

        return run_in_order(source, plans, downsample, submit, self.window, on_tile, self.tiles_per_worker, self.stats)

    def provenance(self) -> dict[str, Any]:
        """The servers' model files and hashes and precision (from GetInfo), their version and the parameters."""
        return {**self._origin, "params": self.params.as_dict()}

    def close(self) -> None:
        """Close the channel."""
        self.client.close()
