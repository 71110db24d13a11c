"""Event: one token per 16th step, as in Magenta's Melody RNN.

Tokens: ``0`` hold (the current note or rest goes on), ``1`` note-off (a rest starts), ``2 + p`` note-on
of pitch ``p``. ``130`` is the boundary that opens a melody (as input) and ends it (as target).
"""

from __future__ import annotations

import numpy as np
import torch

from melodygen.music.melody import MAX_DURATION, REST, Melody, normalize
from melodygen.representations.base import Representation, bits, rest_sums, sample_logits

HOLD, OFF, FIRST_PITCH = 0, 1, 2
NUM_EVENTS = FIRST_PITCH + REST  # 130 output classes
START = NUM_EVENTS


class Event(Representation):
    name = "event"
    input_kind = "embedding"
    input_sizes = (NUM_EVENTS + 1,)
    output_sizes = (NUM_EVENTS + 1,)
    dtype = np.dtype(np.int64)
    element_is_step = True
    element_is_note = False
    max_elements_per_note = MAX_DURATION
    times_elements = True

    @property
    def start(self) -> np.ndarray:
        return np.array([START], dtype=np.int64)

    def encode(self, melody: Melody) -> np.ndarray:
        onset = np.where(melody.pitch == REST, OFF, FIRST_PITCH + melody.pitch.astype(np.int64))
        tokens = np.zeros(melody.total_steps, dtype=np.int64)
        tokens[np.r_[0, np.cumsum(melody.duration[:-1])].astype(np.int64)] = onset
        return tokens[:, None]

    def decode(self, elements: np.ndarray) -> Melody:
        tokens = np.asarray(elements).reshape(-1)
        tokens = tokens[tokens != START]
        onsets = np.flatnonzero(tokens != HOLD)
        duration = np.diff(np.r_[onsets, tokens.size])
        pitch = np.where(tokens[onsets] == OFF, REST, tokens[onsets] - FIRST_PITCH)
        return Melody(*normalize(pitch, duration))

    def pitch_of(self, x: torch.Tensor) -> torch.Tensor:
        t = x[..., 0]
        return torch.where((t >= FIRST_PITCH) & (t < NUM_EVENTS), t - FIRST_PITCH, torch.full_like(t, -1))

    def with_pitch(self, x: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        pitched = self.pitch_of(x) >= 0
        out[..., 0] = torch.where(pitched, pitch.to(x.dtype) + FIRST_PITCH, x[..., 0])
        return out

    def is_boundary(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., 0] == START

    def is_onset(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., 0] != HOLD

    def element_steps(self, x: torch.Tensor) -> torch.Tensor:
        return (~self.is_boundary(x)).long()

    def loss(self, outputs, target):
        return torch.nn.functional.cross_entropy(outputs[0].flatten(0, 1).float(), target[..., 0].flatten())

    def note_metrics(self, outputs, target):
        # p(token) = p(change or hold) · p(which | change): the first factor, summed over every step,
        # is the duration information; the second, at onsets, is the pitch information.
        logits = outputs[0].float()
        token = target[..., 0]
        step = ~self.is_boundary(target)
        onset = (token != HOLD) & step
        log_hold = logits.log_softmax(-1)[..., HOLD]
        log_change = torch.log1p(-log_hold.exp().clamp_max(1 - 1e-7))
        zero = torch.zeros((), device=logits.device)
        duration_bits = torch.where(step, -torch.where(onset, log_change, log_hold) / np.log(2.0), zero)
        which_logits = logits[..., OFF:]  # note-off, the pitches and the boundary, renormalized
        which = (token - OFF).clamp_min(0)
        correct = (which_logits.argmax(-1) == which) & onset
        pitch_bits = torch.where(onset, bits(which_logits, which), zero)
        totals = {
            "notes": onset.sum().float(),
            "pitch_correct": correct.sum().float(),
            "pitch_bits": pitch_bits.sum(),
            "duration_bits": duration_bits.sum(),
        }
        # a step belongs to the note or rest of the latest onset before it (at or before it)
        steps = torch.arange(token.shape[-1], device=token.device).expand_as(token)
        latest, _ = torch.cummax(torch.where(onset, steps, torch.full_like(steps, -1)), dim=-1)
        rest_onset = onset & (token == OFF)
        in_rest = torch.gather(rest_onset, -1, latest.clamp_min(0)) & (latest >= 0) & step
        return rest_sums(
            totals, rest_onset, correct, pitch_bits, torch.where(in_rest, duration_bits, zero), in_rest
        )

    def sample(self, outputs, temperature=1.0, top_k=0, top_p=1.0, generator=None, previous=None):
        # the boundary is the last class: sampling from the others never draws it
        return sample_logits(outputs[0][..., :START], temperature, top_k, top_p, generator)[:, None]

    def candidates(self, outputs, k, previous=None):
        log_probs = outputs[0][..., :START].float().log_softmax(-1)
        log_probs, token = log_probs.topk(min(k, START))
        return token[..., None], log_probs
