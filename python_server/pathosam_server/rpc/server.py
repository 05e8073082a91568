"""Create and run the gRPC server: health, reflection, limits, auth, graceful shutdown."""

from __future__ import annotations

import faulthandler
import hmac
import logging
import signal
import socket
import threading
from collections.abc import Callable
from concurrent import futures
from typing import Optional

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ..grpc_api import pathosam_pb2 as pb
from ..grpc_api import pathosam_pb2_grpc as pb_grpc
from ..inference.models import ModelManager
from ..records import Params
from .admission import Limits
from .service import PathoSamServicer

log = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PathoSam"].full_name


# Threads beyond the open-call limit, so that health checks, GetInfo and reflection always find one.
RESERVED_THREADS = 8


class _TokenInterceptor(grpc.ServerInterceptor):
    """Requires ``authorization: Bearer TOKEN`` on PathoSam calls (health and reflection stay open)."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

        def deny(request: object, context: grpc.ServicerContext) -> None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token (authorization header)")

        self._deny = deny

    def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails):
        if not details.method.startswith(f"/{SERVICE_NAME}/"):
            return continuation(details)
        meta = dict(details.invocation_metadata or ())
        given = str(meta.get("authorization", "")).encode()
        if hmac.compare_digest(given, self._expected):
            return continuation(details)
        handler = continuation(details)
        if handler is None:
            return None
        # No request deserializer: a refused body stays raw bytes, so a caller without the token learns about
        # the token, not about its message (decoding a malformed body would answer INTERNAL first).
        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(lambda it, ctx: self._deny(it, ctx))
        return grpc.unary_unary_rpc_method_handler(self._deny, response_serializer=handler.response_serializer)


def create_server(
    models: ModelManager,
    host: str = "127.0.0.1",
    port: int = 50051,
    limits: Limits = Limits(),
    defaults: Params = Params(),
    workers: int = 16,
    token: Optional[str] = None,
    tls: Optional[tuple[bytes, bytes]] = None,
) -> tuple[grpc.Server, int, health.HealthServicer]:
    """Build a server with the PathoSam service, standard health checking and reflection.

    Args:
        models: Models to serve.
        host: Interface to bind (127.0.0.1 by default: expose on purpose, not by accident).
        port: TCP port; 0 picks a free one.
        limits: Request limits.
        defaults: Default segmentation parameters.
        workers: gRPC worker threads; at least ``limits.max_open_calls + RESERVED_THREADS`` are used, so that
            health and GetInfo answer whatever the segmentation calls do.
        token: Optional bearer token clients must send.
        tls: Optional (private key PEM, certificate chain PEM) to serve TLS instead of plaintext.

    Returns:
        (server, bound port, health servicer). The server is not started.
    """
    interceptors = [_TokenInterceptor(token)] if token else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max(workers, limits.max_open_calls + RESERVED_THREADS)),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", limits.max_message_bytes),
            ("grpc.max_send_message_length", limits.max_message_bytes),
        ],
    )
    servicer = PathoSamServicer(models, limits, defaults)
    pb_grpc.add_PathoSamServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
    )
    address = f"{host}:{port}"
    if tls is not None:
        bound = server.add_secure_port(address, grpc.ssl_server_credentials([tls]))
    else:
        bound = server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port} (port in use or no permission)")
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "[::]", "") else host
    servicer.server_id = f"{shown}:{bound}"
    return server, bound, health_servicer


def serve_forever(server: grpc.Server, health_servicer: health.HealthServicer, grace: float = 10.0) -> None:
    """Start the server and block until SIGINT/SIGTERM, then drain for ``grace`` seconds.

    SIGUSR1 writes every thread's stack to stderr (the server keeps running): how to see where a server
    that does not answer, or does not stop, is waiting.
    """
    stop = threading.Event()
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %s: shutting down (grace %.0f s)", signum, grace)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server.start()
    stop.wait()
    health_servicer.enter_graceful_shutdown()
    server.stop(grace).wait()
    log.info("stopped")
