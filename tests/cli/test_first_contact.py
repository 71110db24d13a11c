"""A new user's first mistakes, each through the real command: one ``error:`` line, exit status 2."""

import subprocess
import sys

import pytest
import torch
from conftest import write_tune_folder
from helpers import QUIET_SMALL_RUN, run_cli

TINY = ["model.hidden_size=16", *QUIET_SMALL_RUN, "samples.num_samples=1", "samples.length=8", "logger=none"]
#: the same run without its model overrides, as a user resuming it would type it
RESUME = [arg for arg in TINY if not arg.startswith("model.")]


def one_error_line(proc) -> str:
    """The single ``error:`` line of a failed command (and nothing else on stderr but log lines)."""
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("[")]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-3000:]
    return lines[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A one-epoch run with a non-default model size, as a user's first run would leave it."""
    root = tmp_path_factory.mktemp("first_run")
    write_tune_folder(root / "tunes", seed=3)
    proc = run_cli(
        "train",
        root,
        f"data.midi_dir={root / 'tunes'}",
        *TINY,
        "model.hidden_size=24",
        "trainer.max_epochs=1",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (last,) = (root / "outputs" / "train" / "runs").glob("*/checkpoints/last.ckpt")
    return root, last


def resume(cwd, trained_run, *overrides, max_epochs=2):
    """``melodygen-train ckpt_path=<the first run's last.ckpt>`` without the first run's model overrides."""
    root, last = trained_run
    return run_cli(
        "train", cwd, f"data.midi_dir={root / 'tunes'}", *RESUME, f"trainer.max_epochs={max_epochs}",
        f"ckpt_path={last}", *overrides,
    )  # fmt: skip


def test_home_in_a_path_is_expanded(tmp_path, tune_dir):
    home = tmp_path / "home"
    (home / "my_midi").mkdir(parents=True)
    for path in tune_dir.iterdir():
        (home / "my_midi" / path.name).write_bytes(path.read_bytes())
    env = {"HOME": str(home)}
    proc = run_cli("prepare", tmp_path, "data.midi_dir=~/my_midi", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"{home}/my_midi: kept 20 melodies" in proc.stdout


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.hiden_size=64", "error: model.hiden_size is not a setting: did you mean model.hidden_size?"),
        ("+model.hiden_size=64", "error: model.hiden_size is not a setting: did you mean model.hidden_size?"),
        ("data.seqlen=32", "error: data.seqlen is not a setting: did you mean data.seq_len?"),
        ("hidden_size=64", "error: hidden_size is not a setting: did you mean model.hidden_size?"),
        ("data.rep=event", "error: data.rep is not a setting: did you mean data.representation or"),
        ("model.zzz=1", "error: model.zzz is not a setting: `melodygen-train --cfg job` lists every setting"),
        (
            "experiment=seed",
            "error: experiment=seed is not an option: choose one of blog_post, folk_lstm, folk_transformer, "
            "folk_transformer_conditioned, idyom_finetune, idyom_pretrain, idyom_scratch, performance_rnn",
        ),
        ("trainer=tpu", "error: trainer=tpu is not an option: choose one of cpu, ddp, default, gpu"),
        (
            "model.optimizer=adamax",
            "error: model.optimizer=adamax is not allowed: choose one of adam, adamw, sgd",
        ),
        ("data.seq_len=long", "error: data.seq_len=long is not allowed: Value 'long' of type 'str'"),
        ("model.hidden_size=0", "error: model.hidden_size=0 is not allowed: must be at least 1"),
        (
            "data.bar_position=false data.bars_left=true",
            "error: data.bars_left=true is not allowed: counts bars from the bar positions: set "
            "data.bar_position=true too",
        ),
        (
            "callbacks.model_checkpoint.last_every_n_steps=0",
            "error: callbacks.model_checkpoint.last_every_n_steps=0 is not allowed: at least 1 (or null",
        ),
        ("data.midi_dir=~/no/such/folder", "is not a folder: give a folder of MIDI files"),
        (
            "model=lstm model.num_heads=4",
            "error: model.num_heads is a setting of model=transformer, not of model=lstm: choose "
            "model=transformer to set it",
        ),
        (
            "model=gru model.ff_size=64",
            "error: model.ff_size is a setting of model=transformer, not of model=gru",
        ),
        ("model=mamba", "error: model=mamba is not an option: choose one of gru, lstm, transformer"),
        (
            "model=transformer model.num_heads=3",
            "error: model.hidden_size=128 is not allowed: model.num_heads=3 must divide it",
        ),
        (
            "model=transformer model.hidden_size=12 model.num_heads=4",
            "error: model.hidden_size=12 is not allowed: each of the model.num_heads=4 heads gets 3, and "
            "rotary positions need an even size",
        ),
        (
            "model=lstm model.architecture=transformer",
            "error: model.architecture=transformer is not allowed: choose the architecture with "
            "model=transformer (this is model=lstm)",
        ),
        ("samples=beam samples.num_samples=5", "error: samples.num_samples=5 is not allowed: beam search "),
        (
            "samples.strategy=nucleus",
            "error: samples.strategy=nucleus is not allowed: choose one of sample, beam",
        ),
    ],
)
def test_config_mistakes_are_one_line(tmp_path, tune_dir, override, expected):
    proc = run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", *override.split())
    assert expected in one_error_line(proc)


def test_melodygen_debug_shows_the_traceback_above_the_same_line(tmp_path, tune_dir):
    plain = run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", "model.hidden_size=0")
    debug = run_cli(
        "train", tmp_path, f"data.midi_dir={tune_dir}", "model.hidden_size=0", env={"MELODYGEN_DEBUG": "1"}
    )
    assert "Traceback" not in plain.stderr and "Traceback (most recent call last)" in debug.stderr
    assert debug.returncode == plain.returncode == 2
    assert debug.stderr.strip().splitlines()[-1] == one_error_line(plain)


def test_a_sweep_with_a_misspelled_key_is_one_line(tmp_path, tune_dir):
    proc = run_cli("train", tmp_path, "--multirun", f"data.midi_dir={tune_dir}", "model.hiden_size=8,16")
    assert one_error_line(proc) == "error: model.hiden_size is not a setting: did you mean model.hidden_size?"
    assert not (tmp_path / "outputs").exists()


def test_the_folk_corpus_not_built_yet_says_how_to_build_it(tmp_path):
    line = one_error_line(run_cli("train", tmp_path))
    assert f"data.midi_dir='{tmp_path}/data/folk' is not a folder" in line and "make data" in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_gpu_asked_for_on_a_machine_without_one(tmp_path, tune_dir):
    line = one_error_line(run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", *TINY, "trainer=gpu"))
    assert line.startswith("error: trainer.accelerator=gpu: no GPU here") and "trainer=cpu" in line


@pytest.mark.parametrize("command", ["train", "generate"])
@pytest.mark.parametrize("content", ["text", "torch"])
def test_a_file_that_is_no_checkpoint(tmp_path, tune_dir, command, content):
    path = tmp_path / "notes.txt"
    if content == "text":
        path.write_text("my notes\n")
    else:
        torch.save({"a": 1}, path)
    proc = run_cli(
        command,
        tmp_path,
        f"data.midi_dir={tune_dir}" if command == "train" else "seed=0",
        f"ckpt_path={path}",
    )
    assert one_error_line(proc).startswith(f"error: ckpt_path='{path}' is not a melodygen checkpoint")


def test_resuming_takes_the_model_shape_from_the_checkpoint(tmp_path, trained_run):
    proc = resume(tmp_path, trained_run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for change in ("model.hidden_size=24", "model.num_layers=1", "model.embedding_dim=8"):
        assert f"from the checkpoint: {change}" in proc.stdout + proc.stderr


def test_resuming_with_a_contradicting_size_is_one_line(tmp_path, trained_run):
    proc = resume(tmp_path, trained_run, "model.hidden_size=32")
    line = one_error_line(proc)
    assert (
        line.startswith("error: model.hidden_size=32 contradicts the checkpoint") and "hidden_size=24" in line
    )


def test_resuming_a_finished_run_says_to_raise_max_epochs(tmp_path, trained_run):
    proc = resume(tmp_path, trained_run, max_epochs=1)
    line = one_error_line(proc)
    assert "has trained 1 epochs, trainer.max_epochs=1" in line and "raise trainer.max_epochs" in line


def test_a_window_longer_than_every_melody(tmp_path, tune_dir):
    line = one_error_line(run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", *TINY, "data.seq_len=5000"))
    assert line.startswith("error: data.seq_len=5000 is longer than the training split")
    assert "lower it to at most" in line


def test_a_window_longer_than_the_test_split_is_not_silently_skipped(tmp_path, tune_dir):
    # the four test tunes hold about 245 elements, the training ones about a thousand
    line = one_error_line(run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", *TINY, "data.seq_len=300"))
    assert "longer than the validation split" in line or "longer than the test split" in line


def test_wandb_online_without_a_login(tmp_path, tune_dir):
    env = {"WANDB_MODE": "online", "HOME": str(tmp_path), "WANDB_API_KEY": ""}
    proc = run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", *TINY, "logger=wandb", env=env)
    line = one_error_line(proc)
    assert line.startswith("error: logger=wandb: ") and "WANDB_MODE=offline" in line


def test_a_run_prints_no_third_party_noise(trained_run):
    root, _ = trained_run
    (log,) = (root / "outputs" / "train" / "runs").glob("*/train.log")
    text = log.read_text()
    assert "metrics:" in text
    proc = run_cli("train", root, f"data.midi_dir={root / 'tunes'}", *TINY, "trainer.fast_dev_run=true")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for noise in ("_pytree", "LeafSpec", "Tip:", "anonymous setting", "does not have many workers"):
        assert noise not in proc.stderr + proc.stdout


def test_a_config_error_does_not_wait_for_torch(tmp_path):
    code = (
        "import sys; sys.argv = ['melodygen-train', 'model.hiden_size=3']\n"
        "from melodygen.cli.train import main\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code == 2\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_an_argument_the_trainer_does_not_take(tmp_path, tune_dir):
    line = one_error_line(run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", *TINY, "+trainer.bogus=1"))
    assert line.startswith("error: trainer.bogus is not a Trainer argument")


def test_sampling_keys_in_the_old_place_point_to_the_new_one(tmp_path, tiny_checkpoint):
    proc = run_cli("generate", tmp_path, f"ckpt_path={tiny_checkpoint.path}", "num_samples=3")
    assert one_error_line(proc) == "error: num_samples is not a setting: did you mean samples.num_samples?"


@pytest.mark.parametrize("command", ["train", "generate"])
def test_printing_the_config_is_no_mistake(tmp_path, command):
    # no corpus built and no checkpoint given: --cfg job still prints the config
    proc = run_cli(command, tmp_path, "--cfg", "job", "samples.top_k=7")
    assert proc.returncode == 0, proc.stderr
    assert "top_k: 7" in proc.stdout and "num_samples: 4" in proc.stdout


@pytest.mark.parametrize("override", ["+seed2=1", "+model.hiden_size=64", "++data.foo=1"])
def test_adding_a_key_the_schema_does_not_have_is_one_line(tmp_path, tune_dir, override):
    line = one_error_line(run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", override))
    assert line.startswith(f"error: {override.lstrip('+').split('=')[0]} is not a setting")


def test_every_value_of_a_sweep_is_checked_before_any_job_runs(tmp_path, tune_dir):
    proc = run_cli("train", tmp_path, "-m", f"data.midi_dir={tune_dir},{tmp_path / 'missing'}", *TINY)
    assert (
        one_error_line(proc)
        == f"error: data.midi_dir='{tmp_path}/missing' is not a folder: give a folder of MIDI files"
    )
    assert not (tmp_path / "outputs").exists()
    line = one_error_line(
        run_cli("train", tmp_path, "-m", f"data.midi_dir={tune_dir}", "model.hidden_size=8,0")
    )
    assert line == "error: model.hidden_size=0 is not allowed: must be at least 1"


def test_a_glob_sweep_is_left_to_hydra(tmp_path, tune_dir):
    proc = run_cli(
        "train", tmp_path, "-m", f"data.midi_dir={tune_dir}", *TINY, "experiment=glob(blog*)", "debug=fast_dev_run"
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the job lands in the sweep's one folder (named by the command's task), with the sweep's multirun.yaml
    (sweep,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    assert (sweep / "0" / "metrics.json").is_file() and (sweep / "multirun.yaml").is_file()
    assert "experiment=blog_post" in (sweep / "0" / ".hydra" / "overrides.yaml").read_text()


def test_an_interpolation_that_cannot_resolve_is_one_line(tmp_path, tune_dir):
    proc = run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", "data.seq_len=${oc.env:NO_SUCH_VARIABLE}")
    assert one_error_line(proc).startswith("error: data.seq_len: ")


def test_resuming_with_another_data_preparation_is_one_line(tmp_path, trained_run):
    proc = resume(tmp_path, trained_run, "data.transpose_to_c=true")
    line = one_error_line(proc)
    assert line.startswith("error: data.transpose_to_c=true contradicts the checkpoint") and "=false" in line


def test_a_path_built_from_hydra_values_is_checked_inside_the_run(tmp_path, tune_dir):
    # ${hydra:…} resolves only once Hydra runs: the early check leaves it to the run, which still names it
    proc = run_cli("train", tune_dir.parent, "data.midi_dir=${hydra:runtime.cwd}/elsewhere", *TINY)
    assert (
        one_error_line(proc)
        == f"error: data.midi_dir='{tune_dir.parent}/elsewhere' is not a folder: give a folder of MIDI files"
    )


def test_optuna_settings_without_a_study_say_how_to_start_one(tmp_path, tune_dir):
    proc = run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", "hydra.sweeper.n_trials=5")
    assert one_error_line(proc) == (
        "error: hydra.sweeper.n_trials is not a setting: the Optuna sweeper's settings (n_trials, metric, "
        "pruner …) come with sweep=optuna"
    )
