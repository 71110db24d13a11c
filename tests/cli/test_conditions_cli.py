"""Conditioning as a user meets it: ``model.conditions`` as a sweep axis, the conditioned run's samples and
logged accuracies, ``melodygen-compare`` showing the axis, and ``melodygen-generate samples.meter=6/8
samples.key=D`` writing MIDI files that carry what was asked."""

import csv
import json

import numpy as np
import pretty_midi
import pytest
from conftest import write_tune
from helpers import QUIET_SMALL_RUN, run_cli, run_compare

from melodygen.models import load_model

JIG = [(62, 2), (66, 2), (69, 2), (74, 2), (69, 2), (66, 2), (67, 2), (71, 2), (74, 2), (73, 6), (69, 6)] * 3
REEL = [(67, 2), (71, 2), (74, 2), (71, 2), (67, 4), (62, 4), (66, 2), (69, 2), (72, 4), (71, 8)] * 3


def _signed(path, notes, meter, key_number):
    write_tune(path, notes)
    midi = pretty_midi.PrettyMIDI(str(path))
    midi.time_signature_changes = [pretty_midi.TimeSignature(*meter, 0.0)]
    midi.key_signature_changes = [pretty_midi.KeySignature(key_number, 0.0)]
    midi.write(str(path))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """``-m model.conditions=[],[meter,key,style]`` on jigs in 6/8 and reels in 4/4, in two sub-folders."""
    root = tmp_path_factory.mktemp("conditions")
    for i in range(6):
        _signed(root / "midi" / "jigs" / f"jig{i}.mid", JIG[i:], (6, 8), 2)
        _signed(root / "midi" / "reels" / f"reel{i}.mid", REEL[i:], (4, 4), 7)
    proc = run_cli(
        "train", root, "-m", f"data.midi_dir={root / 'midi'}", *QUIET_SMALL_RUN, "logger=csv",
        "trainer.max_epochs=2", "samples.num_samples=2", "samples.length=16",
        "model.conditions=[],[meter,key,style]",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = (root / "outputs" / "train" / "multiruns").iterdir()
    return root, path


def _obeyed(run, epoch: int) -> tuple[float, float]:
    """The share of an epoch's written samples whose estimated key, and whose meter by a classifier of the
    training tunes' rhythms, is the one they were asked for (read back from the MIDI files)."""
    from omegaconf import OmegaConf

    from melodygen.data.datamodule import MelodyDataModule
    from melodygen.data.midi import ExtractionParams, load_melody
    from melodygen.data.splits import TRAIN
    from melodygen.evaluation.adherence import estimated_key_name, real_meter_classifier, rhythm_features
    from melodygen.models.checkpoint import read_checkpoint

    folder = run / "samples" / f"epoch_{epoch:03d}"
    asked = json.loads((folder / "conditions.json").read_text())
    melodies = [load_melody(folder / name, ExtractionParams(min_notes=1)) for name in sorted(asked)]
    wanted = [asked[name] for name in sorted(asked)]
    key = sum(estimated_key_name(m) == a["key"] for m, a in zip(melodies, wanted)) / len(wanted)
    data = read_checkpoint(run / "checkpoints" / "last.ckpt")["datamodule_hyper_parameters"]
    datamodule = MelodyDataModule(**{**data, "progress": False})
    datamodule.prepare_data()
    datamodule.setup()
    length = OmegaConf.load(run / ".hydra" / "config.yaml").callbacks.sample_monitor.length
    train = (datamodule.split == TRAIN).nonzero()[0].tolist()
    meters = real_meter_classifier(datamodule.parsed, train, datamodule.melody_conditions, length)
    found = meters.predict(np.stack([rhythm_features(m) for m in melodies]))
    return key, sum(f == a["meter"] for f, a in zip(found, wanted)) / len(wanted)


def test_a_conditioned_run_logs_how_often_its_samples_obey(sweep):
    _, path = sweep
    plain, conditioned = path / "0", path / "1"
    model = load_model(json.loads((conditioned / "metrics.json").read_text())["best_checkpoint"])
    assert model.conditioning.names == ("meter", "key", "style")
    assert model.conditioning.known("meter") == ["4/4", "6/8"] and model.conditioning.known("style") == [
        "jigs",
        "reels",
    ]
    assert not load_model(plain / "checkpoints" / "last.ckpt").conditioning
    (rows,) = [list(csv.DictReader(f.open())) for f in conditioned.glob("csv/**/metrics.csv")]
    logged = [r for r in rows if r.get("sample/key_accuracy")]
    assert len(logged) == 2  # one per epoch
    for row in logged:  # each epoch's figures are those of the samples it wrote
        key, meter = _obeyed(conditioned, int(row["epoch"]))
        assert float(row["sample/key_accuracy"]) == pytest.approx(key)
        assert float(row["sample/meter_accuracy"]) == pytest.approx(meter)
    (plain_rows,) = [list(csv.DictReader(f.open())) for f in plain.glob("csv/**/metrics.csv")]
    assert "sample/key_accuracy" not in plain_rows[0]
    drawn = json.loads((conditioned / "samples" / "conditions.json").read_text())
    assert set(drawn) == {"sample_000.mid", "sample_001.mid"}
    assert all(entry["drawn"] == ["meter", "key", "style"] for entry in drawn.values())
    report = json.loads((conditioned / "data_report.json").read_text())["conditions"]
    assert report["meter"] == {"6/8": 6, "4/4": 6} and report["style"] == {"jigs": 6, "reels": 6}
    table = run_compare(path)
    assert table.returncode == 0, table.stderr
    assert "conditions" in table.stdout and "[meter,key,style]" in table.stdout, table.stdout


def test_generate_writes_jigs_in_d_that_carry_their_meter_and_key(sweep, tmp_path):
    root, path = sweep
    ckpt = path / "1" / "checkpoints" / "last.ckpt"
    out = tmp_path / "jigs"
    result = run_cli(
        "generate", root, f"ckpt_path={ckpt}", "samples.meter=6/8", "samples.key=D", "samples.num_samples=3",
        "samples.bars=4", f"out_dir={out}", "png=false", "wav=false", env={"CI": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    asked = json.loads((out / "conditions.json").read_text())
    for name, entry in asked.items():
        assert entry["meter"] == "6/8" and entry["key"].startswith("D ") and entry["drawn"] == ["style"]
        midi = pretty_midi.PrettyMIDI(str(out / name))
        assert [(t.numerator, t.denominator) for t in midi.time_signature_changes] == [(6, 8)]
        assert midi.key_signature_changes[0].key_number % 12 == 2
        # four whole bars of 6/8: the last note ends on the fourth bar line (12 sixteenths a bar)
        sixteenth = 60.0 / midi.get_tempo_changes()[1][0] / 4
        assert midi.instruments[0].notes[-1].end == pytest.approx(4 * 12 * sixteenth)
    for override, message in (
        ("samples.meter=5/4", "error: samples.meter='5/4' is not a meter this model knows; known: 4/4, 6/8"),
        (
            "samples.style=oneills",
            "error: samples.style='oneills' is not a style this model knows; known: jigs, reels",
        ),
    ):
        result = run_cli("generate", root, f"ckpt_path={ckpt}", override, f"out_dir={tmp_path / 'x'}")
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [message]
    plain = run_cli(
        "generate", root, f"ckpt_path={path / '0' / 'checkpoints' / 'last.ckpt'}", "samples.key=D"
    )
    assert "error: samples.key=D: this model is not conditioned" in plain.stderr


def test_the_measurement_script_scores_the_sweeps_two_models(sweep, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    _, path = sweep
    script = Path(__file__).resolve().parents[2] / "scripts" / "conditioning_study.py"
    out = tmp_path / "study.json"
    result = subprocess.run(
        [sys.executable, str(script), "--conditioned", str(path / "1"), "--unconditioned", str(path / "0"),
         "--samples", "4", "--length", "16", "--min-meter-tunes", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    asked = {(row["condition"], row["asked"]) for row in report["rows"]}
    assert {("meter", "4/4"), ("meter", "6/8"), ("style", "jigs"), ("style", "reels")} <= asked
    assert all(0 <= row["conditioned"] <= 1 and 0 <= row["unconditioned"] <= 1 for row in report["rows"])
    assert set(report["bits"]) == {"conditioned", "unconditioned"}
    assert all(figures["all/bits"] > 0 for figures in report["bits"].values())
    assert "| condition | asked |" in result.stdout
    # what a listener hears of each asked meter: samples of both models and real tunes of that meter
    for row in (row for row in report["rows"] if row["condition"] == "meter"):
        assert set(row["rhythm"]) == {"conditioned", "unconditioned", "real"}
        for heard in row["rhythm"].values():
            for mean, low, high in heard.values():
                assert 0 <= low <= high <= 1 and 0 <= mean <= 1
    assert "| meter asked | bar lines with a note: conditioned |" in result.stdout


def test_the_measurement_script_asks_a_model_trained_in_c_for_the_melodies_own_keys(sweep, tmp_path):
    """A ``data.transpose_to_c`` model knows only C major and C minor; the study asks it for the keys the
    tunes are in (here D and G), and sets its melodies against the real tunes of those keys."""
    import subprocess
    import sys
    from pathlib import Path

    root, path = sweep
    run = tmp_path / "in_c"
    proc = run_cli(
        "train", root, f"data.midi_dir={root / 'midi'}", *QUIET_SMALL_RUN, "logger=csv", "trainer.max_epochs=1",
        "samples.num_samples=1", "samples.length=16", "model.conditions=[key]", "data.transpose_to_c=true",
        f"hydra.run.dir={run}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert load_model(run / "checkpoints" / "last.ckpt").hparams["transpose_to_c"]
    script = Path(__file__).resolve().parents[2] / "scripts" / "conditioning_study.py"
    out = tmp_path / "study.json"
    result = subprocess.run(
        [sys.executable, str(script), "--conditioned", str(run), "--unconditioned", str(path / "0"),
         "--samples", "4", "--length", "16", "--min-meter-tunes", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    keys = [row for row in json.loads(out.read_text())["rows"] if row["condition"] == "key"]
    # the tunes' own keys, as estimated from their notes (none is in C), each with its training tunes
    assert keys and all(not row["asked"].startswith("C ") and row["training_tunes"] > 0 for row in keys), [
        (row["asked"], row["training_tunes"]) for row in keys
    ]
