"""All-or-nothing rewrites of files that another program (QuPath) writes non-atomically.

QuPath saves an image's ``data.qpdata`` by renaming the old file to ``data.qpdata.bkp`` and then
writing the new file in place (not temp-file + rename), writes ``summary.json`` and the project's
``classifiers/classes.json`` in place, and only *reads* the ``.bkp`` when ``data.qpdata`` fails to
parse. A kill mid-write therefore leaves a torn file; a second save after that renames the torn file
over the good ``.bkp``, and a second kill loses the data for good.

``guarded`` closes that gap with a small journal: (1) snapshot each file (``NAME.pathosam-bak``,
complete or absent); (2) write the journal atomically — from now on a kill rolls back; (3) let the
writer run; (4) delete the journal — the commit point; (5) delete the snapshots. ``recover`` (run
before anything reads the files) restores every file a journal lists and is idempotent, so a kill
during recovery is safe too.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ..files import TMP_SUFFIX, atomic_write, fsync_dir

log = logging.getLogger(__name__)

JOURNAL_NAME = "pathosam-journal.json"
BAK = ".pathosam-bak"
TMP = TMP_SUFFIX


def _snapshot(path: Path, mode: str) -> None:
    """Copy ``path`` to ``path + BAK`` so that the snapshot is either complete or absent.

    ``link`` makes a hard link (no copying): valid only for files the writer replaces by a new file
    rather than truncating in place — QuPath renames ``data.qpdata`` away before writing (checked in
    QuPath 0.2.3 to 0.7.0, ``DefaultProjectImageEntry.saveImageData``). ``copy`` is for the rest.
    """
    bak = path.with_name(path.name + BAK)
    bak.unlink(missing_ok=True)
    if mode == "link":
        try:
            os.link(path, bak)  # creating a link is atomic: the snapshot is complete or absent
            return
        except OSError:
            pass  # file systems without hard links: copy instead
    tmp = path.with_name(path.name + TMP)
    shutil.copyfile(path, tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, bak)


def recover(folder: Path) -> bool:
    """Roll back an interrupted guarded write in ``folder``, and clear leftovers of finished ones.

    Args:
        folder: The folder holding the journal and the files.

    Returns:
        True when a journal was found and its files restored.
    """
    journal = folder / JOURNAL_NAME
    restored = False
    if journal.exists():
        try:
            entries = json.loads(journal.read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError):
            entries = {}  # the journal is written atomically; unreadable means it was never committed to
        for name, existed in entries.items():
            target = folder / name
            bak = folder / (name + BAK)
            if existed:
                if bak.exists():
                    os.replace(bak, target)
            else:
                target.unlink(missing_ok=True)
        fsync_dir(folder)
        journal.unlink()
        restored = bool(entries)
        if restored:
            log.warning("restored %s in %s after an interrupted save", ", ".join(entries), folder)
    for stray in list(folder.glob("*" + BAK)) + list(folder.glob("*" + TMP)):
        stray.unlink(missing_ok=True)  # snapshots of a committed (or never started) write
    return restored


@contextmanager
def guarded(folder: Path, files: Mapping[str, str]) -> Iterator[None]:
    """Run a block that rewrites ``files`` (names in ``folder``) so that it takes effect whole or not at all.

    Args:
        folder: Where the files (and the journal) live.
        files: File name -> snapshot mode ("link" or "copy"; see ``_snapshot``).

    Yields:
        Nothing; the caller's writer runs inside. An exception rolls the files back and propagates.
    """
    folder.mkdir(parents=True, exist_ok=True)
    recover(folder)
    existed = {}
    for name, mode in files.items():
        path = folder / name
        existed[name] = path.exists()
        if existed[name]:
            _snapshot(path, mode)
    fsync_dir(folder)
    atomic_write(folder / JOURNAL_NAME, json.dumps({"files": existed}))
    try:
        yield
    except BaseException:
        recover(folder)  # roll back now rather than on the next run
        raise
    for name in files:  # make the writer's output durable before committing
        path = folder / name
        if path.exists():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    (folder / JOURNAL_NAME).unlink()  # the commit point
    fsync_dir(folder)
    for name in files:
        (folder / (name + BAK)).unlink(missing_ok=True)
