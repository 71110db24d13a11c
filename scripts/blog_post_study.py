"""The blog post reproduced, explained and fixed: three representations at an equal budget on the folk corpus.

    python scripts/blog_post_study.py [--midi-dir data/folk] [--epochs 3] [--batches 300] [--out outputs/study]

Trains the post's continuous MSE model (``experiment=blog_post``), the categorical model and the event
model for the same epochs and batches, scores each on the held-out test split with ``melodygen-evaluate``,
samples 100 melodies from each and compares them with the held-out tunes (Yang & Lerch), plots the post
model's predicted next pitch against the true one, and writes ``docs/blog-post-study.md`` with the figures
and pictures (in ``docs/blog-post-study/``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study import AS_MEASURED, RECURRENT_0_1, cli, held_out  # noqa: E402

RUNS = {  # name → (overrides, what it is)
    "post": (["experiment=blog_post"], "the post: continuous [pitch, duration] in [-1, 1], MSE, 1 × 20 LSTM"),
    "categorical": (
        ["data.representation=categorical", *RECURRENT_0_1],
        "categorical: pitch and duration classes, cross-entropy, 2 × 128",
    ),
    "event": (
        ["data.representation=event", *RECURRENT_0_1],
        "event: one token per 16th (note-on, off, hold), 2 × 128",
    ),
}
DOCS = Path("docs")


def predicted_pitches(ckpt: Path, melodies_dir: Path, limit: int = 200) -> tuple[np.ndarray, ...]:
    """The continuous model's predicted next pitch (before rounding), the true one and the one before it,
    over held-out notes."""
    import torch

    from melodygen.data.midi import ExtractionParams, SkipFile, load_melody
    from melodygen.models import load_model
    from melodygen.representations.continuous import PITCH_CENTER, PITCH_SCALE

    model = load_model(ckpt, "cpu").eval()
    rep = model.representation
    predicted, true, previous = [], [], []
    for path in sorted(melodies_dir.iterdir())[:limit]:
        try:
            melody = load_melody(path, ExtractionParams())
        except SkipFile:  # melodygen-evaluate skipped it too
            continue
        seq = torch.from_numpy(np.concatenate([rep.start[None], rep.encode(melody)]).astype(rep.dtype))[None]
        with torch.no_grad():
            outputs, _ = model(seq[:, :-1])
        predicted.append(outputs[0][0, :, 0].numpy() * PITCH_SCALE + PITCH_CENTER)
        true.append(seq[0, 1:, 0].numpy() * PITCH_SCALE + PITCH_CENTER)
        previous.append(seq[0, :-1, 0].numpy() * PITCH_SCALE + PITCH_CENTER)
        previous[-1][0] = 128  # the start element is no note: the first prediction is not compared
    return np.concatenate(predicted), np.concatenate(true), np.concatenate(previous)


def free_running(samples_dir: Path) -> dict:
    """What the post's decoding makes of its predictions: how many different melodies the samples are,
    and where the first one settles on one pitch for good."""
    import pretty_midi

    from melodygen.data.midi import ExtractionParams, load_melody

    melodies = [load_melody(path, ExtractionParams()) for path in sorted(samples_dir.glob("*.mid"))]
    distinct = len({tuple(m.pitch.tolist()) + tuple(m.duration.tolist()) for m in melodies})
    pitch = melodies[0].pitch
    settled = len(pitch) - 1
    while settled > 0 and pitch[settled - 1] == pitch[-1]:
        settled -= 1
    return {
        "samples": len(melodies),
        "distinct": distinct,
        "settles_after": int(settled),
        "notes": len(pitch),
        "pitch": pretty_midi.note_number_to_name(int(pitch[-1])),
    }


def plot_predictions(predicted: np.ndarray, true: np.ndarray, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    notes = true < 128  # rests are pitch 128
    figure = Figure(figsize=(10, 3.8), dpi=100)
    FigureCanvasAgg(figure)
    left = figure.add_subplot(1, 2, 1)
    left.scatter(true[notes], predicted[notes], s=3, alpha=0.3)
    left.plot([40, 100], [40, 100], color="grey", linewidth=0.8)
    left.set_xlabel("true next pitch")
    left.set_ylabel("predicted next pitch (before rounding)")
    left.set_title("the post's model: prediction against truth")
    right = figure.add_subplot(1, 2, 2)
    bins = np.arange(40, 101)
    right.hist(true[notes], bins=bins, alpha=0.6, label="true next pitches", density=True)
    right.hist(predicted[notes], bins=bins, alpha=0.6, label="predicted", density=True)
    right.set_xlabel("MIDI pitch")
    right.legend()
    right.set_title("their distributions")
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--midi-dir", type=Path, default=Path("data/folk"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--batches", type=int, default=300, help="training batches per epoch, for every model"
    )
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("outputs/study"))
    args = parser.parse_args()
    if not args.midi_dir.is_dir():
        raise SystemExit(f"error: {args.midi_dir} is not a folder (run `make data` or pass --midi-dir)")
    root = args.out.resolve()
    test_dir = held_out(args.midi_dir.resolve(), root / "held_out")
    budget = [f"trainer.max_epochs={args.epochs}", f"trainer.limit_train_batches={args.batches}"]
    ckpts, seconds = {}, {}
    for name, (overrides, _) in RUNS.items():
        run_dir = root / "runs" / name
        started = time.perf_counter()
        cli(
            "train", f"data.midi_dir={args.midi_dir.resolve()}", *AS_MEASURED, *overrides, *budget,
            "samples.num_samples=0",
            "callbacks.sample_monitor=null", "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}",
            root=root,
        )  # fmt: skip
        seconds[name] = time.perf_counter() - started
        ckpts[name] = json.loads((run_dir / "metrics.json").read_text())["best_checkpoint"]
        print(f"trained {name} in {seconds[name]:.0f} s", flush=True)
    listed = ",".join(ckpts.values())
    cli(
        "evaluate",
        f"ckpt_path=[{listed}]",
        f"data.midi_dir={test_dir}",
        f"hydra.run.dir={root / 'scores'}",
        root=root,
    )
    scores = json.loads((root / "scores" / "evaluation.json").read_text())
    sets = {}
    pictures = DOCS / "blog-post-study"
    pictures.mkdir(parents=True, exist_ok=True)
    for name, ckpt in ckpts.items():
        samples = root / "samples" / name
        cli(
            "generate", f"ckpt_path={ckpt}", f"samples.num_samples={args.samples}", "samples.length=64",
            "max_pngs=0", "wav=false", f"out_dir={samples}", f"hydra.run.dir={root / 'generate' / name}",
            root=root,
        )  # fmt: skip
        cli(
            "evaluate", f"samples_dir={samples}", f"reference_dir={test_dir}",
            f"hydra.run.dir={root / 'sets' / name}", root=root,
        )  # fmt: skip
        sets[name] = json.loads((root / "sets" / name / "set_comparison.json").read_text())["features"]
        shutil.copy(samples / "sample_grid.png", pictures / f"{name}_samples.png")
        from melodygen.data.midi import ExtractionParams, load_melody
        from melodygen.music.render import write_wav

        write_wav(
            load_melody(samples / "sample_000.mid", ExtractionParams()), pictures / f"{name}_sample_000.wav"
        )
    predicted, true, previous = predicted_pitches(Path(ckpts["post"]), test_dir)
    plot_predictions(predicted, true, pictures / "post_predictions.png")
    notes = (true < 128) & (previous < 128)
    fixed = free_running(root / "samples" / "post")
    held = scores["melodies"]
    write_report(args, scores, sets, seconds, predicted[notes], true[notes], previous[notes], fixed, held)


def write_report(args, scores, sets, seconds, predicted, true, previous, fixed: dict, held: int) -> None:
    by_name = dict(zip(RUNS, scores["checkpoints"]))
    lines = [
        "# The blog post, reproduced, explained and fixed",
        "",
        f"Written by `scripts/blog_post_study.py` (`make study`) on the folk corpus ({args.midi_dir}): every model",
        f"trained {args.epochs} epochs of {args.batches} batches of 64 windows of 64 elements, then scored on the",
        f"{held} held-out test tunes (`melodygen-evaluate`, each tune scored from its own start) and sampled",
        f"{args.samples} times (64 notes each) for the set comparison with those tunes.",
        "",
        "| model | train s | bits/note | pitch bits | duration bits | pitch acc | top-pitch share | "
        "distinct pitches | overlap: intervals | overlap: pitch classes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, (_, what) in RUNS.items():
        o, f = by_name[name]["overall"], sets[name]
        lines.append(
            f"| {name} ({what}) | {seconds[name]:.0f} | {o['all/bits']:.2f} | {o['all/pitch_bits']:.2f} | "
            f"{o['all/duration_bits']:.2f} | {o['all/pitch_acc']:.3f} | "
            f"{f['top_pitch_share']['generated_mean']:.2f} (real {f['top_pitch_share']['reference_mean']:.2f}) | "
            f"{f['distinct_pitches']['generated_mean']:.1f} (real {f['distinct_pitches']['reference_mean']:.1f}) | "
            f"{f['interval_histogram']['overlap']:.2f} | {f['pitch_class_entropy']['overlap']:.2f} |"
        )
    r = float(np.corrcoef(predicted, true)[0, 1])
    slope = float(np.polyfit(true, predicted, 1)[0])
    error = float(np.abs(predicted - true).mean())
    repeat = float(np.abs(previous - true).mean())
    post = sets["post"]
    lines += [
        "",
        "Bits are per note (notes and rests), −log2 of the probability the model gave the true next element;",
        "the continuous model's come from a Gaussian around its prediction with the residual spread. An",
        "overlap of 1 means the generated melodies are as close to the real ones as the real ones are to each",
        "other (Yang & Lerch 2018). The top-pitch share is the collapse alarm: the share of a melody's notes",
        "on its most common pitch.",
        "",
        "## Why the post's model plays the average note",
        "",
        "Trained with MSE on `[pitch, duration]`, the network learns the *conditional mean* of the next note.",
        "After most contexts the next pitch has several likely values (a step up, a step down, a repeat, a",
        "leap to the tonic), and their mean lies between them. Given the real tunes as context (left, below),",
        f"its predictions follow the true next pitch only loosely: correlation {r:.2f}, slope {slope:.2f} (1 would",
        f"be perfect), a mean error of {error:.1f} semitones, where simply repeating the previous note is off by",
        f"{repeat:.1f}.",
        "",
        "The collapse itself happens when it generates. The post decodes by rounding the prediction, with no",
        "randomness, and feeds the rounded note back as the next input: each step maps the last note to the",
        "mean of what could follow it, and that map has a fixed point. All "
        f"{fixed['samples']} samples are {'the same melody' if fixed['distinct'] == 1 else str(fixed['distinct']) + ' different melodies'},",
        f"and it settles on {fixed['pitch']} after {fixed['settles_after']} of its {fixed['notes']} notes, for good:",
        f"a top-pitch share of {post['top_pitch_share']['generated_mean']:.2f} against",
        f"{post['top_pitch_share']['reference_mean']:.2f} in real tunes, and "
        f"{post['distinct_pitches']['generated_mean']:.0f} distinct pitches against",
        f"{post['distinct_pitches']['reference_mean']:.1f}.",
        "",
    ]
    lines += [
        "![predicted against true next pitch](blog-post-study/post_predictions.png)",
        "",
        "A categorical output fixes it: the network gives a probability to every pitch and duration, learns the",
        "multi-modal distribution itself, and sampling from it picks one of the likely notes instead of their",
        "average. The event representation does the same one 16th at a time.",
        "",
        "## Samples (the first 16 of each model)",
        "",
    ]
    for name in RUNS:
        lines += [
            f"### {name}",
            "",
            f"![{name} samples](blog-post-study/{name}_samples.png)",
            "",
            f"[listen to the first one](blog-post-study/{name}_sample_000.wav)",
            "",
        ]
    (DOCS / "blog-post-study.md").write_text("\n".join(lines))
    print(f"wrote {DOCS / 'blog-post-study.md'}")


if __name__ == "__main__":
    main()
