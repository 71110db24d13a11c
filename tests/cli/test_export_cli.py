"""melodygen-export as a user runs it: a checkpoint becomes a folder that runs without torch, read back by
onnxruntime; what is not such a folder, or not such a checkpoint, is one line."""

import json

import numpy as np
import pytest
import torch
from helpers import run_cli

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def test_a_checkpoint_is_exported_and_the_folder_runs_as_the_model_does(tmp_path, tiny_checkpoint):
    from melodygen.export.folder import read_export
    from melodygen.models import load_model

    out = tmp_path / "exported"
    proc = run_cli(
        "export",
        tmp_path,
        f"ckpt_path={tiny_checkpoint.path}",
        f"out_dir={out}",
        "check_steps=32",
        "page=false",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["card.md", "model.json", "step.onnx"]
    assert (
        "exported lstm on categorical" in proc.stdout
        and "over 32 steps its logits were within" in proc.stdout
    )
    assert "Warning" not in proc.stdout + proc.stderr  # the exporter's notes stay out of the user's way
    exported = read_export(out)
    description = exported.description
    assert description["check"]["steps"] == 32 and description["check"]["max_abs_logit_difference"] < 1e-4
    model = load_model(tiny_checkpoint.path)
    assert [c["classes"] for c in description["columns"]] == list(model.representation.input_sizes)
    assert description["start"] == list(model.representation.start) and description["heads"] == [130, 17]
    # the folder alone, from the start element: the same logits as the network's
    x = np.array([description["start"]] * 2, dtype=np.int64)
    logits, state = exported.step.step(x, exported.zeros(2))
    with torch.inference_mode():
        expected, _ = model.net(torch.from_numpy(x)[:, None])
    assert np.abs(logits[0] - expected[0][:, 0].numpy()).max() < 1e-5
    assert [s.shape for s in state] == [(2, 2, 24)] * 2
    assert "## Check" in (out / "card.md").read_text()


def test_what_is_not_an_exported_folder_is_one_line(tmp_path):
    from melodygen.errors import MelodygenError
    from melodygen.export.folder import read_export

    with pytest.raises(MelodygenError, match="not an exported model"):
        read_export(tmp_path)
    (tmp_path / "model.json").write_text("{broken")
    with pytest.raises(MelodygenError, match="model.json: not JSON"):
        read_export(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"format": "someone-else/2"}))
    with pytest.raises(MelodygenError, match="format 'someone-else/2' is not 'melodygen-export/1'"):
        read_export(tmp_path)
    state = [{"name": "h", "shape": [2, None, 24], "dtype": "float32"}]
    described = {"format": "melodygen-export/1", "architecture": "lstm", "state": state}
    (tmp_path / "model.json").write_text(json.dumps(described))
    with pytest.raises(MelodygenError, match="step.onnx is missing"):
        read_export(tmp_path)
    (tmp_path / "step.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(MelodygenError, match="step.onnx: not an ONNX step function"):
        read_export(tmp_path)


def test_a_missing_checkpoint_is_one_line(tmp_path):
    proc = run_cli("export", tmp_path, f"ckpt_path={tmp_path / 'none.ckpt'}")
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ckpt_path=")


def test_a_missing_page_runtime_is_one_line_before_anything_is_written(tmp_path, tiny_checkpoint):
    out = tmp_path / "exported"
    given = tmp_path / "onnxruntime-web.tgz"
    proc = run_cli(
        "export", tmp_path, f"ckpt_path={tiny_checkpoint.path}", f"out_dir={out}", f"runtime={given}"
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: runtime={given}: no such file (the onnxruntime-web 1.31.1 .tgz)"
    )
    assert not out.exists()
