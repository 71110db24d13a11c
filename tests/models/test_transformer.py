"""The Transformer: its key/value cache against re-feeding, its window, and its settings."""

import pytest
import torch

from melodygen.models import MelodyModel
from melodygen.models.transformer import KVCache


def _model(context=16, num_layers=3):
    torch.manual_seed(0)
    return MelodyModel(
        "event", architecture="transformer", hidden_size=32, num_layers=num_layers, num_heads=4, ff_size=64,
        embedding_dim=8, context=context,
    ).eval()  # fmt: skip


def _tokens(length, batch=2, seed=0):
    return torch.randint(0, 130, (batch, length, 1), generator=torch.Generator().manual_seed(seed))


def test_the_cache_gives_the_logits_of_re_feeding_the_whole_window():
    model, x = _model(context=16), _tokens(16)
    with torch.no_grad():
        outputs, cache = model(x[:, :1])
        cached = [outputs[0][:, 0]]
        for t in range(1, 16):
            out, cache = model.net.step(x[:, t], cache)
            cached.append(out[0])
        # uncached: every step runs everything so far from an empty state
        refed = [model(x[:, : t + 1])[0][0][:, -1] for t in range(16)]
    torch.testing.assert_close(torch.stack(cached, 1), torch.stack(refed, 1), rtol=1e-4, atol=1e-5)
    assert isinstance(cache, KVCache) and cache.length == 15  # the next query's window


def test_within_the_window_a_prediction_sees_only_what_came_before():
    model, x = _model(), _tokens(12)
    changed = x.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % 130
    with torch.no_grad():
        a, b = model(x)[0][0], model(changed)[0][0]
    torch.testing.assert_close(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_past_the_window_the_oldest_elements_fall_out_of_view():
    model, x = _model(context=4, num_layers=1), _tokens(12)
    changed = x.clone()
    changed[:, 0] = (changed[:, 0] + 1) % 130
    with torch.no_grad():
        a, b = model(x)[0][0], model(changed)[0][0]
    assert not torch.allclose(a[:, :4], b[:, :4])
    torch.testing.assert_close(a[:, 4:], b[:, 4:])  # with one block, element 0 is out of every window


def test_where_a_window_starts_does_not_matter():
    model, x = _model(context=8), _tokens(8)
    with torch.no_grad():
        alone = model(x)[0][0]
        _, cache = model(_tokens(8, seed=1))  # a fresh window vs. one after other elements
        start = model(x[:, :1])[0][0][:, 0]
    torch.testing.assert_close(start, alone[:, 0])
    assert cache.length == 7


@pytest.mark.parametrize(
    ("settings", "said"),
    [({"hidden_size": 30, "num_heads": 4}, "num_heads=4"), ({"hidden_size": 12, "num_heads": 4}, "even")],
)
def test_a_width_the_heads_do_not_divide_evenly_is_refused(settings, said):
    with pytest.raises(ValueError, match=said):
        MelodyModel("event", architecture="transformer", **settings)
