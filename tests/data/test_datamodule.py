"""Splits by file and the MelodyDataModule's windows, targets and transpositions."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import REPRESENTATIONS

from melodygen.data.datamodule import MelodyDataModule
from melodygen.data.splits import TEST, TRAIN, VAL, split_files
from melodygen.errors import MelodygenError
from melodygen.music.keys import estimate_key
from melodygen.music.melody import REST
from melodygen.representations.position import melody_positions

NAMES = sorted(REPRESENTATIONS)
SPLITS = (TRAIN, VAL, TEST)


def make_dm(midi_dir: Path, tmp_path: Path, **kwargs) -> MelodyDataModule:
    kwargs = {
        "seq_len": 16,
        "window_stride": 4,
        "batch_size": 8,
        "val_fraction": 0.2,
        "test_fraction": 0.2,
        "parse_workers": 1,
        "progress": False,
        **kwargs,
    }
    dm = MelodyDataModule(midi_dir=str(midi_dir), cache_dir=str(tmp_path / "cache"), **kwargs)
    dm.prepare_data()
    dm.setup()
    return dm


def is_start(dm: MelodyDataModule, x: torch.Tensor) -> torch.Tensor:
    """Which elements of ``x`` (``(..., F)`` and the bar-position columns after them) are the start element."""
    start = torch.as_tensor(dm.representation.start)
    return (x[..., : start.shape[0]] == start).all(-1)


# --- split_files -------------------------------------------------------------------------------------

NAMES_200 = [f"collection{i % 7}/tune_{i:04d}.mid" for i in range(200)]


def test_split_gives_each_file_one_split():
    split = split_files(NAMES_200, 0.1, 0.1, seed=0)
    assert split.shape == (200,) and set(split.tolist()) == {TRAIN, VAL, TEST}


def test_split_fractions_are_roughly_respected():
    split = split_files(NAMES_200, 0.2, 0.1, seed=0)
    counts = np.bincount(split, minlength=3)
    # binomial standard deviations are about 5.7 (val) and 4.2 (test)
    assert abs(counts[VAL] - 40) <= 15 and abs(counts[TEST] - 20) <= 12
    assert counts.sum() == 200
    assert (split_files(NAMES_200, 0.0, 0.0) == TRAIN).all()


def test_split_of_a_file_ignores_the_other_files():
    full = dict(zip(NAMES_200, split_files(NAMES_200, 0.1, 0.1, seed=3).tolist()))
    rng = random.Random(0)
    for _ in range(5):
        subset = rng.sample(NAMES_200, 120) + [f"added/new_{i}.mid" for i in range(30)]
        for name, s in zip(subset, split_files(subset, 0.1, 0.1, seed=3).tolist()):
            if name in full:
                assert full[name] == s, name


def test_seed_changes_the_split():
    a = split_files(NAMES_200, 0.1, 0.1, seed=0)
    b = split_files(NAMES_200, 0.1, 0.1, seed=1)
    assert (a != b).sum() > 20
    assert np.array_equal(a, split_files(NAMES_200, 0.1, 0.1, seed=0))


def test_small_folder_still_gets_validation_and_test_files():
    names = [f"t{i}.mid" for i in range(5)]
    split = split_files(names, 0.05, 0.05, seed=0)
    assert np.bincount(split, minlength=3).tolist() == [3, 1, 1]
    assert (split_files(names[:1], 0.1, 0.1) == TRAIN).all()  # a lone file stays for training


# --- windows -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_batches_have_the_right_shape(name, tmp_path, tune_dir):
    dm = make_dm(tune_dir, tmp_path, representation=name, batch_size=4)
    rep = dm.representation
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        x, y = next(iter(loader))
        assert x.shape == y.shape == (4, 16, rep.num_features + 2)  # and where each next element starts
        assert x.dtype == y.dtype == torch.from_numpy(rep.start).dtype


@pytest.mark.parametrize("name", NAMES)
def test_windows_are_slices_of_one_stream_with_boundaries(name, tmp_path, tune_dir):
    seq_len, stride = 16, 4
    dm = make_dm(tune_dir, tmp_path, representation=name, seq_len=seq_len, window_stride=stride)
    rep, parsed = dm.representation, dm.parsed
    assert parsed.from_cache  # setup loaded what prepare_data parsed
    index = {f: i for i, f in enumerate(parsed.files)}
    for which in SPLITS:
        ds = dm.datasets[which]
        # The stream is the split's melodies in file order, each opened by the start element, one more at the end.
        # Beside each element: where the next one starts in its bar, and the bar's number (the last start: 0, 0).
        pieces = []
        for f in dm.split_of(which):
            melody = parsed.melody(index[f])
            elements = np.concatenate([rep.start[None], rep.encode(melody)])
            pieces.append(np.concatenate([elements, melody_positions(rep, melody)], axis=1))
        pieces.append(np.concatenate([rep.start[None], np.zeros((1, 2))], axis=1))
        assert torch.equal(ds.stream, torch.from_numpy(np.concatenate(pieces).astype(rep.dtype)))
        # training windows overlap by the stride; validation and test windows tile the stream
        step = stride if which == TRAIN else seq_len
        assert ds.starts.tolist() == list(range(0, len(ds.stream) - seq_len, step)) and len(ds) > 0

        boundaries_as_targets = 0
        for i in range(len(ds)):
            x, y = ds[i]
            s = int(ds.starts[i])
            assert torch.equal(x, ds.stream[s : s + seq_len])
            assert torch.equal(y, ds.stream[s + 1 : s + seq_len + 1])
            # wherever the input holds a boundary, the target before it is that same boundary
            assert torch.equal(is_start(dm, x[1:]), is_start(dm, y[:-1]))
            boundaries_as_targets += int(is_start(dm, y).sum())
        assert boundaries_as_targets > 0  # windows run across melodies: the model learns where tunes end


def test_empty_validation_split_is_a_user_error(tmp_path, tune_dir):
    # one validation tune of 40–80 notes cannot fill a window of 100
    with pytest.raises(MelodygenError, match="longer than the validation split.*data.val_fraction"):
        make_dm(tune_dir, tmp_path, val_fraction=0.01, test_fraction=0.01, seq_len=100)
    # no validation split at all is a choice the DataModule accepts (the train app does not)
    assert len(make_dm(tune_dir, tmp_path / "none", val_fraction=0.0).datasets[VAL]) == 0


def test_windows_cover_every_melody_and_its_end(tmp_path, make_tune, tunes):
    # The training stream is [S] t [S] t' … [S], one element per 16th for the event representation.
    for i in range(9):
        make_tune(tmp_path / "tunes" / f"t{i}.mid", tunes[i % 3])
    dm = make_dm(
        tmp_path / "tunes",
        tmp_path,
        representation="event",
        seq_len=10,
        window_stride=1,
        val_fraction=0.3,
        test_fraction=0.0,
        min_notes=1,
    )
    ds = dm.datasets[TRAIN]
    steps = {f"t{i}.mid": sum(d for _, d in tunes[i % 3]) for i in range(9)}
    total = 1 + sum(1 + steps[f] for f in dm.split_of(TRAIN))
    assert len(ds.stream) == total and len(ds) == total - 10
    targets = {int(s) + k for s in ds.starts for k in range(1, 11)}
    assert targets == set(range(1, total))  # every element after the first is some window's target


def test_short_melodies_are_used_whatever_the_seq_len(tmp_path, tune_dir):
    # fixture tunes have 40–80 notes: windows of 100 still use every melody, across boundaries
    dm = make_dm(tune_dir, tmp_path, representation="categorical", seq_len=100, window_stride=10)
    ds = dm.datasets[TRAIN]
    assert len(ds) == (len(ds.stream) - 101) // 10 + 1
    assert int(is_start(dm, ds.stream).sum()) == len(dm.split_of(TRAIN)) + 1


def test_seq_len_longer_than_the_training_stream_is_a_user_error(tmp_path, tune_dir):
    with pytest.raises(MelodygenError, match="seq_len=100000"):
        make_dm(tune_dir, tmp_path, representation="categorical", seq_len=100_000)


def test_split_membership_is_by_file(tmp_path, tune_dir):
    dm = make_dm(tune_dir, tmp_path)
    parts = [dm.split_of(which) for which in SPLITS]
    assert sorted(sum(parts, [])) == dm.parsed.files
    assert all(parts) and len(set(sum(parts, []))) == len(dm.parsed.files)
    assert parts == [
        [f for f, s in zip(dm.parsed.files, split_files(dm.parsed.files, 0.2, 0.2, 0)) if s == which]
        for which in SPLITS
    ]
    # another seed: other files, and the streams follow
    other = make_dm(tune_dir, tmp_path / "other", split_seed=1)
    assert other.split_of(TRAIN) != parts[0]
    starts = is_start(other, other.datasets[VAL].stream)
    assert (
        int(starts.sum()) == len(other.split_of(VAL)) + 1
    )  # one boundary before each melody, one at the end


# --- transposition -----------------------------------------------------------------------------------


@pytest.fixture
def extreme_dir(tmp_path, make_tune) -> Path:
    """Tunes that climb from the bottom of the MIDI range to its top, with rests."""
    rng = np.random.default_rng(11)
    folder = tmp_path / "extreme"
    for i in range(10):
        low = [(int(p), int(d)) for p, d in zip(rng.integers(0, 6, 20), rng.choice([1, 2, 4], 20))]
        high = [(int(p), int(d)) for p, d in zip(rng.integers(122, 128, 20), rng.choice([1, 2, 4], 20))]
        low[0], high[-1] = (0, 2), (127, 2)
        make_tune(folder / f"x{i}.mid", low + high, rest_before={3: 2, 11: 1, 25: 3, 33: 5})
    return folder


@pytest.mark.parametrize("name", NAMES)
def test_random_transposition_moves_only_pitches_and_stays_in_range(name, tmp_path, extreme_dir):
    torch.manual_seed(0)
    dm = make_dm(extreme_dir, tmp_path, representation=name, seq_len=8, window_stride=2, transpose=5)
    rep, ds = dm.representation, dm.datasets[TRAIN]
    shifts = {"all": set(), "bottom": set(), "top": set()}
    for _ in range(4):
        for i in range(len(ds)):
            x, y = ds[i]
            s = int(ds.starts[i])
            window, original = torch.cat([x, y[-1:]]), ds.stream[s : s + 9]
            assert torch.equal(y[:-1], x[1:])
            p, p0 = rep.pitch_of(window), rep.pitch_of(original)
            pitched = p0 >= 0
            assert torch.equal(pitched, p >= 0)
            assert torch.equal(window[~pitched], original[~pitched])  # rests, holds, start untouched
            if name == "continuous":  # the duration column never moves
                assert torch.equal(window[:, 1], original[:, 1])
            if not pitched.any():
                continue
            shift = set((p - p0)[pitched].tolist())
            assert len(shift) == 1  # the whole window moves together
            assert int(p[pitched].min()) >= 0 and int(p[pitched].max()) <= 127
            shifts["all"] |= shift
            if p0[pitched].min() == 0:
                shifts["bottom"] |= shift
            if p0[pitched].max() == 127:
                shifts["top"] |= shift
    assert shifts["all"] == set(range(-5, 6))
    assert shifts["bottom"] == set(range(0, 6))  # windows holding pitch 0 can only go up ...
    assert shifts["top"] == set(range(-5, 1))  # ... and those holding 127 only down


@pytest.mark.parametrize("which", [VAL, TEST])
def test_transposition_only_applies_to_training(which, tmp_path, extreme_dir):
    dm = make_dm(extreme_dir, tmp_path, seq_len=8, window_stride=2, transpose=5)
    ds = dm.datasets[which]
    assert len(ds) > 0 and dm.datasets[TRAIN].transpose == 5
    for i in range(len(ds)):
        s = int(ds.starts[i])
        x, y = ds[i]
        assert torch.equal(x, ds.stream[s : s + 8]) and torch.equal(y, ds.stream[s + 1 : s + 9])


@pytest.mark.parametrize("name", NAMES)
def test_transpose_to_c_moves_every_tune_to_c(name, tmp_path, make_tune, tunes):
    folder = tmp_path / "keys"
    # tunes[0] is in C major: moved to G, A and E♭; tunes[1] is in D major, tunes[2] in A minor.
    for i, (tune, shift) in enumerate([(0, 7), (0, 9), (0, 3), (1, 0), (1, -4), (2, 0), (2, 2), (0, 7)]):
        make_tune(folder / f"k{i}.mid", [(p + shift, d) for p, d in tunes[tune]])
    dm = make_dm(
        folder,
        tmp_path,
        representation=name,
        seq_len=8,
        val_fraction=0.25,
        test_fraction=0.25,
        transpose_to_c=True,
    )
    rep, parsed = dm.representation, dm.parsed
    assert sorted(set(parsed.tonic.tolist())) == [2, 3, 7, 9, 10, 11]  # G, A, E♭, D, B♭ and B
    seen = 0
    for which in SPLITS:
        stream = dm.datasets[which].stream.numpy()
        bounds = np.flatnonzero(is_start(dm, dm.datasets[which].stream).numpy()).tolist() + [len(stream)]
        for f, a, b in zip(dm.split_of(which), bounds[:-1], bounds[1:]):
            moved = rep.decode(stream[a:b, : rep.num_features])
            original = parsed.melody(parsed.files.index(f))
            assert estimate_key(moved.pitch, moved.duration)[0] == 0, f
            np.testing.assert_array_equal(moved.duration, original.duration)
            offset = set((moved.pitch - original.pitch)[original.is_note].tolist())
            assert len(offset) == 1 and -6 <= offset.pop() <= 6  # the shorter way to C
            np.testing.assert_array_equal(moved.pitch == REST, original.pitch == REST)
            seen += 1
    assert seen == 8


def test_transpose_to_c_keeps_pitches_in_midi_range(tmp_path, make_tune, tunes):
    # A tune in G whose top note is G 127: the shorter way to C is up 5 semitones, to 132.
    folder = tmp_path / "high"
    for i in range(4):
        make_tune(folder / f"h{i}.mid", [(p + 43, d) for p, d in tunes[0]] + [(127, 4), (122, 4), (127, 8)])
    dm = make_dm(folder, tmp_path, seq_len=8, transpose_to_c=True)
    assert set(dm.parsed.tonic.tolist()) == {7}
    index = {f: i for i, f in enumerate(dm.parsed.files)}
    for which in SPLITS:
        stream = dm.datasets[which].stream
        notes = sum(dm.parsed.melody(index[f]).num_notes for f in dm.split_of(which))
        # every note keeps a MIDI pitch: none may become the rest class (128) or beyond
        assert int((dm.representation.pitch_of(stream) >= 0).sum()) == notes
        assert int(stream[:, 0].max()) <= 129  # the start class is the largest index the embedding has


# --- cross-validation folds and left-out melodies -----------------------------------------------------


def test_folds_test_every_file_exactly_once_in_near_equal_parts():
    from melodygen.data.splits import fold_split

    tested = np.zeros(len(NAMES_200), dtype=int)
    for fold in range(10):
        split = fold_split(NAMES_200, 10, fold, 0.1, seed=3)
        assert 20 == (split == TEST).sum()  # 200 files, 10 folds
        assert 15 <= (split == VAL).sum() <= 25  # about a tenth of the other 180
        tested += split == TEST
    assert (tested == 1).all()
    sizes = {int((fold_split(NAMES_200[:193], 10, k, 0.1) == TEST).sum()) for k in range(10)}
    assert sizes == {19, 20}  # 193 files: three folds of 20, seven of 19


def test_folds_depend_on_the_seed_and_not_on_the_order_of_the_files():
    from melodygen.data.splits import fold_split

    first = fold_split(NAMES_200, 10, 4, 0.1, seed=0)
    shuffled = NAMES_200[::-1]
    again = fold_split(shuffled, 10, 4, 0.1, seed=0)[::-1]
    assert np.array_equal(first, again)
    assert not np.array_equal(first, fold_split(NAMES_200, 10, 4, 0.1, seed=1))


def test_the_datamodule_tests_on_the_fold_asked_for(tmp_path, tune_dir):
    folds = [make_dm(tune_dir, tmp_path, folds=5, fold=k, val_fraction=0.2) for k in range(5)]
    tested = [set(dm.split_of(TEST)) for dm in folds]
    assert all(len(t) == 4 for t in tested)  # 20 tunes in 5 folds
    assert set().union(*tested) == set(folds[0].parsed.files)
    for dm, t in zip(folds, tested, strict=True):
        assert not t & set(dm.split_of(TRAIN)) and not t & set(dm.split_of(VAL))
        assert dm.split_of(VAL)


def test_melodies_that_occur_in_exclude_dir_are_in_no_split(tmp_path, tune_dir):
    import shutil

    held_out = tmp_path / "held_out"
    held_out.mkdir()
    for name in ("tune03.mid", "tune11.mid"):  # the same tunes under other names, elsewhere
        shutil.copy(tune_dir / name, held_out / f"copy_of_{name}")
    dm = make_dm(tune_dir, tmp_path, exclude_dir=str(held_out))
    kept = set(dm.split_of(TRAIN)) | set(dm.split_of(VAL)) | set(dm.split_of(TEST))
    assert kept == set(dm.parsed.files) - {"tune03.mid", "tune11.mid"}
    windows = dm.datasets[TRAIN].stream
    left_out = dm.representation.encode(dm.parsed.melody(dm.parsed.files.index("tune03.mid")))
    as_text = lambda a: ",".join(map(str, np.asarray(a).reshape(-1).tolist()))  # noqa: E731
    assert as_text(left_out) not in as_text(windows)


def test_fold_settings_that_cannot_work_are_one_line(tmp_path, tune_dir):
    from omegaconf import OmegaConf

    from melodygen.config import DataConfig, check_data

    base = OmegaConf.structured(DataConfig(midi_dir=str(tune_dir)))
    with pytest.raises(MelodygenError, match=r"^data.folds=1 is not allowed: at least 2 folds"):
        check_data(OmegaConf.merge(base, {"folds": 1}))
    with pytest.raises(MelodygenError, match=r"^data.fold=10 is not allowed: a fold number from 0 to 9"):
        check_data(OmegaConf.merge(base, {"folds": 10, "fold": 10}))


def test_exclude_shared_run_also_leaves_out_transposed_and_rerhythmed_variants(tmp_path, tune_dir, make_tune):
    from melodygen.data.midi import load_melody

    tune = load_melody(tune_dir / "tune05.mid")
    notes = [(int(p), int(d)) for p, d in zip(tune.pitch, tune.duration, strict=True) if p != REST]
    held_out = tmp_path / "held_out"
    make_tune(held_out / "up_a_tone.mid", [(p + 2, d) for p, d in notes])  # tune05, transposed
    make_tune(held_out / "even_notes.mid", [(p, 4) for p, _ in notes[10:30]])  # part of it, another rhythm
    exact = make_dm(tune_dir, tmp_path, exclude_dir=str(held_out))
    assert not any(f["split"] == "left_out" for f in exact.report()["kept_files"])  # no exact copy there
    variants = make_dm(tune_dir, tmp_path, exclude_dir=str(held_out), exclude_shared_run=12)
    report = variants.report()
    assert report["left_out"] == ["tune05.mid"]
    assert sum(report["split_melodies"].values()) == 19


@pytest.mark.parametrize("name", NAMES)
def test_bar_positions_follow_the_conditions_beside_every_element_and_never_move(name, tmp_path, tune_dir):
    from melodygen.representations.position import melody_positions

    dm = make_dm(
        tune_dir, tmp_path, representation=name, bar_position=True, conditions=["meter"], transpose=3
    )
    rep, ds = dm.representation, dm.datasets[TRAIN]
    assert ds.stream.shape[1] == rep.num_features + 1 + 2  # the elements, the meter, position and bar
    first = int(np.flatnonzero(dm.split == TRAIN)[0])
    melody = dm.parsed.melody(first)
    rows = len(rep.encode(melody)) + 1  # its start element and its elements
    assert ds.stream[:rows, -2:].long().tolist() == melody_positions(rep, melody).tolist()
    for i in range(len(ds)):  # a transposed window moves its pitches, never where its elements fall
        x, _ = ds[i]
        s = int(ds.starts[i])
        assert torch.equal(x[:, -3:], ds.stream[s : s + len(x), -3:])


def test_a_tokenization_without_element_lengths_reads_no_bar_positions(tmp_path, tune_dir, caplog):
    pytest.importorskip("miditok")
    with caplog.at_level("INFO", logger="melodygen.data.datamodule"):
        dm = make_dm(tune_dir, tmp_path, representation="miditok", bar_position=True)
    assert dm.bar_position is False and dm.datasets[TRAIN].stream.shape[1] == dm.representation.num_features
    assert "the model reads no bar positions" in caplog.text


def test_bars_left_follow_the_positions_and_a_share_of_training_windows_is_not_told(tmp_path, tune_dir):
    from melodygen.representations.position import UNTOLD, UNTOLD_SHARE, melody_positions

    dm = make_dm(tune_dir, tmp_path, bar_position=True, bars_left=True, window_stride=1)
    rep, ds = dm.representation, dm.datasets[TRAIN]
    assert dm.bars_left and ds.stream.shape[1] == rep.num_features + 3  # position, bar, bars left
    first = int(np.flatnonzero(dm.split == TRAIN)[0])
    melody = dm.parsed.melody(first)
    rows = len(rep.encode(melody)) + 1
    assert ds.stream[:rows, -3:].long().tolist() == melody_positions(rep, melody, bars_left=True).tolist()
    hidden = []
    for i in range(len(ds)):
        x, y = ds[(i, 7)]
        s = int(ds.starts[i])
        assert torch.equal(x[:, :-1], ds.stream[s : s + len(x), :-1])  # only the bars left may change
        untold = bool((x[:, -1] == UNTOLD).all())
        assert untold or torch.equal(x[:, -1], ds.stream[s : s + len(x), -1])
        assert torch.equal(ds[(i, 7)][0], x)  # the same draw for the same epoch salt
        hidden.append(untold)
    assert len(ds) > 200 and abs(np.mean(hidden) - UNTOLD_SHARE) < 0.07
    val = dm.datasets[VAL]
    assert not any(bool((val[i][0][:, -1] == UNTOLD).all()) for i in range(len(val)))  # scored as told
