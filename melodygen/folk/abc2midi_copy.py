"""The ABC text abc2midi reads: a unit's tunes renumbered into one file, the melody as written.

Tune N of the unit becomes ``X:N``, and tunes are separated by one blank line (abc2midi wants it). The
copy is read the way music21 reads the original, so both routes give the same melody:

* **Accidentals** apply to their own note only (``%%propagate-accidentals not`` after the ``K:`` line).
  abc2midi would carry them to the end of the bar, in every octave, as the ABC standard says; music21
  does not, and the Essen files look written note by note for that reading (``_B2B2`` in G: B flat, B).
* **Chords** start together (``%%MIDI chordattack 0``): abc2midi would roll them, 10 ticks a note.
* **Ornaments** are not played: abc2midi would play trills and rolls (``T``, ``~``, ``!trill!`` …) as runs
  of short notes and shorten staccato notes, so those marks are removed (fermatas too).
* **No swing**: abc2midi swings the eighths (2:1) of a tune whose ``R:`` says hornpipe: ``R:`` lines go.
* **Marks abc2midi stops on**: bowing marks (``u``, ``v``), a fermata before a bar line, a staccato dot
  after ``>``: removed with the rest.

Nothing is removed inside quoted text, inline fields or comments. The collections' own files are never
touched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from melodygen.folk.abc import Tune

# Kept as they are: quoted text, !decorations!, inline fields [K:…] and comments; the rest is music.
_PROTECTED = re.compile(r'"[^"\n]*"|![^!\n]*!|\[[A-Za-z]:[^\]\n]*\]|%.*')
# After the first K: line, where abc2midi reads them.
DIRECTIVES = ("%%propagate-accidentals not", "%%MIDI chordattack 0")
_FIELD_LINE = re.compile(r"^[A-Za-z+]:")
_PLAYED_OUT = re.compile(r"[~T.uvH]")  # roll, trill, staccato, up-bow, down-bow, fermata
_ORNAMENTS = {
    f"!{name}!"
    for name in "trill trill( trill) roll turn turnx invertedturn invertedturnx mordent lowermordent "
    "uppermordent pralltriller staccato fermata invertedfermata arpeggio".split()
}


def renumbered(tunes: Sequence[Tune]) -> tuple[str, list[int]]:
    """One ABC text holding ``tunes`` as ``X:1`` … ``X:N``, and the line (from 1) where each begins."""
    parts, first_lines, line = [], [], 1
    for number, tune in enumerate(tunes, 1):
        lines = [f"X:{number}"]
        for text in tune.abc.splitlines()[1:]:
            if not text.startswith("R:"):
                lines.append(as_written(text))
            if text.startswith("K:") and DIRECTIVES[0] not in lines:
                lines += DIRECTIVES
        while lines and not lines[-1].strip():
            lines.pop()
        first_lines.append(line)
        parts.append("\n".join(lines) + "\n\n")
        line += len(lines) + 1
    return "".join(parts), first_lines


def as_written(line: str) -> str:
    """One line of the copy: music without the marks abc2midi would play out (module docstring)."""
    if _FIELD_LINE.match(line) or line.startswith("%"):
        return line
    parts, at = [], 0
    for match in _PROTECTED.finditer(line):
        parts.append(_PLAYED_OUT.sub("", line[at : match.start()]))
        parts.append("" if match.group().lower() in _ORNAMENTS else match.group())
        at = match.end()
    parts.append(_PLAYED_OUT.sub("", line[at:]))
    return "".join(parts)
