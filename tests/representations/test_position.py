"""Bar positions (``data.bar_position``): read from real MIDI files with and without a pickup and with a meter
change, and counted at generation exactly as the data path counts them; the bars left to a tune's end
(``data.bars_left``), told from its own length or from ``samples.bars``, and never told without lookahead."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from meter_files import jig, write, write_signatures

from melodygen.data.midi import load_melody
from melodygen.generation.sampling import sample_elements
from melodygen.models import MelodyModel
from melodygen.music.conditions import Conditioning
from melodygen.music.melody import Melody
from melodygen.representations import get_representation
from melodygen.representations.position import BAR_CLASSES, UNTOLD, Clock, melody_positions

STEP_LEVEL = ["categorical", "continuous", "event"]


def places(melody: Melody, name: str = "categorical") -> list[tuple[int, int]]:
    """(position, bar) beside the start element and each element of ``melody``."""
    return [tuple(row) for row in melody_positions(get_representation(name), melody).tolist()]


def late(notes, steps: int):
    """``notes`` (pitch, start, length) moved ``steps`` 16ths later: a pickup placed late in its first bar."""
    return [(pitch, start + steps, length) for pitch, start, length in notes]


def test_a_pickup_placed_late_in_its_first_bar_counts_from_the_files_bar_line(tmp_path):
    # two eighths of pickup, placed at the end of a first bar of 6/8, as the folk corpus writes them
    melody = load_melody(write(tmp_path / "jig.mid", late(jig(2), 8), (6, 8)))
    got = places(melody)
    # beside the start: the first note starts 8 sixteenths into the pickup bar (bar 0)
    assert got[0] == (8, 0)
    # beside each note: where the next one starts; the pickup's second eighth leads to bar 1's downbeat
    assert got[1:4] == [(10, 0), (0, 1), (4, 1)]
    assert [p for p, _ in got[2:]] == [0, 4, 6, 10] * 4 + [0]
    assert [b for _, b in got[2::4]] == [1, 2, 3, 4, 5]  # the last note leads past the end: bar 5


def test_a_pickup_written_at_time_0_is_read_as_the_file_writes_it(tmp_path):
    melody = load_melody(write(tmp_path / "jig.mid", jig(2), (6, 8)))
    assert places(melody)[:3] == [(0, 1), (2, 1), (4, 1)]


def test_a_tune_that_starts_on_the_downbeat_starts_in_bar_one(tmp_path):
    melody = load_melody(write(tmp_path / "jig.mid", jig(0), (6, 8)))
    got = places(melody)
    assert got[0] == (0, 1)
    assert got[1:5] == [(4, 1), (6, 1), (10, 1), (0, 2)]


def test_a_pickup_placed_late_in_its_bar_is_read_from_the_file(tmp_path):
    # 3/4: a quarter on beat 3, then quarters; the file's own bar lines say where the pickup sits
    notes = [(67, 8, 4)] + [(60 + i % 5, 12 + 4 * i, 4) for i in range(9)]
    melody = load_melody(write(tmp_path / "late.mid", notes, (3, 4)))
    got = places(melody)
    assert got[0] == (8, 0)
    assert got[1:] == [(0, 1), (4, 1), (8, 1), (0, 2), (4, 2), (8, 2), (0, 3), (4, 3), (8, 3), (0, 4)]


def test_a_meter_change_restarts_the_count_in_the_new_bar_length(tmp_path):
    # two bars of 4/4 in quarters, then 3/4 from 16th 32
    notes = [(60 + i % 3, 4 * i, 4) for i in range(14)]
    melody = load_melody(write_signatures(tmp_path / "change.mid", notes, [(4, 4, 0), (3, 4, 32)]))
    got = places(melody)
    assert [p for p, _ in got] == [0, 4, 8, 12] * 2 + [0, 4, 8] * 2 + [0]
    assert [b for _, b in got] == [1] * 4 + [2] * 4 + [3] * 3 + [4] * 3 + [5]


def test_bars_past_the_last_class_share_it():
    melody = Melody(np.full(40, 60), np.full(40, 16))  # 40 whole notes in 4/4
    bars = [b for _, b in places(melody)]
    assert bars[:3] == [1, 2, 3] and bars[-1] == BAR_CLASSES - 1 and max(bars) == BAR_CLASSES - 1


@pytest.mark.parametrize("name", STEP_LEVEL)
@pytest.mark.parametrize("pickup", [0, 3])
def test_the_clock_counts_a_primer_as_the_data_path_does(tmp_path, name, pickup):
    representation = get_representation(name)
    melody = load_melody(write(tmp_path / "jig.mid", late(jig(pickup), (12 - 2 * pickup) % 12), (6, 8)))
    encoded = representation.encode(melody)
    prefix = torch.from_numpy(
        np.concatenate([representation.start[None], encoded]).astype(representation.dtype)
    )
    clock = Clock.starting(representation, [(6, 8)], primer=melody)
    read = clock.read(prefix[None])
    expected = melody_positions(representation, melody, encoded)
    assert read[0, :, -2:].long().tolist() == expected.tolist()
    assert torch.equal(read[0, :, :-2], prefix)  # the elements themselves pass unchanged


def recorded_inputs(model: MelodyModel) -> list[torch.Tensor]:
    """Every input the model's network is given from now on."""
    seen: list[torch.Tensor] = []
    embed = model.net.embed  # every network reads its input through embed, whole windows and single steps

    def recording(x: torch.Tensor) -> torch.Tensor:
        seen.append((x if x.dim() == 3 else x[:, None]).detach().clone())
        return embed(x)

    model.net.embed = recording
    return seen


@pytest.mark.parametrize("name", STEP_LEVEL)
def test_what_a_sampling_model_reads_is_what_the_data_path_gives_for_the_notes_it_drew(name):
    representation = get_representation(name)
    labels = [
        {"meter": "3/4", "key": "G major", "style": "none"},
        {"meter": "6/8", "key": "D major", "style": "none"},
    ]
    conditioning = Conditioning.fit(["meter"], labels)
    torch.manual_seed(0)
    model = MelodyModel(name, hidden_size=8, bar_position=True, **conditioning.hparams()).eval()
    seen = recorded_inputs(model)
    classes = torch.tensor(
        [[conditioning.labels["meter"].index("3/4")], [conditioning.labels["meter"].index("6/8")]]
    )
    drawn = sample_elements(model, 2, 12, seed=3, conditions=classes)
    inputs = torch.cat([seen[0], *seen[1:]], dim=1)  # the start element, then one element per step
    for row, (elements, signature) in enumerate(zip(drawn, [(3, 4), (6, 8)], strict=True)):
        read = inputs[row, : len(elements), -2:].long().numpy()
        melody = Melody(
            [60], [1], meta={"time_signature": signature}
        )  # its meter; a sample starts on a bar line
        expected = melody_positions(representation, melody, elements[:-1])
        assert read.tolist() == expected.tolist()
        assert int(inputs[row, 0, -3]) == classes[row, 0]  # the meter condition sits before the positions


def test_beam_search_scores_every_kept_continuation_as_read_with_its_own_bar_positions():
    from melodygen.generation.beam import beam_search
    from melodygen.representations.categorical import START_DURATION, START_PITCH

    representation = get_representation("categorical")
    torch.manual_seed(1)
    model = MelodyModel("categorical", hidden_size=8, bar_position=True).eval()
    prefix = torch.from_numpy(representation.start[None])[None]
    with torch.inference_mode():
        kept, scores = beam_search(model, prefix, 4, 12, clock=Clock.starting(representation, [(3, 4)]))

    def score(elements: np.ndarray, columns: np.ndarray) -> float:
        stream = np.concatenate([representation.start[None], elements])
        x = torch.from_numpy(np.concatenate([stream, columns], axis=1))[None]
        with torch.inference_mode():
            pitch, duration = (o[0] for o in model(x[:, :-1])[0])
        target = torch.from_numpy(stream[1:])
        pitch = pitch[:, :START_PITCH].log_softmax(-1).gather(1, target[:, :1])
        duration = duration[:, :START_DURATION].log_softmax(-1).gather(1, target[:, 1:])
        return float((pitch + duration).sum())

    for row in range(4):  # the beam reorders its rows at every step: each keeps its own count
        elements = kept[row].numpy()
        columns = melody_positions(representation, Melody([60], [1], meta={"time_signature": (3, 4)}),
                                   elements)  # fmt: skip
        assert score(elements, columns) == pytest.approx(float(scores[row]), abs=1e-4)
        assert score(elements, np.zeros_like(columns)) != pytest.approx(float(scores[row]), abs=1e-4)


def test_a_model_without_bar_positions_reads_the_elements_alone():
    model = MelodyModel("categorical", hidden_size=8)
    assert model.bar_position is False and model.hparams.bar_position is False
    seen = recorded_inputs(model)
    sample_elements(model, 1, 4, seed=0)
    assert all(x.shape[-1] == 2 for x in seen)


def test_a_tokenization_with_bars_of_its_own_cannot_take_bar_positions():
    pytest.importorskip("miditok")
    with pytest.raises(ValueError, match="cannot give bar positions"):
        MelodyModel("miditok", tokenizer="REMI", hidden_size=8, bar_position=True)


def test_a_melody_moved_to_c_is_read_by_its_own_bar_lines(tmp_path):
    from melodygen.evaluation.prediction import _encoded
    from melodygen.generation.sampling import primer_as_trained

    representation = get_representation("categorical")
    melody = load_melody(write(tmp_path / "jig.mid", late(jig(2), 8), (6, 8)))
    model = MelodyModel("categorical", hidden_size=8, bar_position=True, transpose_to_c=True)
    moved, shift = primer_as_trained(model, melody)
    assert shift != 0 and moved.meta["bar_grid"] == melody.meta["bar_grid"] == ((-8, 6, 8),)
    seq, _ = _encoded(model, melody, None)  # what note-by-note prediction reads
    assert seq[0, :, -2:].tolist() == melody_positions(representation, melody).tolist()


def test_the_bars_left_count_down_to_the_tunes_last_bar(tmp_path):
    # two eighths of pickup late in a bar of 6/8, then four whole bars
    melody = load_melody(write(tmp_path / "jig.mid", late(jig(2), 8), (6, 8)))
    told = melody_positions(get_representation("categorical"), melody, bars_left=True)
    assert told[:, :2].tolist() == melody_positions(get_representation("categorical"), melody).tolist()
    # beside the start and the pickup's first note: the pickup bar, four whole bars to come; in bar 4: none
    assert told[:, 2].tolist() == [4, 4] + [3] * 4 + [2] * 4 + [1] * 4 + [0] * 4 + [0]
    untold = melody_positions(get_representation("categorical"), melody, bars_left=False)
    assert (untold[:, 2] == UNTOLD).all() and untold[:, :2].tolist() == told[:, :2].tolist()


def test_a_tune_longer_than_the_classes_counts_down_from_the_last_told_class():
    melody = Melody(np.full(40, 60), np.full(40, 16))  # 40 whole notes in 4/4
    left = melody_positions(get_representation("categorical"), melody, bars_left=True)[:, 2]
    assert left[0] == UNTOLD - 1 and left[-3:].tolist() == [1, 0, 0] and (np.diff(left) <= 0).all()


@pytest.mark.parametrize("name", STEP_LEVEL)
def test_the_clock_counts_bars_left_as_the_data_path_does(tmp_path, name):
    representation = get_representation(name)
    melody = load_melody(write(tmp_path / "jig.mid", late(jig(2), 8), (6, 8)))
    encoded = representation.encode(melody)
    prefix = torch.from_numpy(
        np.concatenate([representation.start[None], encoded]).astype(representation.dtype)
    )
    told = Clock.starting(representation, [(6, 8)], melody, bars_left=True, ends=[melody.total_steps])
    expected = melody_positions(representation, melody, encoded, bars_left=True)
    assert told.read(prefix[None])[0, :, -3:].long().tolist() == expected.tolist()
    untold = Clock.starting(representation, [(6, 8)], melody, bars_left=True).read(prefix[None])
    assert (untold[0, :, -1] == UNTOLD).all()


def test_a_model_asked_for_bars_reads_them_counting_down_and_else_reads_none():
    from melodygen.generation.sampling import sample_melodies

    representation = get_representation("categorical")
    torch.manual_seed(0)
    model = MelodyModel("categorical", hidden_size=8, bar_position=True, bars_left=True).eval()
    assert model.net.condition_sizes == (48, 33, 34) and model.hparams.bars_left is True
    seen = recorded_inputs(model)
    melodies = sample_melodies(model, 2, 0, seed=1, bars=3)
    inputs = torch.cat([seen[0].expand(2, -1, -1), *seen[1:]], dim=1)  # the start was read once for both
    assert all(m.total_steps == 48 for m in melodies)  # three bars of 4/4
    for row in range(2):
        read = inputs[row, :, -3:].long()
        steps = representation.element_steps(inputs[row, 1:, :2]).long()
        onsets = torch.cat([torch.zeros(1, dtype=torch.long), steps.cumsum(0)])
        inside = onsets < 48  # the elements the melody keeps start before the end of bar 3
        assert read[inside, 2].tolist() == (2 - onsets[inside] // 16).tolist()  # bar 1 has two more after it
        assert (read[~inside, 2] == 0).all()
    seen.clear()
    sample_melodies(model, 1, 8, seed=1)  # no length in bars: nothing told
    assert all((x[..., -1] == UNTOLD).all() for x in seen)


def test_bars_left_need_bar_positions():
    with pytest.raises(ValueError, match="needs bar_position=True"):
        MelodyModel("categorical", hidden_size=8, bars_left=True)


def test_scoring_tells_the_bars_left_and_prediction_without_lookahead_does_not(tmp_path):
    from melodygen.evaluation.prediction import _encoded

    melody = load_melody(write(tmp_path / "jig.mid", late(jig(2), 8), (6, 8)))
    model = MelodyModel("categorical", hidden_size=8, bar_position=True, bars_left=True)
    told, _ = _encoded(model, melody, None, lookahead=True)
    untold, _ = _encoded(model, melody, None, lookahead=False)
    assert (
        told[0, :, -1].tolist()
        == melody_positions(model.representation, melody, bars_left=True)[:, 2].tolist()
    )
    assert (untold[0, :, -1] == UNTOLD).all() and torch.equal(told[..., :-1], untold[..., :-1])
    from melodygen.evaluation.scoring import melody_sums  # melodygen-evaluate's: told unless asked not to

    (with_end,), (without,) = melody_sums(model, [melody]), melody_sums(model, [melody], lookahead=False)
    assert (
        with_end["notes"] == without["notes"] == len(melody)
        and with_end["pitch_bits"] != without["pitch_bits"]
    )
