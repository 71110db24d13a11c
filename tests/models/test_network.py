import pytest
import torch

from melodygen.models import MelodyLSTM
from melodygen.representations import REPRESENTATIONS, get_representation


def _batch(rep, batch=3, length=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    if rep.input_kind == "embedding":
        cols = [torch.randint(0, n - 1, (batch, length, 1), generator=g) for n in rep.output_sizes]
        return torch.cat(cols, dim=-1)
    return torch.rand((batch, length, 2), generator=g) * 2 - 1


@pytest.mark.parametrize("name", sorted(REPRESENTATIONS))
def test_forward_shapes_follow_the_representation(name):
    rep = get_representation(name)
    model = MelodyLSTM(name, hidden_size=16, num_layers=2, embedding_dim=8)
    outputs, (h, c) = model(_batch(rep))
    assert [o.shape for o in outputs] == [torch.Size([3, 12, n]) for n in rep.output_sizes]
    assert h.shape == c.shape == torch.Size([2, 3, 16])


@pytest.mark.parametrize("name", sorted(REPRESENTATIONS))
def test_carrying_the_state_equals_one_pass(name):
    rep = get_representation(name)
    model = MelodyLSTM(name, hidden_size=16, num_layers=2, embedding_dim=8).eval()
    x = _batch(rep)
    full, _ = model(x)
    state, steps = None, []
    for t in range(x.shape[1]):
        out, state = model(x[:, t : t + 1], state)
        steps.append(out[0])
    torch.testing.assert_close(torch.cat(steps, dim=1), full[0], rtol=1e-4, atol=1e-5)


def test_seed_model_is_the_blog_posts_network():
    model = MelodyLSTM("continuous", hidden_size=20, num_layers=1, dropout=0.0, embedding_dim=0)
    lstm = model.net.lstm
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers) == (2, 20, 1)
    assert [tuple(h.weight.shape) for h in model.net.heads] == [(2, 20)]
    # nn.LSTM (4·20·(2+20) + 2·4·20) plus Linear(20, 2)
    assert sum(p.numel() for p in model.parameters()) == 4 * 20 * 22 + 8 * 20 + 20 * 2 + 2


def test_hyperparameters_are_plain_values():
    model = MelodyLSTM("event", hidden_size=32)
    assert all(isinstance(v, (int, float, str, bool)) for v in model.hparams.values())
    assert model.hparams.representation == "event" and model.hparams.hidden_size == 32


@pytest.mark.parametrize("name", sorted(REPRESENTATIONS))
def test_single_step_equals_the_sequence_pass(name):
    rep = get_representation(name)
    model = MelodyLSTM(name, hidden_size=16, num_layers=3, embedding_dim=8, dropout=0.3).eval()
    x = _batch(rep)
    full, _ = model(x)
    _, state = model(x[:, :1])
    steps = []
    for t in range(1, x.shape[1]):
        out, state = model.net.step(x[:, t], state)
        steps.append(out)
    for head, expected in enumerate(full):
        got = torch.stack([out[head] for out in steps], dim=1)
        torch.testing.assert_close(got, expected[:, 1:], rtol=1e-4, atol=1e-5)
