"""A network's one-step function in ONNX: ``(x, *state) → (*logits, *state)``, run by onnxruntime.

What sampling does at every step (:meth:`~melodygen.models.network.MelodyNetwork.step`) becomes a plain
function of tensors, so a program without torch can write melodies: it feeds the start element, then each
element it draws, and carries the state the function returns. The state starts as zeros, the state a
network has before its first element. Which networks can be exported, and what their state is, is
:data:`STATES`; any other network is one line that says why not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from melodygen.errors import MelodygenError


@dataclass(frozen=True)
class StateSpec:
    """A network's state as ONNX sees it: the names of its tensors and each one's shape for ``batch`` rows."""

    names: tuple[str, ...]

    def zeros(self, net: nn.Module, batch: int) -> list[torch.Tensor]:
        shape = (net.rnn.num_layers, batch, net.rnn.hidden_size)
        return [torch.zeros(shape) for _ in self.names]


#: architecture → its state's tensors (the LSTM's ``(h, c)``, the GRU's ``h``)
STATES = {"lstm": StateSpec(("h", "c")), "gru": StateSpec(("h",))}


class LSTMStep(nn.Module):
    """The LSTM's ``net.step`` with its state as two tensors: ``(x, h, c) → (*logits, h, c)``."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, (h, c) = self.net.step(x, (h, c))
        return (*logits, h, c)


class GRUStep(nn.Module):
    """The GRU's: ``(x, h) → (*logits, h)``."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, h = self.net.step(x, h)
        return (*logits, h)


STEPS = {"lstm": LSTMStep, "gru": GRUStep}


def exportable(model) -> str | None:
    """Why ``model`` (a :class:`~melodygen.models.MelodyModel`) cannot be exported, or None when it can."""
    architecture = model.hparams.get("architecture", "lstm")
    if architecture not in STATES:
        known = ", ".join(sorted(STATES))
        return f"model={architecture}: its step function cannot be exported yet (exported: {known})"
    if model.representation.input_kind != "embedding":
        return f"the {model.representation.label} representation reads real values, not classes; only class inputs are exported"
    return None


def example_input(model, batch: int = 1) -> torch.Tensor:
    """One element per row, as the network reads it: the start element, then its condition and position
    columns (zeros)."""
    rep = model.representation
    width = rep.num_features + len(model.net.condition_sizes)
    x = torch.zeros(batch, width, dtype=torch.long)
    x[:, : rep.num_features] = torch.as_tensor(rep.start, dtype=torch.long)
    return x


def input_names(model) -> list[str]:
    return ["x", *STATES[model.hparams.architecture].names]


def output_names(model) -> list[str]:
    heads = [f"logits_{i}" for i in range(len(model.representation.output_sizes))]
    return [*heads, *(f"next_{name}" for name in STATES[model.hparams.architecture].names)]


def export_step(model, path: Path) -> Path:
    """Write ``model``'s step function to ``path`` (one file, weights inside); the batch is dynamic."""
    why = exportable(model)
    if why is not None:
        raise MelodygenError(why)
    architecture = model.hparams.architecture
    spec = STATES[architecture]
    model = model.cpu().eval()
    step = STEPS[architecture](model.net).eval()
    x = example_input(model, 2)
    state = spec.zeros(model.net, 2)
    batch = torch.export.Dim("batch", min=1, max=4096)
    shapes = ({0: batch}, *({1: batch} for _ in state))
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        program = torch.onnx.export(
            step,
            (x, *state),
            dynamo=True,
            input_names=input_names(model),
            output_names=output_names(model),
            dynamic_shapes=shapes,
            external_data=False,
            verbose=False,
        )
    program.save(str(path), external_data=False)
    return path


class OnnxStep:
    """An exported step function run by onnxruntime: ``step(x, state) → (logits, state)``, numpy in and out."""

    def __init__(self, path: Path, architecture: str):
        import onnxruntime

        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own types for a file it cannot read
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise MelodygenError(f"{path}: not an ONNX step function onnxruntime can run ({first})") from None
        self.spec = STATES[architecture]
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]

    def zeros(self, net_shape: tuple[int, int], batch: int) -> list[np.ndarray]:
        layers, hidden = net_shape
        return [np.zeros((layers, batch, hidden), np.float32) for _ in self.spec.names]

    def step(self, x: np.ndarray, state: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        feed = dict(zip(self.inputs, [x, *state], strict=True))
        got = self.session.run(self.outputs, feed)
        held = len(self.spec.names)
        return got[:-held], got[-held:]
