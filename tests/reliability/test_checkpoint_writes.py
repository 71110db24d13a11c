"""Checkpoint files under fault: a writer killed mid-write, and a last.ckpt damaged on disk."""

import json
import subprocess
import sys

import pytest
from helpers import QUIET_SMALL_RUN_NO_SAMPLES, run_cli

KILLED_WRITERS = """
import json, os, random, signal, sys, time, torch
from melodygen.training.interrupts import AtomicCheckpointIO
path, rng, steps = sys.argv[1], random.Random(0), []
weights = torch.randn(4_000_000)  # 16 MB a file
for _ in range(8):
    ready, go = os.pipe()
    child = os.fork()  # torch is imported once; each writer is a copy of this process
    if child == 0:
        writer, step = AtomicCheckpointIO(), 0
        while True:
            step += 1
            writer.save_checkpoint({"step": step, "weights": weights}, path)
            if step == 1:
                os.write(go, b"1")
    os.read(ready, 1)  # its first checkpoint is whole
    time.sleep(rng.uniform(0.0, 0.4))
    os.kill(child, signal.SIGKILL)  # wherever the writer is: inside torch.save, the fsync or the rename
    os.waitpid(child, 0)
    checkpoint = torch.load(path, weights_only=True)
    steps.append([checkpoint["step"], checkpoint["weights"].numel()])
print(json.dumps(steps))
"""


def test_a_writer_killed_at_any_moment_leaves_a_whole_last_checkpoint(tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITERS, str(path)], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = json.loads(proc.stdout)
    assert len(steps) == 8 and all(step >= 1 and size == 4_000_000 for step, size in steps)
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
