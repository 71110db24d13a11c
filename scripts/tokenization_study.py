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

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blog_post_study import cli, held_out  # noqa: E402

#: name → the data overrides of its representation
RUNS = {
    "categorical": ["data.representation=categorical"],
    "event": ["data.representation=event"],
    "REMI": ["data.representation=miditok", "data.tokenizer=REMI"],
    "TSD": ["data.representation=miditok", "data.tokenizer=TSD"],
    "REMI + BPE 1000": ["data.representation=miditok", "data.tokenizer=REMI", "data.tokenizer_vocab_size=1000"],
}  # fmt: skip
QUIET = ["callbacks.sample_monitor=null", "samples.num_samples=0", "trainer.enable_progress_bar=false"]
NOTES_PER_WINDOW = 64
DOCS = Path("docs")


def training_melodies(midi_dir: Path, root: Path):
    """The training split's melodies, parsed as every run parses them."""
    from melodygen.data.datamodule import MelodyDataModule
    from melodygen.data.splits import TRAIN

    datamodule = MelodyDataModule(str(midi_dir), str(root / "cache"), progress=False)
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


def train(name: str, overrides: list[str], minutes: float, midi_dir: Path, root: Path) -> dict:
    run_dir = root / "runs" / name.replace(" ", "").replace("+", "_")
    budget = [
        f"trainer.max_time=00:00:{int(minutes):02d}:{round(minutes % 1 * 60):02d}",
        "trainer.min_epochs=0",
        "trainer.max_epochs=1000",
        "callbacks.early_stopping=null",
    ]
    cli(
        "train",
        f"data.midi_dir={midi_dir}",
        *overrides,
        *budget,
        *QUIET,
        f"hydra.run.dir={run_dir}",
        root=root,
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["overrides"] = overrides
    print(f"{name}: {metrics['global_step']} steps, val/bits {metrics['val/bits']:.4f}", flush=True)
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--midi-dir", type=Path, default=Path("data/folk"))
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("outputs/tokenization_study"))
    args = parser.parse_args()
    if not args.midi_dir.is_dir():
        raise SystemExit(f"error: {args.midi_dir} is not a folder (run `make data` or pass --midi-dir)")
    root, midi_dir = args.out.resolve(), args.midi_dir.resolve()
    record_path = root / "study.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {"ratio": {}, "runs": {}}

    def save() -> None:
        root.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps(record, indent=1) + "\n")

    melodies = None
    for name in RUNS:  # the window of each: about 64 notes and rests, measured on the training split
        if name not in record["ratio"]:
            melodies = melodies if melodies is not None else training_melodies(midi_dir, root)
            record["ratio"][name] = elements_per_note(name, melodies)
            save()
    for name, overrides in RUNS.items():
        if name not in record["runs"]:
            seq_len = max(8, round(NOTES_PER_WINDOW * record["ratio"][name]))
            record["runs"][name] = train(
                name, [*overrides, f"data.seq_len={seq_len}"], args.minutes, midi_dir, root
            )
            save()
    test_dir = held_out(midi_dir, root / "held_out")
    ckpts = {name: record["runs"][name]["best_checkpoint"] for name in RUNS}
    cli("evaluate", f"ckpt_path=[{','.join(ckpts.values())}]", f"data.midi_dir={test_dir}",
        f"hydra.run.dir={root / 'scores'}", root=root)  # fmt: skip
    scores = json.loads((root / "scores" / "evaluation.json").read_text())
    record["whole_melodies"] = {
        name: s["overall"] for name, s in zip(RUNS, scores["checkpoints"], strict=True)
    }
    record["test_melodies"] = scores["melodies"]
    record["sets"], record["token_errors"] = {}, {}
    for name, ckpt in ckpts.items():
        samples = root / "samples" / name.replace(" ", "").replace("+", "_")
        started = time.perf_counter()
        cli("generate", f"ckpt_path={ckpt}", f"samples.num_samples={args.samples}", "samples.length=64",
            "max_pngs=0", "wav=false", f"out_dir={samples}", f"hydra.run.dir={root / 'generate' / samples.name}",
            root=root)  # fmt: skip
        record["runs"][name]["sampling_seconds"] = time.perf_counter() - started
        cli("evaluate", f"samples_dir={samples}", f"reference_dir={test_dir}",
            f"hydra.run.dir={root / 'sets' / samples.name}", root=root)  # fmt: skip
        record["sets"][name] = json.loads((root / "sets" / samples.name / "set_comparison.json").read_text())[
            "features"
        ]
        (DOCS / "tokenizations").mkdir(parents=True, exist_ok=True)
        (DOCS / "tokenizations" / f"{samples.name}_samples.png").write_bytes(
            (samples / "sample_grid.png").read_bytes()
        )
    save()
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
