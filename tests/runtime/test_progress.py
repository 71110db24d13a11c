"""Progress that reaches log files: plain lines when standard output is not a terminal."""

import logging
import os
import subprocess
import sys

from helpers import QUIET_SMALL_RUN
from pytorch_lightning.callbacks import RichProgressBar

from melodygen.runtime.progress import LineCounter, clock
from melodygen.training.callbacks import LineProgress, progress_bar


def test_off_a_terminal_the_bar_becomes_lines(monkeypatch):
    monkeypatch.setattr("melodygen.training.callbacks.is_terminal", lambda: False)
    assert isinstance(progress_bar(every_n_seconds=5), LineProgress)
    monkeypatch.setattr("melodygen.training.callbacks.is_terminal", lambda: True)
    assert isinstance(progress_bar(), RichProgressBar)
    assert (clock(65), clock(7327)) == ("1:05", "2:02:07")


def test_a_counter_logs_its_count_rate_and_time_left(caplog):
    caplog.set_level(logging.INFO, logger="melodygen.runtime.progress")
    with LineCounter("parsing MIDI", "files", every_n_seconds=0) as counter:
        counter.add_task("parsing MIDI", total=40)
        counter.update(0, advance=10)
        counter.update(0, advance=30)
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0].startswith("parsing MIDI: 10/40 files (25%), ") and ", ETA " in lines[0]
    assert lines[-1].startswith("parsing MIDI: 40/40 files (100%), ") and "ETA" not in lines[-1]


def test_training_into_a_file_writes_progress_lines(tmp_path, tune_dir):
    # standard output into a file, as under SLURM or nohup
    out = tmp_path / "slurm-1.out"
    with out.open("w") as stdout:
        proc = subprocess.run(
            [
                sys.executable, "-m", "melodygen.cli.train", f"data.midi_dir={tune_dir}",
                *[a for a in QUIET_SMALL_RUN if "progress_bar" not in a], "trainer.enable_progress_bar=true",
                "trainer.max_epochs=2", "samples.num_samples=0", "callbacks.progress_bar.every_n_steps=2",
            ],
            cwd=tmp_path, env={**os.environ, "MELODYGEN_ROOT": str(tmp_path)}, stdout=stdout,
            stderr=subprocess.PIPE, text=True, timeout=300,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    lines = [line.split(" - ", 1)[-1] for line in text.splitlines() if "melodygen.runtime.progress" in line]
    steps = [line for line in lines if line.startswith("epoch 1/2 · step 2/")]
    assert steps and "train/loss " in steps[0] and "windows/s" in steps[0] and "epoch ETA" in steps[0]
    ends = [line for line in lines if " done in " in line]
    assert [end.split(" done")[0] for end in ends] == ["epoch 1/2", "epoch 2/2"]
    assert all("train/loss_epoch " in end and "val/loss " in end for end in ends)
    assert "val/pitch_bits " in ends[-1]
    assert "parsing MIDI: 20/20 files (100%)" in text
    assert "━" not in text  # no rich bar drawn into the file
    (log_file,) = (tmp_path / "outputs" / "train" / "runs").glob("*/train.log")
    assert "epoch 2/2 done in" in log_file.read_text()  # Hydra's log file keeps them too
