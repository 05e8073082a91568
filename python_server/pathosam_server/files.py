"""The one way this project writes a file: atomically (temp file + rename), durably, with the user's umask.

A kill at any moment leaves either the old file or the new one, never half of one, and no temporary
file behind when writing fails (``batch.journal.recover`` also removes strays left by a kill).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Union

TMP_SUFFIX = ".pathosam-tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once: os.umask can only be read by setting it, which would race with other threads later.
_FILE_MODE = 0o666 & ~_umask()


def fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable (a no-op where directories cannot be opened, e.g. Windows).

    Args:
        folder: The directory.
    """
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Union[str, os.PathLike], data: Union[bytes, str], fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` all at once.

    Args:
        path: The file to write (its folder must exist).
        data: Bytes, or text (written as UTF-8).
        fsync: Flush the data (and the rename) to disk before returning.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600; outputs follow the umask like any other file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if fsync:
        fsync_dir(folder)
