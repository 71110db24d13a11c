"""melodygen-evaluate as a user runs it: a folder with broken files, two checkpoints, and two sets."""

import json
import shutil

from conftest import write_tune_folder
from helpers import run_cli


def test_checkpoints_are_scored_on_a_folder_and_broken_files_are_named(tmp_path, tiny_checkpoint):
    folder = write_tune_folder(tmp_path / "held_out", seed=3, count=6)
    (folder / "notes.mid").write_text("not a MIDI file")
    (folder / "cut.mid").write_bytes((folder / "tune00.mid").read_bytes()[:30])
    second = tmp_path / "other" / "checkpoints" / "last.ckpt"
    second.parent.mkdir(parents=True)
    shutil.copy(tiny_checkpoint.path, second)
    proc = run_cli(
        "evaluate", tmp_path, f"ckpt_path=[{tiny_checkpoint.path},{second}]", f"data.midi_dir={folder}"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "6 melodies of" in proc.stdout and "(2 files skipped), per note" in proc.stdout
    assert "skipped: notes.mid: not_midi" in proc.stdout and "skipped: cut.mid: truncated" in proc.stdout
    (run,) = (tmp_path / "outputs" / "evaluate" / "runs").iterdir()
    record = json.loads((run / "evaluation.json").read_text())
    assert record["melodies"] == 6 and [c["checkpoint"] for c in record["checkpoints"]] == [
        str(tiny_checkpoint.path),
        str(second),
    ]
    first, again = record["checkpoints"]
    assert first["overall"] == again["overall"]  # the same weights score the same
    assert again["difference_to_first"]["all/bits"] == 0.0 and again["difference_to_first"]["includes_zero"]
    assert again["difference_to_first"]["interval"] == [0.0, 0.0] and "0 in interval" in proc.stdout
    assert len(first["files"]) == 6 and all(f["all/bits"] > 0 for f in first["files"])
    report = json.loads((run / "data_report.json").read_text())
    assert {f["file"] for f in report["skipped_files"]} == {"notes.mid", "cut.mid"}


def test_a_generated_set_is_compared_with_a_reference_set(tmp_path):
    generated = write_tune_folder(tmp_path / "generated", seed=1, count=12)
    reference = write_tune_folder(tmp_path / "reference", seed=2, count=12)
    proc = run_cli("evaluate", tmp_path, f"samples_dir={generated}", f"reference_dir={reference}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "12 generated vs 12 reference melodies (Yang & Lerch)" in proc.stdout
    (run,) = (tmp_path / "outputs" / "evaluate" / "runs").iterdir()
    record = json.loads((run / "set_comparison.json").read_text())
    assert set(record["features"]) >= {"scale_consistency", "top_pitch_share", "interval_histogram"}
    assert all(0.0 <= f["overlap"] <= 1.0 for f in record["features"].values())
    assert (run / "set_comparison.png").stat().st_size > 10_000


def test_nothing_to_evaluate_is_one_line(tmp_path):
    proc = run_cli("evaluate", tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: ckpt_path=None is not allowed: give a checkpoint to score on data.midi_dir, or samples_dir=… "
        "to compare with reference_dir"
    ]


def test_adaptation_learns_within_each_repetitive_melody(tmp_path, tiny_checkpoint, make_tune):
    phrase = [(60, 4), (64, 2), (67, 2), (72, 4), (71, 2), (67, 2), (64, 4), (62, 4), (60, 8)]
    folder = tmp_path / "repetitive"
    for i in range(3):
        make_tune(folder / f"song{i}.mid", [(p + i, d) for p, d in phrase] * 5)  # a phrase sung five times
    plain = run_cli("evaluate", tmp_path, f"ckpt_path={tiny_checkpoint.path}", f"data.midi_dir={folder}")
    adapted = run_cli(
        "evaluate", tmp_path, f"ckpt_path={tiny_checkpoint.path}", f"data.midi_dir={folder}", "adapt_lr=1.0"
    )
    assert plain.returncode == 0 and adapted.returncode == 0, (plain.stderr + adapted.stderr)[-3000:]
    assert "per note, adapting at adapt_lr=1.0" in adapted.stdout and "adapting" not in plain.stdout
    runs = sorted((tmp_path / "outputs" / "evaluate" / "runs").iterdir())
    first, second = (json.loads((run / "evaluation.json").read_text())["checkpoints"][0] for run in runs)
    assert (first["adapt_lr"], second["adapt_lr"]) == (0.0, 1.0)
    assert second["overall"]["notes"] == first["overall"]["notes"] == 3 * 45
    assert second["overall"]["notes/pitch_bits"] < first["overall"]["notes/pitch_bits"] - 1.0
    assert second["overall"]["notes/pitch_acc"] > first["overall"]["notes/pitch_acc"]


def test_adaptation_settings_that_cannot_work_are_one_line(tmp_path, tiny_checkpoint):
    folder = write_tune_folder(tmp_path / "tunes", seed=3, count=2)
    proc = run_cli("evaluate", tmp_path, f"ckpt_path={tiny_checkpoint.path}", f"data.midi_dir={folder}",
                   "adapt_chunk=0")  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: adapt_chunk=0 is not allowed: at least 1 element between steps"
    ]
