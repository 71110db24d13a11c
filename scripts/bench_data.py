"""Benchmark of the data path: parsing a MIDI folder (1 core vs all), loading its cache, DataModule setup,
and the two readers (pretty_midi, symusic) on the folder and on a large synthetic folder.

    .venv/bin/python scripts/bench_data.py [--midi-dir data/folk] [--workers N] [--repeats 5]
        [--synthetic 100000]

Prints figures and ratios measured in this one run (these machines are noisy: compare ratios, and
only figures from the same run). Targets: the parse cache loads in ≤ 1 s; parsing uses all cores;
symusic parses 100,000 files into the cache in ≤ 60 s; both readers give the same melodies.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from melodygen.data.datamodule import MelodyDataModule
from melodygen.data.midi_rules import ExtractionParams
from melodygen.data.parse_cache import list_midi_files
from melodygen.data.parsed import parse_folder, parse_midi_folder
from melodygen.errors import MelodygenError
from melodygen.folk.smf import write_varlen

CACHED_LOAD_TARGET_S = 1.0
SYMUSIC_100K_TARGET_S = 60.0

#: Run in a fresh interpreter: one cached load, timed inside (imports excluded), seconds on stdout.
FRESH_LOAD = """
import sys, time
from melodygen.data.parsed import parse_midi_folder
start = time.perf_counter()
parsed = parse_midi_folder(sys.argv[1], sys.argv[2], workers=int(sys.argv[3]), progress=False)
elapsed = time.perf_counter() - start
assert parsed.from_cache, "expected a cache hit"
print(elapsed)
"""


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        elapsed, result = timed(fn)
        times.append(elapsed)
    return statistics.median(times), result


def fresh_process_load(midi_dir: Path, cache_dir: Path, workers: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", FRESH_LOAD, str(midi_dir), str(cache_dir), str(workers)],
            check=True,
            capture_output=True,
            text=True,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def _outcomes(parsed) -> dict[str, tuple]:
    """Each file's melody (pitches, durations, tempo, key signature) or skip reason."""
    out = {name: (reason,) for name, reason, _ in parsed.skipped}
    for i, name in enumerate(parsed.files):
        m = parsed.melody(i)
        out[name] = (m.pitch.tobytes(), m.duration.tobytes(), float(m.qpm), m.meta.get("key_signature"))
    return out


def compare_readers(label: str, folder: Path, files: list[str], workers: int, cache: bool = False) -> list:
    """Both readers over ``files`` with ``workers``: files/s, their ratio, and the files that differ.
    With ``cache``, symusic's time is the whole ``parse_midi_folder`` (listing, parsing, writing the cache)."""
    slow_params, fast_params = ExtractionParams(), ExtractionParams(reader="symusic")
    t_slow, slow = timed(lambda: parse_folder(folder, files, slow_params, workers=workers, progress=False))
    if cache:
        with tempfile.TemporaryDirectory(prefix="bench_data_cache_") as tmp:
            t_fast, fast = timed(
                lambda: parse_midi_folder(
                    folder, tmp, fast_params, workers, progress=False, require_melodies=False
                )
            )
    else:
        t_fast, fast = timed(
            lambda: parse_folder(folder, files, fast_params, workers=workers, progress=False)
        )
    a, b = _outcomes(slow), _outcomes(fast)
    differ = sorted(name for name in a if a[name] != b.get(name))
    rows = [
        (
            f"{label}: pretty_midi, {workers} workers",
            f"{t_slow:.1f} s  {len(files) / t_slow:,.0f} files/s",
            "",
        ),
        (
            f"{label}: symusic, {workers} workers" + (" (list, parse, write the cache)" if cache else ""),
            f"{t_fast:.1f} s  {len(files) / t_fast:,.0f} files/s",
            f"target: 100,000 files ≤ {SYMUSIC_100K_TARGET_S:.0f} s — "
            + ("OK" if t_fast * 100_000 / len(files) <= SYMUSIC_100K_TARGET_S else "NOT MET")
            if cache
            else "",
        ),
        (f"{label}: symusic / pretty_midi speed", f"{t_slow / t_fast:.1f}x", ""),
        (
            f"{label}: files whose melody or skip reason differs",
            f"{len(differ)} of {len(files):,}",
            "goal: none" + ("" if not differ else f"; first: {', '.join(differ[:3])}"),
        ),
    ]
    for name in differ[:3]:
        print(f"{label}: {name}: pretty_midi {_describe(a[name])}, symusic {_describe(b.get(name))}")
    return rows


def _describe(outcome) -> str:
    if outcome is None or len(outcome) == 1:
        return f"skipped ({outcome[0] if outcome else 'missing'})"
    return f"{len(outcome[0]) // 2} elements, {outcome[2]:g} qpm, key {outcome[3]}"


def _track(events: list[tuple[int, bytes]]) -> bytes:
    body, now = bytearray(), 0
    for tick, raw in sorted(events, key=lambda e: e[0]):
        body += write_varlen(tick - now) + raw
        now = tick
    body += b"\x00\xff\x2f\x00"
    return b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


def _notes(rng, channel: int, tpq: int, count: int, low: int, step: int, jitter: int) -> list:
    """``count`` notes of one voice on ``channel``: (tick, raw bytes) note-ons and note-offs."""
    events, tick = [], 0
    pitch = int(rng.integers(low, low + 12))
    for _ in range(count):
        length = int(rng.choice([1, 2, 2, 4, 4, 8])) * tpq // 4 * step
        pitch = int(np.clip(pitch + rng.integers(-4, 5), low - 12, low + 24))
        start = max(0, tick + int(rng.integers(-jitter, jitter + 1)))
        events.append((start, bytes([0x90 | channel, pitch, 90])))
        events.append((start + max(1, length - tpq // 16), bytes([0x80 | channel, pitch, 0])))
        tick += length + (tpq // 2 if rng.random() < 0.1 else 0)
    return events


def write_synthetic_folder(folder: Path, count: int, seed: int = 0) -> dict[str, int]:
    """``count`` MIDI files in 100 sub-folders: monophonic tunes, multi-track songs (melody, bass and
    drums), a few with timing off the grid, and a few cut short. Returns how many of each kind."""
    rng = np.random.default_rng(seed)
    kinds = {"monophonic": 0, "multi-track": 0, "off the grid": 0, "cut short": 0}
    for sub in range(100):
        (folder / f"{sub:02d}").mkdir(parents=True)
    for i in range(count):
        tpq = int(rng.choice([96, 120, 384, 480, 960]))
        tempo = int(6e7 / rng.uniform(60, 180)).to_bytes(3, "big")
        meta = [(0, b"\xff\x51\x03" + tempo)]
        kind = "multi-track" if rng.random() < 0.3 else "monophonic"
        jitter = tpq // 24 if rng.random() < 0.05 else 0
        n = int(rng.integers(20, 150))
        if kind == "monophonic":
            tracks = [_track(meta + _notes(rng, 0, tpq, n, 60, 1, jitter))]
        else:
            drums = [(k * tpq // 2, bytes([0x99, 36 + k % 3, 100])) for k in range(2 * n)]
            drums += [(k * tpq // 2 + tpq // 8, bytes([0x89, 36 + k % 3, 0])) for k in range(2 * n)]
            tracks = [_track(meta), _track(_notes(rng, 0, tpq, n, 67, 1, jitter)),
                      _track(_notes(rng, 1, tpq, n // 2, 40, 2, 0)), _track(drums)]  # fmt: skip
        data = b"MThd" + (6).to_bytes(4, "big") + (int(kind != "monophonic")).to_bytes(2, "big")
        data += len(tracks).to_bytes(2, "big") + tpq.to_bytes(2, "big") + b"".join(tracks)
        if rng.random() < 0.01:
            data, kind = data[: len(data) // 2], "cut short"
        elif jitter:
            kind = "off the grid"
        kinds[kind] += 1
        (folder / f"{i % 100:02d}" / f"song{i:06d}.mid").write_bytes(data)
    return kinds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--midi-dir", default="data/folk", type=Path)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="cores for the parallel parse"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timings per cached-load figure (median)")
    parser.add_argument(
        "--synthetic", type=int, default=100_000, help="files of the synthetic folder (0: leave it out)"
    )
    args = parser.parse_args(argv)

    midi_dir = args.midi_dir.expanduser().resolve()
    if not midi_dir.is_dir():
        print(f"error: --midi-dir {str(midi_dir)!r} is not a folder", file=sys.stderr)
        return 2
    files = list_midi_files(midi_dir)
    if not files:
        print(f"error: no MIDI files under {str(midi_dir)!r}", file=sys.stderr)
        return 2
    params, workers, cores = ExtractionParams(), max(1, args.workers), os.cpu_count() or 1
    rows: list[tuple[str, str, str]] = []

    # (a) parsing: one process, then a pool of `workers`
    t1, serial = timed(lambda: parse_folder(midi_dir, files, params, workers=1, progress=False))
    tn, parallel = timed(lambda: parse_folder(midi_dir, files, params, workers=workers, progress=False))
    assert parallel.files == serial.files, "parallel parse disagrees with the serial one"
    speedup = t1 / tn
    rows += [
        ("files (kept / skipped)", f"{len(files)} ({len(serial)} / {len(serial.skipped)})", ""),
        ("parse, 1 worker", f"{t1:.2f} s  {len(files) / t1:,.0f} files/s", ""),
        (f"parse, {workers} workers", f"{tn:.2f} s  {len(files) / tn:,.0f} files/s", ""),
        (
            "parse speedup",
            f"{speedup:.2f}x  ({speedup / workers:.0%} of {workers} workers)",
            f"target: uses all {cores} cores"
            + (" — OK" if workers >= cores and speedup > 1 else " — NOT MET"),
        ),
    ]

    with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
        cache_dir = Path(tmp) / "cache"
        # (b) build the cache, then load it: in this process, and in fresh interpreters
        t_build, built = timed(
            lambda: parse_midi_folder(midi_dir, cache_dir, params, workers, progress=False)
        )
        assert not built.from_cache
        t_load, loaded = median_time(
            lambda: parse_midi_folder(midi_dir, cache_dir, params, workers, progress=False), args.repeats
        )
        assert loaded.from_cache and loaded.files == built.files
        t_fresh = fresh_process_load(midi_dir, cache_dir, workers, args.repeats)
        size_mb = built.cache_file.stat().st_size / 1e6
        verdict = "OK" if max(t_load, t_fresh) <= CACHED_LOAD_TARGET_S else "NOT MET"
        rows += [
            (
                "parse + write cache",
                f"{t_build:.2f} s  ({size_mb:.1f} MB, {built.pitch.size:,} elements)",
                "",
            ),
            (f"cached load, median of {args.repeats}", f"{t_load * 1000:.0f} ms", ""),
            (
                f"cached load, fresh process, median of {args.repeats}",
                f"{t_fresh * 1000:.0f} ms",
                f"target: ≤ {CACHED_LOAD_TARGET_S:.0f} s — {verdict}",
            ),
            ("parse (1 worker) / cached load", f"{t1 / t_load:,.0f}x", ""),
            (f"parse ({workers} workers) / cached load", f"{tn / t_load:,.0f}x", ""),
        ]

        # (c) DataModule.setup() from the cache, categorical, a fresh DataModule each time
        def setup():
            dm = MelodyDataModule(
                midi_dir=str(midi_dir),
                cache_dir=str(cache_dir),
                representation="categorical",
                parse_workers=workers,
                progress=False,
            )
            dm.setup()
            return dm

        t_setup, dm = median_time(setup, args.repeats)
        assert dm.parsed.from_cache
        windows = sum(len(ds) for ds in dm.datasets.values())
        rows += [
            (
                f"DataModule.setup (categorical), median of {args.repeats}",
                f"{t_setup * 1000:.0f} ms  ({windows:,} windows)",
                "",
            ),
            ("setup / cached load", f"{t_setup / t_load:.1f}x", ""),
        ]

    # (d) the two readers on this folder, and (e) on a synthetic folder of many files
    rows += compare_readers("this folder", midi_dir, files, workers)
    if args.synthetic:
        with tempfile.TemporaryDirectory(prefix="bench_data_synthetic_") as tmp:
            folder = Path(tmp) / "midi"
            t_write, kinds = timed(lambda: write_synthetic_folder(folder, args.synthetic))
            rows.append(
                (
                    f"synthetic folder: {args.synthetic:,} files written",
                    f"{t_write:.1f} s",
                    ", ".join(f"{k} {v:,}" for k, v in kinds.items()),
                )
            )
            rows += compare_readers("synthetic", folder, list_midi_files(folder), workers, cache=True)

    skipped = ", ".join(f"{k} {v}" for k, v in serial.summary()["skipped_by_reason"].items()) or "none"
    print(f"bench_data: {midi_dir}  ({cores} cores, Python {sys.version.split()[0]})")
    print(f"skipped by reason: {skipped}")
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:<{value_width}}  {note}".rstrip())
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except MelodygenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
