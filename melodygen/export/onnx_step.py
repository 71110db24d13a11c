"""A network's one-step function in ONNX: ``(x, *state) → (*logits, *state)``, run by onnxruntime.

What sampling does at every step (:meth:`~melodygen.models.network.MelodyNetwork.step`) becomes a plain
function of tensors, so a program without torch can write melodies: it feeds the start element, then each
element it draws, and carries the state the function returns. The state starts as zeros, the state a
network has before its first element (:func:`state_tensors` says what it holds):

- the LSTM's ``h`` and ``c`` and the GRU's ``h``, ``(layers, batch, hidden)``;
- the Transformer's key/value cache of the last ``context - 1`` elements, ``keys`` and ``values``
  ``(layers, batch, heads, context - 1, head size)``, the newest last, and ``count`` ``(batch,)``, how many
  of those slots hold an element yet. The keys are kept as computed, before their rotary rotation; each step
  rotates them by how far back they lie, which is what attention with rotary positions depends on (the
  network rotates query and key by their absolute positions: the same scores, with no position to carry).

Any other network is one line that says why it cannot be exported.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from melodygen.errors import MelodygenError
from melodygen.models.transformer import rotate


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


class TransformerStep(nn.Module):
    """The Transformer's step over a cache of fixed size: ``(x, keys, values, count) → (*logits, keys,
    values, count)`` (module docstring)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.slots = net.context - 1
        # slot j holds the element slots - j steps back: its key turns back by that many positions
        back = torch.arange(self.slots, 0, -1, dtype=torch.float64)
        angles = torch.outer(-back, net.frequencies)
        self.register_buffer("cos_back", angles.cos().float(), persistent=False)
        self.register_buffer("sin_back", angles.sin().float(), persistent=False)
        half = net.frequencies.numel()
        self.register_buffer("cos_here", torch.ones(1, half), persistent=False)
        self.register_buffer("sin_here", torch.zeros(1, half), persistent=False)

    def forward(
        self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, count: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        net, batch = self.net, x.shape[0]
        h = net.input(net.embed(x[:, None]))
        slot = torch.arange(self.slots, device=x.device)
        held = slot[None, :] >= self.slots - count[:, None]
        mask = torch.cat([held, torch.ones(batch, 1, dtype=torch.bool, device=x.device)], dim=1)[
            :, None, None
        ]
        kept_keys, kept_values = [], []
        for i, block in enumerate(net.blocks):
            q, k, v = block.keys_values(h, self.cos_here, self.sin_here)
            turned = rotate(keys[i], self.cos_back, self.sin_back)
            h = block.attend(
                h, q, torch.cat([turned, k], dim=2), torch.cat([values[i], v], dim=2), mask, False
            )
            kept_keys.append(torch.cat([keys[i][:, :, 1:], k], dim=2))
            kept_values.append(torch.cat([values[i][:, :, 1:], v], dim=2))
        h = net.norm(h)
        logits = [head(h)[:, 0] for head in net.heads]
        return (*logits, torch.stack(kept_keys), torch.stack(kept_values), (count + 1).clamp(max=self.slots))


STEPS = {"lstm": LSTMStep, "gru": GRUStep, "transformer": TransformerStep}


def state_tensors(model) -> list[dict[str, Any]]:
    """The state's tensors: each one's ``name``, ``shape`` (``None`` where the batch goes) and ``dtype``."""
    net, architecture = model.net, model.hparams.architecture
    if architecture in ("lstm", "gru"):
        shape = [net.rnn.num_layers, None, net.rnn.hidden_size]
        names = ("h", "c") if architecture == "lstm" else ("h",)
        return [{"name": n, "shape": shape, "dtype": "float32"} for n in names]
    block = net.blocks[0]
    head_size = block.qkv.in_features // block.num_heads
    shape = [len(net.blocks), None, block.num_heads, net.context - 1, head_size]
    return [
        {"name": "keys", "shape": shape, "dtype": "float32"},
        {"name": "values", "shape": shape, "dtype": "float32"},
        {"name": "count", "shape": [None], "dtype": "int64"},
    ]


def zeros(tensors: Sequence[dict[str, Any]], batch: int) -> list[np.ndarray]:
    """The state before the first element, for ``batch`` rows."""
    return [
        np.zeros([batch if n is None else n for n in t["shape"]], dtype=np.dtype(t["dtype"])) for t in tensors
    ]


def exportable(model) -> str | None:
    """Why ``model`` (a :class:`~melodygen.models.MelodyModel`) cannot be exported, or None when it can."""
    architecture = model.hparams.get("architecture", "lstm")
    if architecture not in STEPS:
        known = ", ".join(sorted(STEPS))
        return f"model={architecture}: its step function cannot be exported (exported: {known})"
    if model.representation.input_kind != "embedding":
        return (
            f"the {model.representation.label} representation reads real values, not classes; only class "
            "inputs are exported"
        )
    if architecture == "transformer" and model.net.context < 2:
        return "model.context=1: a Transformer that sees no element before its own has no cache to export"
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
    return ["x", *(t["name"] for t in state_tensors(model))]


def output_names(model) -> list[str]:
    heads = [f"logits_{i}" for i in range(len(model.representation.output_sizes))]
    return [*heads, *(f"next_{t['name']}" for t in state_tensors(model))]


def export_step(model, path: Path) -> Path:
    """Write ``model``'s step function to ``path`` (one file, weights inside); the batch is dynamic."""
    why = exportable(model)
    if why is not None:
        raise MelodygenError(why)
    model = model.cpu().eval()
    step = STEPS[model.hparams.architecture](model.net).eval()
    tensors = state_tensors(model)
    state = [torch.from_numpy(s) for s in zeros(tensors, 2)]
    batch = torch.export.Dim("batch", min=1, max=4096)
    shapes = ({0: batch}, *({t["shape"].index(None): batch} for t in tensors))
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        program = torch.onnx.export(
            step,
            (example_input(model, 2), *state),
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

    def __init__(self, path: Path, tensors: Sequence[dict[str, Any]]):
        import onnxruntime

        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own types for a file it cannot read
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise MelodygenError(f"{path}: not an ONNX step function onnxruntime can run ({first})") from None
        self.tensors = list(tensors)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]
        wanted = ["x", *(t["name"] for t in self.tensors)]
        if self.inputs != wanted:
            raise MelodygenError(f"{path}: reads {self.inputs}, where its model.json says {wanted}")

    def zeros(self, batch: int) -> list[np.ndarray]:
        return zeros(self.tensors, batch)

    def step(self, x: np.ndarray, state: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        got = self.session.run(self.outputs, dict(zip(self.inputs, [x, *state], strict=True)))
        held = len(self.tensors)
        return got[:-held], got[-held:]
