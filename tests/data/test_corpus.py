"""The folk corpus build: real music21 ABC files in, real MIDI files out, read back with pretty_midi."""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import mido
import pretty_midi
import pytest
from helpers import run_cli
from music21 import common, converter, midi, stream

from melodygen.data.corpus import (
    COLLECTIONS,
    FAILURE_COLUMNS,
    MANIFEST_COLUMNS,
    build_corpus,
    check_options,
)
from melodygen.errors import MelodygenError

CORPUS = Path(common.getCorpusFilePath())
REPO = Path(__file__).resolve().parents[2]


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def abc_tune(relative: str, number: str) -> str:
    """The text of tune ``X: number`` in one of music21's ABC files."""
    text = (CORPUS / relative).read_text(encoding="utf-8")
    tunes = [t for t in re.split(r"(?m)^(?=X:)", text) if t.startswith("X:")]
    return next(t for t in tunes if t.splitlines()[0][2:].strip() == number)


def write_abc(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_clean_melody(path: Path) -> list[pretty_midi.Note]:
    """A readable, monophonic file of plausible notes with every note-on closed exactly once."""
    notes = [n for inst in pretty_midi.PrettyMIDI(str(path)).instruments for n in inst.notes]
    assert notes, path
    assert all(36 <= n.pitch <= 108 for n in notes), path
    assert all(n.end > n.start for n in notes), path
    notes.sort(key=lambda n: n.start)
    assert all(b.start >= a.end - 1e-6 for a, b in zip(notes, notes[1:], strict=False)), f"overlap in {path}"
    for track in mido.MidiFile(str(path)).tracks:
        sounding: dict[int, int] = {}
        for msg in track:
            if msg.type == "note_on" and msg.velocity > 0:
                sounding[msg.note] = sounding.get(msg.note, 0) + 1
            elif msg.type in ("note_off", "note_on"):
                assert sounding.get(msg.note, 0) > 0, f"note-off before note-on in {path}"
                sounding[msg.note] -= 1
        assert not any(sounding.values()), f"hanging notes in {path}"
    return notes


@pytest.fixture(scope="module")
def small_build(tmp_path_factory) -> tuple[Path, object]:
    """Three tunes of every collection, built once by a pool of two workers."""
    out = tmp_path_factory.mktemp("folk")
    return out, build_corpus(out, limit=3, workers=2, progress=False)


def test_exports_tunes_of_every_collection_as_clean_melodies(small_build):
    out, summary = small_build
    assert set(summary.counts) == set(COLLECTIONS)
    for name, counts in summary.counts.items():
        assert (counts.exported, counts.existing, counts.failed) == (3, 0, 0), name
        files = sorted((out / name).glob("*.mid"))
        assert len(files) == 3
        for path in files:
            assert_clean_melody(path)
    assert not list(out.rglob("*.tmp*"))


def test_manifest_rows_match_the_files(small_build):
    out, summary = small_build
    rows = read_csv(summary.manifest_path)
    assert list(rows[0]) == list(MANIFEST_COLUMNS)
    assert {r["path"] for r in rows} == {p.relative_to(out).as_posix() for p in out.rglob("*.mid")}
    keys = [(r["collection"], r["source_file"], int(r["tune_number"])) for r in rows]
    assert keys == sorted(keys)
    for row in rows:
        path = out / row["path"]
        assert path.name == f"{Path(row['source_file']).stem}-{row['tune_number']}.mid"
        assert int(row["notes"]) == len(pretty_midi.PrettyMIDI(str(path)).instruments[0].notes)
        assert row["title"] and row["key"] and row["meter"]
    first = next(r for r in rows if r["collection"] == "essen")
    assert (first["source_file"], first["tune_number"], first["title"]) == (
        "altdeu10.abc",
        "1",
        "Das Hildebrandslied",
    )
    assert read_csv(summary.failures_path) == []


def test_rerun_skips_existing_files_without_rewriting_them(tmp_path):
    first = build_corpus(tmp_path, collections=["ryans", "essen"], limit=2, workers=1, progress=False)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.mid")}
    assert len(mtimes) == 4
    second = build_corpus(tmp_path, collections=["ryans", "essen"], limit=2, workers=1, progress=False)
    assert second.existing == first.exported == 4
    assert second.exported == second.failed == 0
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.mid")} == mtimes
    assert read_csv(second.manifest_path) == read_csv(first.manifest_path)


def test_rerun_rebuilds_a_file_missing_from_the_manifest_and_keeps_other_rows(tmp_path):
    build_corpus(tmp_path, collections=["essen"], limit=2, workers=1, progress=False)
    build_corpus(tmp_path, collections=["ryans"], limit=1, workers=1, progress=False)
    manifest = tmp_path / "manifest.csv"
    rows = read_csv(manifest)
    assert len(rows) == 3  # the essen rows survive a run over another collection
    dropped = next(r for r in rows if r["collection"] == "essen")
    (tmp_path / dropped["path"]).write_bytes(b"MThd half-written")  # as if the row never got saved
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(r for r in rows if r is not dropped)
    (tmp_path / "essen" / "altdeu10-1.mid.tmp-123").write_bytes(b"junk")

    summary = build_corpus(tmp_path, collections=["essen"], limit=2, workers=1, progress=False)
    assert (summary.counts["essen"].exported, summary.counts["essen"].existing) == (1, 1)
    assert read_csv(manifest) == rows
    assert_clean_melody(tmp_path / dropped["path"])
    assert not list(tmp_path.rglob("*.tmp*"))


def test_bad_abc_files_and_tunes_fail_with_reasons_while_good_ones_export(tmp_path):
    bad = write_abc(
        tmp_path,
        "broken.abc",
        "X:1\nT:Unclosed chord\nL:1/8\nK:C\nAB [cd |\n\n"
        "X:2\nT:Zero length\nL:0/0\nK:C\nABC|\n\n"
        "X:3\nT:No notes\nK:C\n\n"
        "X:4\nT:Fine\nL:1/8\nM:2/4\nK:G\nGABc|d2B2|]\n",
    )
    no_tunes = write_abc(tmp_path, "notes.abc", "just some text\n")
    good = CORPUS / COLLECTIONS["ryans"] / "7thRegimentReel.abc"
    summary = build_corpus(
        tmp_path / "out", sources={"mixed": [good, bad, no_tunes]}, workers=2, progress=False
    )
    assert (summary.counts["mixed"].exported, summary.counts["mixed"].failed) == (2, 4)
    failures = {(r["source_file"], r["tune_number"]): r["reason"] for r in read_csv(summary.failures_path)}
    assert list(read_csv(summary.failures_path)[0]) == list(FAILURE_COLUMNS)
    assert set(failures) == {("broken.abc", "1"), ("broken.abc", "2"), ("broken.abc", "3"), ("notes.abc", "")}
    assert failures[("broken.abc", "1")].startswith("ABCHandlerException: ")
    assert failures[("broken.abc", "2")].startswith("ZeroDivisionError")
    assert failures[("broken.abc", "3")] == "ExportError: no notes in the tune"
    assert "no X: line" in failures[("notes.abc", "")]
    assert all("\n" not in reason for reason in failures.values())
    exported = {r["source_file"]: r for r in read_csv(summary.manifest_path)}
    assert set(exported) == {"7thRegimentReel.abc", "broken.abc"}
    assert [n.pitch for n in assert_clean_melody(tmp_path / "out" / exported["broken.abc"]["path"])] == [
        67,
        69,
        71,
        72,
        74,
        71,
    ]


def test_shared_time_signature_that_breaks_music21s_midi_writer_is_exported(tmp_path):
    # Essen's "Das Schloss in Oesterreich" has one 8/4 bar; music21 reuses the 6/2 object after it.
    tune = abc_tune("essenFolksong/altdeu10.abc", "29")
    with pytest.raises(stream.StreamException, match="already found"):
        midi.translate.streamToMidiFile(converter.parseData(tune, format="abc"))
    source = write_abc(tmp_path, "schloss.abc", tune)
    summary = build_corpus(tmp_path / "out", sources={"essen": [source]}, workers=1, progress=False)
    assert summary.exported == 1, read_csv(summary.failures_path)
    notes = assert_clean_melody(tmp_path / "out" / "essen" / "schloss-29.mid")
    assert len(notes) == len(converter.parseData(tune, format="abc").stripTies().recurse().notes)


def test_grace_notes_are_dropped_and_tempo_is_kept(tmp_path):
    # O'Neill 1 has grace notes ({d}c3) and no repeats; O'Neill 415 carries "Q:80".
    tune = abc_tune("oneills1850/0001-0050.abc", "1")
    slow = abc_tune("oneills1850/0401-0486.abc", "415")
    source = write_abc(tmp_path, "oneill.abc", tune + "\n" + slow)
    summary = build_corpus(tmp_path / "out", sources={"oneills": [source]}, workers=1, progress=False)
    assert summary.exported == 2 and summary.dropped["grace_notes"] > 0

    melody = [n for n in converter.parseData(tune, format="abc").stripTies().recurse().notes]
    assert any(n.duration.isGrace for n in melody)
    plain = [n.pitch.midi for n in melody if not n.duration.isGrace]
    notes = assert_clean_melody(tmp_path / "out" / "oneills" / "oneill-1.mid")
    assert [n.pitch for n in notes] == plain

    quarter_bpm = converter.parseData(slow, format="abc").recurse().getElementsByClass("MetronomeMark")
    expected = quarter_bpm.first().getQuarterBPM()
    _, tempi = pretty_midi.PrettyMIDI(
        str(tmp_path / "out" / "oneills" / "oneill-415.mid")
    ).get_tempo_changes()
    assert tempi[0] == pytest.approx(expected, rel=1e-3) and expected != 120
    _, tempi = pretty_midi.PrettyMIDI(str(tmp_path / "out" / "oneills" / "oneill-1.mid")).get_tempo_changes()
    assert list(tempi) == [pytest.approx(120)]


def test_chords_become_their_top_note(tmp_path):
    source = write_abc(
        tmp_path, "chords.abc", 'X:1\nT:Double stops\nL:1/4\nM:4/4\nK:C\n"C"[CEG] "G"[B,DG] A c|]\n'
    )
    summary = build_corpus(tmp_path / "out", sources={"test": [source]}, workers=1, progress=False)
    notes = assert_clean_melody(tmp_path / "out" / "test" / "chords-1.mid")
    assert [n.pitch for n in notes] == [67, 67, 69, 72]
    assert summary.dropped["chord_tones"] == 4


def test_malformed_repeats_export_as_written(tmp_path):
    # Ryan's "Lady Gardner's Reel" makes music21's repeat expander give up (ExpanderException).
    source = CORPUS / COLLECTIONS["ryans"] / "LadyGardnersReel.abc"
    summary = build_corpus(tmp_path, sources={"ryans": [source]}, workers=1, progress=False)
    (row,) = read_csv(summary.manifest_path)
    assert row["repeats"] == "malformed"
    assert_clean_melody(tmp_path / row["path"])


def test_max_notes_caps_repeat_expansion_then_fails_what_is_too_long_as_written(tmp_path):
    source = CORPUS / COLLECTIONS["ryans"] / "7thRegimentReel.abc"
    score = converter.parseData(source.read_text(encoding="utf-8"), format="abc")
    written = len(score.recurse().notes)
    expanded = len(score.expandRepeats().recurse().notes)
    assert expanded > written

    full = build_corpus(tmp_path / "full", sources={"ryans": [source]}, workers=1, progress=False)
    capped = build_corpus(
        tmp_path / "capped", sources={"ryans": [source]}, max_notes=written, workers=1, progress=False
    )
    too_few = build_corpus(
        tmp_path / "none", sources={"ryans": [source]}, max_notes=written - 1, workers=1, progress=False
    )
    (full_row,) = read_csv(full.manifest_path)
    (capped_row,) = read_csv(capped.manifest_path)
    assert (full_row["repeats"], capped_row["repeats"]) == ("expanded", "too-long")
    assert int(capped_row["notes"]) < int(full_row["notes"])
    assert_clean_melody(tmp_path / "capped" / capped_row["path"])
    assert too_few.failed == 1
    (failure,) = read_csv(too_few.failures_path)
    assert failure["reason"] == f"ExportError: {written} notes as written > max_notes={written - 1}"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ((["essen", "nope"], 0, None, 2000), "'nope'"),
        ((["essen"], -1, None, 2000), "workers=-1"),
        ((["essen"], 0, 0, 2000), "limit=0"),
        ((["essen"], 0, None, 0), "max_notes=0"),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_value(options, named):
    with pytest.raises(MelodygenError, match=re.escape(named)) as info:
        check_options(*options)
    assert "\n" not in str(info.value)


def test_sources_that_would_clash_on_disk_are_refused(tmp_path):
    tune = write_abc(tmp_path, "tune.abc", "X:1\nL:1/8\nK:C\nCDEF|]\n")
    (tmp_path / "other").mkdir()
    twin = write_abc(tmp_path / "other", "tune.abc", "X:1\nL:1/8\nK:C\nGABc|]\n")
    with pytest.raises(MelodygenError, match="two files named 'tune.abc'"):
        build_corpus(tmp_path / "out", sources={"mine": [tune, twin]}, workers=1, progress=False)
    with pytest.raises(MelodygenError, match=re.escape("'../up'")):
        build_corpus(tmp_path / "out", sources={"../up": [tune]}, workers=1, progress=False)
    assert not (tmp_path / "out").exists()


def run_corpus_cli(*overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli("corpus", cwd, *overrides, timeout=120)


def test_cli_builds_a_small_corpus(tmp_path):
    out = tmp_path / "folk"
    done = run_corpus_cli("limit=2", "collections=[ryans]", f"out_dir={out}", "workers=1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(read_csv(out / "manifest.csv")) == 2
    assert len(list((out / "ryans").glob("*.mid"))) == 2
    assert "exported" in done.stdout
    assert list((tmp_path / "outputs" / "corpus").iterdir())  # Hydra's run folder, not out_dir


def test_cli_rejects_an_unknown_collection_in_one_line(tmp_path):
    done = run_corpus_cli("collections=[nope]", f"out_dir={tmp_path / 'folk'}", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: collections: unknown collection 'nope' (choose from essen, oneills, ryans)"
    ]
    assert not (tmp_path / "folk").exists()
