"""``melodygen-compare`` on a real sweep: the table, compare.csv and the plots; failed and unfinished jobs."""

import csv
import shutil

import pytest
from helpers import QUIET_SMALL_RUN, run_cli
from helpers import run_compare as compare

from melodygen.analysis.compare import find_runs, ranked, swept_axes

TINY = [*QUIET_SMALL_RUN, "samples.num_samples=0", "logger=none", "trainer.max_epochs=1", "test=false"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A 2 × 2 sweep whose jobs 2 and 3 fail (their windows are longer than the tunes), and an unfinished job."""
    from conftest import write_tune_folder

    root = tmp_path_factory.mktemp("sweep")
    write_tune_folder(root / "tunes", seed=1)
    proc = run_cli(
        "train", root, "-m", f"data.midi_dir={root / 'tunes'}", *TINY,
        "model.hidden_size=8,32", "data.seq_len=16,3000",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]  # jobs 2 and 3 (seq_len=3000) failed
    (path,) = (root / "outputs" / "train" / "multiruns").iterdir()
    unfinished = path / "4"
    shutil.copytree(path / "0" / ".hydra", unfinished / ".hydra")  # as a job that is still running
    return path


def test_runs_are_read_with_their_axes_and_status(sweep):
    runs = find_runs([sweep])
    assert [run.name for run in runs] == ["0", "1", "2", "3", "4"]
    assert [run.status for run in runs] == ["done", "done", "failed", "failed", "unfinished"]
    assert swept_axes(runs) == ["data.seq_len", "model.hidden_size"]  # Hydra's order of the sweep's keys
    assert "longer than the training split" in runs[2].error
    best = ranked(runs, "val/pitch_bits")
    assert [run.name for run in best] in (["0", "1"], ["1", "0"])
    assert best[0].metrics["val/pitch_bits"] <= best[1].metrics["val/pitch_bits"]
    assert (
        ranked(runs, "val/pitch_acc")[0].metrics["val/pitch_acc"]
        >= ranked(runs, "val/pitch_acc")[1].metrics["val/pitch_acc"]
    )


def test_the_table_csv_and_plots(sweep, tmp_path):
    proc = compare(sweep, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "4 runs" not in proc.stdout and "5 runs, best val/pitch_bits first" in proc.stdout
    assert "hidden_size" in proc.stdout and "seq_len" in proc.stdout
    assert "failed: 2 (data.seq_len=3000,model.hidden_size=8): data.seq_len=3000 is longer" in proc.stdout
    assert "failed: 3 (data.seq_len=3000,model.hidden_size=32): " in proc.stdout
    assert "unfinished: 4 (data.seq_len=16,model.hidden_size=8)" in proc.stdout
    with (tmp_path / "compare.csv").open() as handle:
        table = list(csv.DictReader(handle))
    rows = [row for row in table if row["kind"] == "run"]
    assert [row["group"] for row in table if row["kind"] == "group"][:2] in (
        ["seq_len=16,hidden_size=8", "seq_len=16,hidden_size=32"],
        ["seq_len=16,hidden_size=32", "seq_len=16,hidden_size=8"],
    )  # the finished groups (one run each) first
    assert [row["status"] for row in rows] == ["done", "done", "failed", "failed", "unfinished"]
    assert rows[0]["model.hidden_size"] == "8" and rows[1]["model.hidden_size"] == "32"
    assert float(rows[0]["val/pitch_bits"]) > 0 and rows[2]["val/pitch_bits"] == ""
    assert rows[0]["global_step"].isdigit() and "longer than the training split" in rows[2]["error"]
    for axis in ("model_hidden_size", "data_seq_len"):
        png = tmp_path / f"compare_val_pitch_bits_by_{axis}.png"
        assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 10_000


def test_several_run_directories_at_once(sweep, tmp_path):
    proc = compare(sweep / "0", sweep / "1", "--out", tmp_path, "--metric", "val/pitch_acc", "--no-plots")
    assert proc.returncode == 0, proc.stderr
    assert "2 runs, best val/pitch_acc first" in proc.stdout
    assert not list(tmp_path.glob("*.png")) and (tmp_path / "compare.csv").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/nowhere"], "is not a folder"),
        (["{tmp}"], "holds no run"),
        (["{sweep}", "--metric", "val/nonsense"], "--metric val/nonsense: no run reports it"),
    ],
)
def test_mistakes_are_one_line(sweep, tmp_path, args, message):
    proc = compare(*(a.format(tmp=tmp_path, sweep=sweep) for a in args), "--out", tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_a_folder_of_training_and_generating_runs_compares_the_training_runs_alone(sweep, tmp_path):
    """A parent of several runs, as a new user points compare at it: two training runs and a
    melodygen-generate run, whose folder looks alike (``.hydra/overrides.yaml``) but is no training run."""
    parent = tmp_path / "runs"
    for job in ("0", "1"):
        shutil.copytree(sweep / job, parent / f"train_{job}")
    generated = run_cli(
        "generate", tmp_path, f"ckpt_path={sweep / '0' / 'checkpoints' / 'last.ckpt'}", "samples.num_samples=2",
        "wav=false", "png=false", f"hydra.run.dir={parent / 'generate'}",
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr[-2000:]
    proc = compare(parent, "--out", tmp_path / "compared")
    assert proc.returncode == 0, proc.stderr
    assert "2 runs, best val/pitch_bits first" in proc.stdout
    assert "left out 1 run(s) of other commands (not melodygen-train): generate" in proc.stdout
    assert "Warning" not in proc.stderr, proc.stderr  # no plot without lines, so no legend without labels
    pngs = sorted(p.name for p in (tmp_path / "compared").glob("*.png"))
    assert pngs == ["compare_val_pitch_bits_by_model_hidden_size.png"], (
        pngs
    )  # not ckpt_path, out_dir, png, wav
    with (tmp_path / "compared" / "compare.csv").open() as handle:
        header = next(csv.reader(handle))
    assert not {"ckpt_path", "out_dir", "png", "wav"} & set(header)
    only_generated = compare(parent / "generate", "--out", tmp_path)
    assert only_generated.returncode == 2 and "holds no training run" in only_generated.stderr
