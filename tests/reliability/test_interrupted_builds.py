"""Builds killed at a random moment (SIGKILL), then run again: the work completes, nothing is half-written."""

import csv
import os
import random
import subprocess
import sys
import time

import mido
import pytest

pytest.importorskip("music21")  # the corpus's ABC collections ship inside it (the folk extra)

CORPUS = ["collections=[oneills]", "limit=400", "workers=1", "progress=false"]


def corpus(root, out, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "MELODYGEN_ROOT": str(root)}
    command = [sys.executable, "-m", "melodygen.cli.corpus", *CORPUS, f"out_dir={out}", *extra]
    return subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def manifest(out) -> list[str]:
    with open(out / "manifest.csv", newline="") as handle:
        return sorted(row["path"] for row in csv.DictReader(handle))


@pytest.mark.slow
def test_a_corpus_build_killed_three_times_completes_to_the_same_corpus(tmp_path):
    clean = tmp_path / "clean"
    proc = corpus(tmp_path, clean)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()[-3000:]

    out, rng = tmp_path / "killed", random.Random(1)
    for _ in range(3):
        proc = corpus(tmp_path, out)
        time.sleep(rng.uniform(0.5, 2.5))  # the export takes a few seconds: somewhere inside it
        proc.kill()
        proc.wait()
    proc = corpus(tmp_path, out)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()[-3000:]

    assert manifest(out) == manifest(clean)
    for path in manifest(out):
        assert len(mido.MidiFile(out / path).tracks) >= 1  # every file whole
    assert sorted(p.name for p in out.rglob("*") if p.is_file() and p.suffix not in (".mid", ".csv")) == []
