"""``melodygen-generate`` end to end in a subprocess: real Hydra, a real checkpoint, real MIDI files."""

import os
import sys

import pretty_midi
from helpers import run_cli

from melodygen.data.midi import ExtractionParams, load_melody
from melodygen.music.melody import REST


def _run(cwd, *overrides, env=None):
    # CI=1: pyfluidsynth prints to stdout on import when CI is set, and stdout must hold only the paths
    return run_cli("generate", cwd, *overrides, timeout=120, env={"CI": "1", **(env or {})})


def _error_lines(result):
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_writes_midi_and_piano_rolls_that_continue_the_primer(tmp_path, tiny_checkpoint):
    # as on a machine without FluidSynth: its warning goes to stderr, and stdout still holds only the paths
    fake = tmp_path / "no_fluidsynth"
    fake.mkdir()
    (fake / "fluidsynth.py").write_text("raise ImportError('no FluidSynth here')\n")
    out = tmp_path / "out"
    result = _run(
        tmp_path,
        f"ckpt_path={tiny_checkpoint.path}",
        "samples.num_samples=2",
        "samples.length=16",
        f"out_dir={out}",
        "primer=60:4 62:2 r:2 64:4",
        "seed=3",
        env={"PYTHONPATH": os.pathsep.join([str(fake), *sys.path])},
    )
    assert result.returncode == 0, result.stderr
    assert "FluidSynth is not installed: audio is sine tones" in result.stderr
    written = result.stdout.split()
    assert [p.rsplit("/", 1)[-1] for p in written] == [
        "sample_000.mid",
        "sample_000.png",
        "sample_000.wav",
        "sample_001.mid",
        "sample_001.png",
        "sample_001.wav",
        "sample_grid.png",
    ]
    assert all(p.startswith(str(out)) for p in written)
    for name in ("sample_000.mid", "sample_001.mid"):
        notes = pretty_midi.PrettyMIDI(str(out / name)).instruments[0].notes
        assert len(notes) >= 3 and [n.pitch for n in notes[:3]] == [60, 62, 64]
        melody = load_melody(out / name, ExtractionParams(min_notes=1))
        assert melody.pitch[:3].tolist() == [60, 62, REST] and melody.duration[:3].tolist() == [4, 2, 2]
    assert (out / "sample_000.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "outputs").exists() or not list((tmp_path / "outputs").rglob("*.mid"))


def test_default_out_dir_is_the_run_directorys_samples_folder(tmp_path, tiny_checkpoint):
    result = _run(
        tmp_path,
        f"ckpt_path={tiny_checkpoint.path}",
        "samples.num_samples=1",
        "samples.length=8",
        "png=false",
        "wav=false",
        "device=cpu",
    )
    assert result.returncode == 0, result.stderr
    written = sorted((tmp_path / "outputs" / "generate").glob("runs/*/samples/*"))
    assert [p.name for p in written] == ["sample_000.mid"]
    assert result.stdout.split() == [str(written[0])]
    assert pretty_midi.PrettyMIDI(str(written[0])).instruments[0].notes


def test_missing_checkpoint_is_one_error_line_naming_it(tmp_path):
    missing = tmp_path / "no" / "such.ckpt"
    result = _run(tmp_path, f"ckpt_path={missing}")
    assert result.returncode == 2
    assert _error_lines(result) == [f"error: ckpt_path='{missing}': no such checkpoint file"]


def test_impossible_values_are_named(tmp_path, tiny_checkpoint):
    result = _run(tmp_path, f"ckpt_path={tiny_checkpoint.path}", "samples.temperature=-1")
    assert result.returncode == 2
    [line] = _error_lines(result)
    assert line.startswith("error: samples.temperature=-1.0 ")


def test_a_malformed_primer_token_is_named(tmp_path, tiny_checkpoint):
    result = _run(tmp_path, f"ckpt_path={tiny_checkpoint.path}", "primer=60:4 C4-2")
    assert result.returncode == 2
    [line] = _error_lines(result)
    assert "primer token 'C4-2'" in line


def test_ckpt_path_is_required(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 2
    [line] = _error_lines(result)
    assert "ckpt_path is required" in line


def test_a_device_that_is_not_here_is_one_error_line(tmp_path, tiny_checkpoint):
    import torch

    device = "mps" if torch.cuda.is_available() else "cuda"
    result = _run(tmp_path, f"ckpt_path={tiny_checkpoint.path}", f"device={device}")
    assert result.returncode == 2
    assert _error_lines(result)[0].startswith(f"error: device='{device}' is not available here (")


def test_many_samples_get_a_progress_line_and_the_first_piano_rolls_only(tmp_path, tiny_checkpoint):
    out = tmp_path / "many"
    result = run_cli(
        "generate", tmp_path, f"ckpt_path={tiny_checkpoint.path}", "samples.num_samples=300", "samples.length=20",
        "max_pngs=2", f"out_dir={out}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "sampling: 300/300 melodies (100%)" in result.stderr  # in a log file: a line, not a bar
    assert (
        f"wrote 300 MIDI files, 3 piano rolls (the first ones, and a grid) and 2 WAVs to {out}"
        in result.stdout
    )
    assert len(list(out.glob("*.mid"))) == 300 and len(list(out.glob("*.wav"))) == 2
    assert sorted(p.name for p in out.glob("*.png")) == [
        "sample_000.png",
        "sample_001.png",
        "sample_grid.png",
    ]
