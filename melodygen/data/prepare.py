"""Parse a folder of MIDI files into a cached corpus of melodies, and account for every file."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from melodygen.data.cache import (
    FORMAT_VERSION,
    cache_key,
    cache_path,
    list_midi_files,
    read_cache,
    write_atomic,
)
from melodygen.data.keys import estimate_key
from melodygen.data.melody import Melody
from melodygen.data.midi import ExtractionParams, SkipFile, load_melody
from melodygen.errors import MelodygenError

#: Below this many files, parsing in the calling process is faster than starting workers.
_POOL_MIN_FILES = 64


@dataclass
class PreparedCorpus:
    """Every kept melody of a folder, concatenated, plus every skipped file with its reason."""

    midi_dir: Path
    files: list[str]  # kept files, relative to midi_dir, sorted
    offsets: np.ndarray  # melody i is pitch[offsets[i]:offsets[i+1]]
    pitch: np.ndarray
    duration: np.ndarray
    qpm: np.ndarray
    tonic: np.ndarray
    mode: np.ndarray
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (file, reason, detail)
    cache_file: Path | None = None
    from_cache: bool = False
    parse_seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.files)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def melody(self, i: int) -> Melody:
        a, b = self.offsets[i], self.offsets[i + 1]
        return Melody(self.pitch[a:b], self.duration[a:b], qpm=float(self.qpm[i]), source=self.files[i])

    def summary(self) -> dict:
        reasons = Counter(reason for _, reason, _ in self.skipped)
        return {
            "kept": len(self.files),
            "skipped": len(self.skipped),
            "skipped_by_reason": dict(sorted(reasons.items())),
            "notes": int((self.pitch != 128).sum()),
            "elements": int(self.pitch.size),
        }

    def report(self) -> dict:
        lengths = self.lengths.tolist()
        return {
            "midi_dir": str(self.midi_dir),
            "cache_file": str(self.cache_file) if self.cache_file else None,
            **self.summary(),
            "kept_files": [{"file": f, "elements": n} for f, n in zip(self.files, lengths)],
            "skipped_files": [{"file": f, "reason": r, "detail": d} for f, r, d in self.skipped],
        }

    def write_report(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.report(), indent=1) + "\n")

    def to_arrays(self, key: str) -> dict[str, np.ndarray]:
        skipped = np.array(self.skipped, dtype=str).reshape(-1, 3)
        return {
            "format": np.array(FORMAT_VERSION),
            "key": np.array(key),
            "files": np.array(self.files, dtype=str),
            "offsets": self.offsets,
            "pitch": self.pitch,
            "duration": self.duration,
            "qpm": self.qpm,
            "tonic": self.tonic,
            "mode": self.mode,
            "skipped": skipped,
        }

    @classmethod
    def from_arrays(cls, midi_dir: Path, arrays: dict[str, np.ndarray]) -> PreparedCorpus:
        return cls(
            midi_dir=midi_dir,
            files=arrays["files"].tolist(),
            offsets=arrays["offsets"],
            pitch=arrays["pitch"],
            duration=arrays["duration"],
            qpm=arrays["qpm"],
            tonic=arrays["tonic"],
            mode=arrays["mode"],
            skipped=[tuple(row) for row in arrays["skipped"].tolist()],
        )


def _parse_one(job: tuple[str, str, ExtractionParams]):
    """Worker: one file → ``(rel, melody arrays)`` or ``(rel, reason, detail)``. Never raises."""
    midi_dir, rel, params = job
    try:
        melody = load_melody(os.path.join(midi_dir, rel), params)
    except SkipFile as skip:
        return rel, skip.reason, skip.detail
    except Exception as exc:  # a parser bug on a hostile file must not stop the build
        return rel, "corrupt", f"{type(exc).__name__}: {exc}"
    tonic, mode = estimate_key(melody.pitch, melody.duration)
    return rel, (melody.pitch, melody.duration, melody.qpm, tonic, mode)


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("parsing MIDI"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=True,
    )


def parse_folder(
    midi_dir: Path, files: list[str], params: ExtractionParams, workers: int = 0, progress: bool = True
) -> PreparedCorpus:
    """Parse ``files`` with all cores (``workers=0``) and gather the kept melodies in file order."""
    workers = workers or os.cpu_count() or 1
    jobs = [(str(midi_dir), rel, params) for rel in files]
    kept: list[tuple] = []
    skipped: list[tuple[str, str, str]] = []
    with _progress(progress) as bar:
        task = bar.add_task("parse", total=len(jobs))
        if workers == 1 or len(jobs) < _POOL_MIN_FILES:
            results = map(_parse_one, jobs)
            pool = None
        else:
            pool = ProcessPoolExecutor(max_workers=workers)
            results = pool.map(_parse_one, jobs, chunksize=max(1, min(64, len(jobs) // (workers * 8))))
        try:
            for result in results:
                if len(result) == 3:
                    skipped.append(result)
                else:
                    kept.append(result)
                bar.advance(task)
        finally:
            if pool is not None:
                pool.shutdown()
    lengths = [len(r[1][0]) for r in kept]
    empty16 = np.zeros(0, np.int16)
    return PreparedCorpus(
        midi_dir=midi_dir,
        files=[r[0] for r in kept],
        offsets=np.r_[0, np.cumsum(lengths)].astype(np.int64),
        pitch=np.concatenate([r[1][0] for r in kept]) if kept else empty16,
        duration=np.concatenate([r[1][1] for r in kept]) if kept else empty16,
        qpm=np.array([r[1][2] for r in kept], np.float32),
        tonic=np.array([r[1][3] for r in kept], np.int8),
        mode=np.array([r[1][4] for r in kept], np.int8),
        skipped=skipped,
    )


def empty_corpus_error(corpus: PreparedCorpus) -> MelodygenError:
    reasons = corpus.summary()["skipped_by_reason"]
    return MelodygenError(f"no usable melody in data.midi_dir={str(corpus.midi_dir)!r} (skipped: {reasons})")


def prepare_corpus(
    midi_dir: str | os.PathLike,
    cache_dir: str | os.PathLike,
    params: ExtractionParams | None = None,
    workers: int = 0,
    progress: bool = True,
    require_melodies: bool = True,
) -> PreparedCorpus:
    """Parse ``midi_dir`` once and cache it; later calls with unchanged files load the cache.

    Raises :class:`MelodygenError` for a missing folder, a folder without MIDI files and, unless
    ``require_melodies`` is false, a folder where no file gives a melody.
    """
    midi_dir = Path(midi_dir).expanduser().resolve()
    params = params or ExtractionParams()
    if not midi_dir.is_dir():
        raise MelodygenError(f"data.midi_dir={str(midi_dir)!r} is not a folder")
    files = list_midi_files(midi_dir)
    if not files:
        raise MelodygenError(f"no MIDI files (.mid, .midi) under data.midi_dir={str(midi_dir)!r}")
    key = cache_key(midi_dir, files, params)
    path = cache_path(Path(cache_dir), midi_dir, key)
    arrays = read_cache(path, key)
    if arrays is not None:
        corpus = PreparedCorpus.from_arrays(midi_dir, arrays)
        corpus.from_cache = True
    else:
        start = time.perf_counter()
        corpus = parse_folder(midi_dir, files, params, workers, progress)
        corpus.parse_seconds = time.perf_counter() - start
        if corpus.files:
            write_atomic(path, corpus.to_arrays(key))
    corpus.cache_file = path
    if require_melodies and not corpus.files:
        raise empty_corpus_error(corpus)
    return corpus
