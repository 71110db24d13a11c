"""The abc2midi route on music21's real ABC files, with the real abc2midi (Debian's abcmidi package)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pretty_midi
import pytest

from melodygen.data.midi import ExtractionParams, load_melody
from melodygen.errors import MelodygenError
from melodygen.folk import COLLECTIONS, build_corpus
from melodygen.folk.abc import read_tunes
from melodygen.folk.plan import music21_files

needs_abc2midi = pytest.mark.skipif(
    shutil.which("abc2midi") is None, reason="abc2midi is not installed (apt-get install abcmidi)"
)
ANY_LENGTH = ExtractionParams(min_notes=1)


def build(out, sources, route="abc2midi", **options):
    return build_corpus(out, sources=sources, route=route, workers=1, progress=False, **options)


def melody(path: Path):
    return load_melody(path, ANY_LENGTH)


@pytest.fixture(scope="module")
def a2m_build(tmp_path_factory):
    """Twenty tunes of every collection built by the abc2midi route in a pool of two workers."""
    if shutil.which("abc2midi") is None:
        pytest.skip("abc2midi is not installed (apt-get install abcmidi)")
    out = tmp_path_factory.mktemp("folk")
    return out, build_corpus(out, limit=20, workers=2, route="abc2midi", progress=False)


@needs_abc2midi
def test_builds_clean_melodies_of_every_collection(a2m_build, folk):
    out, summary = a2m_build
    assert summary.route == "abc2midi" and summary.failed == 0
    for name in COLLECTIONS:
        counts = summary.counts[name]
        assert counts.exported == 20 and counts.routes.get("abc2midi", 0) >= 15, (name, counts)
        for path in (out / name).glob("*.mid"):
            folk.assert_clean_melody(path)
    assert not list(out.rglob("*.tmp*"))


@needs_abc2midi
def test_the_manifest_says_which_route_built_each_tune(a2m_build, folk):
    out, summary = a2m_build
    rows = folk.read_csv(summary.manifest_path)
    routes = [row["route"] for row in rows]
    assert set(routes) <= {"abc2midi", "music21"}
    assert summary.routes == {name: routes.count(name) for name in set(routes)}
    for row in rows:
        assert int(row["notes"]) == len(pretty_midi.PrettyMIDI(str(out / row["path"])).instruments[0].notes)
        if row["route"] == "abc2midi":
            assert row["repeats"] in ("none", "expanded")
    essen = [row for row in rows if row["collection"] == "essen"]
    assert {row["route"] for row in essen} == {"abc2midi"} and {row["repeats"] for row in essen} == {"none"}


@needs_abc2midi
def test_a_tune_abc2midi_cannot_convert_falls_back_to_music21_alone(tmp_path, folk):
    # abc2midi writes nothing for a tune without a K: line; music21 reads it in C.
    source = folk.write_abc(
        tmp_path,
        "mixed.abc",
        "X:1\nT:Fine\nL:1/8\nM:2/4\nK:G\nGABc|d2B2|]\n\n"
        "X:2\nT:No key\nL:1/8\nM:4/4\nABcd|]\n\n"
        "X:3\nT:Unclosed chord\nL:1/8\nK:C\nAB [cd |\n",
    )
    summary = build(tmp_path / "out", {"test": [source]})
    rows = {row["tune_number"]: row for row in folk.read_csv(summary.manifest_path)}
    assert (rows["1"]["route"], rows["2"]["route"]) == ("abc2midi", "music21")
    assert summary.routes == {"abc2midi": 1, "music21": 1} and summary.failed == 1
    notes = folk.assert_clean_melody(tmp_path / "out" / rows["2"]["path"])
    assert [n.pitch for n in notes] == [69, 71, 72, 74]
    assert summary.fallbacks == {
        "abc2midi error: No valid K: field found at start of tune": 1,
        "abc2midi error: Sustained notes beyond end of track": 1,
    }
    (failure,) = folk.read_csv(summary.failures_path)  # music21 could not read the unclosed chord either
    assert failure["tune_number"] == "3"
    assert re.fullmatch(r"ABCHandlerException: .* \(after abc2midi error: .*\)", failure["reason"])


@needs_abc2midi
def test_a_file_over_max_tune_notes_falls_back_to_music21_as_written(tmp_path, folk):
    # abc2midi plays the repeats out (more than the cap); music21 then exports the tune as written.
    source = folk.corpus / COLLECTIONS["ryans"] / "7thRegimentReel.abc"
    full = build(tmp_path / "full", {"ryans": [source]})
    (row,) = folk.read_csv(full.manifest_path)
    assert (row["route"], row["repeats"]) == ("abc2midi", "expanded")
    capped = build(tmp_path / "capped", {"ryans": [source]}, max_tune_notes=int(row["notes"]) - 1)
    (capped_row,) = folk.read_csv(capped.manifest_path)
    assert (capped_row["route"], capped_row["repeats"]) == ("music21", "too-long")
    assert list(capped.fallbacks) == ["ExportError: N notes > max_tune_notes=N"]


@needs_abc2midi
def test_a_bad_tune_does_not_change_the_tune_after_it(tmp_path):
    # Ryan's "My Lady's Goon" leaves a chord open ("Coda"); abc2midi's state after it once changed the
    # timing of the next tune in the same run. Each tune must come out as it does on its own.
    folder = music21_files("ryans")[0].parent
    bad, good = folder / "MyLadysGoonHasGairsOntStrathspey.abc", folder / "MyLoveIsFarAwayReel.abc"
    together = build(tmp_path / "together", {"ryans": [bad, good]})
    alone = build(tmp_path / "alone", {"ryans": [good]})
    assert alone.routes == {"abc2midi": 1}
    assert together.counts["ryans"].routes == {"abc2midi": 1, "music21": 1}
    name = "ryans/MyLoveIsFarAwayReel-1.mid"
    assert (tmp_path / "together" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes()


@needs_abc2midi
def test_melody_rules_chords_ornaments_accidentals_and_tempo(tmp_path, folk):
    source = folk.write_abc(
        tmp_path,
        "rules.abc",
        'X:1\nT:Double stops\nL:1/4\nM:4/4\nR:hornpipe\nK:C\n"C"[CEG] "G"[B,DG] A c|]\n\n'
        "X:2\nT:Ornaments\nL:1/4\nM:4/4\nK:C\n~B TB Hc .d|u e v f !trill!g !fermata!a|]\n\n"
        "X:3\nT:Accidentals\nL:1/4\nM:4/4\nK:G\n_B B ^c c|]\n\n"
        "X:4\nT:Tempo\nL:1/8\nM:2/4\nQ:1/4=80\nK:D\nA>B AB|d2 d2|]\n\n"
        "X:5\nT:Hornpipe\nR:hornpipe\nL:1/8\nM:4/4\nK:C\nABcd efga|]\n",
    )
    summary = build(tmp_path / "out", {"test": [source]})
    assert summary.routes == {"abc2midi": 5}, summary.fallbacks
    out = tmp_path / "out" / "test"
    pitches = {n: [x.pitch for x in folk.assert_clean_melody(out / f"rules-{n}.mid")] for n in "1234"}
    assert pitches["1"] == [67, 67, 69, 72]
    assert summary.dropped == {"chord_tones": 4, "chord_symbols": 2}
    assert pitches["2"] == [71, 71, 72, 74, 76, 77, 79, 81]  # played as written, one note each
    assert pitches["3"] == [70, 71, 73, 72]  # an accidental holds for its own note, as music21 reads it
    one_beat = melody(out / "rules-2.mid").duration
    assert list(one_beat) == [4] * 8
    tempo = pretty_midi.PrettyMIDI(str(out / "rules-4.mid"))
    assert list(tempo.get_tempo_changes()[1]) == [pytest.approx(80)]
    assert list(melody(out / "rules-4.mid").duration) == [3, 1, 2, 2, 4, 4]  # A>B dotted, on the beat
    assert list(melody(out / "rules-5.mid").duration) == [2] * 8  # a hornpipe as written, not swung
    _, default = pretty_midi.PrettyMIDI(str(out / "rules-1.mid")).get_tempo_changes()
    assert list(default) == [pytest.approx(120)]


@needs_abc2midi
def test_grace_notes_are_dropped_like_the_music21_route_does(tmp_path, folk):
    source = folk.write_abc(
        tmp_path, "graces.abc", "X:1\nT:Graces\nL:1/8\nM:2/4\nK:G\n{A}G2 {ef}d2|{g}B4|]\n"
    )
    a2m = build(tmp_path / "a2m", {"test": [source]})
    m21 = build(tmp_path / "m21", {"test": [source]}, route="music21")
    assert a2m.routes == {"abc2midi": 1} and a2m.dropped == m21.dropped == {"grace_notes": 4}
    notes = folk.assert_clean_melody(tmp_path / "a2m" / "test" / "graces-1.mid")
    assert [n.pitch for n in notes] == [67, 74, 71]
    assert melody(tmp_path / "a2m" / "test" / "graces-1.mid").equals(
        melody(tmp_path / "m21" / "test" / "graces-1.mid")
    )


@needs_abc2midi
def test_auto_takes_abc2midi_when_it_is_installed(tmp_path):
    summary = build_corpus(tmp_path, collections=["essen"], limit=2, workers=1, progress=False)
    assert summary.route == "abc2midi" and summary.routes == {"abc2midi": 2}


def test_without_abc2midi_auto_uses_music21_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no abc2midi on this PATH
    with pytest.raises(MelodygenError) as info:
        build_corpus(tmp_path / "a", collections=["essen"], route="abc2midi", progress=False)
    assert str(info.value) == (
        "route='abc2midi' is not allowed: abc2midi is not installed: apt-get install abcmidi, or route=music21"
    )
    assert not (tmp_path / "a").exists()
    summary = build_corpus(tmp_path / "b", collections=["essen"], limit=1, workers=1)
    assert summary.route == "music21" and summary.routes == {"music21": 1}
    first_line = capsys.readouterr().out.splitlines()[0]
    assert (
        "music21" in first_line
        and "apt-get install abcmidi" in first_line
        and "seconds instead of minutes" in first_line
    )


@needs_abc2midi
def test_both_routes_give_the_same_melody_for_most_tunes(tmp_path):
    """Twenty tunes spread over each collection; the differences are music21's (see the module docs)."""
    sources = {}
    for name in COLLECTIONS:
        tunes = [t for path in music21_files(name) for t in read_tunes(name, path)]
        step = len(tunes) // 20
        picked = tunes[step // 2 :: step][:20]
        sources[name] = [tmp_path / f"{name}.abc"]
        sources[name][0].write_text("\n".join(t.abc.rstrip() + "\n" for t in picked), encoding="utf-8")
    a2m = build_corpus(tmp_path / "a2m", sources=sources, route="abc2midi", workers=2, progress=False)
    m21 = build_corpus(tmp_path / "m21", sources=sources, route="music21", workers=2, progress=False)
    assert a2m.exported == m21.exported == 60
    same = {name: 0 for name in COLLECTIONS}
    for path in (tmp_path / "a2m").rglob("*.mid"):
        relative = path.relative_to(tmp_path / "a2m")
        same[relative.parts[0]] += melody(path).equals(melody(tmp_path / "m21" / relative))
    assert same["essen"] == 20, same
    assert min(same.values()) >= 12 and sum(same.values()) >= 48, same  # measured: 20, 14, 19 of 20


@needs_abc2midi
def test_a_pickup_starts_late_in_the_files_first_bar_as_the_abc_has_it(tmp_path, folk):
    from melodygen.music import meter

    source = folk.write_abc(
        tmp_path,
        "pickups.abc",
        "X:1\nT:Jig\nL:1/8\nM:6/8\nK:D\n|:A|dAF ABd|e2d cBA:|\n\n"
        "X:2\nT:Whole bar\nL:1/8\nM:2/4\nK:G\nGABc|d2B2|]\n",
    )
    summary = build(tmp_path / "out", {"test": [source]})
    assert summary.routes == {"abc2midi": 2}, summary.fallbacks
    out = tmp_path / "out" / "test"
    jig = melody(out / "pickups-1.mid")
    assert jig.meta["bar_grid"] == ((-10, 6, 8),)  # an eighth of pickup: the bar began 10 sixteenths before
    assert meter.element_positions(jig)[:5].tolist() == [10, 0, 2, 4, 6]
    assert jig.pitch[:4].tolist() == [69, 74, 69, 66] and jig.duration[:4].tolist() == [2, 2, 2, 2]
    whole = melody(out / "pickups-2.mid")
    assert whole.meta["bar_grid"] == ((0, 2, 4),)
    assert [row["pickup"] for row in folk.read_csv(summary.manifest_path)] == ["2", "0"]
