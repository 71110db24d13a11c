"""A crafted checkpoint whose unpickling would create a file: every command that reads one refuses it,
with one line, and the file never appears."""

import json

import pytest
import torch
from helpers import QUIET_SMALL_RUN_NO_SAMPLES, run_cli


class CreatesAFile:
    """Unpickled with full pickle, this calls ``open(path, "w")``: the file appearing is code having run."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def craft(path, marker):
    """A file that looks like a melodygen checkpoint, with the payload beside its weights."""
    torch.save(
        {
            "pytorch-lightning_version": "2.6.0",
            "state_dict": {},
            "hyper_parameters": {"representation": "categorical"},
            "payload": CreatesAFile(marker),
        },
        path,
    )
    return path


def refusal(result, marker) -> str:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert not marker.exists()  # the payload never ran
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "is refused: it holds io.open, which loading it would call (a melodygen checkpoint" in line
    return line


@pytest.fixture
def evil(tmp_path):
    marker = tmp_path / "code-ran.txt"
    return craft(tmp_path / "evil.ckpt", marker), marker


def test_generate_refuses_it(tmp_path, evil):
    path, marker = evil
    line = refusal(run_cli("generate", tmp_path, f"ckpt_path={path}"), marker)
    assert line.startswith(f"error: ckpt_path='{path}'")


def test_evaluate_refuses_it(tmp_path, tune_dir, evil):
    path, marker = evil
    refusal(run_cli("evaluate", tmp_path, f"ckpt_path={path}", f"data.midi_dir={tune_dir}"), marker)


def test_resuming_from_it_is_refused(tmp_path, tune_dir, evil):
    path, marker = evil
    refusal(run_cli("train", tmp_path, f"ckpt_path={path}", f"data.midi_dir={tune_dir}"), marker)


def test_an_unfinished_run_directory_holding_it_is_refused(tmp_path, tune_dir, evil):
    path, marker = evil
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    craft(run_dir / "checkpoints" / "last.ckpt", marker)  # what a re-run resumes from by itself
    result = run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", f"hydra.run.dir={run_dir}")
    line = refusal(result, marker)
    assert str(run_dir / "checkpoints" / "last.ckpt") in line


@pytest.mark.slow
def test_a_best_checkpoint_named_inside_a_clean_checkpoint_is_refused(tmp_path, tune_dir, evil):
    """A checkpoint that is itself only weights can name another file as the best so far, which the run
    scores at its end: that file goes through the same check."""
    path, marker = evil
    first = tmp_path / "first"
    small = [f"data.midi_dir={tune_dir}", *QUIET_SMALL_RUN_NO_SAMPLES]
    result = run_cli("train", tmp_path, *small, "trainer.max_epochs=1", f"hydra.run.dir={first}")
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt = torch.load(first / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    [key] = [k for k in ckpt["callbacks"] if k.startswith("BestCheckpoint")]
    ckpt["callbacks"][key].update(best_model_path=str(path), best_model_score=torch.tensor(-1e9))
    doctored = tmp_path / "doctored.ckpt"
    torch.save(ckpt, doctored)  # plain values only: it passes the weights-only check itself

    result = run_cli(
        "train", tmp_path, *small, f"ckpt_path={doctored}", "trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'second'}"
    )  # fmt: skip
    line = refusal(result, marker)
    assert line.startswith(f"error: the best checkpoint='{path}'")
    assert not (tmp_path / "second" / "metrics.json").exists()
    assert json.loads((first / "metrics.json").read_text())["global_step"] > 0
