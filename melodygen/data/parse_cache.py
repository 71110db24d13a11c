"""The parse cache on disk: one ``.npz`` per (folder, file list, extraction parameters), written
atomically, built by one process at a time, and pruned to the newest few of each folder."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from melodygen.data.midi_rules import ExtractionParams
from melodygen.errors import MelodygenError
from melodygen.runtime.atomic import write_atomic

log = logging.getLogger(__name__)

#: Bump when the cached arrays change meaning; older caches are then rebuilt.
FORMAT_VERSION = 5
MIDI_SUFFIXES = {".mid", ".midi", ".smf", ".kar"}
#: Caches kept per folder: the newest, and a few older file lists or settings to switch back to.
KEEP_PER_FOLDER = 3
#: How long a process waits for another to finish parsing the same folder before it gives up.
LOCK_TIMEOUT_S = 3600.0


def list_midi_files(midi_dir: Path) -> list[str]:
    """MIDI files under ``midi_dir`` (recursive), as sorted POSIX paths relative to it."""
    return sorted(
        p.relative_to(midi_dir).as_posix()
        for p in midi_dir.rglob("*")
        # a link that leads nowhere is listed too, so the report names it instead of leaving it out
        if p.suffix.lower() in MIDI_SUFFIXES and (p.is_file() or (p.is_symlink() and not p.exists()))
    )


def cache_key(midi_dir: Path, files: list[str], params: ExtractionParams) -> str:
    """Hash of every file's path, size and mtime, and of the extraction parameters."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT_VERSION, "params": asdict(params)}, sort_keys=True).encode())
    for rel in files:
        try:
            st = os.stat(midi_dir / rel)
        except OSError:  # a broken link: its own entry
            st = os.lstat(midi_dir / rel)
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def folder_prefix(midi_dir: Path) -> str:
    """What every cache file of ``midi_dir`` is named with: its name and a hash of its full path."""
    where = hashlib.sha256(str(midi_dir).encode()).hexdigest()[:8]
    return f"{midi_dir.name or 'root'}-{where}-"


def cache_path(cache_dir: Path, midi_dir: Path, key: str) -> Path:
    return cache_dir / f"{folder_prefix(midi_dir)}{key[:16]}.npz"


@contextlib.contextmanager
def building(path: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold ``<cache file>.lock`` while the cache file is looked up and, if missing, built: parallel jobs
    wanting the same cache wait for the one building it, then load it. The lock is the kernel's (flock),
    so a killed builder frees it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("another process is parsing this folder into %s: waiting for it", path.name)
        started = time.monotonic()
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise MelodygenError(
                f"{path}: another process has been building this cache for {timeout:g} s; if none is, "
                f"delete {path}.lock"
            ) from None
        log.info("waited %.1f s for %s", time.monotonic() - started, path.name)
    try:
        yield
    finally:
        lock.release()


def prune_caches(path: Path, keep: int = KEEP_PER_FOLDER) -> list[Path]:
    """Delete all but the newest ``keep`` cache files of ``path``'s folder (``path`` itself is kept)."""
    prefix = path.name[: -len(path.name.rsplit("-", 1)[-1])]
    others = [p for p in path.parent.glob(f"{prefix}*.npz") if p != path]
    others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    removed = []
    for old in others[keep - 1 :]:
        size = old.stat().st_size
        with contextlib.suppress(FileNotFoundError):  # a job beside this one pruned it first
            old.unlink()
            Path(str(old) + ".lock").unlink(missing_ok=True)
            removed.append(old)
            log.info("removed the old melody cache %s (%.1f MB)", old.name, size / 1e6)
    return removed


def write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically, so readers never see half a file."""
    write_atomic(path, lambda handle: np.savez(handle, **arrays))


def read_cache(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """The cached arrays, or ``None`` (with a warning) when the file is missing, stale or corrupt."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        if int(arrays["format"]) != FORMAT_VERSION or str(arrays["key"]) != key:
            warnings.warn(f"stale melody cache {path}; rebuilding", stacklevel=2)
            return None
        return arrays
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(f"corrupt melody cache {path} ({type(exc).__name__}); rebuilding", stacklevel=2)
        return None
