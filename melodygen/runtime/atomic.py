"""Atomic file writes: readers see the old file or the new one, never half of one.

Every writer of a result (checkpoints, the folk manifest, the parse cache, reports, ``metrics.json``)
goes through :func:`write_atomic`: the data goes to a temporary file in the same folder, is flushed to
disk, and is then renamed over the target with :func:`os.replace`. A full disk (or quota, or file-size
limit) is one clear error, and the previous file stays.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from melodygen.errors import MelodygenError

#: write failures that mean "no room": a full disk, a quota, a file-size limit
NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(handle)`` on a temporary binary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it owner-only; give it a normal file's mode
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in NO_ROOM:
            kept = "the previous one is kept" if path.exists() else "nothing was written"
            raise MelodygenError(
                f"cannot write {path}: {os.strerror(exc.errno)} ({_free(path.parent)}); {kept}"
            ) from None
        raise
    return path


def _free(folder: Path) -> str:
    try:
        return f"{os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize / 1e6:,.0f} MB free there"
    except OSError:
        return "free space unknown"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    return write_atomic(path, lambda handle: handle.write(data))


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
