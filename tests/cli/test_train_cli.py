"""melodygen-train as a user runs it: a subprocess with Hydra overrides."""

import json

import pytest
from helpers import QUIET_SMALL_RUN, run_cli

from melodygen.runtime.threads import usable_cores

TINY = ["model.hidden_size=16", *QUIET_SMALL_RUN, "samples.num_samples=1", "samples.length=8", "logger=none"]


def run_train(root, *args):
    return run_cli("train", root, *args)


def test_misspelled_override_fails_naming_the_key(tmp_path, tune_dir):
    proc = run_train(tmp_path, f"data.midi_dir={tune_dir}", "model.hiden_size=64")
    assert proc.returncode != 0
    assert "hiden_size" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.hidden_size=0", "model.hidden_size"),
        ("data.val_fraction=1.5", "data.val_fraction"),
        ("data.representation=piano", "data.representation"),
        ("model.dropout=1", "model.dropout"),
    ],
)
def test_impossible_value_fails_with_one_line(tmp_path, tune_dir, override, key):
    proc = run_train(tmp_path, f"data.midi_dir={tune_dir}", override)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and key in lines[0], proc.stderr


def test_wrong_type_fails_at_compose_time(tmp_path, tune_dir):
    proc = run_train(tmp_path, f"data.midi_dir={tune_dir}", "data.seq_len=long")
    assert proc.returncode != 0 and "seq_len" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_midi_folder_is_one_line(tmp_path):
    proc = run_train(tmp_path, f"data.midi_dir={tmp_path / 'nowhere'}", *TINY)
    assert proc.returncode == 2 and "nowhere" in proc.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_multirun_sweeps_the_three_axes(tmp_path, tune_dir):
    proc = run_train(
        tmp_path,
        "--multirun",
        f"data.midi_dir={tune_dir}",
        *TINY,
        "trainer.max_epochs=1",
        "model.hidden_size=8,16",
        "model.num_layers=1,2",
        "data.seq_len=8,16",
        "test=false",
        "samples.num_samples=0",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweeps = list((tmp_path / "outputs" / "train" / "multiruns").iterdir())
    assert len(sweeps) == 1
    jobs = sorted(p for p in sweeps[0].iterdir() if p.is_dir() and p.name.isdigit())
    assert len(jobs) == 8
    seen = set()
    for job in jobs:
        overrides = (job / ".hydra" / "overrides.yaml").read_text()
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["val/loss"] > 0
        seen.add(
            tuple(
                line
                for line in overrides.splitlines()
                if "hidden_size" in line or "num_layers" in line or "seq_len" in line
            )
        )
    assert len(seen) == 8


def test_resuming_the_last_run_before_there_is_one_is_one_line(tmp_path, tune_dir):
    proc = run_train(tmp_path, f"data.midi_dir={tune_dir}", "ckpt_path=last")
    where = tmp_path / "outputs" / "train"
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        f"error: ckpt_path=last: no run under '{where}' has a last.ckpt yet; give a path"
    ]


def test_training_without_a_validation_split_is_refused(tmp_path, tune_dir):
    proc = run_train(tmp_path, f"data.midi_dir={tune_dir}", "data.val_fraction=0")
    assert proc.returncode == 2 and "data.val_fraction" in proc.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_a_failing_job_does_not_stop_the_sweep(tmp_path, tune_dir, launcher):
    # seq_len=5000 is longer than the tunes: only the run can see it, so job 0 fails while it runs
    proc = run_train(
        tmp_path, "--multirun", f"hydra/launcher={launcher}", f"data.midi_dir={tune_dir}", *TINY,
        "debug=fast_dev_run", "data.seq_len=5000,16",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    failure = json.loads((sweep / "0" / "failure.json").read_text())
    assert failure["job"] == 0 and "data.seq_len=5000" in failure["overrides"]
    assert failure["error"].startswith("data.seq_len=5000 is longer than the training split")
    assert (sweep / "1" / "metrics.json").is_file() and not (sweep / "1" / "failure.json").exists()
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert errors[0].startswith("error: job 0 (") and "data.seq_len=5000" in errors[0]
    assert errors[-1] == f"error: 1 job(s) of the sweep in {sweep} failed (see above)"
    share = 1 if launcher == "joblib" else usable_cores()  # joblib's n_jobs=-1 runs a job per core
    assert f"threads: {share} (" in (sweep / "1" / "train.log").read_text()
    assert not list(sweep.glob(".running/*"))  # joblib's jobs registered there, and left, failed or not


def test_a_sweep_by_name(tmp_path, tune_dir):
    # the command line's model.* would override the sweep's own values: leave them out
    others = [arg for arg in TINY if not arg.startswith("model.")]
    proc = run_train(tmp_path, "sweep=smoke", f"data.midi_dir={tune_dir}", *others, "samples.num_samples=0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    jobs = sorted(p for p in sweep.iterdir() if p.name.isdigit())
    swept = {
        tuple(line for line in (p / ".hydra" / "overrides.yaml").read_text().splitlines() if "model." in line)
        for p in jobs
    }
    assert swept == {
        (f"- model.hidden_size={h}", f"- model.num_layers={n}") for h in (32, 64) for n in (1, 2)
    }
    assert all((p / "metrics.json").is_file() for p in jobs)


@pytest.mark.slow
def test_a_multirun_over_folds_cross_validates_a_config(tmp_path, tune_dir):
    proc = run_train(
        tmp_path, "--multirun", f"data.midi_dir={tune_dir}", *TINY, "trainer.max_epochs=1",
        "samples.num_samples=0", "data.folds=4", "data.fold=range(4)",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert len(jobs) == 4
    tested = []
    for job in jobs:
        report = json.loads((job / "data_report.json").read_text())
        assert report["split_melodies"]["test"] == 5  # 20 tunes in 4 folds
        assert json.loads((job / "metrics.json").read_text())["test/pitch_bits"] > 0
        assert sum(report["split_melodies"].values()) == 20
        tested += [f["file"] for f in report["kept_files"] if f["split"] == "test"]
    assert sorted(tested) == sorted(f.name for f in tune_dir.iterdir())  # each tune tested exactly once


def test_a_run_that_max_steps_ends_before_its_first_validation_finishes(tmp_path, tune_dir):
    """Early stopping waits for a validation: a few steps of a long epoch end the run, not a traceback."""
    proc = run_train(tmp_path, f"data.midi_dir={tune_dir}", *TINY, "trainer.max_steps=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (metrics,) = (tmp_path / "outputs" / "train" / "runs").glob("*/metrics.json")
    record = json.loads(metrics.read_text())
    assert record["global_step"] == 2 and record["val/loss"] > 0
