"""Crafted MIDI files are skipped with their reason at a bounded cost; legitimate files are kept."""

import json
import struct
import subprocess
import sys

import mido
import pytest
from helpers import run_cli

from melodygen.data.parsed import parse_midi_folder
from melodygen.folk.abc import read_tunes


def varlen(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def smf(tracks: list[bytes], ticks_per_beat: int = 480) -> bytes:
    data = b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), ticks_per_beat)
    for body in tracks:
        body += b"\x00\xff\x2f\x00"  # end of track
        data += b"MTrk" + struct.pack(">I", len(body)) + body
    return data


def notes(count: int, gap: int = 120) -> bytes:
    return b"".join(
        varlen(0) + bytes([0x90, 60 + i % 12, 80]) + varlen(gap) + bytes([0x80, 60 + i % 12, 0])
        for i in range(count)
    )


#: name → (bytes, the reason it is skipped for)
HOSTILE = {
    "a_million_events.mid": (smf([notes(499_990, gap=1)]), "too_complex"),  # 4 MB, just under max_file_bytes
    "twenty_thousand_tracks.mid": (smf([notes(2)] * 20_000), "too_complex"),
    "a_huge_tick.mid": (smf([varlen(0x0FFFFFFF) + bytes([0x90, 60, 80]) + varlen(1) + bytes([0x80, 60, 0])]), "absurd_length"),
    "too_large.mid": (smf([notes(10)]) + b"\0" * 4_100_000, "too_large"),
}  # fmt: skip

MEASURE = """
import json, resource, sys, time
from melodygen.data.midi import SkipFile, load_melody
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    load_melody(sys.argv[1])
    reason = None
except SkipFile as skip:
    reason = skip.reason
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"reason": reason, "seconds": time.perf_counter() - started, "grew_mb": (after - before) / 1024}))
"""


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_crafted_file_is_skipped_without_taking_memory(tmp_path, name):
    data, reason = HOSTILE[name]
    path = tmp_path / name
    path.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    assert measured["reason"] == reason
    # mido would build an object per event (about 440 MB for the million events); the checks come first
    assert measured["grew_mb"] < 50


def test_a_folder_of_hostile_files_keeps_every_good_tune_and_names_the_rest(tmp_path, tune_dir):
    for name, (data, _) in HOSTILE.items():
        (tune_dir / name).write_bytes(data)
    parsed = parse_midi_folder(tune_dir, tmp_path / "cache", workers=1, progress=False)
    assert len(parsed) == 20
    assert sorted((f, r) for f, r, _ in parsed.skipped) == sorted((n, r) for n, (_, r) in HOSTILE.items())


def test_library_warnings_are_kept_against_their_file_not_printed(tmp_path, tune_dir):
    """pretty_midi warns when tempo changes sit on a track other than the first: a common, harmless
    export quirk, which belongs in the report beside the file rather than in the user's terminal."""
    original = mido.MidiFile(tune_dir / "tune00.mid")
    quirky = mido.MidiFile(type=1, ticks_per_beat=original.ticks_per_beat)
    quirky.tracks.append(mido.MidiTrack([mido.MetaMessage("end_of_track", time=0)]))
    second = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=600_000, time=0)])
    second.extend(msg for track in original.tracks for msg in track if not msg.is_meta)
    quirky.tracks.append(second)
    quirky.save(tune_dir / "tempo_on_track_2.mid")

    result = run_cli("prepare", tmp_path, f"data.midi_dir={tune_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "non-zero tracks" not in result.stdout + result.stderr
    assert "1 files read with a library's warning (listed in the report)" in result.stdout
    (report,) = (tmp_path / "outputs").rglob("report.json")
    warned = json.loads(report.read_text())["warnings"]
    assert [w["file"] for w in warned] == ["tempo_on_track_2.mid"]
    assert "Tempo, Key or Time signature change events found on non-zero tracks" in warned[0]["warning"]


def test_tune_numbers_cannot_name_a_file_outside_the_corpus(tmp_path):
    abc = tmp_path / "hostile.abc"
    abc.write_text("X: ../../escaped\nT: up\nK: C\nCDEF|\n\nX: /etc/passwd\nT: root\nK: C\nGABc|\n")
    corpus = tmp_path / "corpus"
    for tune in read_tunes("collection", abc):
        assert tune.rel_path.count("/") == 1  # <collection>/<file>
        target = (corpus / tune.rel_path).resolve()
        assert target.parent == (corpus / "collection").resolve()


def test_limits_are_settings(tmp_path, tune_dir):
    tight = run_cli("prepare", tmp_path, f"data.midi_dir={tune_dir}", "data.max_notes=10")
    assert tight.returncode == 2
    assert "skipped     20  absurd_length" in tight.stdout
    wrong = run_cli("prepare", tmp_path, f"data.midi_dir={tune_dir}", "data.max_events=0")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "error: data.max_events=0 is not allowed: must be at least 1" in wrong.stderr


def test_a_device_that_never_ends_is_read_no_further_than_the_size_limit(tmp_path):
    from melodygen.data.midi import SkipFile, load_melody

    (tmp_path / "endless.mid").symlink_to("/dev/zero")  # its size reads as 0, its data never ends
    with pytest.raises(SkipFile) as skip:
        load_melody(tmp_path / "endless.mid")
    assert (skip.value.reason, skip.value.detail) == (
        "too_large",
        "it has more than max_file_bytes=4000000 bytes",
    )
