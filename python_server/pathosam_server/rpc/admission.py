"""What keeps one server answering under any load: bounded open calls, bounded work per client, and
refusal logs that cannot flood the disk.

The gRPC server runs every call on a thread of a fixed pool. Health and GetInfo stay answerable
because segmentation and prompt calls may hold at most ``max_open_calls`` threads (a call over that is
refused at once), and the pool is larger by a reserve (``server.create_server``). A call holds a
*work slot* only while its tile or prompt waits for or runs on the model, never while a stream merely
stays open, so idle streams cannot block other users (a region stream keeps up to
``TileScheduler.stream_depth`` tiles in flight, each with its own slot: one on the model, the next
queued behind it); one client (peer host) holds at most
``max_per_client`` work slots, so a single client cannot queue out the rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc

from ..errors import Cancelled
from .wire import RequestError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one server accepts.

    Attributes:
        max_tile_size: Largest tile edge in pixels.
        max_message_bytes: Largest gRPC message in either direction.
        max_concurrent_streams: Tiles and prompts queued or running at once (all clients); the proto's name.
        max_region_pixels: Largest SegmentTile image (pixels).
        max_prompts_per_object: Largest number of points in one prompt object.
        max_objects_per_prompt: Largest number of objects in one Prompt call.
        cache_bytes: Memory budget of the embedding cache.
        max_open_calls: Segmentation and prompt calls open at once (streams included).
        max_work_per_client: Tiles or prompts one client (peer host) may have queued or running.
        stream_idle_timeout: Seconds a SegmentRegion stream may stay silent before it is ended.
        max_prompt_window: Largest prompt window edge in pixels (at its downsample).
        max_prompt_mask_pixels: Largest total of previous-outline pixels one Prompt may ask to rasterise.
    """

    max_tile_size: int = 2048
    max_message_bytes: int = 64 * 1024 * 1024
    max_concurrent_streams: int = 8
    max_region_pixels: int = 2048 * 2048
    max_prompts_per_object: int = 64
    max_objects_per_prompt: int = 64
    cache_bytes: int = 1 << 30
    max_open_calls: int = 16
    max_work_per_client: int = 4
    stream_idle_timeout: float = 120.0
    max_prompt_window: int = 2048
    max_prompt_mask_pixels: int = 32 * 1024 * 1024


def client_of(peer: str) -> str:
    """The client a gRPC peer string belongs to: its host, without the port.

    Args:
        peer: ``ipv4:1.2.3.4:5678``, ``ipv6:[::1]:5678`` or ``unix:...``.

    Returns:
        The host part (the whole string when it has no port).
    """
    kind, _, rest = peer.partition(":")
    if kind in ("ipv4", "ipv6") and ":" in rest:
        return rest.rsplit(":", 1)[0]
    return peer


class Admission:
    """Open-call and work-slot counters shared by all RPCs of one server (thread-safe).

    Args:
        max_open_calls: Segmentation/prompt calls open at once.
        max_work: Tiles and prompts queued or running at once, all clients together.
        max_per_client: Of those, at most this many for one client.
    """

    def __init__(self, max_open_calls: int, max_work: int, max_per_client: int) -> None:
        if min(max_open_calls, max_work, max_per_client) < 1:
            raise ValueError("admission limits must be at least 1")
        self.max_open_calls = max_open_calls
        self.max_work = max_work
        self.max_per_client = max_per_client
        self._cond = threading.Condition()
        self._open = 0
        self._work = 0
        self._per_client: Counter[str] = Counter()

    @contextmanager
    def call(self) -> Iterator[None]:
        """Hold one open-call slot for the body, or refuse at once with RESOURCE_EXHAUSTED."""
        with self._cond:
            if self._open >= self.max_open_calls:
                raise RequestError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"server busy: {self.max_open_calls} segmentation or prompt calls already open (the limit); "
                    "retry later",
                )
            self._open += 1
        try:
            yield
        finally:
            with self._cond:
                self._open -= 1

    @contextmanager
    def work(self, client: str, alive: Callable[[], bool], wait: bool) -> Iterator[None]:
        """Hold one work slot for the body.

        Args:
            client: Who asks (``client_of(context.peer())``).
            alive: Whether the caller still waits; a waiting call gives up as soon as it does not.
            wait: Wait for a free slot (streams: the next tile of a region) rather than refuse at once
                (unary calls, which clients retry).

        Raises:
            RequestError: RESOURCE_EXHAUSTED when no slot is free and ``wait`` is False.
            Cancelled: The caller went away while waiting.
        """
        with self._cond:
            while not self._free(client):
                if not wait:
                    raise RequestError(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"server busy: {self._busy_reason(client)}; retry later",
                    )
                if not alive():
                    raise Cancelled("the caller went away while its tile waited for the model")
                self._cond.wait(timeout=0.25)
            self._work += 1
            self._per_client[client] += 1
        try:
            yield
        finally:
            with self._cond:
                self._work -= 1
                self._per_client[client] -= 1
                if not self._per_client[client]:
                    del self._per_client[client]
                self._cond.notify_all()

    def _free(self, client: str) -> bool:
        return self._work < self.max_work and self._per_client[client] < self.max_per_client

    def _busy_reason(self, client: str) -> str:
        if self._per_client[client] >= self.max_per_client:
            return f"this client already has {self.max_per_client} tiles or prompts in progress (the per-client limit)"
        return f"{self.max_work} tiles or prompts already in progress (the limit)"

    def snapshot(self) -> dict[str, int]:
        """Current counts (for logs and tests)."""
        with self._cond:
            return {"open_calls": self._open, "work": self._work, "clients": len(self._per_client)}


class RefusalLog:
    """Logs refused requests without flooding: the first ``burst`` per ``window`` seconds each get a
    line, the rest are counted and summed up in one line when the window closes.

    Args:
        logger: Where to log.
        burst: Lines per window.
        window: Window length in seconds.
    """

    def __init__(self, logger: logging.Logger, burst: int = 20, window: float = 60.0) -> None:
        self._log = logger
        self.burst = burst
        self.window = window
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._logged = 0
        self._suppressed: Counter[str] = Counter()

    def refused(self, code: grpc.StatusCode, message: str, peer: str) -> None:
        """Record one refusal (logged or counted)."""
        with self._lock:
            now = time.monotonic()
            if now - self._start >= self.window:
                if self._suppressed:
                    counts = ", ".join(f"{n} {c}" for c, n in sorted(self._suppressed.items()))
                    self._log.info(
                        "refused %s more requests in the last %.0f s (not logged one by one)", counts, now - self._start
                    )
                self._start, self._logged = now, 0
                self._suppressed.clear()
            if self._logged < self.burst:
                self._logged += 1
                self._log.info("refused request from %s: %s: %s", peer, code.name, message)
            else:
                self._suppressed[code.name] += 1
