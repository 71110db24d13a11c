"""The music21 route: one tune's ABC → music21 score → melody MIDI file (slow, about 6–27 tunes/s per core).

music21 10.5 needs help with the folk collections:

* **Melody only.** Chord symbols (``"Am"`` above the staff) are removed; a chord inside the tune (a
  fiddle double stop) becomes its top note; grace notes are dropped (music21 writes their note-off
  before the note-on, which leaves hanging notes).
* **Signatures.** The ABC importer puts one TimeSignature/KeySignature object into several measures and
  the MIDI writer then raises StreamException, so every measure gets its own copy.
* **Repeats** (the manifest's ``repeats`` column). ``none``: the tune has no repeat marks. ``expanded``:
  repeats played out, when the expansion works and gives at most ``max_tune_notes`` notes. Otherwise the
  tune is exported *as written*: repeat barlines, ending brackets and D.C./segno marks are removed and
  every ending is played once, in order; ``malformed`` when music21 could not expand the repeats
  (ExpanderException), ``too-long`` when the expansion ran past ``max_tune_notes`` (one O'Neill tune grows
  from 507 to 50,580 notes in ~17 s, a file pretty_midi refuses). A tune with more than
  ``max_tune_notes`` notes as written is a failure.
* **Tempo.** The tune's ``Q:`` when it has one, else 120 bpm (all of Essen).

The file is then checked and written by :func:`melodygen.folk.checked.write_checked`.
"""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path

from melodygen.folk.abc import Tune
from melodygen.folk.checked import ExportError, Outcome, reason, write_checked

ROUTE = "music21"


def export_unit(tunes: list[Tune], out_dir: str, max_tune_notes: int) -> list[Outcome]:
    """Export a unit of tunes one by one (the function :func:`melodygen.runtime.pool.run_units` runs)."""
    return [export_tune(tune, Path(out_dir), max_tune_notes) for tune in tunes]


def export_tune(tune: Tune, out: Path, max_tune_notes: int, fallback: str = "") -> Outcome:
    """Write ``out / tune.rel_path``; every problem becomes the outcome's ``reason``, none is raised.

    ``fallback`` says why abc2midi's file was not used, when this tune comes from the abc2midi route.
    """
    from music21 import converter, midi, stream

    dropped: Counter[str] = Counter()
    try:
        score = converter.parseData(tune.abc, format="abc")
        if isinstance(score, stream.Opus):
            score = score.scores[0]
        unshare_signatures(score)
        keep_melody(score, dropped)
        score, repeats = resolve_repeats(score, max_tune_notes)
        data = midi.translate.streamToMidiFile(score).writestr()
        notes = write_checked(out / tune.rel_path, data, max_tune_notes)
    except Exception as exc:  # every tune's problem is reported, none stops the build
        why = f"{reason(exc)} (after {fallback})" if fallback else reason(exc)
        return Outcome(id=tune.id, route=ROUTE, reason=why, fallback=fallback)
    return Outcome(
        id=tune.id,
        notes=notes,
        repeats=repeats,
        route=ROUTE,
        dropped=tuple(sorted(dropped.items())),
        fallback=fallback,
    )


def unshare_signatures(score) -> None:
    """Give every measure its own time/key signature, clef and tempo objects."""
    from music21 import clef, key, meter, stream, tempo

    kinds = (meter.TimeSignature, key.KeySignature, clef.Clef, tempo.MetronomeMark)
    seen: set[int] = set()
    for measure in score.recurse().getElementsByClass(stream.Measure):
        for element in list(measure.getElementsByClass(kinds)):
            if id(element) in seen:
                measure.replace(element, copy.deepcopy(element))
            else:
                seen.add(id(element))


def keep_melody(score, dropped: Counter) -> None:
    """Remove chord symbols and grace notes; reduce chords to their top note."""
    from music21 import chord, harmony, note

    for container in list(score.recurse(streamsOnly=True, includeSelf=True)):
        for symbol in list(container.getElementsByClass(harmony.Harmony)):
            container.remove(symbol)
            dropped["chord_symbols"] += 1
        for element in list(container.getElementsByClass(note.GeneralNote)):
            if element.duration.isGrace:
                container.remove(element)
                dropped["grace_notes"] += 1
            elif isinstance(element, chord.Chord):
                top = note.Note(max(element.pitches))
                top.duration = copy.deepcopy(element.duration)
                top.tie = copy.deepcopy(element.tie)
                container.replace(element, top)
                dropped["chord_tones"] += len(element.pitches) - 1


def resolve_repeats(score, max_tune_notes: int):
    """Return ``(stream to write, repeats label)`` following the rule in the module docstring."""
    from music21 import bar, repeat, spanner

    repeat_kinds = (bar.Repeat, spanner.RepeatBracket, repeat.RepeatExpression)
    if score.recurse().getElementsByClass(repeat_kinds).first() is None:
        label = "none"
    else:
        try:
            expanded = score.expandRepeats()
            if count_notes(expanded) <= max_tune_notes:
                return expanded, "expanded"
            label = "too-long"
        except repeat.ExpanderException:
            label = "malformed"
        strip_repeats(score)
    notes = count_notes(score)
    if notes > max_tune_notes:
        raise ExportError(f"{notes} notes as written > max_tune_notes={max_tune_notes}")
    if notes == 0:
        raise ExportError("no notes in the tune")
    return score, label


def strip_repeats(score) -> None:
    """Remove repeat barlines (a closing one becomes a double bar), ending brackets and D.C./segno marks."""
    from music21 import bar, repeat, spanner, stream

    for measure in score.recurse().getElementsByClass(stream.Measure):
        if isinstance(measure.leftBarline, bar.Repeat):
            measure.leftBarline = None
        if isinstance(measure.rightBarline, bar.Repeat):
            measure.rightBarline = bar.Barline("double")
    for container in list(score.recurse(streamsOnly=True, includeSelf=True)):
        container.removeByClass([spanner.RepeatBracket, repeat.RepeatExpression])


def count_notes(score) -> int:
    return sum(1 for _ in score.recurse().notes)
