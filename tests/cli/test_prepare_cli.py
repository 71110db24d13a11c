"""melodygen-prepare on a folder of good and broken files."""

import json

from conftest import TUNES, write_tune
from helpers import run_cli


def run_prepare(root, *args):
    return run_cli("prepare", root, *args, timeout=120)


def test_mixed_folder_keeps_every_melody_and_names_every_skipped_file(tmp_path):
    folder = tmp_path / "midi"
    for i, tune in enumerate(TUNES):
        write_tune(folder / f"good{i}.mid", tune)
    write_tune(folder / "sub" / "drums.mid", TUNES[0], is_drum=True)
    write_tune(folder / "short.mid", TUNES[0][:3])
    (folder / "text.mid").write_text("not a MIDI file\n")
    good = (folder / "good0.mid").read_bytes()
    (folder / "cut.mid").write_bytes(good[: len(good) // 2])
    proc = run_prepare(tmp_path, f"data.midi_dir={folder}")
    assert proc.returncode == 0, proc.stderr
    assert "kept 3 melodies" in proc.stdout
    reports = list((tmp_path / "outputs" / "prepare" / "runs").glob("*/report.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    assert sorted(k["file"] for k in report["kept_files"]) == ["good0.mid", "good1.mid", "good2.mid"]
    reasons = {s["file"]: s["reason"] for s in report["skipped_files"]}
    assert reasons == {
        "sub/drums.mid": "drums_only",
        "short.mid": "too_short",
        "text.mid": "not_midi",
        "cut.mid": "truncated",
    }
    assert report["skipped_by_reason"] == {"drums_only": 1, "not_midi": 1, "too_short": 1, "truncated": 1}
    again = run_prepare(tmp_path, f"data.midi_dir={folder}")
    assert again.returncode == 0 and "loaded from cache" in again.stdout


def test_folder_without_usable_files_is_a_one_line_error_naming_it(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.mid").write_bytes(b"MThd")
    (folder / "b.mid").write_text("hello")
    proc = run_prepare(tmp_path, f"data.midi_dir={folder}")
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and str(folder) in last
