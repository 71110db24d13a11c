"""Checkpoint files under fault: a writer killed mid-write, and a last.ckpt damaged on disk."""

import random
import subprocess
import sys

import pytest
import torch
from helpers import QUIET_SMALL_RUN_NO_SAMPLES, run_cli

WRITER = """
import sys, torch
from melodygen.interrupts import AtomicCheckpointIO
writer, weights, step = AtomicCheckpointIO(), torch.randn(4_000_000), 0  # 16 MB a file
while True:
    step += 1
    writer.save_checkpoint({"step": step, "weights": weights}, sys.argv[1])
    if step == 1:
        print("saved", flush=True)
"""


def test_a_writer_killed_at_any_moment_leaves_a_whole_last_checkpoint(tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    steps, rng = [], random.Random(0)
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "saved"
        try:
            proc.wait(timeout=rng.uniform(0.0, 0.4))  # it never ends by itself: this is a random delay
        except subprocess.TimeoutExpired:
            proc.kill()  # SIGKILL, wherever the writer is: inside torch.save, the fsync or the rename
        proc.wait()
        checkpoint = torch.load(path, weights_only=True)
        assert checkpoint["weights"].numel() == 4_000_000
        steps.append(checkpoint["step"])
    assert all(step >= 1 for step in steps)
    assert [p.name for p in path.parent.glob("*.ckpt")] == ["last.ckpt"]  # temporaries are never *.ckpt


@pytest.mark.slow
def test_a_damaged_last_checkpoint_falls_back_to_the_newest_readable_one(tmp_path, tune_dir):
    run_dir = tmp_path / "run"
    small = [f"data.midi_dir={tune_dir}", *QUIET_SMALL_RUN_NO_SAMPLES]
    first = run_cli("train", tmp_path, *small, "trainer.max_epochs=1", f"hydra.run.dir={run_dir}")
    assert first.returncode == 0, first.stderr[-3000:]
    (run_dir / "metrics.json").unlink()  # as if it had been killed after its checkpoints
    last = run_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])  # cut short, as a failing disk might leave it
    [best] = [p for p in last.parent.glob("best-*.ckpt")]

    again = run_cli("train", tmp_path, *small, "trainer.max_epochs=2", f"hydra.run.dir={run_dir}")
    assert again.returncode == 0, again.stderr[-3000:]
    log = again.stdout + again.stderr
    assert f"cannot resume from {last}: ckpt_path='{last}' is not a melodygen checkpoint" in log
    assert f"resuming from {best}, the newest checkpoint that can be read" in log
    assert (run_dir / "metrics.json").is_file()
