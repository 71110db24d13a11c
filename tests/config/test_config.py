"""The config: every option composes, each default lives once, and the schema module stays light."""

import dataclasses
import inspect
import re
import subprocess
import sys
from enum import Enum
from pathlib import Path

import pytest
import yaml
from helpers import compose_train
from hydra import compose, initialize_config_dir

from melodygen.cli.app import config_dir
from melodygen.config import (
    ARCHITECTURES,
    SCHEMAS,
    TRAINING_KEYS,
    CorpusConfig,
    DataConfig,
    GRUConfig,
    LSTMConfig,
    ModelConfig,
    SamplingConfig,
    TrainConfig,
    TransformerConfig,
    architecture_defaults,
    claim_folder,
    network_keys,
    register_configs,
    to_plain,
)
from melodygen.data.datamodule import MelodyDataModule
from melodygen.data.midi import ExtractionParams
from melodygen.errors import MelodygenError
from melodygen.folk import build_corpus
from melodygen.generation.sampling import sample_elements, sample_melodies
from melodygen.models import NETWORKS, MelodyModel
from melodygen.models.recurrent import GRUNetwork, LSTMNetwork
from melodygen.models.transformer import TransformerNetwork
from melodygen.registry import REPRESENTATIONS, SAMPLERS
from melodygen.runtime.loggers import run_group

CONF = Path(config_dir())
PACKAGE = Path(__file__).resolve().parents[2] / "melodygen"
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name not in ("hydra", "__pycache__"))


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


#: options whose values come from Hydra's own config (composed in their own test)
WITH_HYDRA = {("trainer", "slurm")}


@pytest.mark.parametrize(
    ("group", "option"), [(g, o) for g in GROUPS for o in options(g) if (g, o) not in WITH_HYDRA]
)
def test_every_option_of_every_group_composes(tmp_path, group, option):
    cfg = compose_train(tmp_path, tmp_path, f"{group}={option}")
    plain = to_plain(cfg)  # every value resolves (run-time ones are set by compose_train)
    assert plain["data"]["midi_dir"] == str(tmp_path)
    assert plain["data"]["representation"] in REPRESENTATIONS


@pytest.mark.parametrize("config_name", ["train", "prepare", "generate", "corpus", "evaluate", "export"])
def test_every_entry_point_config_composes(config_name):
    register_configs()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name, overrides=["paths.root_dir=/somewhere"])
    assert cfg.paths.folk_dir == "/somewhere/data/folk"
    if config_name == "corpus":
        assert cfg.out_dir == "/somewhere/data/folk"


def _schema_for(group: str):
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    return fields[group].default_factory() if group in fields else None


def _default(node, key):
    value = getattr(node, key)
    return value.name if isinstance(value, Enum) else value


@pytest.mark.parametrize("group", ["data", "model", "trainer", "samples", "paths"])
def test_yaml_files_set_only_what_their_variant_changes(group):
    for path in (CONF / group).glob("*.yaml"):
        values = yaml.safe_load(path.read_text()) or {}
        schema = _schema_for(group)
        if group == "model":  # each architecture's file extends its own schema, and only that
            assert values.pop("defaults") == [f"/schema/model/{path.stem}@_here_", "_self_"], path
            schema = ARCHITECTURES[path.stem]()
        for key, value in values.items():
            assert key != "defaults", f"{path}: the schema supplies the defaults"
            assert hasattr(schema, key), f"{path}: {key} is not in the schema"
            assert value != _default(schema, key), f"{path}: {key}={value!r} restates the schema's default"


@pytest.mark.parametrize(
    ("function", "schema", "names"),
    [
        (LSTMNetwork.__init__, LSTMConfig(), network_keys("lstm")),
        (GRUNetwork.__init__, GRUConfig(), network_keys("gru")),
        (
            TransformerNetwork.__init__,
            TransformerConfig(),
            [k for k in network_keys("transformer") if k != "context"],
        ),
        (ExtractionParams, DataConfig(), ["min_notes"]),
        (sample_melodies, SamplingConfig(), ["temperature", "top_k", "top_p"]),
        (sample_elements, SamplingConfig(), ["temperature", "top_k", "top_p"]),
        (build_corpus, CorpusConfig(), ["route", "workers", "limit", "max_tune_notes"]),
    ],
    ids=lambda x: getattr(x, "__qualname__", type(x).__name__),
)
def test_library_defaults_are_the_schemas(function, schema, names):
    parameters = inspect.signature(function).parameters
    for name in names:
        default = parameters[name].default
        assert _default(schema, name) == (default.name if isinstance(default, Enum) else default), name


def test_a_datamodule_built_in_python_takes_every_default_from_the_schema(tmp_path):
    datamodule = MelodyDataModule(midi_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    for f in dataclasses.fields(DataConfig):
        if f.name not in ("midi_dir", "cache_dir"):
            assert datamodule.hparams[f.name] == _default(DataConfig(), f.name), f.name
    grouped = MelodyDataModule(DataConfig(midi_dir="tunes", cache_dir="cache", seq_len=32), batch_size=8)
    assert (grouped.hparams.seq_len, grouped.hparams.batch_size, grouped.hparams.window_stride) == (32, 8, 16)


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        (
            {"midi_dir": "m", "cache_dir": "c", "seq_lenn": 32},
            "data.seq_lenn: DataConfig has no such key (its keys:",
        ),
        ({"midi_dir": "m", "cache_dir": "c", "seq_len": "long"}, "data.seq_len='long' is not allowed: "),
        ({"midi_dir": "m"}, "data.cache_dir is required here"),
    ],
)
def test_a_datamodule_built_in_python_with_a_wrong_setting_is_one_line(settings, line):
    with pytest.raises(MelodygenError) as caught:
        MelodyDataModule(**settings)
    assert str(caught.value).startswith(line) and "\n" not in str(caught.value)


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_a_model_built_in_python_takes_its_architectures_schema_defaults(architecture):
    hparams = MelodyModel(architecture=architecture).hparams
    defaults = architecture_defaults(architecture)
    for key in (*TRAINING_KEYS, *network_keys(architecture)):
        assert hparams[key] == defaults[key], key
    assert (
        TransformerConfig.context == "${data.seq_len}" and defaults.get("context", 64) == DataConfig.seq_len
    )


def test_every_architecture_has_a_schema_a_network_and_a_config_file():
    built_in = {entry.name for entry in NETWORKS.entries() if entry.built_in}
    assert built_in == set(options("model")) and built_in <= set(ARCHITECTURES)
    for schema in ARCHITECTURES.values():
        assert issubclass(schema, ModelConfig)


def test_the_representation_defaults_are_the_schemas():
    assert inspect.signature(MelodyModel.__init__).parameters["representation"].default == "categorical"
    assert DataConfig.representation == "categorical"  # and MelodyDataModule takes its defaults from it


def test_the_built_in_choices_are_registered_names():
    assert {"continuous", "categorical", "event", "miditok"} <= set(REPRESENTATIONS)
    assert {"sample", "beam"} <= set(SAMPLERS)
    assert {"lstm", "gru", "transformer"} <= set(ARCHITECTURES)


def test_every_schema_is_registered_for_a_shipped_config():
    assert {f"{p.stem}_schema" for p in CONF.glob("*.yaml")} == set(SCHEMAS)


def test_importing_the_schema_does_not_import_torch():
    code = "import sys, melodygen.config, melodygen.cli.train; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_slurm_trainer_follows_the_slurm_launcher():
    from hydra.core.hydra_config import HydraConfig

    register_configs()
    overrides = [
        "hydra/launcher=slurm",
        "trainer=slurm",
        "hydra.launcher.gpus_per_node=4",
        "hydra.launcher.nodes=2",
        "paths.output_dir=/somewhere",  # Hydra sets it in a run
    ]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher.tasks_per_node == 4  # one task per GPU: SLURM starts the ranks, Lightning finds them
    assert (launcher.signal_delay_s, launcher.max_num_timeout) == (120, 5)
    HydraConfig.instance().set_config(cfg)  # what ${hydra:…} reads inside a job
    try:
        trainer = to_plain(cfg.trainer)
    finally:
        HydraConfig.instance().cfg = None
    assert (trainer["devices"], trainer["num_nodes"], trainer["strategy"]) == (4, 2, "ddp")
    assert (trainer["accelerator"], trainer["precision"]) == ("gpu", "mixed")


@pytest.mark.parametrize("name", [None, "lr-search"])
def test_the_grid_sweep_by_name_and_the_sweep_folder(name, tmp_path):
    register_configs()
    overrides = ["sweep=grid", f"paths.log_dir={tmp_path}", *([f"sweep.name={name}"] if name else [])]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    assert cfg.hydra.mode.name == "MULTIRUN"
    params = {key: str(value).split(",") for key, value in cfg.hydra.sweeper.params.items()}
    assert params == {
        "model.hidden_size": ["64", "128", "256"],
        "model.num_layers": ["1", "2", "3"],
        "data.seq_len": ["32", "64", "128"],
    }  # 27 jobs: the three sweep axes
    time = r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d"
    folder = cfg.hydra.sweep.dir
    assert re.fullmatch(rf"{tmp_path}/train/multiruns/{time}" + (f"_{name}" if name else ""), folder)
    assert Path(folder).is_dir() and cfg.hydra.sweep.dir == folder  # made once, when first read


def test_a_sweep_folder_taken_already_gets_the_next_number(tmp_path):
    base = tmp_path / "multiruns" / "2026-12-03_10-00-00_lr-search"
    folders = [claim_folder(str(base)) for _ in range(3)]
    assert folders == [str(base), f"{base}-2", f"{base}-3"] and all(Path(f).is_dir() for f in folders)
    assert run_group("train", folders[0], "lr-search") == "lr-search"
    assert run_group("train", folders[2], "lr-search") == "lr-search-3"
    assert run_group("train", folders[1], None) == "train-2026-12-03_10-00-00_lr-search-2"
