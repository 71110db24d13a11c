"""Benchmark of the data path: parsing a MIDI folder (1 core vs all), loading its cache, DataModule setup.

    .venv/bin/python scripts/bench_data.py [--midi-dir data/folk] [--workers N] [--repeats 5]

Prints figures and ratios measured in this one run (these machines are noisy: compare ratios, and
only figures from the same run). Targets: the parse cache loads in ≤ 1 s; parsing uses all cores.
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

from melodygen.data.datamodule import MelodyDataModule
from melodygen.data.midi import ExtractionParams
from melodygen.data.parse_cache import list_midi_files
from melodygen.data.parsed import parse_folder, parse_midi_folder
from melodygen.errors import MelodygenError

CACHED_LOAD_TARGET_S = 1.0

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--midi-dir", default="data/folk", type=Path)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="cores for the parallel parse"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timings per cached-load figure (median)")
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
                str(midi_dir),
                str(cache_dir),
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
