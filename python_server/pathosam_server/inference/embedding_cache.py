"""Image embeddings cached by content digest + model, bounded by a memory budget (LRU, thread-safe)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np


def window_digest(rgb: np.ndarray) -> str:
    """Content digest of a window: hex sha256 over ``"{width}x{height}:"`` + its RGB8 bytes.

    The size prefix keeps two windows with equal bytes but different shapes apart. Clients compute
    the same digest to ask whether the server already holds a window's embedding.

    Args:
        rgb: (H, W, 3) uint8 pixels.

    Returns:
        64 hex characters.
    """
    h = hashlib.sha256(f"{rgb.shape[1]}x{rgb.shape[0]}:".encode())
    h.update(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())
    return h.hexdigest()


@dataclass
class CachedWindow:
    """What the server keeps for one window.

    Attributes:
        embeddings: micro-sam's embedding dict (features, input_size, original_size).
        shape: (H, W) of the window's pixels.
        class_probabilities: (6, H, W) float16 softmax, filled on first classifying prompt.
    """

    embeddings: dict
    shape: tuple[int, int]
    class_probabilities: Optional[np.ndarray] = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def nbytes(self) -> int:
        """Memory held by this entry."""
        feats = self.embeddings["features"]
        n = feats.numel() * feats.element_size() if hasattr(feats, "numel") else int(np.asarray(feats).nbytes)
        if self.class_probabilities is not None:
            n += self.class_probabilities.nbytes
        return n


class EmbeddingCache:
    """LRU cache of window embeddings keyed by (model, digest), within ``budget_bytes``.

    Args:
        budget_bytes: Memory budget; the least recently used entries go first.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[tuple[str, str], CachedWindow] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0
        self._bytes = 0

    def get(self, model: str, digest: str) -> Optional[CachedWindow]:
        """The cached window (counted as a hit) or None (a miss)."""
        with self._lock:
            entry = self._entries.get((model, digest))
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end((model, digest))
            self.hits += 1
            return entry

    def contains(self, model: str, digest: str) -> bool:
        """Whether a window is cached, without counting a hit or a miss or refreshing its age."""
        with self._lock:
            return (model, digest) in self._entries

    def put(self, model: str, digest: str, entry: CachedWindow) -> None:
        """Insert (or replace) an entry, evicting old ones to stay within budget."""
        with self._lock:
            old = self._entries.pop((model, digest), None)
            if old is not None:
                self._bytes -= old.nbytes()
            self._entries[(model, digest)] = entry
            self._bytes += entry.nbytes()
            self._evict()

    def grew(self, delta: int) -> None:
        """Account for an entry that gained ``delta`` bytes (class probabilities added)."""
        with self._lock:
            self._bytes += delta
            self._evict()

    def _evict(self) -> None:
        while self._bytes > self.budget_bytes and len(self._entries) > 1:
            _, victim = self._entries.popitem(last=False)
            self._bytes -= victim.nbytes()
            self.evictions += 1

    def stats(self) -> dict[str, Any]:
        """Counters for GetInfo."""
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "entries": len(self._entries),
                "bytes": self._bytes,
                "budget_bytes": self.budget_bytes,
                "evictions": self.evictions,
            }
