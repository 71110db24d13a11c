"""Categorical: a note is a (pitch-or-rest class, duration class) pair, learned with cross-entropy."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from melodygen.music.melody import MAX_DURATION, REST, Melody, normalize
from melodygen.representations.base import Representation, bits, rest_sums, sample_logits

PITCH_CLASSES = REST + 1  # 0–127 and the rest class 128
START_PITCH = PITCH_CLASSES  # the boundary: opens a melody as input, ends it as target
START_DURATION = MAX_DURATION  # duration classes are 0..15 for 1..16 sixteenths, 16 the boundary


class Categorical(Representation):
    name = "categorical"
    input_kind = "embedding"
    input_sizes = (PITCH_CLASSES + 1, MAX_DURATION + 1)
    output_sizes = (PITCH_CLASSES + 1, MAX_DURATION + 1)
    dtype = np.dtype(np.int64)
    pitch_head_is_midi_pitch = True
    times_elements = True

    @property
    def start(self) -> np.ndarray:
        return np.array([START_PITCH, START_DURATION], dtype=np.int64)

    def encode(self, melody: Melody) -> np.ndarray:
        if melody.duration.size and not (
            1 <= melody.duration.min() and melody.duration.max() <= MAX_DURATION
        ):
            raise ValueError(f"durations must be 1–{MAX_DURATION} sixteenths; normalize() the melody first")
        return np.stack([melody.pitch.astype(np.int64), melody.duration.astype(np.int64) - 1], axis=1)

    def decode(self, elements: np.ndarray) -> Melody:
        elements = np.asarray(elements)
        keep = elements[:, 0] != START_PITCH
        pitch, duration = elements[keep, 0], elements[keep, 1] + 1
        return Melody(*normalize(pitch, duration))

    def pitch_of(self, x: torch.Tensor) -> torch.Tensor:
        p = x[..., 0]
        return torch.where(p < REST, p, torch.full_like(p, -1))

    def with_pitch(self, x: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        out[..., 0] = torch.where(x[..., 0] < REST, pitch.to(x.dtype), x[..., 0])
        return out

    def is_boundary(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., 0] == START_PITCH

    def element_steps(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(self.is_boundary(x), 0, x[..., 1].long() + 1)

    def loss(self, outputs, target):
        pitch_logits, duration_logits = outputs
        return F.cross_entropy(
            pitch_logits.flatten(0, 1).float(), target[..., 0].flatten()
        ) + F.cross_entropy(duration_logits.flatten(0, 1).float(), target[..., 1].flatten())

    def note_metrics(self, outputs, target):
        pitch_logits, duration_logits = outputs
        note = ~self.is_boundary(target)
        zero = torch.zeros((), device=target.device)
        correct = (pitch_logits.argmax(-1) == target[..., 0]) & note
        pitch_bits = torch.where(note, bits(pitch_logits, target[..., 0]), zero)
        duration_bits = torch.where(note, bits(duration_logits, target[..., 1]), zero)
        return rest_sums(
            {
                "notes": note.sum().float(),
                "pitch_correct": correct.sum().float(),
                "pitch_bits": pitch_bits.sum(),
                "duration_bits": duration_bits.sum(),
            },
            note & (target[..., 0] == REST),
            correct,
            pitch_bits,
            duration_bits,
        )

    def sample(self, outputs, temperature=1.0, top_k=0, top_p=1.0, generator=None, previous=None):
        pitch_logits, duration_logits = outputs
        # the boundary is each head's last class: sampling from the others never draws it
        pitch_logits, duration_logits = pitch_logits[..., :START_PITCH], duration_logits[..., :START_DURATION]
        pitch = sample_logits(pitch_logits, temperature, top_k, top_p, generator)
        duration = sample_logits(duration_logits, temperature, top_k, top_p, generator)
        return torch.stack([pitch, duration], dim=-1)

    def candidates(self, outputs, k, previous=None):
        pitch_logits, duration_logits = outputs
        pitch = pitch_logits[..., :START_PITCH].float().log_softmax(-1)
        duration = duration_logits[..., :START_DURATION].float().log_softmax(-1)
        # the heads are independent given the state: the k likeliest pairs lie among each head's k likeliest
        pitch_lp, pitch_class = pitch.topk(min(k, pitch.shape[-1]))
        duration_lp, duration_class = duration.topk(min(k, duration.shape[-1]))
        joint = (pitch_lp[:, :, None] + duration_lp[:, None, :]).flatten(1)
        log_probs, pair = joint.topk(min(k, joint.shape[1]))
        columns = duration_lp.shape[1]
        chosen_pitch = pitch_class.gather(1, pair // columns)
        chosen_duration = duration_class.gather(1, pair % columns)
        return torch.stack([chosen_pitch, chosen_duration], dim=-1), log_probs
