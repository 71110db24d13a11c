"""The build loop on real music21 ABC files: layout, manifest, resume, failures, option checks.

These run the music21 route (no abc2midi needed); the abc2midi route has its own tests.
"""

from __future__ import annotations

import csv
import re

import pretty_midi
import pytest

from melodygen.config import FolkCollection, FolkRoute
from melodygen.errors import MelodygenError
from melodygen.folk import COLLECTIONS, FAILURE_COLUMNS, MANIFEST_COLUMNS, build_corpus


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    """Three tunes of every collection, built by the music21 route in a pool of two workers."""
    out = tmp_path_factory.mktemp("folk")
    return out, build_corpus(out, limit=3, workers=2, route="music21", progress=False)


def test_exports_tunes_of_every_collection_as_clean_melodies(small_build, folk):
    out, summary = small_build
    assert set(summary.counts) == set(COLLECTIONS)
    for name, counts in summary.counts.items():
        assert (counts.exported, counts.existing, counts.failed) == (3, 0, 0), name
        assert counts.routes == {"music21": 3}
        files = sorted((out / name).glob("*.mid"))
        assert len(files) == 3
        for path in files:
            folk.assert_clean_melody(path)
    assert summary.route == "music21" and summary.routes == {"music21": 9}
    assert not list(out.rglob("*.tmp*"))


def test_manifest_rows_match_the_files(small_build, folk):
    out, summary = small_build
    rows = folk.read_csv(summary.manifest_path)
    assert list(rows[0]) == list(MANIFEST_COLUMNS)
    assert {r["path"] for r in rows} == {p.relative_to(out).as_posix() for p in out.rglob("*.mid")}
    keys = [(r["collection"], r["source_file"], int(r["tune_number"])) for r in rows]
    assert keys == sorted(keys)
    for row in rows:
        path = out / row["path"]
        assert path.name == f"{row['source_file'].removesuffix('.abc')}-{row['tune_number']}.mid"
        assert int(row["notes"]) == len(pretty_midi.PrettyMIDI(str(path)).instruments[0].notes)
        assert row["title"] and row["key"] and row["meter"]
        assert row["route"] == "music21" and row["repeats"] in ("none", "expanded", "malformed", "too-long")
    first = next(r for r in rows if r["collection"] == "essen")
    assert (first["source_file"], first["tune_number"], first["title"]) == (
        "altdeu10.abc",
        "1",
        "Das Hildebrandslied",
    )
    assert folk.read_csv(summary.failures_path) == []


def test_rerun_skips_existing_files_without_rewriting_them(tmp_path, folk):
    options = dict(collections=["ryans", "essen"], limit=2, workers=1, route="music21", progress=False)
    first = build_corpus(tmp_path, **options)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.mid")}
    assert len(mtimes) == 4
    second = build_corpus(tmp_path, **options)
    assert second.existing == first.exported == 4
    assert second.exported == second.failed == 0
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.mid")} == mtimes
    assert folk.read_csv(second.manifest_path) == folk.read_csv(first.manifest_path)


def test_rerun_rebuilds_a_file_missing_from_the_manifest_and_keeps_other_rows(tmp_path, folk):
    build_corpus(tmp_path, collections=["essen"], limit=2, workers=1, route="music21", progress=False)
    build_corpus(tmp_path, collections=["ryans"], limit=1, workers=1, route="music21", progress=False)
    manifest = tmp_path / "manifest.csv"
    rows = folk.read_csv(manifest)
    assert len(rows) == 3  # the essen rows survive a run over another collection
    dropped = next(r for r in rows if r["collection"] == "essen")
    (tmp_path / dropped["path"]).write_bytes(b"MThd half-written")  # as if the row never got saved
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(r for r in rows if r is not dropped)
    (tmp_path / "essen" / "altdeu10-1.mid.tmp-123").write_bytes(b"junk")  # an older build's temp file
    (tmp_path / "essen" / ".altdeu10-2.mid.x1y2.tmp").write_bytes(b"junk")  # melodygen.runtime.atomic's
    (tmp_path / ".manifest.csv.x1y2.tmp").write_bytes(b"junk")

    summary = build_corpus(
        tmp_path, collections=["essen"], limit=2, workers=1, route="music21", progress=False
    )
    assert (summary.counts["essen"].exported, summary.counts["essen"].existing) == (1, 1)
    assert folk.read_csv(manifest) == rows
    folk.assert_clean_melody(tmp_path / dropped["path"])
    assert not list(tmp_path.rglob("*.tmp*"))


def test_a_manifest_without_the_route_column_is_resumed(tmp_path, folk):
    build_corpus(tmp_path, collections=["essen"], limit=2, workers=1, route="music21", progress=False)
    manifest = tmp_path / "manifest.csv"
    old_columns = [c for c in MANIFEST_COLUMNS if c != "route"]
    rows = folk.read_csv(manifest)
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=old_columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    summary = build_corpus(
        tmp_path, collections=["essen"], limit=3, workers=1, route="music21", progress=False
    )
    assert (summary.exported, summary.existing) == (1, 2)
    assert [r["route"] for r in folk.read_csv(manifest)] == ["", "", "music21"]


def test_bad_abc_files_and_tunes_fail_with_reasons_while_good_ones_export(tmp_path, folk):
    bad = folk.write_abc(
        tmp_path,
        "broken.abc",
        "X:1\nT:Unclosed chord\nL:1/8\nK:C\nAB [cd |\n\n"
        "X:2\nT:Zero length\nL:0/0\nK:C\nABC|\n\n"
        "X:3\nT:No notes\nK:C\n\n"
        "X:4\nT:Fine\nL:1/8\nM:2/4\nK:G\nGABc|d2B2|]\n",
    )
    no_tunes = folk.write_abc(tmp_path, "notes.abc", "just some text\n")
    good = folk.corpus / COLLECTIONS["ryans"] / "7thRegimentReel.abc"
    summary = build_corpus(
        tmp_path / "out", sources={"mixed": [good, bad, no_tunes]}, workers=2, route="music21", progress=False
    )
    assert (summary.counts["mixed"].exported, summary.counts["mixed"].failed) == (2, 4)
    rows = folk.read_csv(summary.failures_path)
    failures = {(r["source_file"], r["tune_number"]): r["reason"] for r in rows}
    assert list(rows[0]) == list(FAILURE_COLUMNS)
    assert set(failures) == {("broken.abc", "1"), ("broken.abc", "2"), ("broken.abc", "3"), ("notes.abc", "")}
    assert failures[("broken.abc", "1")].startswith("ABCHandlerException: ")
    assert failures[("broken.abc", "2")].startswith("ZeroDivisionError")
    assert failures[("broken.abc", "3")] == "ExportError: no notes in the tune"
    assert "no X: line" in failures[("notes.abc", "")]
    assert all("\n" not in reason for reason in failures.values())
    exported = {r["source_file"]: r for r in folk.read_csv(summary.manifest_path)}
    assert set(exported) == {"7thRegimentReel.abc", "broken.abc"}
    notes = folk.assert_clean_melody(tmp_path / "out" / exported["broken.abc"]["path"])
    assert [n.pitch for n in notes] == [67, 69, 71, 72, 74, 71]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (
            dict(collections=["essen", "nope"]),
            "collections='nope' is not allowed: choose one of essen, oneills, ryans",
        ),
        (dict(route="fast"), "route='fast' is not allowed: choose one of auto, abc2midi, music21"),
        (dict(workers=-1), "workers=-1"),
        (dict(limit=0), "limit=0"),
        (dict(max_tune_notes=0), "max_tune_notes=0"),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_value(tmp_path, options, named):
    with pytest.raises(MelodygenError, match=re.escape(named)) as info:
        build_corpus(tmp_path / "out", progress=False, **options)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_the_config_enums_are_accepted(tmp_path):
    summary = build_corpus(
        tmp_path,
        collections=[FolkCollection.ryans],
        route=FolkRoute.music21,
        limit=1,
        workers=1,
        progress=False,
    )
    assert summary.route == "music21" and summary.routes == {"music21": 1}
    one = build_corpus(tmp_path, collections="ryans", route="music21", limit=1, workers=1, progress=False)
    assert set(one.counts) == {"ryans"} and one.existing == 1


def test_sources_that_would_clash_on_disk_are_refused(tmp_path, folk):
    tune = folk.write_abc(tmp_path, "tune.abc", "X:1\nL:1/8\nK:C\nCDEF|]\n")
    (tmp_path / "other").mkdir()
    twin = folk.write_abc(tmp_path / "other", "tune.abc", "X:1\nL:1/8\nK:C\nGABc|]\n")
    with pytest.raises(MelodygenError, match="two files are named 'tune.abc'"):
        build_corpus(tmp_path / "out", sources={"mine": [tune, twin]}, workers=1, progress=False)
    with pytest.raises(MelodygenError, match=re.escape("sources='../up'")):
        build_corpus(tmp_path / "out", sources={"../up": [tune]}, workers=1, progress=False)
    assert not (tmp_path / "out").exists()


def test_the_summary_table_counts_routes(tmp_path, capsys):
    build_corpus(tmp_path, collections=["essen"], limit=1, workers=1, route="music21")
    printed = capsys.readouterr().out
    assert "folk corpus (route: music21)" in printed
    assert re.search(r"essen\s*│\s*1\s*│\s*0\s*│\s*1\s*│\s*0\s*│\s*0", printed), printed
    assert "routes {'music21': 1}" in printed
