"""The parse cache: reuse, invalidation, corrupt files and interrupted writes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from melodygen.data.midi import ExtractionParams, load_melody
from melodygen.data.parse_cache import (
    FORMAT_VERSION,
    cache_key,
    cache_path,
    list_midi_files,
    read_cache,
    write_cache,
)
from melodygen.data.parsed import parse_midi_folder


def prepare(midi_dir: Path, cache_dir: Path, params: ExtractionParams | None = None):
    return parse_midi_folder(midi_dir, cache_dir, params, workers=1, progress=False)


def assert_same_parse(a, b):
    assert a.files == b.files and a.skipped == b.skipped
    for name in ("offsets", "pitch", "duration", "qpm", "tonic", "mode"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_second_call_loads_the_cache(tmp_path, tune_dir):
    first = prepare(tune_dir, tmp_path / "cache")
    assert not first.from_cache and first.parse_seconds > 0
    assert first.cache_file.exists() and first.cache_file.parent == tmp_path / "cache"
    second = prepare(tune_dir, tmp_path / "cache")
    assert second.from_cache and second.parse_seconds == 0.0
    assert second.cache_file == first.cache_file
    assert_same_parse(first, second)
    assert second.melody(3).equals(load_melody(tune_dir / second.files[3]))
    assert list(tmp_path.joinpath("cache").glob("*.npz")) == [first.cache_file]  # beside it: its .lock


def test_a_cached_folder_is_not_parsed_again(tmp_path, tune_dir):
    """Overwrite a file with garbage of the same size and mtime: only a cache hit still gives its melody."""
    first = prepare(tune_dir, tmp_path / "cache")
    path = tune_dir / first.files[0]
    st = path.stat()
    path.write_bytes(b"\0" * st.st_size)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    second = prepare(tune_dir, tmp_path / "cache")
    assert second.from_cache and second.skipped == []
    assert_same_parse(first, second)


def test_touching_a_file_rebuilds(tmp_path, tune_dir):
    first = prepare(tune_dir, tmp_path / "cache")
    path = tune_dir / first.files[5]
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    second = prepare(tune_dir, tmp_path / "cache")
    assert not second.from_cache and second.cache_file != first.cache_file
    assert_same_parse(first, second)
    assert prepare(tune_dir, tmp_path / "cache").from_cache


def test_adding_or_removing_a_file_rebuilds(tmp_path, tune_dir, make_tune, tunes):
    first = prepare(tune_dir, tmp_path / "cache")
    make_tune(tune_dir / "deeper" / "new.mid", tunes[1])
    added = prepare(tune_dir, tmp_path / "cache")
    assert not added.from_cache and added.files == sorted(first.files + ["deeper/new.mid"])
    (tune_dir / first.files[0]).unlink()
    removed = prepare(tune_dir, tmp_path / "cache")
    assert not removed.from_cache and removed.files == sorted(first.files[1:] + ["deeper/new.mid"])


def test_changed_parameters_rebuild(tmp_path, tune_dir):
    files = list_midi_files(tune_dir)
    assert cache_key(tune_dir, files, ExtractionParams()) != cache_key(tune_dir, files, ExtractionParams(60))
    first = prepare(tune_dir, tmp_path / "cache")
    strict = prepare(tune_dir, tmp_path / "cache", ExtractionParams(min_notes=60))
    assert not strict.from_cache
    assert len(strict) < len(first) and {r for _, r, _ in strict.skipped} == {"too_short"}


def test_cache_key_ignores_listing_order_but_not_names(tmp_path, tune_dir):
    files = list_midi_files(tune_dir)
    params = ExtractionParams()
    assert files == sorted(files) and len(files) == 20
    key = cache_key(tune_dir, files, params)
    assert key == cache_key(tune_dir, list_midi_files(tune_dir), params)
    (tune_dir / files[0]).rename(tune_dir / "renamed.mid")
    assert cache_key(tune_dir, list_midi_files(tune_dir), params) != key


def test_corrupt_cache_file_is_rebuilt_with_a_warning(tmp_path, tune_dir):
    cache_dir = tmp_path / "cache"
    key = cache_key(tune_dir.resolve(), list_midi_files(tune_dir), ExtractionParams())
    path = cache_path(cache_dir, tune_dir.resolve(), key)
    path.parent.mkdir()
    path.write_bytes(np.random.default_rng(0).bytes(5000))

    with pytest.warns(UserWarning, match="corrupt melody cache"):
        parsed = prepare(tune_dir, cache_dir)
    assert not parsed.from_cache and len(parsed) == 20 and parsed.cache_file == path
    assert prepare(tune_dir, cache_dir).from_cache


@pytest.mark.parametrize("damage", ["garbage", "cut", "zip header"])
def test_read_cache_refuses_damaged_files(tmp_path, tune_dir, damage):
    parsed = prepare(tune_dir, tmp_path / "cache")
    key = cache_key(tune_dir.resolve(), list_midi_files(tune_dir), ExtractionParams())
    data = parsed.cache_file.read_bytes()
    damaged = {
        "garbage": b"not a cache at all",
        "cut": data[: len(data) // 2],
        "zip header": data[:4] + b"\xff" * 60 + data[64:],
    }[damage]
    parsed.cache_file.write_bytes(damaged)
    with pytest.warns(UserWarning, match="corrupt melody cache"):
        assert read_cache(parsed.cache_file, key) is None


def test_read_cache_refuses_another_key(tmp_path, tune_dir):
    parsed = prepare(tune_dir, tmp_path / "cache")
    key = cache_key(tune_dir.resolve(), list_midi_files(tune_dir), ExtractionParams())
    assert read_cache(parsed.cache_file, key) is not None
    with pytest.warns(UserWarning, match="stale melody cache"):
        assert read_cache(parsed.cache_file, "0" * 64) is None
    assert read_cache(tmp_path / "cache" / "absent.npz", key) is None


class ExplodingArray:
    """Array-like whose conversion fails, so ``np.savez`` stops after writing the arrays before it."""

    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("disk pulled out")


def test_interrupted_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "cache" / "parsed.npz"
    with pytest.raises(RuntimeError, match="disk pulled out"):
        write_cache(target, {"pitch": np.arange(100_000), "boom": ExplodingArray()})
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_interrupted_write_keeps_the_previous_cache(tmp_path):
    target = tmp_path / "parsed.npz"
    write_cache(target, {"format": np.array(FORMAT_VERSION), "key": np.array("k"), "pitch": np.arange(10)})
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        write_cache(
            target,
            {
                "format": np.array(FORMAT_VERSION),
                "key": np.array("k2"),
                "pitch": np.arange(5),
                "boom": ExplodingArray(),
            },
        )
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parsed.npz"]
    arrays = read_cache(target, "k")
    assert arrays is not None and arrays["pitch"].tolist() == list(range(10))


def test_skipped_files_and_keys_survive_the_cache(tmp_path, tune_dir, make_tune, tunes):
    (tune_dir / "broken.mid").write_text("not midi")
    make_tune(tune_dir / "short.mid", tunes[0][:3])
    first = prepare(tune_dir, tmp_path / "cache")
    second = prepare(tune_dir, tmp_path / "cache")
    assert second.from_cache
    assert_same_parse(first, second)
    assert second.skipped == [
        ("broken.mid", "not_midi", "it does not start with a MIDI header (MThd)"),
        ("short.mid", "too_short", "its melody has 3 notes, fewer than min_notes=8"),
    ]
    assert second.report()["skipped_files"] == first.report()["skipped_files"]


def test_old_caches_of_a_folder_are_pruned_to_the_newest_few(tmp_path, tune_dir, caplog):
    import logging
    import os

    from melodygen.data.parse_cache import KEEP_PER_FOLDER, folder_prefix

    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    prefix = folder_prefix(tune_dir.resolve())
    old = []
    for age in range(5):  # five earlier file lists of this folder, oldest last
        path = cache_dir / f"{prefix}{age:016x}.npz"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1_000_000 - age, 1_000_000 - age))
        old.append(path)
    other = cache_dir / "other-00000000-0000000000000000.npz"  # another folder's: not this one's to prune
    other.write_bytes(b"y")
    with caplog.at_level(logging.INFO, logger="melodygen.data.parse_cache"):
        parsed = prepare(tune_dir, cache_dir)
    kept = sorted(p.name for p in cache_dir.glob("*.npz"))
    assert kept == sorted([parsed.cache_file.name, *(p.name for p in old[: KEEP_PER_FOLDER - 1]), other.name])
    assert f"removed the old melody cache {old[-1].name} (0.0 MB)" in caplog.text
