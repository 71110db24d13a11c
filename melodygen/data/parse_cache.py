"""The parse cache on disk: one ``.npz`` per (file list, extraction parameters), written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from melodygen.atomic import write_atomic
from melodygen.data.midi import ExtractionParams

#: Bump when the cached arrays change meaning; older caches are then rebuilt.
FORMAT_VERSION = 1
MIDI_SUFFIXES = {".mid", ".midi", ".smf", ".kar"}


def list_midi_files(midi_dir: Path) -> list[str]:
    """MIDI files under ``midi_dir`` (recursive), as sorted POSIX paths relative to it."""
    return sorted(
        p.relative_to(midi_dir).as_posix()
        for p in midi_dir.rglob("*")
        if p.suffix.lower() in MIDI_SUFFIXES and p.is_file()
    )


def cache_key(midi_dir: Path, files: list[str], params: ExtractionParams) -> str:
    """Hash of every file's path, size and mtime, and of the extraction parameters."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT_VERSION, "params": asdict(params)}, sort_keys=True).encode())
    for rel in files:
        st = os.stat(midi_dir / rel)
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cache_path(cache_dir: Path, midi_dir: Path, key: str) -> Path:
    return cache_dir / f"{midi_dir.name or 'root'}-{key[:16]}.npz"


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
