"""``melodygen-evaluate``: per-note figures of checkpoints on every melody of a MIDI folder, and the
Yang & Lerch comparison of a folder of generated melodies with real ones.

Writes into its run directory ``evaluation.json`` (per checkpoint: overall and per file),
``data_report.json`` (every file of the folder, used or skipped with its reason), and for a comparison
``set_comparison.json`` and ``set_comparison.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from melodygen.cli.app import hydra_app
from melodygen.config import check_evaluate, checkpoint_list

#: Columns of the checkpoint table: (figure, heading).
SHOWN = (
    ("all/bits", "bits/note"),
    ("all/pitch_bits", "pitch bits"),
    ("all/duration_bits", "duration bits"),
    ("all/pitch_acc", "pitch acc"),
    ("notes/bits", "bits/note (notes only)"),
    ("notes/pitch_acc", "pitch acc (notes only)"),
)


def _console():
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def _parse(folder: str, cfg):
    from melodygen.data.midi_rules import ExtractionParams
    from melodygen.data.parsed import parse_midi_folder

    return parse_midi_folder(
        folder, cfg.data.cache_dir, ExtractionParams.from_config(cfg.data), cfg.data.parse_workers
    )


def score_checkpoints(cfg, out: Path) -> dict:
    from rich.table import Table

    from melodygen.analysis.uncertainty import bootstrap_ratio, paired_bootstrap
    from melodygen.analysis.uncertainty import verdict as says
    from melodygen.cli.generate import resolve_device
    from melodygen.evaluation.scoring import figures, melody_sums, total
    from melodygen.models import load_model
    from melodygen.music.conditions import style_labels
    from melodygen.representations import total_bits
    from melodygen.runtime.atomic import write_json_atomic

    parsed = _parse(cfg.data.midi_dir, cfg)
    parsed.write_report(out / "data_report.json")
    melodies = [parsed.melody(i) for i in range(len(parsed.files))]
    for melody, style in zip(melodies, style_labels(parsed.files, parsed.midi_dir, cfg.data.style_lists)):
        melody.meta["style"] = style  # what a model conditioned on style reads
    device = resolve_device(cfg.device)
    results = []
    for path in checkpoint_list(cfg.ckpt_path):
        model = load_model(path, device)
        if cfg.adapt_lr > 0:  # one melody at a time, each with its own copy of the weights
            from melodygen.evaluation.prediction import Adaptation, log_probs

            adaptation = Adaptation(cfg.adapt_lr, cfg.adapt_chunk)
            per_melody = [scores.sums() for scores in log_probs(model, melodies, adaptation=adaptation)]
        else:
            per_melody = melody_sums(model, melodies, cfg.batch_size, progress=len(melodies) > 200)
        bits = [total_bits(s) for s in per_melody]
        _, low, high = bootstrap_ratio(bits, [s["notes"] for s in per_melody])
        results.append(
            {
                "checkpoint": path,
                "architecture": model.hparams.architecture,
                "representation": model.representation.label,
                "adapt_lr": cfg.adapt_lr,
                "overall": figures(total(per_melody)),
                "interval": {"all/bits": [low, high], "level": 0.95, "over": "melodies (bootstrap)"},
                "files": [{"file": m.source, **figures(s)} for m, s in zip(melodies, per_melody)],
                "_bits": bits,
                # told each melody's bars left from its own length (data.bars_left): the figures look ahead
                **({"looks_ahead": ["bars_left"]} if getattr(model, "bars_left", False) else {}),
            }
        )
    notes = [s["notes"] for s in per_melody] if results else []
    for result in results[1:]:  # the same melodies, so the same notes: paired melody by melody
        delta, low, high, p = paired_bootstrap(result["_bits"], results[0]["_bits"], notes)
        result["difference_to_first"] = {
            "all/bits": delta, "interval": [low, high], "p": p, "includes_zero": low <= 0.0 <= high,
        }  # fmt: skip
    for result in results:
        del result["_bits"]
    summary = parsed.summary()
    table = Table(
        title=f"{len(melodies)} melodies of {parsed.midi_dir} ({summary['skipped']} files skipped), per note"
        + (f", adapting at adapt_lr={cfg.adapt_lr}" if cfg.adapt_lr > 0 else "")
    )
    named = ("checkpoint", "model", "representation")
    for heading in (*named, *(h for _, h in SHOWN)):
        table.add_column(heading, justify="left" if heading in named else "right")
    for result in results:
        overall = result["overall"]
        values = [f"{overall[k]:.4f}" if k in overall else "" for k, _ in SHOWN]
        table.add_row(_short(result["checkpoint"]), result["architecture"], result["representation"], *values)
    spread = Table(title="bits/note: 95% intervals, bootstrap over the melodies (2000 draws)")
    paired = ("Δ vs the first", "95% interval of Δ", "p", "verdict") if len(results) > 1 else ()
    for heading in ("checkpoint", "bits/note", "95% interval", *paired):
        spread.add_column(heading, justify="left" if heading in ("checkpoint", "verdict") else "right")
    for result in results:
        low, high = result["interval"]["all/bits"]
        values = [f"{result['overall']['all/bits']:.4f}", f"[{low:.4f}, {high:.4f}]"]
        diff = result.get("difference_to_first")
        if paired and diff is None:
            values += ["baseline", "", "", ""]
        elif paired:
            (d_low, d_high) = diff["interval"]
            verdict = says(diff["includes_zero"], diff["all/bits"], higher_is_better=False)  # fewer bits
            values += [
                f"{diff['all/bits']:+.4f}",
                f"[{d_low:+.4f}, {d_high:+.4f}]",
                _bootstrap_p(diff["p"]),
                verdict,
            ]
        spread.add_row(_short(result["checkpoint"]), *values)
    console = _console()
    console.print(table)
    console.print(spread)
    if paired:
        console.print(
            "Δ: paired melody by melody (each draw resamples the melodies once for both checkpoints)",
            highlight=False,
            soft_wrap=True,
        )
    for result in results:
        if result.get("looks_ahead"):
            console.print(
                f"{_short(result['checkpoint'])}: read the bars left to each melody's end from its own length "
                "(data.bars_left), so its figures look ahead",
                highlight=False,
                soft_wrap=True,
            )
    for path, reason, detail in parsed.skipped:
        console.print(f"skipped: {path}: {reason} ({detail})", highlight=False, soft_wrap=True)
    record = {
        "midi_dir": str(parsed.midi_dir),
        "melodies": len(melodies),
        "data": summary,
        "checkpoints": results,
    }
    written = write_json_atomic(out / "evaluation.json", record)
    console.print(f"wrote {written} and {out / 'data_report.json'}", highlight=False, soft_wrap=True)
    return record


def _bootstrap_p(p: float, draws: int = 2000) -> str:
    """A bootstrap p-value as text: at one draw in ``draws`` it is only known to be at most that."""
    return f"≤{1 / draws:g}" if p <= 1 / draws else f"{p:.3g}"


def _short(path: str) -> str:
    """``<run>/checkpoints/last.ckpt`` → ``<run>/last.ckpt``: enough to tell checkpoints apart."""
    p = Path(path)
    return f"{p.parent.parent.name}/{p.name}" if p.parent.name == "checkpoints" else str(p)


def compare_folders(cfg, out: Path) -> dict:
    from rich.table import Table

    from melodygen.evaluation.metrics import MAX_SET, compare_sets
    from melodygen.runtime.atomic import write_json_atomic

    reference_dir = cfg.reference_dir or cfg.data.midi_dir
    generated = _parse(cfg.samples_dir, cfg)
    reference = _parse(reference_dir, cfg)
    gen = [generated.melody(i) for i in range(len(generated.files))]
    ref = [reference.melody(i) for i in range(len(reference.files))]
    results = compare_sets(ref, gen)
    title = f"{len(gen)} generated vs {len(ref)} reference melodies (Yang & Lerch)"
    if max(len(gen), len(ref)) > MAX_SET:
        title += f"; distances between at most {MAX_SET} of each"
    table = Table(title=title)
    for heading in ("feature", "reference mean", "generated mean", "overlap", "KL (bits)"):
        table.add_column(heading, justify="left" if heading == "feature" else "right")
    for name, r in results.items():
        means = [f"{m:.3f}" if m is not None else "—" for m in (r["reference_mean"], r["generated_mean"])]
        table.add_row(name, *means, f"{r['overlap']:.3f}", f"{r['kl']:.3f}")
    console = _console()
    console.print(table)
    record = {
        "samples_dir": str(generated.midi_dir),
        "reference_dir": str(reference.midi_dir),
        "generated": len(gen),
        "reference": len(ref),
        "features": {
            n: {k: v for k, v in r.items() if k not in ("intra", "inter")} for n, r in results.items()
        },
    }
    written = [
        write_json_atomic(out / "set_comparison.json", record),
        plot_distances(results, out / "set_comparison.png"),
    ]
    console.print("wrote " + ", ".join(map(str, written)), highlight=False, soft_wrap=True)
    return record


def plot_distances(results: dict, path: Path) -> Path:
    """One panel per feature: the densities of the reference's own distances and of generated-to-reference."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from melodygen.evaluation.metrics import density
    from melodygen.runtime.atomic import write_atomic

    names = list(results)
    columns = 4
    rows = -(-len(names) // columns)
    figure = Figure(figsize=(3.2 * columns, 2.4 * rows), dpi=100)
    FigureCanvasAgg(figure)
    for k, name in enumerate(names):
        axes = figure.add_subplot(rows, columns, k + 1)
        intra, inter = results[name]["intra"], results[name]["inter"]
        low, high = min(intra.min(), inter.min()), max(intra.max(), inter.max())
        span = max(high - low, 1e-6)
        grid = np.linspace(low - 0.1 * span, high + 0.1 * span, 300)
        axes.plot(grid, density(intra, grid, span / 50), label="within reference")
        axes.plot(grid, density(inter, grid, span / 50), label="generated to reference")
        axes.set_title(f"{name} (overlap {results[name]['overlap']:.2f})", fontsize=8)
        axes.tick_params(labelsize=7)
        if k == 0:
            axes.legend(fontsize=7)
    figure.suptitle("distances between melodies, feature by feature", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda handle: figure.savefig(handle, format="png"))
    return path


def evaluate(cfg, overrides: list[str] = ()) -> dict:
    check_evaluate(cfg)
    out = Path(cfg.paths.output_dir)
    record = {}
    if cfg.ckpt_path is not None:
        record["scores"] = score_checkpoints(cfg, out)
    if cfg.samples_dir is not None:
        record["sets"] = compare_folders(cfg, out)
    return record


main = hydra_app("evaluate", evaluate, check_evaluate)

if __name__ == "__main__":
    main()
