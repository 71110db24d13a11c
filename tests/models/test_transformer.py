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
    assert isinstance(cache, KVCache) and cache.position == 16


def _stepped(model, x):
    """The logits of every position of ``x``, one step at a time through the key/value cache."""
    outputs, cache = model(x[:, :1])
    stepped = [outputs[0][:, 0]]
    for t in range(1, x.shape[1]):
        out, cache = model.net.step(x[:, t], cache)
        stepped.append(out[0])
    return torch.stack(stepped, 1)


def test_past_the_window_one_block_s_cache_gives_the_logits_of_re_feeding_the_last_context_elements():
    """With one block, a prediction depends on the last ``context`` elements alone: the rolled cache at
    positions past the window gives what a fresh pass over those elements gives, from an empty state."""
    context = 6
    model, x = _model(context=context, num_layers=1), _tokens(3 * context + 2)
    with torch.no_grad():
        stepped = _stepped(model, x)
        for t in range(context, x.shape[1]):
            refed = model(x[:, t - context + 1 : t + 1])[0][0][:, -1]
            torch.testing.assert_close(stepped[:, t], refed, rtol=1e-4, atol=1e-5)


def test_past_the_window_the_cache_of_deeper_blocks_follows_the_whole_melody_as_a_full_pass_does():
    """With several blocks each layer looks ``context - 1`` elements back from what the layer below saw,
    so a prediction reaches further back than the window; stepping with the rolled cache gives what one
    pass over the whole melody gives (scoring's), and no longer what re-feeding the last window gives."""
    context = 6
    model, x = _model(context=context, num_layers=3), _tokens(3 * context + 2)
    with torch.no_grad():
        stepped = _stepped(model, x)
        whole = model(x)[0][0]
        last_window = model(x[:, -context:])[0][0][:, -1]
    torch.testing.assert_close(stepped, whole, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(stepped[:, -1], last_window, atol=1e-4)


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


def test_attention_depends_on_how_far_back_a_key_lies_not_on_where_the_melody_is():
    from melodygen.models.transformer import rotate

    net = MelodyModel("event", architecture="transformer", hidden_size=32, num_heads=2, context=16).net
    q, k = torch.randn(2, 1, 1, 1, 16, generator=torch.Generator().manual_seed(0))  # one head's size
    scores = []
    for position in (5, 70, 100_000):  # in the first window, past it, far into a long sampled melody
        cos_q, sin_q = net.rotation(position, 1)
        cos_k, sin_k = net.rotation(position - 3, 1)
        scores.append(float((rotate(q, cos_q, sin_q) * rotate(k, cos_k, sin_k)).sum()))
    assert scores[1] == pytest.approx(scores[0], abs=1e-5) and scores[2] == pytest.approx(scores[0], abs=1e-4)


def test_sampling_extends_the_cache_in_place_and_an_older_state_stays_valid():
    model, x = _model(context=8), _tokens(12, batch=1)
    with torch.inference_mode():
        _, state = model(x[:, :5])
        first, after = model.net.step(x[:, 5], state)  # extends the buffers in place
        again, _ = model.net.step(x[:, 5], state)  # a branch from the same state: copied, same numbers
        other, _ = model.net.step(x[:, 6], state)
        expected = model(torch.cat([x[:, :5], x[:, 6:7]], dim=1))[0][0][:, -1]
    torch.testing.assert_close(again[0], first[0])
    torch.testing.assert_close(other[0], expected, rtol=1e-4, atol=1e-5)
    assert after.position == 6 and state.position == 5


@pytest.mark.parametrize(
    ("settings", "said"),
    [({"hidden_size": 30, "num_heads": 4}, "num_heads=4"), ({"hidden_size": 12, "num_heads": 4}, "even")],
)
def test_a_width_the_heads_do_not_divide_evenly_is_refused(settings, said):
    with pytest.raises(ValueError, match=said):
        MelodyModel("event", architecture="transformer", **settings)
