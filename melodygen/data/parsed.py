"""Parse a folder of MIDI files into melodies (through the parse cache), and account for every file."""

from __future__ import annotations

import os
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from melodygen.data.midi import ExtractionParams, SkipFile, load_melody
from melodygen.data.parse_cache import (
    FORMAT_VERSION,
    building,
    cache_key,
    cache_path,
    list_midi_files,
    prune_caches,
    read_cache,
    write_cache,
)
from melodygen.errors import MelodygenError
from melodygen.music.keys import estimate_key
from melodygen.music.melody import REST, Melody
from melodygen.runtime.atomic import write_json_atomic
from melodygen.runtime.pool import cut_into_units, resolve_workers, run_units

#: Below this many files, parsing in the calling process is faster than starting workers.
_POOL_MIN_FILES = 64
#: Files per unit of work handed to a worker (at most).
_UNIT_FILES = 64


@dataclass
class ParsedFolder:
    """Every kept melody of a folder, concatenated, plus every skipped file with its reason."""

    midi_dir: Path
    files: list[str]  # kept files, relative to midi_dir, sorted
    offsets: np.ndarray  # melody i is pitch[offsets[i]:offsets[i+1]]
    pitch: np.ndarray
    duration: np.ndarray
    qpm: np.ndarray
    tonic: np.ndarray  # estimated from the notes (melodygen.music.keys.estimate_key)
    mode: np.ndarray
    #: the file's key signature, 0–11 major and 12–23 minor (tonic first), -1 where it has none
    signature: np.ndarray | None = None
    #: the file's first time signature (numerator, denominator), (0, 0) where it has none
    meter: np.ndarray | None = None
    #: each melody's bar lines (``meta["bar_grid"]``): melody i's are ``grid[grid_offsets[i]:grid_offsets[i+1]]``,
    #: rows of (step, numerator, denominator); none where its file has no time signature
    grid_offsets: np.ndarray | None = None
    grid: np.ndarray | None = None
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (file, reason, detail)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (file, what a library warned)
    cache_file: Path | None = None
    from_cache: bool = False
    parse_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.signature is None:
            self.signature = np.full(len(self.files), -1, np.int8)
        if self.meter is None:
            self.meter = np.zeros((len(self.files), 2), np.int16)
        if self.grid is None:
            self.grid_offsets = np.zeros(len(self.files) + 1, np.int64)
            self.grid = np.zeros((0, 3), np.int32)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def melody(self, i: int) -> Melody:
        a, b = self.offsets[i], self.offsets[i + 1]
        melody = Melody(self.pitch[a:b], self.duration[a:b], qpm=float(self.qpm[i]), source=self.files[i])
        if self.signature[i] >= 0:
            melody.meta["key_signature"] = (int(self.signature[i]) % 12, int(self.signature[i]) // 12)
        if self.meter[i, 0] > 0:
            melody.meta["time_signature"] = (int(self.meter[i, 0]), int(self.meter[i, 1]))
        rows = self.grid[self.grid_offsets[i] : self.grid_offsets[i + 1]]
        if len(rows):
            melody.meta["bar_grid"] = tuple((int(s), int(n), int(d)) for s, n, d in rows)
        return melody

    def summary(self) -> dict:
        reasons = Counter(reason for _, reason, _ in self.skipped)
        return {
            "kept": len(self.files),
            "skipped": len(self.skipped),
            "skipped_by_reason": dict(sorted(reasons.items())),
            "files_with_warnings": len({f for f, _ in self.warnings}),
            "notes": int((self.pitch != REST).sum()),
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
            "warnings": [{"file": f, "warning": w} for f, w in self.warnings],
        }

    def write_report(self, path: Path) -> None:
        write_json_atomic(path, self.report())

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
            "signature": self.signature,
            "meter": self.meter,
            "grid_offsets": self.grid_offsets,
            "grid": self.grid,
            "skipped": skipped,
            "warnings": np.array(self.warnings, dtype=str).reshape(-1, 2),
        }

    @classmethod
    def from_arrays(cls, midi_dir: Path, arrays: dict[str, np.ndarray]) -> ParsedFolder:
        return cls(
            midi_dir=midi_dir,
            files=arrays["files"].tolist(),
            offsets=arrays["offsets"],
            pitch=arrays["pitch"],
            duration=arrays["duration"],
            qpm=arrays["qpm"],
            tonic=arrays["tonic"],
            mode=arrays["mode"],
            signature=arrays["signature"],
            meter=arrays["meter"],
            grid_offsets=arrays["grid_offsets"],
            grid=arrays["grid"],
            skipped=[tuple(row) for row in arrays["skipped"].tolist()],
            warnings=[tuple(row) for row in arrays["warnings"].tolist()],
        )


def melodies_folder(
    source: str | os.PathLike,
    names: Sequence[str],
    melodies: Sequence[Melody],
    skipped: Sequence[tuple[str, str, str]] = (),
) -> ParsedFolder:
    """A :class:`ParsedFolder` of ``melodies`` read from elsewhere than MIDI files (a data source's own),
    each named by ``names`` (unique: splits are drawn by name); keys are estimated from the notes, and a
    melody's ``meta`` key and time signatures are kept. ``skipped`` lists (name, reason, detail)."""
    if len(set(names)) != len(names):
        raise MelodygenError(f"the melodies of {str(source)!r} need unique names to be split by name")
    keys = [estimate_key(m.pitch, m.duration) for m in melodies]
    signatures = []
    for m in melodies:
        tonic_mode = m.meta.get("key_signature")
        signatures.append(-1 if tonic_mode is None else int(tonic_mode[0]) + 12 * int(tonic_mode[1]))
    empty16 = np.zeros(0, np.int16)
    return ParsedFolder(
        midi_dir=Path(source),
        files=list(names),
        offsets=np.r_[0, np.cumsum([len(m) for m in melodies])].astype(np.int64),
        pitch=np.concatenate([m.pitch for m in melodies]).astype(np.int16) if melodies else empty16,
        duration=np.concatenate([m.duration for m in melodies]).astype(np.int16) if melodies else empty16,
        qpm=np.array([m.qpm for m in melodies], np.float32),
        tonic=np.array([k[0] for k in keys], np.int8),
        mode=np.array([k[1] for k in keys], np.int8),
        signature=np.array(signatures, np.int8),
        meter=np.array([m.meta.get("time_signature", (0, 0)) for m in melodies], np.int16).reshape(-1, 2),
        **_packed_grids([m.meta.get("bar_grid", ()) for m in melodies]),
        skipped=list(skipped),
    )


def _parse_unit(unit: list[tuple[str, str, ExtractionParams]]) -> list[tuple]:
    """Worker: files → ``(rel, melody arrays, warnings)`` or ``(rel, (reason, detail), warnings)`` each,
    where ``warnings`` are what the libraries warned about while reading that file. Never raises."""
    results = []
    for midi_dir, rel, params in unit:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                melody = load_melody(os.path.join(midi_dir, rel), params)
                tonic, mode = estimate_key(melody.pitch, melody.duration)
                signature = melody.meta.get("key_signature")
                number = -1 if signature is None else signature[0] + 12 * signature[1]
                meter = melody.meta.get("time_signature", (0, 0))
                grid = melody.meta.get("bar_grid", ())
                outcome = (melody.pitch, melody.duration, melody.qpm, tonic, mode, number, meter, grid)
            except SkipFile as skip:
                outcome = (skip.reason, skip.detail)
            except Exception as exc:  # a parser bug on a hostile file must not stop the build
                outcome = ("corrupt", f"{type(exc).__name__}: {exc}")
        said = list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))
        results.append((rel, outcome, said))
    return results


def parse_folder(
    midi_dir: Path, files: list[str], params: ExtractionParams, workers: int = 0, progress: bool = True
) -> ParsedFolder:
    """Parse ``files`` with all cores (``workers=0``) and gather the kept melodies in file order."""
    jobs = [(str(midi_dir), rel, params) for rel in files]
    n_workers = 1 if len(jobs) < _POOL_MIN_FILES else resolve_workers(workers)
    units = cut_into_units(jobs, max(1, min(_UNIT_FILES, len(jobs) // (n_workers * 8))))
    by_file: dict[str, tuple] = {}
    for _, results in run_units(
        _parse_unit,
        units,
        workers=n_workers,
        label="parsing MIDI",
        noun="files",
        progress=progress,
        transient=True,
    ):
        by_file.update((r[0], r) for r in results)
    ordered = [by_file[rel] for rel in files]
    kept = [(rel, outcome) for rel, outcome, _ in ordered if len(outcome) == 8]
    skipped = [(rel, *outcome) for rel, outcome, _ in ordered if len(outcome) == 2]
    said = [(rel, message) for rel, _, messages in ordered for message in messages]
    lengths = [len(r[1][0]) for r in kept]
    empty16 = np.zeros(0, np.int16)
    return ParsedFolder(
        midi_dir=midi_dir,
        files=[r[0] for r in kept],
        offsets=np.r_[0, np.cumsum(lengths)].astype(np.int64),
        pitch=np.concatenate([r[1][0] for r in kept]) if kept else empty16,
        duration=np.concatenate([r[1][1] for r in kept]) if kept else empty16,
        qpm=np.array([r[1][2] for r in kept], np.float32),
        tonic=np.array([r[1][3] for r in kept], np.int8),
        mode=np.array([r[1][4] for r in kept], np.int8),
        signature=np.array([r[1][5] for r in kept], np.int8),
        meter=np.array([r[1][6] for r in kept], np.int16).reshape(-1, 2),
        **_packed_grids([r[1][7] for r in kept]),
        skipped=skipped,
        warnings=said,
    )


def _packed_grids(grids: Sequence[Sequence[tuple[int, int, int]]]) -> dict[str, np.ndarray]:
    """Melodies' bar lines as one array of rows and their offsets (:class:`ParsedFolder`)."""
    rows = [row for grid in grids for row in grid]
    return {
        "grid_offsets": np.r_[0, np.cumsum([len(grid) for grid in grids])].astype(np.int64),
        "grid": np.array(rows, np.int32).reshape(-1, 3),
    }


def no_melody_error(parsed: ParsedFolder) -> MelodygenError:
    reasons = parsed.summary()["skipped_by_reason"]
    return MelodygenError(f"no usable melody in data.midi_dir={str(parsed.midi_dir)!r} (skipped: {reasons})")


def parse_midi_folder(
    midi_dir: str | os.PathLike,
    cache_dir: str | os.PathLike,
    params: ExtractionParams | None = None,
    workers: int = 0,
    progress: bool = True,
    require_melodies: bool = True,
) -> ParsedFolder:
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
    with building(path):  # jobs beside this one that need the same cache wait, then load it
        arrays = read_cache(path, key)
        if arrays is not None:
            parsed = ParsedFolder.from_arrays(midi_dir, arrays)
            parsed.from_cache = True
        else:
            start = time.perf_counter()
            parsed = parse_folder(midi_dir, files, params, workers, progress)
            parsed.parse_seconds = time.perf_counter() - start
            if parsed.files:
                write_cache(path, parsed.to_arrays(key))
                prune_caches(path)
    parsed.cache_file = path
    if require_melodies and not parsed.files:
        raise no_melody_error(parsed)
    return parsed
