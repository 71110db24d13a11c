"""Reading ABC files: one file becomes a list of :class:`Tune` (text, header fields, output path).

A tune begins at an ``X:`` line and runs to the next one; text before the first ``X:`` (a file header)
is not part of any tune. ``title``/``key``/``meter`` are the tune's first ``T:``/``K:``/``M:`` fields as
written. The tune number is the ``X:`` value with characters unsafe in a file name replaced by ``_``; a
number used twice in one file gets ``_2``, ``_3``… so every tune keeps its own output file
``<collection>/<abc-file-stem>-<tune-number>.mid``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

TuneKey = tuple[str, str, str]  # (collection, source_file, tune_number)

_TUNE_START = re.compile(r"^X:", re.MULTILINE)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
# Repeat signs in the music: |: :| :: and first/second endings ([1 |1 :|2 …).
_REPEAT_SIGN = re.compile(r"\|:|:\||::|\[\d|\|\d")
_QUOTED = re.compile(r'"[^"\n]*"')  # chord symbols and annotations, which may hold any character
_DECORATION = re.compile(r"![^!\n]*!|\+[^+\n]*\+")
_FIELD_LINE = re.compile(r"^[A-Za-z]:")
_GRACE_GROUP = re.compile(r"\{([^}\n]*)\}")
_NOTE_LETTER = re.compile(r"[A-Ga-g]")
# What may stand before a tune's first bar, for the length of a pickup: notes and rests with their lengths,
# chords, tuplets, broken rhythm; ties, slurs, spacers and single-character decorations are ignored.
_LEADING_BARS = re.compile(r"^(?:\s|:|\[?\|\]?)*")
_BAR_LINE = re.compile(r"\[?\|\]?|::")
_NOTE = re.compile(r"(?:\^{1,2}|_{1,2}|=)?[A-Ga-gzx][,']*(\d*)(/*)(\d*)")
_CHORD = re.compile(r"\[((?:(?:\^{1,2}|_{1,2}|=)?[A-Ga-g][,']*[\d/]*)+)\](\d*)(/*)(\d*)")
_TUPLET = re.compile(r"\((\d)(?::(\d*))?(?::(\d*))?")
_BROKEN = re.compile(r"[<>]{1,3}")
_IGNORED = re.compile(r"(?:[\s\\\-)`y~.H-Wh-w]|\((?!\d))+")


class NoTunes(Exception):
    """An ABC file without a single ``X:`` line."""


@dataclass(frozen=True)
class Tune:
    """One tune of one ABC file, with where its MIDI file goes (relative to the corpus folder)."""

    collection: str
    source_file: str
    tune_number: str
    title: str
    key: str
    meter: str
    rel_path: str
    abc: str

    @property
    def id(self) -> TuneKey:
        return (self.collection, self.source_file, self.tune_number)

    @property
    def body(self) -> str:
        """The lines after the header (after the first ``K:`` line; all of it when there is none)."""
        lines = self.abc.splitlines()
        end = next((i for i, line in enumerate(lines) if line.startswith("K:")), -1)
        return "\n".join(lines[end + 1 :])


def read_text(path: Path) -> str:
    """The file's text: UTF-8, or Latin-1 when it is not valid UTF-8 (some older collections)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_tunes(collection: str, path: Path) -> list[Tune]:
    """Split one ABC file into its tunes; raises :class:`NoTunes` when it has no ``X:`` line."""
    text = read_text(path)
    starts = [m.start() for m in _TUNE_START.finditer(text)]
    if not starts:
        raise NoTunes("no tunes (no X: line)")
    tunes: list[Tune] = []
    seen: Counter[str] = Counter()
    for begin, end in zip(starts, starts[1:] + [len(text)]):
        abc = text[begin:end]
        lines = abc.splitlines()
        number = _UNSAFE_NAME.sub("_", lines[0][2:].strip()) or str(len(tunes) + 1)
        seen[number] += 1
        if seen[number] > 1:
            number = f"{number}_{seen[number]}"
        header = lines[: next((i for i, ln in enumerate(lines) if ln.startswith("K:")), len(lines)) + 1]
        tunes.append(
            Tune(
                collection=collection,
                source_file=path.name,
                tune_number=number,
                title=header_field(header, "T"),
                key=header_field(header, "K"),
                meter=header_field(header, "M"),
                rel_path=f"{collection}/{path.stem}-{number}.mid",
                abc=abc,
            )
        )
    return tunes


def header_field(header: list[str], tag: str) -> str:
    """The value of the first ``tag:`` line, stripped; empty when there is none."""
    return next((ln[2:].strip() for ln in header if ln.startswith(tag + ":")), "")


def music_lines(tune: Tune) -> list[str]:
    """The body's lines of music, comments cut off (field lines and comment lines left out)."""
    return [
        line.split("%", 1)[0]
        for line in tune.body.splitlines()
        if not _FIELD_LINE.match(line) and not line.lstrip().startswith("%")
    ]


def has_repeat_signs(tune: Tune) -> bool:
    """Whether the music has repeat barlines or numbered endings (quoted text and decorations ignored)."""
    return any(_REPEAT_SIGN.search(_DECORATION.sub("", _QUOTED.sub("", line))) for line in music_lines(tune))


def unplayed_marks(tune: Tune) -> dict[str, int]:
    """How many grace notes and chord symbols (``"Am"``) the music has: neither is part of the melody."""
    graces = chord_symbols = 0
    for line in music_lines(tune):
        chord_symbols += sum(1 for text in _QUOTED.findall(line) if text[1:2] in "ABCDEFG" and len(text) > 2)
        for group in _GRACE_GROUP.findall(_QUOTED.sub("", line)):
            graces += len(_NOTE_LETTER.findall(group))
    return {name: n for name, n in (("grace_notes", graces), ("chord_symbols", chord_symbols)) if n}


def meter_length(meter: str) -> Fraction | None:
    """A bar of ``M:`` as a fraction of a whole note (``C``: 4/4, ``C|``: 2/2); None for free or odd meters."""
    meter = meter.strip()
    if meter in ("C", "C|"):
        return Fraction(1)
    match = re.fullmatch(r"(\d+)/(\d+)", meter)
    return Fraction(int(match.group(1)), int(match.group(2))) if match and int(match.group(1)) else None


def _unit(tune: Tune, bar: Fraction) -> Fraction:
    """``L:``, the length of a note without a number; by the standard's rule when the tune has none."""
    header = tune.abc.splitlines()
    written = header_field(
        header[: next((i for i, ln in enumerate(header) if ln.startswith("K:")), len(header))], "L"
    )
    match = re.fullmatch(r"(\d+)/(\d+)", written.strip())
    if match and int(match.group(2)):
        return Fraction(int(match.group(1)), int(match.group(2)))
    return Fraction(1, 16) if bar < Fraction(3, 4) else Fraction(1, 8)


def _times(number: str, slashes: str, divisor: str) -> Fraction:
    """A note's length multiplier as ABC writes it: ``2``, ``/``, ``//``, ``3/2``, ``/4``."""
    length = Fraction(int(number)) if number else Fraction(1)
    if divisor:
        return length / int(divisor)
    return length / (2 ** len(slashes))


def pickup(tune: Tune) -> Fraction | None:
    """How long the music before the tune's first whole bar lasts, as a fraction of a whole note: what
    stands before its first bar line (or between an opening ``|:`` and the next one), when that is shorter
    than a bar of its ``M:``; 0 when the tune starts with a whole bar. None when the meter is free or the
    opening holds something this reading does not know (an inline field, a multi-bar rest …)."""
    bar = meter_length(tune.meter)
    lines = music_lines(tune)
    if bar is None or not lines:
        return None
    text = _GRACE_GROUP.sub("", _DECORATION.sub("", _QUOTED.sub("", " ".join(lines))))
    text = text[_LEADING_BARS.match(text).end() :]
    opening = _BAR_LINE.split(text, maxsplit=1)[0]
    if len(opening) == len(text):  # no bar line at all
        return None
    unit, position = _unit(tune, bar), 0
    lengths: list[Fraction] = []
    tuplet: list[Fraction] = []  # the factor of each note still to come in a tuplet
    broken = Fraction(1)  # the factor of the next note, after > or <
    while position < len(opening):
        if match := _TUPLET.match(opening, position):
            p = int(match.group(1))
            q = int(match.group(2)) if match.group(2) else {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}.get(p, 2)
            r = int(match.group(3)) if match.group(3) else p
            tuplet = [Fraction(q, p)] * r
        elif match := _IGNORED.match(opening, position):
            pass
        elif (match := _CHORD.match(opening, position)) or (match := _NOTE.match(opening, position)):
            if match.re is _CHORD:
                length = _times(*_NOTE.match(match.group(1)).groups()) * _times(*match.groups()[1:])
            else:
                length = _times(*match.groups())
            lengths.append(unit * length * (tuplet.pop(0) if tuplet else 1) * broken)
            broken = Fraction(1)
        elif (match := _BROKEN.match(opening, position)) and lengths:
            shorter = Fraction(1, 2 ** len(match.group(0)))
            longer = 2 - shorter
            lengths[-1] *= longer if match.group(0)[0] == ">" else shorter
            broken = shorter if match.group(0)[0] == ">" else longer
        else:
            return None
        position = match.end()
    total = sum(lengths, Fraction(0))
    return total if 0 < total < bar else Fraction(0)
