"""Every network behind one interface: shapes, carried state, single steps and rows of the state."""

import pytest
import torch
from helpers import REPRESENTATIONS

from melodygen.models import NETWORKS, MelodyModel
from melodygen.representations import get_representation

ARCHITECTURES = sorted(NETWORKS)
EVERY = [(a, r) for a in ARCHITECTURES for r in sorted(REPRESENTATIONS)]


def _batch(rep, batch=3, length=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    if rep.input_kind == "embedding":
        cols = [torch.randint(0, n - 1, (batch, length, 1), generator=g) for n in rep.output_sizes]
        return torch.cat(cols, dim=-1)
    return torch.rand((batch, length, 2), generator=g) * 2 - 1


def small(representation: str, architecture: str, **settings) -> MelodyModel:
    if architecture == "transformer":
        settings.setdefault("num_heads", 2)
        settings.setdefault("ff_size", 32)
    settings.setdefault("num_layers", 2)
    return MelodyModel(representation, architecture=architecture, hidden_size=16, embedding_dim=8, **settings)


@pytest.mark.parametrize(("architecture", "name"), EVERY)
def test_forward_shapes_follow_the_representation(architecture, name):
    rep = get_representation(name)
    outputs, state = small(name, architecture)(_batch(rep))
    assert [o.shape for o in outputs] == [torch.Size([3, 12, n]) for n in rep.output_sizes]
    assert state is not None


@pytest.mark.parametrize(("architecture", "name"), EVERY)
def test_carrying_the_state_element_by_element_equals_one_pass(architecture, name):
    rep = get_representation(name)
    model = small(name, architecture, dropout=0.3).eval()
    x = _batch(rep, length=20)  # longer than the Transformer's context of 8: the window rolls on
    if architecture == "transformer":
        model = small(name, architecture, context=8, dropout=0.3).eval()
    with torch.no_grad():
        full, _ = model(x)
        _, state = model(x[:, :1])
        steps = []
        for t in range(1, x.shape[1]):
            out, state = model.net.step(x[:, t], state)
            steps.append(out)
    for head, expected in enumerate(full):
        got = torch.stack([out[head] for out in steps], dim=1)
        torch.testing.assert_close(got, expected[:, 1:], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("architecture", "name"), EVERY)
def test_chunks_with_the_carried_state_equal_one_pass(architecture, name):
    rep = get_representation(name)
    model = small(name, architecture).eval()
    x = _batch(rep, length=15)
    with torch.no_grad():
        full, _ = model(x)
        state, pieces = None, []
        for first in range(0, 15, 4):  # as dynamic evaluation feeds a melody, four elements at a time
            out, state = model(x[:, first : first + 4], state)
            state = model.net.detach(state)
            pieces.append(out[0])
    torch.testing.assert_close(torch.cat(pieces, dim=1), full[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_selecting_rows_of_the_state_continues_those_rows(architecture):
    rep = get_representation("categorical")
    model = small("categorical", architecture).eval()
    x = _batch(rep, batch=3)
    with torch.no_grad():
        _, state = model(x)
        rows = torch.tensor([2, 2, 0])
        picked = model.net.select(state, rows)
        nxt = _batch(rep, batch=3, length=1, seed=1)[:, 0]
        got, _ = model.net.step(nxt, picked)
        for i, row in enumerate(rows.tolist()):
            alone, _ = model(torch.cat([x[row : row + 1], nxt[i : i + 1, None]], dim=1))
            torch.testing.assert_close(got[0][i], alone[0][0, -1], rtol=1e-4, atol=1e-5)


def test_the_seed_model_is_the_blog_posts_network():
    model = MelodyModel("continuous", hidden_size=20, num_layers=1, dropout=0.0, embedding_dim=0)
    lstm = model.net.lstm
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers) == (2, 20, 1)
    assert [tuple(h.weight.shape) for h in model.net.heads] == [(2, 20)]
    # nn.LSTM (4·20·(2+20) + 2·4·20) plus Linear(20, 2)
    assert sum(p.numel() for p in model.parameters()) == 4 * 20 * 22 + 8 * 20 + 20 * 2 + 2


def test_the_gru_has_three_gates_where_the_lstm_has_four():
    lstm, gru = (MelodyModel("event", architecture=a, hidden_size=32, num_layers=1) for a in ("lstm", "gru"))
    assert gru.net.gru.weight_hh_l0.shape == (3 * 32, 32) and lstm.net.lstm.weight_hh_l0.shape == (4 * 32, 32)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_hyperparameters_are_plain_values_and_complete(architecture):
    model = MelodyModel("event", architecture=architecture, hidden_size=32)
    assert all(isinstance(v, int | float | str | bool) for v in model.hparams.values())
    assert model.hparams.representation == "event" and model.hparams.hidden_size == 32
    assert (
        model.hparams.architecture == architecture and "lr" in model.hparams and "num_layers" in model.hparams
    )
    rebuilt = MelodyModel(**model.hparams)  # what a checkpoint does
    assert dict(rebuilt.hparams) == dict(model.hparams)


def test_a_setting_of_another_architecture_is_refused_by_name():
    from melodygen.errors import MelodygenError

    with pytest.raises(MelodygenError, match=r"^model.num_heads is not a setting of model=lstm"):
        MelodyModel("categorical", architecture="lstm", num_heads=4)
