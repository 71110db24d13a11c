"""Progress that reaches log files: plain lines when standard output is not a terminal."""

import logging

from helpers import QUIET_SMALL_RUN, run_cli
from pytorch_lightning.callbacks import RichProgressBar

from melodygen.callbacks import LineProgress, progress_bar
from melodygen.progress import LineCounter, clock


def test_off_a_terminal_the_bar_becomes_lines(monkeypatch):
    monkeypatch.setattr("melodygen.callbacks.is_terminal", lambda: False)
    assert isinstance(progress_bar(every_n_seconds=5), LineProgress)
    monkeypatch.setattr("melodygen.callbacks.is_terminal", lambda: True)
    assert isinstance(progress_bar(), RichProgressBar)
    assert (clock(65), clock(7327)) == ("1:05", "2:02:07")


def test_a_counter_logs_its_count_rate_and_time_left(caplog):
    caplog.set_level(logging.INFO, logger="melodygen.progress")
    with LineCounter("parsing MIDI", "files", every_n_seconds=0) as counter:
        counter.add_task("parsing MIDI", total=40)
        counter.update(0, advance=10)
        counter.update(0, advance=30)
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0].startswith("parsing MIDI: 10/40 files (25%), ") and ", ETA " in lines[0]
    assert lines[-1].startswith("parsing MIDI: 40/40 files (100%), ") and "ETA" not in lines[-1]


def test_training_into_a_file_writes_progress_lines(tmp_path, tune_dir):
    # run_cli's standard output is a pipe, as under SLURM or nohup
    proc = run_cli(
        "train", tmp_path, f"data.midi_dir={tune_dir}",
        *[a for a in QUIET_SMALL_RUN if "progress_bar" not in a], "trainer.enable_progress_bar=true",
        "trainer.max_epochs=2", "samples.num_samples=0", "callbacks.progress_bar.every_n_steps=2",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line.split(" - ", 1)[-1] for line in proc.stdout.splitlines() if "melodygen.progress" in line]
    steps = [line for line in lines if line.startswith("epoch 1/2 · step 2/")]
    assert steps and "train/loss " in steps[0] and "windows/s" in steps[0] and "epoch ETA" in steps[0]
    ends = [line for line in lines if " done in " in line]
    assert [end.split(" done")[0] for end in ends] == ["epoch 1/2", "epoch 2/2"]
    assert "val/loss " in ends[-1] and "val/pitch_bits " in ends[-1]
    assert "parsing MIDI: 20/20 files (100%)" in proc.stdout
    (log_file,) = (tmp_path / "outputs" / "train" / "runs").glob("*/train.log")
    assert "epoch 2/2 done in" in log_file.read_text()  # Hydra's log file keeps them too
