"""Plugins: parts registered by name from outside the package, their config keys, and safe checkpoints.

The example plugin (examples/melodygen-mlp) is imported here from its folder; tests/cli/test_example_plugin.py
installs it and runs every command with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch
from documented import docs_module
from helpers import QUIET_SMALL_RUN, run_cli

from melodygen import registry
from melodygen.errors import MelodygenError
from melodygen.generation.sampling import sample_melodies
from melodygen.models import MelodyModel, load_model, read_checkpoint
from melodygen.music.melody import REST, Melody

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "melodygen-mlp"
FIXTURE = ROOT / "tests" / "fixtures" / "before_plugins" / "gru_continuous.ckpt"
#: the example on the path of every process a test starts
ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(EXAMPLE), os.environ.get("PYTHONPATH")]))}


def _forget(module: str) -> None:
    """Undo what loading ``module`` as a plugin registered, so other tests see the built-ins alone."""
    for kind in registry.REGISTRIES:
        for name, entry in list(kind._entries.items()):
            if entry.provider == f"module {module}":
                del kind._entries[name]
    registry._loaded.discard(module)
    for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        del sys.modules[loaded]


@pytest.fixture(scope="module")
def example():
    sys.path.insert(0, str(EXAMPLE))
    try:
        registry.load_plugins(["melodygen_mlp"])
        yield sys.modules["melodygen_mlp"]
    finally:
        _forget("melodygen_mlp")
        sys.path.remove(str(EXAMPLE))


def _mlp(**settings) -> MelodyModel:
    shape = {"context": 4, "hidden_size": 16, "num_layers": 2, "embedding_dim": 8, "dropout": 0.0}
    return MelodyModel(architecture="mlp", representation="intervals", **{**shape, **settings}).eval()


def test_composing_with_the_example_loaded_imports_no_torch():
    code = (
        "import sys; from melodygen.config import register_configs; register_configs(['melodygen_mlp']); "
        "from melodygen.registry import NETWORKS; print(sorted(NETWORKS), 'torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **ENV}
    )
    assert done.stdout.split() == ["['gru',", "'lstm',", "'mlp',", "'transformer']", "False"], done.stderr


def test_the_example_registers_its_parts_under_its_module(example):
    assert registry.NETWORKS.entry("mlp").provider == "module melodygen_mlp"
    assert registry.REPRESENTATIONS.entry("intervals").config is example.IntervalsSettings
    assert "leap_share" in registry.STATISTICS and "leap_share" in registry.SET_FEATURES
    assert registry.NETWORKS.entry("lstm").built_in


def test_a_name_taken_by_another_provider_is_one_line(example):
    with registry.provided_by("module someone_else"), pytest.raises(MelodygenError, match="registered twice"):
        registry.NETWORKS.register("mlp", "someone_else:Net", example.MLPConfig)


def test_the_mlp_steps_as_it_reads_a_whole_sequence(example):
    torch.manual_seed(0)
    model = _mlp()
    x = torch.stack([torch.randint(0, 50, (2, 11)), torch.randint(0, 16, (2, 11))], dim=-1)
    whole, _ = model(x)
    state, stepped = None, []
    for t in range(x.shape[1]):
        outputs, state = model(x[:, t : t + 1], state)
        stepped.append(outputs[0])
    torch.testing.assert_close(torch.cat(stepped, dim=1), whole[0])
    step, _ = model.net.step(x[:, 0], None)  # MelodyNetwork.step: one element, no sequence axis
    torch.testing.assert_close(step[0], whole[0][:, 0])


def test_intervals_encode_a_melody_and_decode_it_back(example, tune_dir):
    from melodygen.data.midi import load_melody

    representation = registry.REPRESENTATIONS["intervals"].from_settings({"max_interval": 24})
    for path in sorted(tune_dir.glob("*.mid")):
        melody = load_melody(path)
        back = representation.decode(representation.encode(melody))
        assert back.equals(melody), path.name
    # a rest is its own class, and a leap wider than max_interval decodes cut to it
    narrow = registry.REPRESENTATIONS["intervals"].from_settings({"max_interval": 5})
    melody = Melody(np.array([60, REST, 62, 72], np.int16), np.array([4, 2, 4, 4], np.int16))
    assert narrow.decode(narrow.encode(melody)).pitch.tolist() == [60, REST, 62, 67]


def test_a_plugin_model_samples_with_every_sampler_and_records_where_it_came_from(example):
    model = _mlp()
    drawn = sample_melodies(model, 3, 12, seed=1)
    again = sample_melodies(model, 3, 12, seed=1)
    assert all(a.equals(b) for a, b in zip(drawn, again, strict=True)) and all(m.num_notes for m in drawn)
    beam = sample_melodies(model, 2, 12, strategy="beam", beam_size=3)
    assert len(beam) == 2 and all(m.num_notes >= 1 for m in beam)
    assert model.hparams.plugins == {"mlp": "module melodygen_mlp", "intervals": "module melodygen_mlp"}
    assert model.hparams.representation_settings == {"max_interval": 24}


def _rewritten(tmp_path: Path, **hparams) -> Path:
    """The fixture checkpoint (a real one, as melodygen-train wrote it) with some hyperparameters changed."""
    ckpt = torch.load(FIXTURE, map_location="cpu", weights_only=True)
    ckpt["hyper_parameters"].update(hparams)
    path = tmp_path / "changed.ckpt"
    torch.save(ckpt, path)
    return path


def test_a_checkpoint_of_an_unregistered_network_names_the_plugin_to_install(tmp_path):
    path = _rewritten(tmp_path, architecture="mlp2", plugins={"mlp2": "package melodygen-mlp2"})
    with pytest.raises(MelodygenError) as caught:
        load_model(path)
    assert str(caught.value) == (
        f"ckpt_path={str(path)!r}: its network 'mlp2' is not registered here; it came from the plugin "
        f"package melodygen-mlp2: install it (pip install melodygen-mlp2)"
    )
    proc = run_cli("generate", tmp_path, f"ckpt_path={path}")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [f"error: {caught.value}"]
    unknown = _rewritten(tmp_path, representation="intervals2")  # and no word of where it came from
    with pytest.raises(MelodygenError, match="representation 'intervals2' is not registered here; no plugin"):
        load_model(unknown)


def test_no_name_in_a_checkpoint_is_imported(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "sneaky_module.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for changed in (
        {"architecture": "sneaky_module:Net"},
        {"architecture": "sneaky_module"},
        {"representation": "sneaky_module:Rep"},
        {"architecture": "lstm", "plugins": {"lstm": "module sneaky_module"}},
    ):
        path = _rewritten(tmp_path, **changed)
        try:
            load_model(path)
        except MelodygenError as exc:
            assert "is not registered here" in str(exc) or "do not fit" in str(exc)
        assert not marker.exists() and "sneaky_module" not in sys.modules, changed


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.hiden_size=8", "error: model.hiden_size is not a setting: did you mean model.hidden_size?"),
        ("model.context=0", "error: model.context=0 is not allowed: must be at least 1"),
        (
            "data.representations.intervals.max_intervall=3",
            "error: data.representations.intervals.max_intervall is not a setting",
        ),
        (
            "data.representations.intervals.max_interval=0",
            "error: data.representations.intervals.max_interval=0 is not allowed: from 1 to 64 semitones",
        ),
        ("model.num_heads=2", "error: model.num_heads is a setting of model=transformer, not of model=mlp"),
    ],
)
def test_a_plugins_bad_key_is_one_line(tmp_path, tune_dir, override, expected):
    proc = run_cli(
        "train", tmp_path, "plugins=[melodygen_mlp]", "model=mlp", "data.representation=intervals",
        f"data.midi_dir={tune_dir}", override, env=ENV,
    )  # fmt: skip
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(expected), line


def test_an_unknown_plugin_module_or_part_is_one_line(tmp_path, tune_dir):
    proc = run_cli("train", tmp_path, "plugins=[no_such_plugin]", f"data.midi_dir={tune_dir}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: plugins: no module named 'no_such_plugin' in the working directory ({tmp_path}) or on "
        f"PYTHONPATH"
    ]
    proc = run_cli("train", tmp_path, "model=mlp", f"data.midi_dir={tune_dir}")  # the plugin not loaded
    assert proc.returncode == 2 and "model=mlp" in proc.stderr and "lstm" in proc.stderr
    proc = run_cli("train", tmp_path, "data.representation=intervalz", f"data.midi_dir={tune_dir}")
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "error: data.representation=intervalz is not allowed: choose one of continuous, categorical, event"
        )
    )


#: a data source, a sampler and a statistic, as docs/plugins.md shows a user's quick experiment
MY_PARTS = docs_module("plugins.md", "<!-- my_parts.py: the test suite trains and generates with it -->")


def _my_parts(folder: Path) -> None:
    """``my_parts.py`` and 24 melodies of 40 notes in ``melodies.txt``, in ``folder``."""
    (folder / "my_parts.py").write_text(MY_PARTS)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(24):
        notes = " ".join(
            f"{int(p)}:{int(d)}" for p, d in zip(rng.integers(60, 72, 40), rng.choice([2, 4], 40))
        )
        lines.append(f"tune{i}: {notes}")
    (folder / "melodies.txt").write_text("\n".join(lines) + "\n")


def test_a_data_source_and_a_sampler_from_the_working_directory_train_and_generate(tmp_path):
    _my_parts(tmp_path)
    proc = run_cli(
        "train", tmp_path, "plugins=[my_parts]", "data=notes", "samples=cold", "samples.final_temperature=0.5",
        *QUIET_SMALL_RUN, "trainer.max_epochs=1", "samples.num_samples=2", "callbacks.sample_monitor=null",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    report = json.loads((run / "data_report.json").read_text())
    assert sorted(f["file"] for f in report["kept_files"]) == sorted(f"tune{i}" for i in range(24))
    assert len(list((run / "samples").glob("sample_*.mid"))) == 2
    statistics = json.loads((run / "samples" / "statistics.json").read_text())
    highest = [
        float(max(note.pitch for note in pretty_midi.PrettyMIDI(str(path)).instruments[0].notes))
        for path in sorted((run / "samples").glob("sample_*.mid"))
    ]
    assert [m["highest_note"] for m in statistics["each"]] == highest  # the docs' statistic, on each sample
    ckpt = read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert ckpt["datamodule_hyper_parameters"]["notes_file"] == "melodies.txt"
    bad = run_cli("train", tmp_path, "plugins=[my_parts]", "data=notes", "samples=cold",
                  "samples.final_temperature=-1")  # fmt: skip
    assert bad.stderr.strip().splitlines() == [
        "error: samples.final_temperature=-1.0 is not allowed: not negative"
    ]
    out = run_cli(
        "generate", tmp_path, "plugins=[my_parts]", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
        "samples=cold", "samples.num_samples=3", "wav=false", "png=false",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert len([line for line in out.stdout.splitlines() if line.endswith(".mid")]) == 3


@pytest.mark.slow
def test_every_job_of_a_parallel_sweep_loads_the_working_directorys_plugin(tmp_path):
    _my_parts(tmp_path)
    proc = run_cli(
        "train", tmp_path, "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "plugins=[my_parts]",
        "data=notes", "samples=cold", "samples.final_temperature=0.2,0.5", *QUIET_SMALL_RUN, "trainer.max_epochs=1",
        "samples.num_samples=1", "callbacks.sample_monitor=null", "logger=none",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    for job in ("0", "1"):
        assert json.loads((sweep / job / "metrics.json").read_text())["val/pitch_bits"] > 0
        assert len(list((sweep / job / "samples").glob("sample_*.mid"))) == 1


def test_a_plugin_model_resumes_with_its_own_shape_and_settings(example, tmp_path, tune_dir):
    from helpers import compose_train

    from melodygen.training.train import train

    first_overrides = [
        "model=mlp",
        "data.representation=intervals",
        "data.representations.intervals.max_interval=12",
    ]
    small = [*QUIET_SMALL_RUN, "samples.num_samples=0", "callbacks.sample_monitor=null", "logger=none"]
    cfg = compose_train(
        tmp_path, tune_dir, *small, *first_overrides, "model.context=3", "trainer.max_epochs=1"
    )
    cfg.paths.output_dir = str(tmp_path / "first")
    first = train(cfg, [*first_overrides, "model.context=3"])
    # resumed without naming the network or its settings: the checkpoint's are taken
    cfg = compose_train(tmp_path, tune_dir, *small, "trainer.max_epochs=2")
    cfg.paths.output_dir = str(tmp_path / "resumed")
    cfg.ckpt_path = first["last_checkpoint"]
    resumed = train(cfg, ["trainer.max_epochs=2"])
    assert resumed["epochs"] == 2 and cfg.model.architecture == "mlp" and cfg.model.context == 3
    assert cfg.data.representations.intervals.max_interval == 12
    model = load_model(resumed["last_checkpoint"])
    assert model.representation.max_interval == 12 and model.net.window == 3
    contradicting = "data.representations.intervals.max_interval=24"
    cfg = compose_train(tmp_path, tune_dir, *small, "trainer.max_epochs=3", contradicting)
    cfg.ckpt_path = resumed["last_checkpoint"]
    with pytest.raises(MelodygenError, match=r"^data.representations.intervals.max_interval=24 contradicts"):
        train(cfg, ["trainer.max_epochs=3", contradicting])


def test_a_data_source_without_what_training_asks_is_one_line(tmp_path, tune_dir):
    from dataclasses import dataclass

    from helpers import compose_train

    from melodygen.plugins import DataConfig, register_data
    from melodygen.training.train import build_datamodule

    @dataclass
    class HalfConfig(DataConfig):
        midi_dir: str = "."

    class HalfData:  # reads melodies, but is no LightningDataModule and has none of its hooks
        def report(self):
            return {}

    try:
        with registry.provided_by("module half_data"):
            register_data("half", HalfConfig, HalfData)
        cfg = compose_train(tmp_path, tune_dir, "data=half")
        with pytest.raises(MelodygenError) as caught:
            build_datamodule(cfg)
        assert str(caught.value).startswith(
            "data.source=half: test_a_data_source_without_what_training_asks_is_one_line.<locals>.HalfData lacks "
            "use_representation, fit_representation, use_conditioning, fit_conditioning, split_of"
        )
    finally:
        _forget("half_data")
