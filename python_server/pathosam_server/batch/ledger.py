"""The batch ledger: which images are finished with which settings, so a killed run resumes.

A JSON-lines file, one record per finished image (its settings hash and the outputs written), appended
and fsync'ed only after the image's results are safely on disk. A kill while appending leaves at most a
torn last line, which readers skip (and the next append starts on a fresh line), so the ledger never
claims unfinished work.
An exclusive lock on the ledger keeps two batches from working on the same output at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

from ..errors import LedgerBusyError

LEDGER_NAME = "pathosam-batch.ledger"
LEDGER_VERSION = 1


def settings_hash(settings: dict[str, Any]) -> str:
    """A short stable digest of everything that changes a batch's results.

    Args:
        settings: JSON-serialisable settings (model identity, tiles, resolution, parameters, regions).

    Returns:
        16 hex digits.
    """
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Ledger:
    """Finished images, keyed by (image key, settings hash).

    Args:
        path: The ledger file (created when missing).
        lock: Take an exclusive lock (refuse a second batch on the same ledger).
    """

    def __init__(self, path: Path, lock: bool = True) -> None:
        self.path = path
        self._done: dict[tuple[str, str], dict] = {}
        self._last: dict[str, tuple[str, str]] = {}
        self._lock_fd: Optional[int] = None
        if lock:
            self._lock()
        self._load()

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here; running two batches at once is on the user
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            raise LedgerBusyError(f"another batch is running on this output (lock {self.path}.lock held)") from err
        self._lock_fd = fd  # the lock dies with the process, so a kill -9 never leaves it stale

    def _load(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line torn by a kill while appending: that image was not recorded
                if isinstance(rec, dict) and rec.get("status") == "done" and "image" in rec and "settings" in rec:
                    self._remember(rec)

    def _remember(self, rec: dict) -> None:
        """Keep the latest record per (image, settings), with the union of the outputs ever written."""
        key = (rec["image"], rec["settings"])
        before = self._done.get(key, {}).get("outputs", [])
        self._done[key] = {**rec, "outputs": sorted(set(before) | set(rec.get("outputs", [])))}
        self._last.pop(rec["image"], None)  # re-inserted: the dict's order is the order images last finished
        self._last[rec["image"]] = key

    def latest(self) -> dict[str, dict]:
        """The last record of every image, whatever its settings, in the order the images last finished.

        Returns:
            Image key -> record.
        """
        return {image: self._done[key] for image, key in self._last.items()}

    def outputs(self, image_key: str, settings: str) -> set[str]:
        """The outputs (``project``, ``geojson:DIR``) written for the image with these settings."""
        return set(self._done.get((image_key, settings), {}).get("outputs", []))

    def get(self, image_key: str, settings: str) -> Optional[dict]:
        """The record of a finished image, or None."""
        return self._done.get((image_key, settings))

    def record(self, image_key: str, settings: str, outputs: Iterable[str], **info: Any) -> None:
        """Append a finished image (durably: flushed and fsync'ed before returning).

        Args:
            image_key: The image's stable key.
            settings: The settings hash.
            outputs: What was written (``project``, ``geojson:DIR``).
            info: Extra fields (name, nuclei, per_class, seconds, ...).
        """
        rec = {
            "v": LEDGER_VERSION,
            "image": image_key,
            "settings": settings,
            "status": "done",
            "outputs": sorted(outputs),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **info,
        }
        line = json.dumps(rec, sort_keys=True, default=str) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line  # close a torn line left by an earlier kill
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        self._remember(rec)

    def close(self) -> None:
        """Release the lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
