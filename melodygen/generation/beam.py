"""Beam search: the likeliest continuations of a prefix, for every network and representation.

At every step each of the ``beam_size`` continuations kept so far is extended by its most likely next
elements (:meth:`~melodygen.representations.Representation.candidates`), and the ``beam_size`` likeliest
of all those extensions are kept; the network's state follows them (:meth:`MelodyNetwork.select`).
A continuation's score is the sum of its elements' log-probabilities under the distribution sampling
draws from at temperature 1 (the boundary left out), so the search ignores temperature, top_k and top_p.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def beam_search(
    model,
    prefix: torch.Tensor,
    beam_size: int,
    steps: int,
    done: Callable[[torch.Tensor], bool] | None = None,
    conditions: torch.Tensor | None = None,
    clock=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(elements, scores)``: at most ``steps`` elements after ``prefix`` ``(1, P, F)`` for each of the
    ``beam_size`` kept continuations, ``(beam_size, N, F)``, likeliest first, and their summed natural
    log-probabilities ``(beam_size,)`` (−inf for a place no continuation filled).

    ``done(elements)`` may stop the search early: it is given the kept continuations, likeliest first,
    after every step. ``conditions`` ``(1, K)`` are the condition classes of a conditioned model, the same
    for every continuation, and ``clock`` (one row, :class:`~melodygen.representations.position.Clock`) counts
    where a model that reads bar positions stands in its bar. Call it in inference mode, with the model in
    eval mode.
    """
    representation, net = model.representation, model.net
    x = model.with_conditions(prefix, conditions)
    outputs, state = model(x if clock is None else clock.read(x))
    if conditions is not None:
        conditions = conditions[:1].expand(beam_size, -1)
    rows = torch.zeros(beam_size, dtype=torch.long, device=prefix.device)
    state = net.select(state, rows)
    clock = None if clock is None else clock.select(rows)
    last = [o[:, -1].index_select(0, rows) for o in outputs]
    # one continuation to begin with: the others are copies of it until the first step spreads them
    scores = torch.full((beam_size,), float("-inf"), device=prefix.device)
    scores[0] = 0.0
    kept = prefix.new_empty((beam_size, 0, prefix.shape[-1]))
    previous = prefix[:, -1].expand(beam_size, -1) if prefix.shape[1] > 1 else None
    for step in range(steps):
        # (beam, k, F), (beam, k)
        candidates, log_probs = representation.candidates(last, beam_size, previous=previous)
        total = (scores[:, None] + log_probs).flatten()
        scores, best = total.topk(beam_size)
        parent, which = best // log_probs.shape[1], best % log_probs.shape[1]
        element = candidates[parent, which]
        kept = torch.cat([kept.index_select(0, parent), element[:, None]], dim=1)
        previous = element
        if done is not None and done(kept):
            break
        if step + 1 < steps:
            x = model.with_conditions(element, conditions)
            if clock is not None:
                clock = clock.select(parent)
                x = clock.beside(x)
            last, state = net.step(x, net.select(state, parent))
    return kept, scores
