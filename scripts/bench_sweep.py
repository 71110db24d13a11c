"""A 4-job sweep run one job at a time against two jobs at a time (joblib), through the real CLI.

    python scripts/bench_sweep.py [--midi-dir data/folk] [--batches 150]

Three runs of the same sweep (hidden size 64/128 × 1/2 layers, one short epoch each, on real MIDI):
serially; with ``hydra/launcher=joblib hydra.launcher.n_jobs=2``, each job taking its share of the cores
(the default); and the same with ``threads=<all cores>`` per job, as torch would by itself. Prints each
wall time and the ratios to the serial run (target: the shared parallel sweep ≤ 0.9 × serial).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from melodygen.runtime.threads import usable_cores

TARGET = 0.9


def sweep(root: Path, midi_dir: Path, cache_dir: Path, batches: int, *extra: str) -> float:
    command = [
        sys.executable, "-m", "melodygen.cli.train", "--multirun",
        f"data.midi_dir={midi_dir}", f"data.cache_dir={cache_dir}",
        "model.hidden_size=64,128", "model.num_layers=1,2",
        "trainer.max_epochs=1", f"trainer.limit_train_batches={batches}",
        "trainer.limit_val_batches=20", "trainer.limit_test_batches=20",
        "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false",
        "samples.num_samples=2", "logger=none", *extra,
    ]  # fmt: skip
    env = {**os.environ, "MELODYGEN_ROOT": str(root)}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True, text=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--midi-dir", type=Path, default=Path("data/folk"))
    parser.add_argument("--batches", type=int, default=150, help="training batches per job")
    parser.add_argument(
        "--no-greedy", action="store_true", help="skip the (slow) run of every job taking every core"
    )
    args = parser.parse_args()
    cores = usable_cores()
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp), Path(tmp) / "cache"
        subprocess.run(  # parse once, so every sweep starts from the cache
            [sys.executable, "-m", "melodygen.cli.prepare", f"data.midi_dir={args.midi_dir}", f"data.cache_dir={cache}"],
            check=True, capture_output=True, env={**os.environ, "MELODYGEN_ROOT": tmp},
        )  # fmt: skip
        joblib = ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
        serial = sweep(root / "serial", args.midi_dir, cache, args.batches)
        shared = sweep(root / "shared", args.midi_dir, cache, args.batches, *joblib)
        greedy = (
            None
            if args.no_greedy
            else sweep(root / "greedy", args.midi_dir, cache, args.batches, *joblib, f"threads={cores}")
        )
    print(f"bench_sweep: 4 jobs × {args.batches} batches, {args.midi_dir}, {cores} cores")
    print(f"  serial (basic launcher)                       {serial:7.1f} s")
    ok = "OK" if shared / serial <= TARGET else "MISSED"
    print(f"  joblib n_jobs=2, a share of the cores each    {shared:7.1f} s  {shared / serial:.2f}× serial"
          f"   target ≤ {TARGET} — {ok}")  # fmt: skip
    if greedy is not None:
        print(
            f"  joblib n_jobs=2, threads={cores} each (torch's default) {greedy:7.1f} s  {greedy / serial:.2f}× serial"
        )


if __name__ == "__main__":
    main()
