"""decode(encode(m)) = m for every melody of a folder, through each of MidiTok's tokenizations.

    python scripts/tokenizer_round_trips.py [--midi-dir data/folk] [REMI TSD MIDILike Structured]

For each tokenization: how many melodies come back exactly, its tokens per note or rest, and for each
melody that differs, the longest gap between two onsets (in 16ths) and where the two first part.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from melodygen.data.parsed import parse_midi_folder
from melodygen.music.melody import REST
from melodygen.representations.tokenized import MidiTok

TOKENIZATIONS = ["REMI", "TSD", "MIDILike", "Structured"]


def longest_onset_gap(melody) -> int:
    """The longest time from one note's onset to the next (or to the end), in 16ths."""
    onsets = np.r_[0, np.cumsum(melody.duration)]
    notes = onsets[:-1][melody.pitch != REST]
    return int(np.diff(np.r_[notes, onsets[-1]]).max()) if notes.size else 0


def first_difference(a, b) -> int:
    n = min(len(a), len(b))
    same = (a.pitch[:n] == b.pitch[:n]) & (a.duration[:n] == b.duration[:n])
    return int(np.argmin(same)) if not same.all() else n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--midi-dir", default="data/folk")
    parser.add_argument("--cache-dir", default="data/cache")
    parser.add_argument("tokenizations", nargs="*", default=TOKENIZATIONS)
    args = parser.parse_args()

    parsed = parse_midi_folder(args.midi_dir, args.cache_dir, progress=False)
    melodies = [parsed.melody(i) for i in range(len(parsed))]
    files = list(parsed.files)
    notes = sum(len(m) for m in melodies)
    print(f"{len(melodies)} melodies, {notes} notes and rests, from {args.midi_dir}")
    for name in args.tokenizations:
        representation = MidiTok.from_spec(name)
        start, tokens, differing = time.perf_counter(), 0, []
        for file, melody in zip(files, melodies):
            elements = representation.encode(melody)
            tokens += len(elements)
            back = representation.decode(elements)
            if not back.equals(melody):
                differing.append((file, melody, back))
        seconds = time.perf_counter() - start
        print(f"{name}: {len(melodies) - len(differing)} of {len(melodies)} exact, "
              f"{tokens / notes:.3f} tokens per note or rest, {len(melodies) / seconds:.0f} melodies/s")  # fmt: skip
        if differing:
            gaps = [longest_onset_gap(m) for _, m, _ in differing]
            print(f"  {len(differing)} differ; the longest gap from an onset to the next in each: "
                  f"{min(gaps)} to {max(gaps)} 16ths")  # fmt: skip
            file, melody, back = differing[0]
            at = first_difference(melody, back)
            print(f"  e.g. {file}: from element {at}, "
                  f"{list(zip(melody.pitch[at:at + 3].tolist(), melody.duration[at:at + 3].tolist()))} became "
                  f"{list(zip(back.pitch[at:at + 3].tolist(), back.duration[at:at + 3].tolist()))}")  # fmt: skip


if __name__ == "__main__":
    main()
