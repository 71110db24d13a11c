"""The exported step function (onnxruntime) against the torch network, step by step over a 512-step
rollout of sampled elements, with the condition and bar-position columns the sampler feeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from melodygen.errors import MelodygenError  # noqa: E402
from melodygen.export.onnx_step import OnnxStep, example_input, export_step, exportable, state_tensors  # noqa: E402
from melodygen.generation.sampling import sample_elements  # noqa: E402
from melodygen.models import MelodyModel  # noqa: E402
from melodygen.music.conditions import Conditioning  # noqa: E402
from melodygen.representations.position import Clock  # noqa: E402

STEPS = 512


def conditioned(architecture: str, representation: str) -> MelodyModel:
    labels = [{"meter": m, "key": "D major", "style": "none"} for m in ("3/4", "6/8", "4/4")]
    conditioning = Conditioning.fit(["meter", "key"], labels)
    torch.manual_seed(0)
    # a Transformer of context 24: its cache rolls on past the first 23 elements, as it does after a window
    shape = {"num_heads": 2, "ff_size": 32, "context": 24} if architecture == "transformer" else {}
    return MelodyModel(
        representation,
        architecture=architecture,
        hidden_size=24,
        bar_position=True,
        **shape,
        **conditioning.hparams(),
    ).eval()


@pytest.mark.parametrize("representation", ["categorical", "event"])
@pytest.mark.parametrize("architecture", ["lstm", "gru", "transformer"])
def test_onnx_logits_equal_torchs_at_every_step_of_a_rollout(tmp_path, architecture, representation):
    model = conditioned(architecture, representation)
    path = export_step(model, tmp_path / "step.onnx")
    runner = OnnxStep(path, state_tensors(model))
    meter = model.conditioning.labels["meter"].index("6/8")
    classes = torch.tensor([[meter, 2], [meter, 2]])
    drawn = sample_elements(model, 2, STEPS, seed=0, conditions=classes)  # what the model itself wrote
    elements = torch.from_numpy(np.stack([d[:STEPS] for d in drawn]))
    start = torch.as_tensor(model.representation.start, dtype=elements.dtype)[None, None].expand(2, 1, -1)
    stream = torch.cat([start, elements], dim=1)[:, :STEPS]
    clock = Clock.starting(model.representation, [(6, 8), (6, 8)])
    state_onnx = runner.zeros(2)
    state_torch = None
    worst = 0.0
    with torch.inference_mode():
        for t in range(STEPS):
            x = clock.beside(model.with_conditions(stream[:, t], classes)).long()
            if state_torch is None:  # the first element: the full network from no state, as sampling reads it
                logits, state_torch = model.net(x[:, None])
                logits = [o[:, 0] for o in logits]
            else:
                logits, state_torch = model.net.step(x, state_torch)
            got, state_onnx = runner.step(x.numpy(), state_onnx)
            for ours, theirs in zip(got, logits, strict=True):
                worst = max(worst, float(np.abs(ours - theirs.numpy()).max()))
    assert worst < 1e-4


def test_what_cannot_be_exported_is_one_line(tmp_path):
    continuous = MelodyModel("continuous", hidden_size=8)
    assert "reads real values" in exportable(continuous)
    with pytest.raises(MelodygenError, match="reads real values, not classes"):
        export_step(continuous, tmp_path / "step.onnx")
    blind = MelodyModel("categorical", architecture="transformer", hidden_size=16, num_heads=2, context=1)
    assert "model.context=1" in exportable(blind)


def test_a_file_that_is_not_onnx_is_one_line(tmp_path):
    bad = tmp_path / "step.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(MelodygenError, match=r"step.onnx: not an ONNX step function onnxruntime can run"):
        OnnxStep(bad, state_tensors(MelodyModel("categorical", hidden_size=8)))


def test_the_example_input_is_the_start_element_with_its_columns():
    model = conditioned("lstm", "categorical")
    x = example_input(model, 3)
    assert x.shape == (3, model.representation.num_features + 4)  # meter, key, position, bar
    assert x[0, :2].tolist() == list(model.representation.start)
