"""MIDI files every reader must handle: one broken file for every skip reason, shared by the readers' tests."""

from __future__ import annotations

import os
from pathlib import Path

import pretty_midi

from melodygen.data.midi import ExtractionParams


def corrupt_second_track(data: bytes, how: str) -> bytes:
    """``data`` with its second track damaged: a bad chunk name, or a first track 2 bytes too long."""
    first = data.index(b"MTrk")
    second = data.index(b"MTrk", first + 4)
    if how == "chunk name":
        return data[:second] + b"XTrk" + data[second + 4 :]
    # The first track's length is 2 bytes too long: mido reads into the next chunk's header.
    length = int.from_bytes(data[first + 4 : first + 8], "big")
    return data[: first + 4] + (length + 2).to_bytes(4, "big") + data[first + 8 :]


#: Limits that the good tunes (≤ 80 notes, ≤ 160 beats, < 1 kB) pass.
MIXED_PARAMS = ExtractionParams(max_file_bytes=8_000, max_beats=2_000)


def write_broken_files(folder: Path, make_tune, make_midi, tunes) -> dict[str, str]:
    """One file for every skip reason; returns {relative path: reason}."""
    broken = {}
    if os.path.exists("/proc/self/mem"):
        (folder / "unreadable.mid").symlink_to("/proc/self/mem")
        broken["unreadable.mid"] = "unreadable"
    (folder / "readme.mid").write_text("this is not MIDI\n")
    broken["readme.mid"] = "not_midi"
    data = make_tune(folder / "tmp_good.mid", tunes[0]).read_bytes()
    (folder / "tmp_good.mid").unlink()
    (folder / "sub").mkdir()
    (folder / "sub" / "truncated.midi").write_bytes(data[: len(data) // 2])
    broken["sub/truncated.midi"] = "truncated"
    (folder / "corrupt.mid").write_bytes(corrupt_second_track(data, "chunk name"))
    broken["corrupt.mid"] = "corrupt"
    make_tune(folder / "huge.mid", tunes[1] * 150)
    broken["huge.mid"] = "too_large"
    make_midi(
        folder / "endless.mid", [([(60 + i, 4 * i, 2) for i in range(9)] + [(72, 40_000, 2)], 0, False)]
    )
    broken["endless.mid"] = "absurd_length"
    pm = pretty_midi.PrettyMIDI()
    pm.instruments.append(pretty_midi.Instrument(program=0))
    pm.write(str(folder / "silent.mid"))
    broken["silent.mid"] = "no_notes"
    make_tune(folder / "drums.mid", [(36, 2), (42, 2)] * 10, is_drum=True)
    broken["drums.mid"] = "drums_only"
    make_tune(folder / "short.mid", tunes[2][:5])
    broken["short.mid"] = "too_short"
    return broken
