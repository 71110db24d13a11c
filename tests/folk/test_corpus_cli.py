"""``melodygen-corpus`` as a user runs it: a subprocess in a fresh folder."""

from __future__ import annotations

from pathlib import Path

from helpers import run_cli


def run_corpus_cli(*overrides: str, cwd: Path):
    return run_cli("corpus", cwd, *overrides, timeout=120)


def test_cli_builds_a_small_corpus(tmp_path, folk):
    out = tmp_path / "folk"
    done = run_corpus_cli("limit=2", "collections=[ryans]", f"out_dir={out}", "workers=1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = folk.read_csv(out / "manifest.csv")
    assert len(rows) == 2 and {row["route"] for row in rows} <= {"abc2midi", "music21"}
    assert len(list((out / "ryans").glob("*.mid"))) == 2
    assert "exported" in done.stdout and "route:" in done.stdout
    # standard output is a pipe, not a terminal: the progress comes as plain lines
    assert "[melodygen.runtime.progress][INFO] - corpus: 2/2 tunes (100%)" in done.stdout
    assert list((tmp_path / "outputs" / "corpus").iterdir())  # Hydra's run folder, not out_dir


def test_cli_route_music21_and_max_tune_notes(tmp_path, folk):
    out = tmp_path / "folk"
    done = run_corpus_cli(
        "limit=1", "collections=[essen]", f"out_dir={out}", "workers=1", "route=music21", "max_tune_notes=5",
        "progress=false", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (failure,) = folk.read_csv(out / "failures.csv")  # Das Hildebrandslied has 60 notes
    assert failure["reason"].endswith("notes as written > max_tune_notes=5")


def test_cli_rejects_an_unknown_collection_in_one_line(tmp_path):
    done = run_corpus_cli("collections=[nope]", f"out_dir={tmp_path / 'folk'}", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line == "error: collections=[nope] is not allowed: choose one of essen, oneills, ryans"
    assert not (tmp_path / "folk").exists()
