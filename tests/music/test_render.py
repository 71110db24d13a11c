"""Rendering: written MIDI read back with pretty_midi (and the project's own parser), PNGs on disk."""

import numpy as np
import pretty_midi
import pytest

from melodygen.data.midi import ExtractionParams, load_melody
from melodygen.music.melody import REST, Melody
from melodygen.music.render import melody_to_midi, piano_roll_png, write_melodies

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _melody(qpm=100.0):
    return Melody([60, 64, REST, 67, 72, REST, 71], [4, 2, 3, 1, 16, 8, 4], qpm=qpm)


def _expected_notes(melody, qpm):
    sixteenth = 60.0 / qpm / 4
    onsets = np.r_[0, np.cumsum(melody.duration)[:-1]]
    return [
        (int(p), s * sixteenth, (s + d) * sixteenth)
        for p, s, d in zip(melody.pitch, onsets, melody.duration)
        if p != REST
    ]


def _read_notes(path):
    midi = pretty_midi.PrettyMIDI(str(path))
    assert len(midi.instruments) == 1
    return midi, [(n.pitch, n.start, n.end) for n in midi.instruments[0].notes]


def test_midi_notes_pitches_and_times_match_the_melody_and_rests_leave_gaps(tmp_path):
    melody = _melody(qpm=100.0)
    path = melody_to_midi(melody, tmp_path / "deep" / "m.mid")
    assert path == tmp_path / "deep" / "m.mid"
    midi, notes = _read_notes(path)
    expected = _expected_notes(melody, 100.0)
    assert [n[0] for n in notes] == [p for p, _, _ in expected] == [60, 64, 67, 72, 71]
    np.testing.assert_allclose([n[1:] for n in notes], [e[1:] for e in expected], atol=1e-6)
    # the rests: 3 sixteenths between 64 and 67, 8 between 72 and 71 (0.15 s per 16th at 100 qpm)
    assert notes[2][1] - notes[1][2] == pytest.approx(3 * 0.15)
    assert notes[4][1] - notes[3][2] == pytest.approx(8 * 0.15)
    assert midi.get_tempo_changes()[1][0] == pytest.approx(100.0)


def test_qpm_argument_overrides_the_melodys_tempo_and_program_velocity_are_written(tmp_path):
    melody = _melody(qpm=120.0)
    midi, notes = _read_notes(melody_to_midi(melody, tmp_path / "m.mid", qpm=80.0, program=73, velocity=64))
    np.testing.assert_allclose(
        [n[1:] for n in notes], [e[1:] for e in _expected_notes(melody, 80.0)], atol=1e-6
    )
    instrument = midi.instruments[0]
    assert instrument.program == 73 and {n.velocity for n in instrument.notes} == {64}


def test_written_midi_parses_back_to_the_same_melody(tmp_path):
    melody = _melody(qpm=140.0)
    back = load_melody(melody_to_midi(melody, tmp_path / "m.mid"), ExtractionParams(min_notes=1))
    assert back.equals(melody), (back.pitch, back.duration)
    assert back.qpm == pytest.approx(140.0, rel=1e-5)  # MIDI stores whole microseconds per beat


def test_piano_roll_is_a_png(tmp_path):
    path = piano_roll_png(_melody(), tmp_path / "roll.png", title="a tune")
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 100 and height > 100


def test_piano_roll_of_a_melody_without_notes_still_draws(tmp_path):
    data = piano_roll_png(Melody([], []), tmp_path / "empty.png").read_bytes()
    assert data[:8] == PNG_MAGIC


def test_write_melodies_names_files_in_order(tmp_path):
    melodies = [_melody(), Melody([62, 65], [4, 4])]
    written = write_melodies(melodies, tmp_path / "out")
    assert [p.name for p in written] == [
        "sample_000.mid",
        "sample_000.png",
        "sample_001.mid",
        "sample_001.png",
        "sample_grid.png",  # the first 16 together
    ]
    for path in written:
        assert path.stat().st_size > 0
    _, notes = _read_notes(tmp_path / "out" / "sample_001.mid")
    assert [n[0] for n in notes] == [62, 65]
    only_midi = write_melodies(melodies, tmp_path / "plain", stem="tune", png=False)
    assert [p.name for p in only_midi] == ["tune_000.mid", "tune_001.mid"]
    first = write_melodies(melodies * 3, tmp_path / "many", max_pngs=1)  # a thousand would take minutes
    assert [p.name for p in first if p.suffix == ".png"] == ["sample_000.png", "sample_grid.png"]
    assert not list((tmp_path / "plain").glob("*.png"))


def _read_wav(path):
    import wave

    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16_000)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


SINE_ONLY = """
import sys
sys.modules["fluidsynth"] = None  # as on a machine without pyfluidsynth
from melodygen.music.melody import Melody
from melodygen.music.render import write_wav
melody = Melody([60, 64, 67], [4, 4, 8])
write_wav(melody, sys.argv[1])
write_wav(melody, sys.argv[2])  # the warning comes once
"""


def test_without_fluidsynth_a_wav_is_sine_tones_with_one_warning(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", SINE_ONLY, tmp_path / "a.wav", tmp_path / "b.wav"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("FluidSynth is not installed: audio is sine tones") == 1
    written = _read_wav(tmp_path / "a.wav")
    sine = (to_sine(Melody([60, 64, 67], [4, 4, 8])) * 32767).astype("<i2")
    assert len(written) >= 2 * 16_000  # 16 sixteenths at 120 qpm: 2 s
    assert np.array_equal(written, sine)  # pretty_midi's sine synthesis, to the sample


@pytest.mark.skipif(
    not __import__("melodygen.music.render", fromlist=["x"]).fluidsynth_available(),
    reason="FluidSynth is not installed here (make setup installs it as root)",
)
def test_with_fluidsynth_a_wav_is_a_soundfont_piano_not_sine_tones(tmp_path, caplog):
    from melodygen.music.render import synthesize, write_wav

    melody = Melody([60, 64, 67], [4, 4, 8])
    wav = _read_wav(write_wav(melody, tmp_path / "piano.wav"))
    assert "sine tones" not in caplog.text and np.abs(wav).max() > 1000
    sine = to_sine(melody)
    piano = synthesize(melody)
    assert piano.shape != sine.shape or not np.allclose(piano, sine, atol=1e-3)


def to_sine(melody):
    from melodygen.music.render import to_pretty_midi

    audio = to_pretty_midi(melody).synthesize(fs=16_000)
    return (audio / np.abs(audio).max() * 0.8).astype(np.float32)
