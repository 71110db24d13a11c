"""Which tokenization models folk melodies best: melodygen's categorical and event representations and
MidiTok's REMI, TSD and REMI + BPE, scored in bits per note on the same held-out tunes.

    python scripts/tokenization_study.py [--midi-dir data/folk] [--minutes 5] [--samples 100]
        [--out outputs/tokenization_study]

Every run is the default LSTM (2 × 128) trained for ``--minutes`` (``trainer.max_time``), the best
checkpoint by ``val/loss`` kept. Each window holds about 64 notes and rests whatever the tokenization: its
length in elements is 64 × the elements per note of the training split (measured here on the training
melodies only, with a BPE vocabulary learned on them as the run learns its own). Each run is scored on the
held-out test split as windows (``test/bits``) and as whole melodies (``melodygen-evaluate``); then
``--samples`` melodies of 64 notes are sampled and set against the held-out tunes (Yang & Lerch).

Writes ``docs/tokenizations.md`` (and the JSON beside the runs). Every run uses the folk corpus and
nothing else, with the default split (``data.split_seed=0``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study import (  # noqa: E402
    RECURRENT_0_1,
    Record,
    checked_midi_dir,
    held_out,
    parser,
    sample_and_compare,
    score_whole_melodies,
    time_budget,
    train_run,
)

#: name → the data overrides of its representation
RUNS = {
    "categorical": ["data.representation=categorical"],
    "event": ["data.representation=event"],
    "REMI": ["data.representation=miditok", "data.tokenizer=REMI"],
    "TSD": ["data.representation=miditok", "data.tokenizer=TSD"],
    "REMI + BPE 1000": ["data.representation=miditok", "data.tokenizer=REMI", "data.tokenizer_vocab_size=1000"],
}  # fmt: skip
NOTES_PER_WINDOW = 64
DOCS = Path("docs")


def training_melodies(midi_dir: Path, root: Path):
    """The training split's melodies, parsed as every run parses them."""
    from melodygen.data.datamodule import MelodyDataModule
    from melodygen.data.splits import TRAIN

    datamodule = MelodyDataModule(midi_dir=str(midi_dir), cache_dir=str(root / "cache"), progress=False)
    datamodule.prepare_data()
    parsed, split = datamodule._split()
    return [parsed.melody(i) for i in np.flatnonzero(split == TRAIN)]


def elements_per_note(name: str, melodies) -> float:
    """Elements per note or rest of ``name``'s representation on ``melodies``."""
    from melodygen.representations import get_representation
    from melodygen.representations.tokenized import MidiTok

    overrides = dict(o.split("=", 1) for o in RUNS[name])
    kind = overrides["data.representation"]
    if kind != "miditok":
        rep = get_representation(kind)
    else:
        rep = MidiTok.from_spec(overrides["data.tokenizer"])
        if "data.tokenizer_vocab_size" in overrides:
            rep.train_vocabulary(melodies, int(overrides["data.tokenizer_vocab_size"]))
    sample = melodies[:: max(1, len(melodies) // 1000)]
    return sum(len(rep.encode(m)) for m in sample) / sum(len(m) for m in sample)


def main() -> None:
    args = parser(__doc__, 5.0, "outputs/tokenization_study").parse_args()
    midi_dir = checked_midi_dir(args.midi_dir)
    root = args.out.resolve()
    record = Record(root, ratio={}, runs={})
    melodies = None
    for name in RUNS:  # the window of each: about 64 notes and rests, measured on the training split
        if name not in record["ratio"]:
            melodies = melodies if melodies is not None else training_melodies(midi_dir, root)
            record["ratio"][name] = elements_per_note(name, melodies)
            record.save()
    for name, overrides in RUNS.items():
        if name not in record["runs"]:
            seq_len = max(8, round(NOTES_PER_WINDOW * record["ratio"][name]))
            record["runs"][name] = train_run(
                name,
                [*overrides, *RECURRENT_0_1, f"data.seq_len={seq_len}"],
                time_budget(args.minutes),
                midi_dir,
                root,
            )
            record.save()
    test_dir = held_out(midi_dir, root / "held_out")
    ckpts = {name: record["runs"][name]["best_checkpoint"] for name in RUNS}
    record["whole_melodies"], record["test_melodies"] = score_whole_melodies(ckpts, test_dir, root)
    record["sets"], record["token_errors"] = {}, {}
    for name, ckpt in ckpts.items():
        record["sets"][name], record["runs"][name]["sampling_seconds"] = sample_and_compare(
            name, ckpt, args.samples, test_dir, root, DOCS / "tokenizations"
        )
    record.save()
    write_report(args, record)


def _value(metrics: dict, key: str) -> str:
    return f"{metrics[key]:.4f}" if key in metrics else "—"


def write_report(args, record: dict) -> None:
    lines = [
        "# Which tokenization models folk melodies best",
        "",
        f"Written by `scripts/tokenization_study.py` on the folk corpus ({args.midi_dir}; the default split) on",
        f"a 2-core CPU, no other data. Every run is the default LSTM (2 × 128) trained for {args.minutes:g} minutes",
        "(`trainer.max_time`), the best checkpoint by `val/loss`; a window holds about 64 notes and rests in",
        "every tokenization (64 × its elements per note on the training split). Bits are per note or rest,",
        "summed over every token (bars, positions, time shifts and durations included), so the columns compare",
        "across tokenizations. A learned vocabulary (BPE) merges pitches with durations: its pitch bits cannot",
        "be told apart (—). Whole melodies: the "
        f"{record['test_melodies']:,} held-out tunes, each scored from its own start (`melodygen-evaluate`).",
        f"Set overlap: the mean over the Yang & Lerch features of {args.samples} sampled melodies of 64 notes",
        "against the held-out tunes (1 = as close to them as they are to each other).",
        "",
        "| tokenization | elements per note | window | parameters | steps/s | steps | val bits/note | "
        "test bits/note | whole melodies: bits/note | pitch bits | duration bits | set overlap |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, m in record["runs"].items():
        whole, features = record["whole_melodies"][name], record["sets"][name]
        overlap = float(np.mean([f["overlap"] for f in features.values()]))
        window = next(o.split("=")[1] for o in m["overrides"] if o.startswith("data.seq_len="))
        lines.append(
            f"| {name} | {record['ratio'][name]:.2f} | {window} | {m['num_parameters']:,} | "
            f"{m['global_step'] / m['train_seconds']:.1f} | {m['global_step']:,} | {m['val/bits']:.4f} | "
            f"{m['test/bits']:.4f} | {whole['all/bits']:.4f} | {_value(whole, 'all/pitch_bits')} | "
            f"{_value(whole, 'all/duration_bits')} | {overlap:.3f} |"
        )
    lines += ["", "## Samples (the first 16 of each)", ""]
    for name in record["runs"]:
        file = name.replace(" ", "").replace("+", "_")
        lines += [f"### {name}", "", f"![{name} samples](tokenizations/{file}_samples.png)", ""]
    (DOCS / "tokenizations.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {DOCS / 'tokenizations.md'}")


if __name__ == "__main__":
    main()
