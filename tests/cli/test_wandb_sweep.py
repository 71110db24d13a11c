"""W&B in a real sweep: offline runs, read back from their files, one group per sweep, named per job."""

import csv
import json
import os
from pathlib import Path

import pytest
from helpers import QUIET_SMALL_RUN, run_cli
from wandb_records import read_run

from melodygen.runtime.loggers import WandbLogger, run_name, wandb_mode

TINY = [*QUIET_SMALL_RUN, "samples.num_samples=1", "samples.length=8", "trainer.max_epochs=1", "logger=wandb"]
OFFLINE = {"WANDB_MODE": "offline", "WANDB_API_KEY": ""}


def sweep(root, tune_dir, *more, axes=("model.hidden_size=8,16", "data.seq_len=8,16")):
    root.mkdir()
    proc = run_cli(
        "train", root, "-m", f"data.midi_dir={tune_dir}", *TINY, *axes, *more, env=OFFLINE,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = sorted((root / "outputs" / "train" / "multiruns").iterdir())[-1:]
    jobs = sorted(p for p in path.iterdir() if p.name.isdigit())
    return jobs, [read_run(next(job.glob("wandb/offline-run-*/run-*.wandb"))) for job in jobs]


@pytest.mark.slow
def test_a_sweep_is_one_group_of_runs_named_after_their_own_overrides(tmp_path, tune_dir):
    jobs, runs = sweep(tmp_path / "a", tune_dir)
    assert len(jobs) == 4 and len(runs) == 4
    groups = {run["run"]["group"] for run in runs}
    assert len(groups) == 1 and groups.pop().startswith("train-")
    names = sorted(run["run"]["name"] for run in runs)
    assert names == sorted(f"seq_len={s},hidden_size={h}" for s in (8, 16) for h in (8, 16))
    for job, run in zip(jobs, runs):
        swept = dict(part.split("=") for part in run["run"]["name"].split(","))
        assert run["config"]["model"]["hidden_size"] == int(swept["hidden_size"])
        assert run["config"]["data"]["seq_len"] == int(swept["seq_len"])
        assert (
            run["config"]["num_parameters"]
            == json.loads((job / "metrics.json").read_text())["num_parameters"]
        )
        assert run["config"]["hydra"]["choices"]["model"] == "lstm"
        assert f"model.hidden_size={swept['hidden_size']}" in run["config"]["hydra"]["overrides"]
        counts = run["config"]["data_report"]
        assert counts["kept"] == 20 and counts["skipped"] == 0 and counts["windows"]["train"] > 0
        assert any("val/loss" in row for row in run["history"])
        assert any("sample/distinct_pitches" in row for row in run["history"])  # the sample monitor's
        media = {path.split("/")[1] for path in run["files"] if path.startswith("media/")}
        assert {"audio", "images", "table"} <= media
        assert not [a for a in run["artifacts"] if a["type"] == "model"]  # log_model=auto: online only
        assert json.loads((job / "wandb_run.json").read_text())["id"] == run["run"]["id"]
    _, again = sweep(tmp_path / "b", tune_dir, axes=["model.hidden_size=8"])  # another sweep of one job
    assert {run["run"]["group"] for run in again}.isdisjoint({run["run"]["group"] for run in runs})
    # a named sweep, two jobs at a time: its folder and its group carry the name
    named, runs = sweep(
        tmp_path / "c", tune_dir, "sweep.name=lr-search", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
        axes=["model.hidden_size=8,16"],
    )  # fmt: skip
    assert named[0].parent.name.endswith("_lr-search")
    assert {run["run"]["group"] for run in runs} == {"lr-search"}
    assert sorted(run["run"]["name"] for run in runs) == ["hidden_size=16", "hidden_size=8"]


def test_run_names_and_mode(monkeypatch, tmp_path):
    overrides = ["data.midi_dir=/x", "model.hidden_size=256", "model.num_layers=2", "trainer.max_epochs=3"]
    assert run_name(overrides) == "hidden_size=256,num_layers=2,max_epochs=3"
    assert run_name(overrides, swept={"model.hidden_size"}) == "hidden_size=256"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert wandb_mode("auto") == "offline" and wandb_mode("disabled") == "disabled"
    (tmp_path / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password abc\n")
    (tmp_path / ".netrc").chmod(0o600)
    assert wandb_mode("auto") == "online"
    # checkpoints become artifacts when the run streams (constructing the logger starts no run)
    assert WandbLogger(mode="auto", save_dir=str(tmp_path))._log_model is True
    assert WandbLogger(mode="offline", save_dir=str(tmp_path))._log_model is False
    assert WandbLogger(mode="offline", log_model=True, save_dir=str(tmp_path))._log_model is True


def test_resuming_goes_on_in_the_same_wandb_run(tmp_path, tune_dir):
    first = run_cli(
        "train", tmp_path, f"data.midi_dir={tune_dir}", *TINY, "data.seq_len=16", "trainer.max_epochs=2",
        "logger.wandb.log_model=true", env=OFFLINE,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    (run_a,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    # log_model=true: the best and the last checkpoint as versions of one model artifact
    models = [
        a
        for a in read_run(next(run_a.glob("wandb/offline-run-*/run-*.wandb")))["artifacts"]
        if a["type"] == "model"
    ]
    assert sorted(alias for a in models for alias in a["aliases"]) == ["best", "latest", "latest"]
    assert {a["name"] for a in models} == {
        f"model-{json.loads((run_a / 'wandb_run.json').read_text())['id']}"
    }
    # one table of samples for the run, which each epoch extends by the monitor's 4 melodies
    history = read_run(next(run_a.glob("wandb/offline-run-*/run-*.wandb")))["history"]
    assert [row["samples/table/nrows"] for row in history if "samples/table/nrows" in row] == [4, 8]
    resumed = run_cli(
        "train", tmp_path, f"data.midi_dir={tune_dir}", *[a for a in TINY if not a.startswith("model.")],
        "data.seq_len=16", "trainer.max_epochs=3", "ckpt_path=last", env=OFFLINE,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (run_b,) = [p for p in (tmp_path / "outputs" / "train" / "runs").iterdir() if p != run_a]
    a, b = (json.loads((run / "wandb_run.json").read_text()) for run in (run_a, run_b))
    assert (b["id"], b["group"], b["name"]) == (a["id"], a["group"], a["name"])
    record = read_run(next(run_b.glob("wandb/offline-run-*/run-*.wandb")))["run"]
    assert record["id"] == a["id"] and record["group"] == a["group"]
    assert "dirpath has changed" not in resumed.stderr  # the best score is carried over, silently
    assert (
        f"ckpt_path=last: {run_a / 'checkpoints' / 'last.ckpt'}" in resumed.stdout
    )  # last: the newest run's


def test_each_trial_of_a_study_is_a_wandb_run_in_the_study_group(tmp_path, tune_dir):
    proc = run_cli(
        "train", tmp_path, f"data.midi_dir={tune_dir}", *TINY, "sweep=optuna", "hydra.sweeper.n_trials=2",
        "model.hidden_size=choice(8,16)", "model.lr=tag(log,interval(1e-3,1e-2))", "callbacks.sample_monitor=null",
        env=OFFLINE,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (study,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    runs = [read_run(next(study.glob(f"{n}/wandb/offline-run-*/run-*.wandb"))) for n in (0, 1)]
    assert {run["run"]["group"] for run in runs} == {f"train-{study.name}"}
    for number, run in enumerate(runs):
        assert run["config"]["trial"]["number"] == number
        lr, hidden_size = run["config"]["model"]["lr"], run["config"]["model"]["hidden_size"]
        # named after what the trial drew, not after what the command line fixed (num_layers=1 …)
        name = dict(part.split("=") for part in run["run"]["name"].split(","))
        assert set(name) == {"hidden_size", "lr", "dropout"}  # dropout: searched by sweep=optuna itself
        assert int(name["hidden_size"]) == hidden_size and float(name["lr"]) == pytest.approx(lr, rel=1e-5)
        assert any("val/loss" in row for row in run["history"])


@pytest.mark.slow
def test_a_job_that_crashes_is_recorded_and_its_wandb_run_closed_as_failed(tmp_path, tune_dir):
    probes = str(Path(__file__).resolve().parents[1])  # probes.py importable by the jobs
    proc = run_cli(
        "train", tmp_path, "-m", f"data.midi_dir={tune_dir}", *TINY, "callbacks.sample_monitor=null",
        "model.hidden_size=8,16", "+callbacks.crash._target_=probes.CrashAt", "+callbacks.crash.hidden_size=8",
        "logger.wandb.job_type=probe", "logger.wandb.tags=[crash,small]",
        env={**OFFLINE, "PYTHONPATH": os.pathsep.join(filter(None, [probes, os.environ.get("PYTHONPATH")]))},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    failure = json.loads((sweep / "0" / "failure.json").read_text())
    assert failure["error"] == "RuntimeError: probe crash at hidden_size=8"
    assert "Traceback" in (sweep / "0" / "train.log").read_text()  # the whole story is in the job's log
    assert (sweep / "1" / "metrics.json").is_file()  # the next job ran
    assert "error: job 0 (" in proc.stderr and "RuntimeError: probe crash at hidden_size=8" in proc.stderr
    crashed, finished = (read_run(next(sweep.glob(f"{n}/wandb/offline-run-*/run-*.wandb"))) for n in (0, 1))
    assert (crashed["exit_code"], finished["exit_code"]) == (1, 0)  # both closed, the crashed one as failed
    assert crashed["run"]["job_type"] == "probe" and crashed["run"]["tags"] == ["crash", "small"]


def test_wandb_disabled_keeps_the_logger_and_writes_no_run(tmp_path, tune_dir):
    proc = run_cli(
        "train", tmp_path, f"data.midi_dir={tune_dir}", *TINY, "callbacks.sample_monitor=null",
        "logger.wandb.mode=disabled", env={"WANDB_API_KEY": ""},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    assert (run / "metrics.json").is_file()
    assert not list(run.glob("wandb/*run-*"))  # no offline run to sync, nothing sent


@pytest.mark.slow
def test_a_sweep_across_architectures_is_one_group_and_one_comparison(tmp_path, tune_dir):
    from melodygen.cli.compare import compare

    root = tmp_path / "a"
    root.mkdir()
    proc = run_cli(
        "train", root, "-m", f"data.midi_dir={tune_dir}", *TINY, "model=lstm,gru,transformer",
        "model.hidden_size=16", "callbacks.sample_monitor=null", env=OFFLINE,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep_dir,) = (root / "outputs" / "train" / "multiruns").iterdir()
    jobs = sorted(p for p in sweep_dir.iterdir() if p.name.isdigit())
    runs = [read_run(next(job.glob("wandb/offline-run-*/run-*.wandb"))) for job in jobs]
    assert len({run["run"]["group"] for run in runs}) == 1
    assert [run["run"]["name"] for run in runs] == ["model=lstm", "model=gru", "model=transformer"]
    for job, run, architecture in zip(jobs, runs, ("lstm", "gru", "transformer"), strict=True):
        assert run["config"]["model"]["architecture"] == architecture
        assert run["config"]["hydra"]["choices"]["model"] == architecture
        assert ("num_heads" in run["config"]["model"]) == (architecture == "transformer")
        assert any("val/pitch_bits" in row for row in run["history"])
        metrics = json.loads((job / "metrics.json").read_text())
        assert run["config"]["num_parameters"] == metrics["num_parameters"]
    # a single Transformer run beside the sweep: its own setting is an empty cell for the others
    single = run_cli(
        "train", root, f"data.midi_dir={tune_dir}", *TINY, "model=transformer", "model.hidden_size=16",
        "model.num_heads=2", "callbacks.sample_monitor=null", env=OFFLINE,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    (run_dir,) = (root / "outputs" / "train" / "runs").iterdir()
    shown = compare([str(sweep_dir), str(run_dir)], out=str(tmp_path / "cmp"))
    assert shown["axes"] == ["model", "model.num_heads"]
    assert len(shown["best"]) == 4
    with (tmp_path / "cmp" / "compare.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["kind"] == "run"]
    cells = {row["run"]: [row["model"], row["model.num_heads"]] for row in rows}
    assert cells[str(run_dir)] == ["transformer", "2"]
    assert cells[str(sweep_dir / "0")] == ["lstm", ""]
    assert (tmp_path / "cmp" / "compare_val_pitch_bits_by_model.png").is_file()


def test_the_wandb_summary_holds_the_best_checkpoints_figures(tmp_path, tune_dir):
    """The best checkpoint is the first epoch's (the checkpoint keeps the *highest* validation loss), so the
    last epoch's figures differ from it; the summary, which a runs table sorts by, holds the best's."""
    proc = run_cli(
        "train", tmp_path, f"data.midi_dir={tune_dir}", *TINY, "trainer.max_epochs=3", "test=false",
        "callbacks.model_checkpoint.mode=max", "callbacks.early_stopping=null", env=OFFLINE,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    run = read_run(next(run_dir.glob("wandb/offline-run-*/run-*.wandb")))
    epochs = [row for row in run["history"] if "val/loss" in row and "epoch" in row]
    assert metrics["best_epoch"] == 0 and epochs[0]["epoch"] == 0
    assert epochs[2]["val/loss"] < epochs[0]["val/loss"]  # the last epoch is not the best
    for key in ("val/loss", "val/pitch_bits", "val/duration_bits", "val/pitch_acc"):
        assert run["summary"][key] == pytest.approx(metrics[key], rel=1e-6)
        assert run["summary"][key] == pytest.approx(epochs[0][key], rel=1e-5)
    assert (
        run["summary"]["best_epoch"] == 0 and run["summary"]["best_checkpoint"] == metrics["best_checkpoint"]
    )


def test_two_sweeps_started_at_once_get_their_own_folders_and_groups(tmp_path, tune_dir):
    """Both ask for the same folder at the same moment (as two sweeps of one name started in the same
    second do): one gets it, the other the next number, and each its own W&B group."""
    import subprocess
    import sys

    base = tmp_path / "outputs" / "train" / "multiruns" / "2026-12-03_10-00-00_pair"
    args = [
        sys.executable, "-m", "melodygen.cli.train", "-m", f"data.midi_dir={tune_dir}", *TINY, "test=false",
        "model.hidden_size=8", "sweep.name=pair", f"hydra.sweep.dir=${{claim:{base}}}",
    ]  # fmt: skip
    env = {**os.environ, "MELODYGEN_ROOT": str(tmp_path), **OFFLINE}
    procs = [subprocess.Popen(args, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    errors = [proc.communicate(timeout=300)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    folders = sorted(p.name for p in base.parent.iterdir())
    assert folders == [base.name, f"{base.name}-2"]
    groups = {
        read_run(next(base.parent.glob(f"{f}/0/wandb/offline-run-*/run-*.wandb")))["run"]["group"]
        for f in folders
    }
    assert groups == {"pair", "pair-2"}
