"""``melodygen-export``'s folder: the step function (``step.onnx``), what it reads and writes (``model.json``)
and a card (``card.md``).

``model.json`` says everything a program needs to feed the step function: the columns of ``x`` (the
representation's, then one class per condition, then the bar positions), the start element, the classes of
each column, the conditions' labels, the state's tensors and their shape, and the heads. Before the folder
is written, the exported function is held to the torch network over a rollout of elements the model itself
drew (``check_steps``); the largest difference is recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from melodygen.errors import MelodygenError
from melodygen.export.onnx_step import STEPS, OnnxStep, export_step, input_names, output_names, state_tensors
from melodygen.representations.position import Clock, sizes

FORMAT = "melodygen-export/1"
PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
MODEL_FILE, STEP_FILE, CARD_FILE = "model.json", "step.onnx", "card.md"


def columns(model) -> list[dict[str, Any]]:
    """Each column of the step function's ``x``: its name and how many classes it has."""
    rep = model.representation
    names = getattr(rep, "feature_names", None) or [f"feature_{i}" for i in range(rep.num_features)]
    out = [{"name": str(n), "classes": int(k)} for n, k in zip(names, rep.input_sizes, strict=True)]
    for name in model.conditioning.names:
        out.append({"name": name, "classes": len(model.conditioning.labels[name])})
    if model.bar_position:
        place = ["position", "bar", "bars_left"][: len(sizes(model.bars_left))]
        out += [{"name": n, "classes": k} for n, k in zip(place, sizes(model.bars_left), strict=True)]
    return out


def describe(model, ckpt_path: str) -> dict[str, Any]:
    """``model.json`` of ``model``, without the check's figures."""
    from melodygen import __version__

    architecture = model.hparams.architecture
    return {
        "format": FORMAT,
        "melodygen": __version__,
        "checkpoint": str(ckpt_path),
        "architecture": architecture,
        "representation": model.representation.name,
        "representation_label": model.representation.label,
        "columns": columns(model),
        "start": [int(v) for v in np.asarray(model.representation.start).tolist()],
        "heads": [int(n) for n in model.representation.output_sizes],
        "conditions": {n: list(model.conditioning.labels[n]) for n in model.conditioning.names},
        "combos": [[*labels, int(count)] for labels, count in model.conditioning.combos],
        "transpose_to_c": bool(model.hparams.get("transpose_to_c", False)),
        "bar_position": bool(model.bar_position),
        "bars_left": bool(model.bars_left),
        "state": state_tensors(model),
        "onnx": {"file": STEP_FILE, "inputs": input_names(model), "outputs": output_names(model)},
    }


def rollout_difference(model, runner: OnnxStep, steps: int, seed: int = 0) -> float:
    """The largest difference between the exported function's logits and torch's, over ``steps`` elements
    the model drew itself (bar positions counted in 4/4; conditions as the first drawn)."""
    from melodygen.generation.sampling import sample_conditions, sample_elements

    if steps == 0:
        return 0.0
    _, classes, _ = sample_conditions(model, {}, 1, seed)
    drawn = sample_elements(model, 1, steps, seed=seed, conditions=classes)[0][:steps]
    start = np.asarray(model.representation.start)[None]
    stream = torch.from_numpy(np.concatenate([start, drawn]).astype(model.representation.dtype))[None]
    clock = (
        Clock.starting(model.representation, [(4, 4)], bars_left=model.bars_left)
        if model.bar_position
        else None
    )
    state = runner.zeros(1)
    held = None
    worst = 0.0
    with torch.inference_mode():
        for t in range(min(steps, stream.shape[1])):
            x = model.with_conditions(stream[:, t], classes)
            x = (clock.beside(x) if clock is not None else x).long()
            if held is None:
                logits, held = model.net(x[:, None])
                logits = [o[:, 0] for o in logits]
            else:
                logits, held = model.net.step(x, held)
            got, state = runner.step(x.numpy(), state)
            worst = max(
                worst, *(float(np.abs(a - b.numpy()).max()) for a, b in zip(got, logits, strict=True))
            )
    return worst


def write_export(model, ckpt_path: str, out_dir: Path, check_steps: int = 64) -> dict[str, Any]:
    """Write ``out_dir``: ``step.onnx``, ``model.json`` and ``card.md``; returns ``model.json``'s content."""
    out_dir.mkdir(parents=True, exist_ok=True)
    step = export_step(model, out_dir / STEP_FILE)
    description = describe(model, ckpt_path)
    runner = OnnxStep(step, description["state"])
    description["check"] = {
        "steps": check_steps,
        "max_abs_logit_difference": rollout_difference(model, runner, check_steps),
    }
    (out_dir / MODEL_FILE).write_text(json.dumps(description, indent=1) + "\n")
    (out_dir / CARD_FILE).write_text(card(model, description, ckpt_path))
    return description


def card(model, description: dict[str, Any], ckpt_path: str) -> str:
    """A card of what is known of the model: its settings, and its run's figures where they are beside it."""
    metrics_file = Path(ckpt_path).parent.parent / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    settings = {
        k: v for k, v in model.hparams.items() if isinstance(v, int | float | str | bool) and k != "tokenizer"
    }
    lines = [
        f"# {description['architecture']} on {description['representation_label']}",
        "",
        f"Exported by melodygen {description['melodygen']} from `{ckpt_path}`.",
        "",
        "## Settings",
        "",
        *(f"- `{k}`: {v}" for k, v in sorted(settings.items())),
        "",
        "## Figures of its run",
        "",
    ]
    figures = {k: v for k, v in metrics.items() if k.startswith(("val/", "test/")) and isinstance(v, float)}
    lines += [f"- {k}: {v:.4f}" for k, v in sorted(figures.items())] or ["- none beside the checkpoint"]
    if metrics.get("looks_ahead"):
        lines.append(f"- these figures look ahead: {', '.join(metrics['looks_ahead'])}")
    if model.conditioning:
        lines += ["", "## Conditions", ""]
        lines += [f"- {n}: {', '.join(model.conditioning.known(n))}" for n in model.conditioning.names]
    check = description["check"]
    checked = [
        "",
        "## Check",
        "",
        f"Over {check['steps']} steps the exported function's logits were within "
        f"{check['max_abs_logit_difference']:.1e} of torch's.",
        "",
    ]
    shipped = Path(ckpt_path).with_suffix(".md")  # a pretrained model's card lies beside its checkpoint
    if Path(ckpt_path).resolve().parent == PRETRAINED_DIR and shipped.is_file():
        return shipped.read_text().rstrip("\n") + "\n" + "\n".join(checked)
    return "\n".join(lines + checked)


@dataclass
class Exported:
    """A folder ``melodygen-export`` wrote, read back: its ``model.json`` and its step function."""

    folder: Path
    description: dict[str, Any]
    step: OnnxStep

    def zeros(self, batch: int) -> list[np.ndarray]:
        return self.step.zeros(batch)


def read_export(folder: str | Path) -> Exported:
    """The folder ``melodygen-export`` wrote; one line for a folder that is not one, or a broken one."""
    folder = Path(folder).expanduser()
    path = folder / MODEL_FILE
    if not path.is_file():
        raise MelodygenError(f"{folder}: not an exported model (no {MODEL_FILE})")
    try:
        description = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MelodygenError(f"{path}: not JSON ({error})") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        found = description.get("format") if isinstance(description, dict) else None
        raise MelodygenError(f"{path}: format {found!r} is not {FORMAT!r}; export the checkpoint again")
    architecture = description.get("architecture")
    if architecture not in STEPS:
        raise MelodygenError(f"{path}: architecture {architecture!r} has no exported step function here")
    step = folder / description.get("onnx", {}).get("file", STEP_FILE)
    if not step.is_file():
        raise MelodygenError(f"{folder}: {step.name} is missing")
    tensors = description.get("state")
    if not isinstance(tensors, list) or not all(isinstance(t, dict) and "shape" in t for t in tensors):
        raise MelodygenError(f"{path}: its state is not described; export the checkpoint again")
    return Exported(folder, description, OnnxStep(step, tensors))
