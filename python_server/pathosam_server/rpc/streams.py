"""Reading and answering a SegmentRegion stream: a reader that times out silent clients, and one tile's answers."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import grpc

from ..grpc_api import pathosam_pb2 as pb
from ..inference.pipeline import TileResult
from . import wire
from .wire import RequestError

# How long a stream with tiles in flight listens for the client before it looks at those tiles again.
POLL_S = 0.05


def tile_answers(index: int, result: TileResult, tiles_done: int, first_id: int) -> Iterator[pb.SegmentRegionResponse]:
    """One tile's answers on a region stream: its nuclei (numbered from ``first_id``), then its progress."""
    if result.nuclei:
        batch = pb.NucleusBatch(tile_index=index)
        for i, n in enumerate(result.nuclei):
            batch.nuclei.append(wire.nucleus_to_proto(n, first_id + i))
        yield pb.SegmentRegionResponse(nuclei=batch)
    yield pb.SegmentRegionResponse(
        progress=pb.TileDone(
            index=index,
            nuclei=len(result.nuclei),
            tiles_done=tiles_done,
            seconds=result.encoder_seconds + result.decoder_seconds + result.postprocess_seconds,
            skipped=result.skipped,
        )
    )


class IdleTimeoutReader:
    """Reads a request stream on its own thread so that a silent client can be timed out.

    gRPC's request iterator blocks until the client sends; a stream that opened and then sent nothing
    would otherwise hold its call slot forever.

    Args:
        requests: The request iterator.
        idle_timeout: Seconds to wait for each message.
    """

    _END = object()
    NOTHING = object()  # ``next(timeout)`` heard nothing within its short timeout

    def __init__(self, requests: Iterator[Any], idle_timeout: float) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=2)  # a little read-ahead, no more
        self._timeout = idle_timeout
        self._thread = threading.Thread(target=self._pump, args=(requests,), daemon=True)
        self._thread.start()

    def _pump(self, requests: Iterator[Any]) -> None:
        try:
            for req in requests:
                self._queue.put(req)
        except Exception as err:  # the call ended (cancelled, or aborted by the servicer)
            self._queue.put(err)
            return
        self._queue.put(self._END)

    def next(self, timeout: float | None = None) -> Any:
        """The next message, None at the end of the stream.

        Args:
            timeout: Give up after this many seconds and return ``NOTHING`` (None: wait up to the idle
                timeout, then end the stream with DEADLINE_EXCEEDED).
        """
        try:
            item = self._queue.get(timeout=self._timeout if timeout is None else timeout)
        except queue.Empty:
            if timeout is not None:
                return self.NOTHING
            raise RequestError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"no message for {self._timeout:g} s: the stream was closed to free its slot (send tiles, then "
                "RegionEnd)",
            ) from None
        if item is self._END:
            return None
        if isinstance(item, Exception):
            raise RequestError(grpc.StatusCode.CANCELLED, f"the request stream broke off: {item}")
        return item
