"""The example plugin (examples/melodygen-mlp), installed as a user installs it, through every command.

pip installs it into a folder of its own (with its entry point), which every command then finds on
PYTHONPATH: its network and representation sweep beside the built-ins, and the runs compare, report,
generate, evaluate, train under DDP and run the IDyOM benchmark."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import write_tune_folder
from helpers import QUIET_SMALL_RUN, run_cli, run_compare

from melodygen.sweeps.optuna_search import load_study, storage_url

ROOT = Path(__file__).resolve().parents[2]
TINY = [*QUIET_SMALL_RUN, "model.hidden_size=16", "trainer.max_epochs=2", "logger=none", "samples.length=16",
        "callbacks.sample_monitor.num_samples=2", "callbacks.sample_monitor.length=16"]  # fmt: skip

#: the benchmark's runs: one epoch of a small network
BENCH = [
    "model.hidden_size=16",
    "model.embedding_dim=8",
    "data.seq_len=16",
    "data.batch_size=8",
    "trainer.max_epochs=1",
]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The example built and installed by pip into its own folder; the environment that sees it."""
    target = tmp_path_factory.mktemp("site")
    source = shutil.copytree(
        ROOT / "examples" / "melodygen-mlp", target.parent / "melodygen-mlp"
    )  # builds in it
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (target / "melodygen_mlp" / "network.py").is_file()
    path = os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "WANDB_MODE": "offline", "WANDB_API_KEY": ""}


@pytest.fixture(scope="module")
def sweep(installed, tmp_path_factory) -> Path:
    """``-m model=lstm,mlp`` on the plugin's representation: no plugins=… needed, it is installed."""
    root = tmp_path_factory.mktemp("plugin_sweep")
    tunes = write_tune_folder(root / "tunes", seed=5, count=24)
    proc = run_cli(
        "train", root, "-m", f"data.midi_dir={tunes}", *TINY, "model=lstm,mlp", "data.representation=intervals",
        "samples.num_samples=2", env=installed,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (folder,) = (root / "outputs" / "train" / "multiruns").iterdir()
    return folder


@pytest.mark.slow
def test_the_plugins_network_trains_beside_a_built_in_and_they_compare(sweep, installed, tmp_path):
    for job, architecture in (("0", "lstm"), ("1", "mlp")):
        metrics = json.loads((sweep / job / "metrics.json").read_text())
        assert metrics["representation"] == "intervals" and 0 < metrics["val/pitch_bits"] < 8, job
        config = (sweep / job / ".hydra" / "config.yaml").read_text()
        assert f"architecture: {architecture}" in config and "max_interval: 24" in config
        hparams = torch.load(sweep / job / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]
        assert hparams["bar_position"] is True  # the plugin's representation counts its 16ths
        stats = json.loads((sweep / job / "samples" / "statistics.json").read_text())
        assert 0 <= stats["mean"]["leap_share"] <= 1  # the plugin's statistic, measured on every sample
    proc = run_compare(sweep, "--out", tmp_path, "--html")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with (tmp_path / "compare.csv").open() as f:
        runs = [row for row in csv.DictReader(f) if row["kind"] == "run"]
    assert sorted(r["model"] for r in runs) == ["lstm", "mlp"] and {r["status"] for r in runs} == {"done"}
    page = (tmp_path / "report" / "index.html").read_text()
    assert "leap_share" in page and "mlp" in page


@pytest.mark.slow
def test_the_plugins_checkpoint_generates_and_is_evaluated(sweep, installed, tmp_path):
    ckpt = sweep / "1" / "checkpoints" / "last.ckpt"
    out = run_cli("generate", tmp_path, f"ckpt_path={ckpt}", "samples.num_samples=3", "samples=beam",
                  "samples.beam_size=3", "wav=false", env=installed)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert len([line for line in out.stdout.splitlines() if line.endswith(".mid")]) == 3
    held_out = write_tune_folder(tmp_path / "held_out", seed=6, count=4)
    scored = run_cli("evaluate", tmp_path, f"ckpt_path={ckpt}", f"data.midi_dir={held_out}", env=installed)
    assert scored.returncode == 0, scored.stderr[-3000:]
    (run,) = (tmp_path / "outputs" / "evaluate" / "runs").iterdir()
    record = json.loads((run / "evaluation.json").read_text())
    assert record["melodies"] == 4 and record["checkpoints"][0]["overall"]["all/bits"] > 0
    # without the plugin, the same checkpoint is one line that names it
    bare = {**installed, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    missing = run_cli("generate", tmp_path, f"ckpt_path={ckpt}", env=bare)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"error: ckpt_path={str(ckpt)!r}: its network 'mlp' is not registered here; it came from the plugin "
        f"package melodygen-mlp: install it (pip install melodygen-mlp)"
    ]


@pytest.mark.slow
def test_the_plugins_network_trains_under_ddp(installed, tmp_path):
    tunes = write_tune_folder(tmp_path / "tunes", seed=7)
    ddp = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]
    proc = run_cli("train", tmp_path, f"data.midi_dir={tunes}", *TINY, *ddp, "model=mlp", "trainer.max_epochs=1",
                   "data.representation=intervals", "samples.num_samples=0", env=installed)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    assert json.loads((run / "metrics.json").read_text())["world_size"] == 2


@pytest.mark.slow
def test_the_idyom_benchmark_runs_the_plugins_network(installed, tmp_path):
    melody_set = write_tune_folder(tmp_path / "set", seed=1, count=8)
    corpus = write_tune_folder(tmp_path / "corpus", seed=2, count=12)
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_idyom.py"), "--midi-dir", str(melody_set),
         "--folk-dir", str(corpus), "--folds", "2", "--models", "mlp", "--json", str(out), *BENCH],
        cwd=tmp_path, env={**os.environ, **installed, "MELODYGEN_ROOT": str(tmp_path)},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["models"] == ["mlp"]
    assert all(0 < step["pitch_bits"] < 8 for step in result["steps"]["mlp"])


@pytest.mark.slow
def test_an_optuna_study_searches_the_plugins_network_with_its_own_ranges(installed, tmp_path):
    tunes = write_tune_folder(tmp_path / "tunes", seed=8)
    sweep_dir = tmp_path / "study"
    proc = run_cli(
        "train", tmp_path, f"data.midi_dir={tunes}", *QUIET_SMALL_RUN, "sweep=optuna_architectures",
        "model=choice(lstm,mlp)", "+hydra.sweeper.conditional.model.mlp={model.context:'choice(2,4)'}",
        "hydra.sweeper.n_trials=4", "hydra.sweeper.sampler=random", "hydra.sweeper.pruner=none", "trainer.max_epochs=1",
        "samples.num_samples=0", "callbacks.sample_monitor=null", "logger=none", f"hydra.sweep.dir={sweep_dir}",
        env=installed,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load_study(storage_url(None, sweep_dir))
    assert {t.state.name for t in study.trials} == {"COMPLETE"} and len(study.trials) == 4
    for trial in study.trials:
        config = yaml.safe_load((sweep_dir / str(trial.number) / ".hydra" / "config.yaml").read_text())
        assert config["model"]["architecture"] == trial.params["model"]
        if trial.params["model"] == "mlp":
            assert config["model"]["context"] == trial.params["model.context[model=mlp]"]
