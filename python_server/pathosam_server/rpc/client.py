"""The Python client of a PathoSAM server: what batches, notebooks and scripts use to call it.

Thin on purpose: one channel, the bearer token, message limits, and the conversions in ``wire``.
Errors from ``info``/``model_info`` arrive as ``RunnerError`` with a message that says what to do;
``segment_tile`` lets ``grpc.RpcError`` through so that callers can decide what to retry.
"""

from __future__ import annotations

from typing import Any, Optional

import grpc
import numpy as np

from ..errors import RunnerError
from ..geometry.tiling import PlannedTile
from ..grpc_api import pathosam_pb2 as pb
from ..grpc_api import pathosam_pb2_grpc as pb_grpc
from ..records import NucleusRecord, Params
from . import params_wire, wire
from .wire import SERVER_ID_KEY

UNREACHABLE_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class ServerUnreachable(RunnerError):
    """A server that does not answer (as opposed to one that refuses)."""


def explain(address: str, err: grpc.RpcError) -> str:
    """One sentence for a failed call: what happened and what to do.

    Args:
        address: The server's address.
        err: The gRPC error.

    Returns:
        The message.
    """
    code = err.code()
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return f"server {address} refused the token: pass the server's --token (or set PATHOSAM_TOKEN)"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"server {address} is unreachable ({err.details()}); is `pathosam serve` running there?"
    return f"server {address}: {code.name}: {err.details()}"


def compatibility(client_version: str, server_version: str) -> tuple[bool, str]:
    """Whether a client and a server of these versions work together, and the sentence that says so.

    The wire contract (proto/pathosam/v1) only grows compatibly within a minor version line; a client and
    a server of the same major.minor always agree, others may miss fields. Both QuPath's status
    indicator and ``pathosam doctor`` use this rule.

    Args:
        client_version: This client's version (``pathosam_server.__version__``).
        server_version: The server's GetInfo ``server_version``.

    Returns:
        (compatible, verdict).
    """

    def major_minor(v: str) -> tuple[int, ...]:
        parts = v.split("-")[0].split(".")
        return tuple(int(p) for p in parts[:2] if p.isdigit())

    if not server_version:
        return False, "the server did not say its version (older than 0.1?): update it"
    if major_minor(client_version) == major_minor(server_version):
        return True, f"compatible (client {client_version}, server {server_version})"
    return False, (
        f"client {client_version} and server {server_version} differ in their minor version: update the older one "
        "so both run the same 0.x line"
    )


class PathoSamClient:
    """A channel to one PathoSAM server.

    Args:
        address: ``HOST:PORT``.
        token: Bearer token, if the server requires one.
        max_message_bytes: Largest message either way.
        tls_ca: PEM certificate(s) to trust for a TLS server (e.g. its self-signed certificate); None with
            ``tls`` uses the system's roots.
        tls: Connect with TLS (implied by ``tls_ca``).
        options: Channel options instead of the message limits alone (e.g. a pool's service config).
    """

    def __init__(
        self,
        address: str,
        token: Optional[str] = None,
        max_message_bytes: int = 256 << 20,
        tls_ca: Optional[bytes] = None,
        tls: bool = False,
        options: Optional[list[tuple[str, Any]]] = None,
    ) -> None:
        self.address = address
        if options is None:
            options = [
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
            ]
        if tls or tls_ca is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=tls_ca)
            self.channel = grpc.secure_channel(address, credentials, options=options)
        else:
            self.channel = grpc.insecure_channel(address, options=options)
        self.stub = pb_grpc.PathoSamStub(self.channel)
        self.metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()

    def info(self, timeout: float = 60.0) -> pb.ServerInfo:
        """The server's GetInfo answer.

        Args:
            timeout: Seconds to wait.

        Returns:
            Server, model and limit metadata.

        Raises:
            ServerUnreachable: Nobody answered.
            RunnerError: The server refused (e.g. a wrong token).
        """
        try:
            return self.stub.GetInfo(pb.GetInfoRequest(), metadata=self.metadata, timeout=timeout)
        except grpc.RpcError as err:
            kind = ServerUnreachable if err.code() in UNREACHABLE_CODES else RunnerError
            raise kind(explain(self.address, err)) from err

    def model_info(self, model: str = "", timeout: float = 60.0, info: Optional[pb.ServerInfo] = None) -> pb.ModelInfo:
        """The server's description of one model.

        Args:
            model: Model name ("" = the server's default).
            timeout: Seconds to wait.
            info: A GetInfo answer already fetched (saves a call).

        Returns:
            The model's info (tile size, halo, classes, source).
        """
        info = info if info is not None else self.info(timeout)
        for m in info.models:
            if (model and m.name == model) or (not model and m.is_default):
                return m
        names = ", ".join(m.name for m in info.models)
        raise RunnerError(f"server {self.address} does not serve model '{model or '(default)'}'; it serves: {names}")

    def tile_call(
        self,
        pixels: np.ndarray,
        tile: PlannedTile,
        index: int,
        downsample: float,
        image_size: tuple[int, int],
        model: str,
        params: Params,
        timeout: Optional[float] = None,
    ) -> TileCall:
        """Start segmenting one planned tile without waiting (the arguments are ``segment_tile``'s).

        Returns:
            The call in flight.
        """
        return TileCall(self, _tile_request(pixels, tile, index, downsample, image_size, model, params), timeout)

    def segment_tile(
        self,
        pixels: np.ndarray,
        tile: PlannedTile,
        index: int,
        downsample: float,
        image_size: tuple[int, int],
        model: str,
        params: Params,
        timeout: Optional[float] = None,
    ) -> list[NucleusRecord]:
        """Segment one planned tile; the server returns the nuclei its core owns.

        Args:
            pixels: (H, W, 3) uint8 pixels of ``tile.rect`` at ``downsample``.
            tile: The tile (its core decides ownership).
            index: The tile's index, echoed by the server.
            downsample: Level-0 pixels per tile pixel.
            image_size: Level-0 (width, height) of the image.
            model: Model name ("" = default).
            params: Segmentation parameters, sent in full so results do not depend on server defaults.
            timeout: Seconds allowed for the call.

        Returns:
            The owned nuclei, level-0.

        Raises:
            grpc.RpcError: The call failed (callers decide whether to retry).
        """
        return self.tile_call(pixels, tile, index, downsample, image_size, model, params, timeout).result()[0]

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()

    def __enter__(self) -> PathoSamClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tile_request(
    pixels: np.ndarray,
    tile: PlannedTile,
    index: int,
    downsample: float,
    image_size: tuple[int, int],
    model: str,
    params: Params,
) -> pb.SegmentTileRequest:
    return pb.SegmentTileRequest(
        model=model,
        tile=pb.Tile(
            region=wire.rect_to_proto(tile.rect),
            core=wire.rect_to_proto(tile.core),
            index=index,
            image=wire.encode_raw(pixels),
        ),
        downsample=downsample,
        params=params_wire.params_to_proto(params),
        image_width=image_size[0],
        image_height=image_size[1],
    )


class TileCall:
    """A ``SegmentTile`` call in flight (a gRPC future) that can be sent again as it was.

    Args:
        client: The client (channel, token) it goes through.
        request: The request.
        timeout: Seconds allowed per sending, the channel's retries included.
    """

    def __init__(self, client: PathoSamClient, request: pb.SegmentTileRequest, timeout: Optional[float]) -> None:
        self.client, self.request, self.timeout = client, request, timeout
        self.skipped = False  # set by result(): the server found no tissue and did not encode the tile
        self.future = self._send()

    def _send(self) -> Any:
        return self.client.stub.SegmentTile.future(self.request, metadata=self.client.metadata, timeout=self.timeout)

    def resend(self) -> None:
        """Send the same request again (after the last sending failed)."""
        self.future = self._send()

    def result(self) -> tuple[list[NucleusRecord], str]:
        """Wait for the answer.

        Returns:
            (the owned nuclei in level-0, the answering server's id from its ``pathosam-server`` trailing
            metadata, or the client's address when it sent none).

        Raises:
            grpc.RpcError: The call failed.
        """
        resp = self.future.result()
        self.skipped = resp.summary.tiles_skipped > 0
        server = dict(self.future.trailing_metadata() or ()).get(SERVER_ID_KEY, self.client.address)
        return [wire.nucleus_from_proto(n) for n in resp.nuclei], str(server)

    def cancel(self) -> None:
        """Stop waiting; the server sees the call cancelled."""
        self.future.cancel()
