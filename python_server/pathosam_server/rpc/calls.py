"""One error mapping and one log line for every RPC.

``unary`` and ``stream`` wrap the servicer's methods: a refused request answers with its status code
and a message that says what was wrong, never a traceback; an unexpected error answers INTERNAL with
the request id to look for in the server log (where the traceback goes); each call ends with one log
line (method, peer, request id, tiles, seconds, outcome), refusals rate-limited by ``RefusalLog``.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc

from ..errors import Cancelled, InvalidInput, ModelError, UnknownModelError
from .admission import RefusalLog
from .wire import RequestError

log = logging.getLogger("pathosam_server.rpc.calls")

T = TypeVar("T")


@dataclass
class CallInfo:
    """What the log line of one call says.

    Attributes:
        method: RPC name.
        peer: The client's address.
        request_id: The client's id (RegionStart.request_id or ``x-request-id`` metadata), else a new one.
        tiles: Tiles served.
        started: perf_counter at the start.
    """

    method: str
    peer: str
    request_id: str
    tiles: int = 0
    started: float = field(default_factory=time.perf_counter)


def _call_info(method: str, context: grpc.ServicerContext) -> CallInfo:
    meta = dict(context.invocation_metadata() or ())
    request_id = str(meta.get("x-request-id", "")) or uuid.uuid4().hex[:12]
    return CallInfo(method, context.peer(), request_id)


def _status(err: BaseException, context: grpc.ServicerContext) -> tuple[grpc.StatusCode, str] | None:
    """The status and message a known error answers with (None: not a known error)."""
    if isinstance(err, RequestError):
        return err.code, err.message
    if isinstance(err, UnknownModelError):
        return grpc.StatusCode.NOT_FOUND, str(err)
    if isinstance(err, ModelError):
        return grpc.StatusCode.FAILED_PRECONDITION, str(err)
    if isinstance(err, InvalidInput):
        return grpc.StatusCode.INVALID_ARGUMENT, str(err)
    if isinstance(err, Cancelled):
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            return grpc.StatusCode.DEADLINE_EXCEEDED, "the call's deadline passed; the work was stopped"
        return grpc.StatusCode.CANCELLED, str(err)
    return None


def _fail(refusals: RefusalLog, err: BaseException, call: CallInfo, context: grpc.ServicerContext) -> None:
    known = _status(err, context)
    if known is None:
        log.exception("%s from %s (request %s) failed", call.method, call.peer, call.request_id)
        code, message = (
            grpc.StatusCode.INTERNAL,
            (f"internal error in {call.method} (request {call.request_id}); the server log has the details"),
        )
        _done(call, code.name)
    else:
        code, message = known
        refusals.refused(code, message, call.peer)
    context.abort(code, message)


def _done(call: CallInfo, outcome: str) -> None:
    log.info(
        "%s peer=%s request=%s tiles=%d seconds=%.2f outcome=%s",
        call.method,
        call.peer,
        call.request_id,
        call.tiles,
        time.perf_counter() - call.started,
        outcome,
    )


def unary(method: Callable[[Any, Any, grpc.ServicerContext, CallInfo], T]) -> Callable[..., T]:
    """Decorate a unary servicer method ``(self, request, context, call)``; the servicer has ``refusals``."""

    @functools.wraps(method)
    def wrapper(servicer: Any, request: Any, context: grpc.ServicerContext) -> T:
        call = _call_info(method.__name__, context)
        try:
            result = method(servicer, request, context, call)
        except Exception as err:  # every error ends as a status, never as a traceback to the client
            _fail(servicer.refusals, err, call, context)
            raise  # not reached: abort raises
        _done(call, "OK")
        return result

    return wrapper


def stream(method: Callable[[Any, Any, grpc.ServicerContext, CallInfo], Iterator[T]]) -> Callable[..., Iterator[T]]:
    """Decorate a response-streaming servicer method ``(self, requests, context, call)``."""

    @functools.wraps(method)
    def wrapper(servicer: Any, requests: Any, context: grpc.ServicerContext) -> Iterator[T]:
        call = _call_info(method.__name__, context)
        try:
            yield from method(servicer, requests, context, call)
        except Exception as err:
            _fail(servicer.refusals, err, call, context)
            raise
        _done(call, "OK")

    return wrapper
