"""The Python client of a PathoSAM server: what batches, notebooks and scripts use to call it.

Thin on purpose: one channel, the bearer token, message limits, and the conversions in ``wire``.
Errors from ``info``/``model_info`` arrive as ``RunnerError`` with a message that says what to do;
``segment_tile`` lets ``grpc.RpcError`` through so that callers can decide what to retry.
"""

from __future__ import annotations

from typing import Optional

import grpc
import numpy as np

from ..errors import RunnerError
from ..geometry.tiling import PlannedTile
from ..grpc_api import pathosam_pb2 as pb
from ..grpc_api import pathosam_pb2_grpc as pb_grpc
from ..records import NucleusRecord, Params
from . import wire

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
    """

    def __init__(
        self,
        address: str,
        token: Optional[str] = None,
        max_message_bytes: int = 256 << 20,
        tls_ca: Optional[bytes] = None,
        tls: bool = False,
    ) -> None:
        self.address = address
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

    def model_info(self, model: str = "", timeout: float = 60.0) -> pb.ModelInfo:
        """The server's description of one model.

        Args:
            model: Model name ("" = the server's default).
            timeout: Seconds to wait.

        Returns:
            The model's info (tile size, halo, classes, source).
        """
        info = self.info(timeout)
        for m in info.models:
            if (model and m.name == model) or (not model and m.is_default):
                return m
        names = ", ".join(m.name for m in info.models)
        raise RunnerError(f"server {self.address} does not serve model '{model or '(default)'}'; it serves: {names}")

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
        req = pb.SegmentTileRequest(
            model=model,
            tile=pb.Tile(
                region=wire.rect_to_proto(tile.rect),
                core=wire.rect_to_proto(tile.core),
                index=index,
                image=wire.encode_raw(pixels),
            ),
            downsample=downsample,
            params=wire.params_to_proto(params),
            image_width=image_size[0],
            image_height=image_size[1],
        )
        resp = self.stub.SegmentTile(req, metadata=self.metadata, timeout=timeout)
        return [wire.nucleus_from_proto(n) for n in resp.nuclei]

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()

    def __enter__(self) -> PathoSamClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
