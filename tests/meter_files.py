"""MIDI files of tunes in a meter, with and without a pickup, written with pretty_midi (shared by the tests of
bar lines and bar positions)."""

import pretty_midi

SIXTEENTH = 0.125  # seconds at 120 bpm


def write_signatures(path, notes, signatures):
    """A one-track file: ``notes`` are (pitch, start, length) in 16ths, at 120 bpm; ``signatures`` are
    (numerator, denominator, at 16th)."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for numerator, denominator, step in signatures:
        pm.time_signature_changes.append(pretty_midi.TimeSignature(numerator, denominator, step * SIXTEENTH))
    piano = pretty_midi.Instrument(program=0)
    for pitch, start, length in notes:
        piano.notes.append(pretty_midi.Note(90, pitch, start * SIXTEENTH, (start + length) * SIXTEENTH))
    pm.instruments.append(piano)
    pm.write(str(path))
    return path


def write(path, notes, signature=(4, 4)):
    """A one-track file: ``notes`` are (pitch, start, length) in 16ths, at 120 bpm, with one time signature."""
    return write_signatures(path, notes, [(*signature, 0)])


def jig(pickup: int) -> list[tuple[int, int, int]]:
    """Four bars of 6/8 in eighths (quarter-eighth on each beat), after ``pickup`` eighths of pickup,
    written from time 0 as abc2midi writes a tune with a pickup."""
    notes, t = [], 0
    for _ in range(pickup):
        notes.append((74, t, 2))
        t += 2
    for bar in range(4):
        for _beat in range(2):
            notes += [(62 + bar, t, 4), (66, t + 4, 2)]
            t += 6
    return notes
