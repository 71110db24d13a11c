"""What a crafted MIDI file costs to skip: seconds and peak memory of reading it, each in a fresh process.

    python scripts/bench_hostile_midi.py

Writes the files with mido into a temporary folder (a million events just under the 4 MB size limit,
20,000 tracks, a quarter of a billion ticks, a file over the size limit, and a well-formed tune for
comparison), then reads each with ``load_melody`` in its own process and prints the reason it was
skipped, the time, the process's peak memory and how much of it the read added; and, to compare,
what mido alone (one object per event) takes for the million events.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import mido

MEASURE = """
import json, resource, sys, time
import mido
from melodygen.data.midi import SkipFile, load_melody
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
if sys.argv[2] == "mido":
    reason = f"{len(mido.MidiFile(sys.argv[1]).tracks)} tracks read"
else:
    try:
        reason = f"kept ({load_melody(sys.argv[1]).num_notes} notes)"
    except SkipFile as skip:
        reason = str(skip)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"reason": reason, "seconds": time.perf_counter() - started, "peak": after / 1024,
                  "grew": (after - before) / 1024}))
"""


def track_of(count: int, gap: int) -> mido.MidiTrack:
    track = mido.MidiTrack()
    for i in range(count):
        track.append(mido.Message("note_on", note=60 + i % 12, velocity=80, time=0))
        track.append(mido.Message("note_off", note=60 + i % 12, velocity=0, time=gap))
    return track


def write(path: Path, tracks: list[mido.MidiTrack]) -> Path:
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    midi.tracks.extend(tracks)
    midi.save(path)
    return path


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        files = {
            "a tune (64 notes)": write(folder / "tune.mid", [track_of(64, 120)]),
            "a million events (4.0 MB)": write(folder / "events.mid", [track_of(499_990, 1)]),
            "20,000 tracks": write(folder / "tracks.mid", [track_of(2, 120) for _ in range(20_000)]),
            "a note 268 million ticks in": write(folder / "tick.mid", [track_of(1, 0x0FFFFFFF)]),
        }
        big = folder / "big.mid"
        big.write_bytes(files["a tune (64 notes)"].read_bytes() + b"\0" * 5_000_000)
        files["5 MB"] = big
        runs = [(label, path, "load_melody") for label, path in files.items()]
        runs.append(("a million events, mido alone", files["a million events (4.0 MB)"], "mido"))
        print(f"{'file':32} {'seconds':>8} {'peak MB':>8} {'grew MB':>8}  outcome")
        for label, path, reader in runs:
            result = subprocess.run(
                [sys.executable, "-c", MEASURE, str(path), reader], capture_output=True, text=True
            )
            if result.returncode:
                raise SystemExit(result.stderr)
            m = json.loads(result.stdout)
            print(f"{label:32} {m['seconds']:8.3f} {m['peak']:8.0f} {m['grew']:8.0f}  {m['reason']}")


if __name__ == "__main__":
    main()
