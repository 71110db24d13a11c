"""Optuna search as a Hydra sweeper: a real study in a subprocess, pruned, killed, resumed and compared."""

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import pytest
import yaml
from helpers import QUIET_SMALL_RUN, compose_train, run_cli
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from melodygen.cli.compare import compare
from melodygen.errors import MelodygenError
from melodygen.sweeps.optuna_search import load_study, quoted, search_space, storage_url, trial_overrides

#: 8 trials of at most 3 tiny epochs; random search over a learning rate range wide enough that some
#: trials barely learn, so the median pruner has something to prune.
STUDY = [
    *QUIET_SMALL_RUN,
    "sweep=optuna",
    "trainer.max_epochs=3",
    "samples.num_samples=0",
    "callbacks.sample_monitor=null",
    "hydra.sweeper.n_trials=8",
    "hydra.sweeper.sampler=random",
    "hydra.sweeper.n_startup_trials=2",
    "hydra.sweeper.n_warmup_epochs=1",
    "model.lr=tag(log,interval(1e-5,3e-2))",
    "model.hidden_size=choice(8,16)",
    "data.seq_len=choice(8,16)",
]


def parsed(*overrides):
    return OverridesParser.create().parse_overrides(list(overrides))


def test_sweeps_become_distributions_and_the_rest_stays_fixed(tmp_path, tune_dir):
    cfg = compose_train(tmp_path, tune_dir)
    space, fixed = search_space(
        parsed(
            "model.hidden_size=choice(64,128)",
            "model.num_layers=range(1,4)",
            "model.lr=tag(log,interval(1e-4,1e-2))",
            "model.dropout=interval(0,0.5)",
            "model.embedding_dim=interval(8,64)",  # an integer setting: an integer interval
            "data.seq_len=32,64",
            "trainer.max_epochs=3",
            "model.dropout=0.1",  # a later fixed value replaces the earlier search
        ),
        cfg,
    )
    assert space == {
        "model.hidden_size": CategoricalDistribution([64, 128]),
        "model.num_layers": IntDistribution(1, 3),
        "model.lr": FloatDistribution(1e-4, 1e-2, log=True),
        "model.embedding_dim": IntDistribution(8, 64),
        "data.seq_len": CategoricalDistribution([32, 64]),
    }
    assert fixed == ["trainer.max_epochs=3", "model.dropout=0.1"]
    with pytest.raises(MelodygenError, match="model.lr=.*start < end and a positive start"):
        search_space(parsed("model.lr=tag(log,interval(0,1e-2))"), cfg)


def test_trial_values_and_quoted_strings_read_back_through_hydra():
    overrides = trial_overrides(
        {
            "model.lr": 0.000123456789, "model.hidden_size": 64, "data.transpose_to_c": True, "tag": "a b,c",
            "model": "transformer", "name": "true", "model.num_heads[model=transformer]": 4,
        }
    )  # fmt: skip
    assert overrides == [
        "model.lr=0.000123457",
        "model.hidden_size=64",
        "data.transpose_to_c=true",
        "tag='a b,c'",
        "model=transformer",
        "name='true'",
        "model.num_heads=4",  # a conditional parameter's branch is the study's, not the config's
    ]
    assert parsed(overrides[3])[0].value() == "a b,c"  # one value, not a sweep
    assert parsed(overrides[5])[0].value() == "true"  # a string, not a bool
    url = "sqlite:////tmp/a dir/it's,here=1/optuna.db"
    (override,) = parsed(f"trial.storage={quoted(url)}")
    assert override.value() == url


def start_study(root, tune_dir, sweep_dir):
    env = {**os.environ, "MELODYGEN_ROOT": str(root)}
    return subprocess.Popen(
        [sys.executable, "-m", "melodygen.cli.train", f"data.midi_dir={tune_dir}", *STUDY,
         f"hydra.sweep.dir={sweep_dir}"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def finished(sweep_dir):
    """Trials the running study has finished, read without writing: opening it through Optuna while the
    sweeper is still creating the database would race it to create the same tables."""
    path = sweep_dir / "optuna.db"
    if not path.is_file():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)) as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED')"
            ).fetchone()
    except sqlite3.OperationalError:  # the tables are not there yet
        return 0
    return count


@pytest.mark.slow
def test_a_study_prunes_survives_a_kill_and_resumes_to_its_trial_count(tmp_path, tune_dir):
    sweep_dir = tmp_path / "study"
    proc = start_study(tmp_path, tune_dir, sweep_dir)
    deadline = time.monotonic() + 240
    while finished(sweep_dir) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = finished(sweep_dir)
    assert 3 <= before < 8, "the study was not killed part way"

    again = run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", *STUDY, f"hydra.sweep.dir={sweep_dir}")
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{before} of 8 trials already finished" in again.stdout
    study = load_study(storage_url(None, sweep_dir))
    states = [t.state.name for t in study.trials]
    assert states.count("COMPLETE") + states.count("PRUNED") == 8
    assert states.count("PRUNED") >= 1
    assert set(states) <= {"COMPLETE", "PRUNED", "FAIL"}  # FAIL: the trial the kill interrupted
    drawn = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(drawn)) == len(drawn), "the resumed study drew the same trials again"
    for trial in study.trials:
        if trial.state.name == "PRUNED":
            metrics = yaml.safe_load((sweep_dir / str(trial.number) / "metrics.json").read_text())
            # the job pruned with the study's pruner, at its last report: never within the warm-up epoch
            assert metrics["pruned_at_epoch"] == max(trial.intermediate_values) in (1, 2)
            assert "test/pitch_bits" not in metrics  # a pruned trial is not tested
        if trial.state.name == "COMPLETE":
            assert len(trial.intermediate_values) == 3  # one report per epoch

    best = yaml.safe_load((sweep_dir / "best.yaml").read_text())
    assert best["trial"] == study.best_trial.number and best["value"] == study.best_value
    assert not any(o.startswith(("sweep=", "trial.")) for o in best["overrides"])
    cfg = compose_train(
        tmp_path, tune_dir, *[o for o in best["overrides"] if not o.startswith("data.midi_dir")]
    )
    assert cfg.model.lr == pytest.approx(best["params"]["model.lr"], rel=1e-5)
    assert cfg.model.hidden_size == best["params"]["model.hidden_size"]

    shown = compare([str(sweep_dir / "optuna.db")])
    assert [run.name for run in shown["best"]][0] == str(study.best_trial.number)
    statuses = {run.name: run.status for run in shown["runs"]}
    for trial in study.trials:
        expected = {"COMPLETE": "done", "PRUNED": "pruned", "FAIL": "failed"}[trial.state.name]
        assert statuses[str(trial.number)] == expected
    assert {"model.lr", "model.hidden_size"} <= set(shown["axes"]) and "trial.number" not in shown["axes"]
    assert (sweep_dir / "compare.csv").is_file() and len(shown["written"]) == 1 + len(shown["axes"])
    assert all(path.is_file() for path in shown["written"])


def test_a_study_without_anything_to_search_is_one_line(tmp_path, tune_dir):
    proc = run_cli(
        "train", tmp_path, f"data.midi_dir={tune_dir}", "sweep=optuna", "hydra.sweeper.params={}",
        "hydra.sweeper.n_trials=0",
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: hydra.sweeper.n_trials=0 is not allowed: at least 1"
    )


def test_a_resumed_study_settles_the_trials_its_killed_sweeper_left_running(tmp_path):
    import json

    import optuna

    from melodygen.sweeps.optuna_search import open_storage, settle_interrupted

    url = storage_url(None, tmp_path)
    study = optuna.create_study(study_name="s", storage=open_storage(url))
    trials = [study.ask() for _ in range(3)]
    for trial in trials:
        trial.report(3.0, step=0)
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "metrics.json").write_text(json.dumps({"val/pitch_bits": 2.5}))  # finished, untold
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "metrics.json").write_text(json.dumps({"val/pitch_bits": 3.0, "pruned_at_epoch": 0}))
    settled = settle_interrupted(study, tmp_path, "val/pitch_bits")  # trial 2 left no result: failed
    assert settled == [(0, "complete"), (1, "pruned"), (2, "fail")]
    assert load_study(url).best_value == 2.5


def test_a_mistake_every_trial_makes_stops_the_study_after_three_trials(tmp_path, tune_dir):
    proc = run_cli(
        "train", tmp_path, f"data.midi_dir={tune_dir}", *STUDY, "hydra.sweeper.metric=val/pich_bits",
        f"hydra.sweep.dir={tmp_path / 'study'}",
    )  # fmt: skip
    assert proc.returncode == 2
    assert "3 trials in a row failed: the study stops" in proc.stdout
    assert "trial.metric=val/pich_bits: not logged; validation logs val/bits" in proc.stdout
    study = load_study(storage_url(None, tmp_path / "study"))
    assert [t.state.name for t in study.trials] == ["FAIL"] * 3
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 4 and errors[-1].startswith("error: 3 job(s) of the sweep")


@pytest.mark.parametrize("name", ["median", "hyperband"])
def test_each_pruner_prunes_bad_trials_but_never_in_the_warmup_epoch(name):
    import optuna
    from optuna.trial import TrialState

    from melodygen.sweeps.optuna_search import make_pruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = make_pruner(name, n_startup_trials=2, n_warmup_epochs=1, max_epochs=9)
    study = optuna.create_study(pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))

    def trial_of_9_epochs(trial):  # a validation loss that falls each epoch, from a level set by x
        x = trial.suggest_float("x", 0.0, 1.0)
        for epoch in range(9):  # reported as TrialPruning does: the epoch index, from 0
            trial.report(x + 1.0 / (epoch + 1), step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return x

    study.optimize(trial_of_9_epochs, n_trials=30)
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    assert pruned, f"{name} pruned nothing"
    assert all(max(t.intermediate_values) >= 1 for t in pruned)  # epoch 0 always runs
    best_pruned = min(t.params["x"] for t in pruned)
    assert best_pruned > study.best_params["x"]  # the best trial was never pruned


def test_conditional_ranges_are_drawn_only_in_their_branch(tmp_path, tune_dir):
    import optuna

    from melodygen.sweeps.optuna_search import conditional_space, suggest

    cfg = compose_train(tmp_path, tune_dir)
    space, _ = search_space(parsed("model=choice(lstm,transformer)", "model.dropout=interval(0,0.5)"), cfg)
    branches = conditional_space(
        {
            "model": {
                "lstm": {"model.hidden_size": "choice(32,64)", "model.num_layers": "range(1,3)"},
                "transformer": {"model.hidden_size": "choice(64,96)", "model.num_heads": "choice(2,4)",
                                "model.ff_size": "256"},
            }
        },
        space,
        cfg,
    )  # fmt: skip
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = set()
    for _ in range(12):
        trial = study.ask()
        params, fixed = suggest(trial, space, branches)
        architecture = params["model"]
        seen.add(architecture)
        own = {name.split("[")[0] for name in params if name.endswith(f"[model={architecture}]")}
        others = [name for name in params if "[" in name and not name.endswith(f"[model={architecture}]")]
        assert not others, params
        if architecture == "lstm":
            assert own == {"model.hidden_size", "model.num_layers"} and fixed == []
            assert params["model.hidden_size[model=lstm]"] in (32, 64)
        else:
            assert own == {"model.hidden_size", "model.num_heads"} and fixed == ["model.ff_size=256"]
            assert params["model.hidden_size[model=transformer]"] in (64, 96)
        overrides = trial_overrides(params)
        assert f"model={architecture}" in overrides and not any("[" in o for o in overrides)
        composed = compose_train(tmp_path, tune_dir, *fixed, *overrides)  # every trial composes
        assert composed.model.architecture == architecture
        study.tell(trial, 1.0)
    assert seen == {"lstm", "transformer"}


def test_a_branch_needs_its_choice_searched(tmp_path, tune_dir):
    from melodygen.sweeps.optuna_search import conditional_space

    cfg = compose_train(tmp_path, tune_dir)
    space, _ = search_space(parsed("model.dropout=interval(0,0.5)"), cfg)
    with pytest.raises(MelodygenError, match=r"^hydra.sweeper.conditional.model: search model as a choice"):
        conditional_space({"model": {"lstm": {"model.hidden_size": "choice(8,16)"}}}, space, cfg)


def test_a_key_of_another_architecture_in_a_branch_is_one_line(tmp_path, tune_dir):
    proc = run_cli(
        "train", tmp_path, f"data.midi_dir={tune_dir}", "sweep=optuna_architectures",
        "+hydra.sweeper.conditional.model.gru={model.num_heads:'choice(2,4)'}", "logger=none",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: hydra.sweeper.conditional.model.gru: model.num_heads is a setting of model=transformer, "
        "not of model=gru: choose model=transformer to set it"
    )


@pytest.mark.slow
def test_a_study_across_architectures_trains_each_with_its_own_ranges_and_best_yaml_retrains_the_winner(
    tmp_path, tune_dir
):
    sweep_dir = tmp_path / "study"
    proc = run_cli(
        "train", tmp_path, f"data.midi_dir={tune_dir}", *QUIET_SMALL_RUN, "sweep=optuna_architectures",
        "hydra.sweeper.n_trials=6", "hydra.sweeper.sampler=random", "hydra.sweeper.pruner=none",
        "trainer.max_epochs=1", "samples.num_samples=0", "callbacks.sample_monitor=null", "logger=none",
        f"hydra.sweep.dir={sweep_dir}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load_study(storage_url(None, sweep_dir))
    assert len(study.trials) == 6 and {t.state.name for t in study.trials} == {"COMPLETE"}
    drawn = {t.params["model"] for t in study.trials}
    assert len(drawn) >= 2, drawn
    for trial in study.trials:
        architecture = trial.params["model"]
        config = yaml.safe_load((sweep_dir / str(trial.number) / ".hydra" / "config.yaml").read_text())
        assert config["model"]["architecture"] == architecture
        for name, value in trial.params.items():
            if "[" in name:  # a conditional parameter: only its own architecture's, and it reached the job
                assert name.endswith(f"[model={architecture}]")
                key = name.split("[")[0].split(".", 1)[1]
                assert config["model"][key] == pytest.approx(value)
        if architecture == "transformer":
            assert config["model"]["num_heads"] in (2, 4)
        else:
            assert "num_heads" not in config["model"]
    best = yaml.safe_load((sweep_dir / "best.yaml").read_text())
    assert best["params"]["model"] == study.best_trial.params["model"]
    overrides = [o for o in best["overrides"] if not o.startswith("data.midi_dir")]
    cfg = compose_train(tmp_path, tune_dir, *overrides)
    assert cfg.model.architecture == best["params"]["model"]
    for name, value in best["params"].items():
        key = name.split("[")[0]
        if key != "model":
            assert OmegaConf.select(cfg, key) == pytest.approx(value, rel=1e-5)
    shown = compare([str(sweep_dir)])
    assert "model" in shown["axes"] and "model.num_layers" in shown["axes"]
    with (sweep_dir / "compare.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:  # the groups' rows and the runs'
        if "model.num_heads" in row and row["model"] != "transformer":
            assert row["model.num_heads"] == ""  # a setting the architecture does not have: an empty cell
