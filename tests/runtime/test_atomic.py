"""Atomic writes: all or nothing, with a normal file's permissions."""

import os
import stat

import pytest

from melodygen.runtime.atomic import write_atomic, write_json_atomic


def test_a_written_file_has_the_mode_any_new_file_gets(tmp_path):
    mask = os.umask(0o022)
    try:
        path = write_json_atomic(tmp_path / "metrics.json", {"val/loss": 1.5})
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text() == '{\n  "val/loss": 1.5\n}\n'


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old")

    def explode(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(path, explode)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.json"]
