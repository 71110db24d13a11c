"""Continuous: the blog post's representation, ``[pitch, duration]`` scaled into [-1, 1], learned with MSE.

Rests are carried as pitch 128, the top of the post's decoded 0–128 range, so a rest encodes to
pitch 1.0. The start of a melody is ``[0, -1]``: pitch 64 with a duration of 0 sixteenths, a value no
real element has.
"""

from __future__ import annotations

import numpy as np
import torch

from melodygen.music.melody import MAX_DURATION, REST, Melody, normalize
from melodygen.representations.base import LOG2, Representation, rest_sums

PITCH_CENTER, PITCH_SCALE = 64.0, 64.0
DURATION_CENTER, DURATION_SCALE = 8.0, 8.0


def encode_norm(pitch, duration) -> np.ndarray:
    """The post's scaling: pitch ``(p-64)/64``, duration in 16ths ``(d-8)/8``; returns ``(N, 2)`` float32."""
    pitch = (np.asarray(pitch, dtype=np.float32) - PITCH_CENTER) / PITCH_SCALE
    duration = (np.asarray(duration, dtype=np.float32) - DURATION_CENTER) / DURATION_SCALE
    return np.stack([pitch, duration], axis=-1).astype(np.float32)


def decode_norm(values) -> tuple[np.ndarray, np.ndarray]:
    """The post's inverse: round back to pitch 0–128 and duration 0–16."""
    values = np.asarray(values, dtype=np.float64)
    pitch = np.clip(np.rint(values[..., 0] * PITCH_SCALE + PITCH_CENTER), 0, REST).astype(np.int64)
    duration = np.clip(np.rint(values[..., 1] * DURATION_SCALE + DURATION_CENTER), 0, MAX_DURATION)
    return pitch, duration.astype(np.int64)


def _normal_cdf(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf(z / 2**0.5))


def _binned_gaussian_bits(pred, target, half_bin: float) -> torch.Tensor:
    """−log2 of the probability a Gaussian around ``pred`` gives the target's rounding bin.

    Its σ is the batch's RMSE, the maximum-likelihood σ of a fixed-variance Gaussian: this turns the
    post's MSE regression into a per-note likelihood comparable with the categorical models.
    """
    sigma = ((pred - target) ** 2).mean().sqrt().clamp_min(1e-4)
    p = _normal_cdf((target + half_bin - pred) / sigma) - _normal_cdf((target - half_bin - pred) / sigma)
    return -torch.log(p.clamp_min(1e-12)) / LOG2


class Continuous(Representation):
    name = "continuous"
    input_kind = "linear"
    input_sizes = (2,)
    output_sizes = (2,)
    dtype = np.dtype(np.float32)
    times_elements = True

    @property
    def start(self) -> np.ndarray:
        return encode_norm([PITCH_CENTER], [0])[0]

    def encode(self, melody: Melody) -> np.ndarray:
        return encode_norm(melody.pitch, melody.duration)

    def decode(self, elements: np.ndarray) -> Melody:
        pitch, duration = decode_norm(elements)
        return Melody(*normalize(pitch, duration))  # duration 0 (the start element) is dropped

    def pitch_of(self, x: torch.Tensor) -> torch.Tensor:
        pitch = torch.round(x[..., 0] * PITCH_SCALE + PITCH_CENTER).long()
        duration = torch.round(x[..., 1] * DURATION_SCALE + DURATION_CENTER)
        return torch.where((pitch < REST) & (duration > 0), pitch, torch.full_like(pitch, -1))

    def with_pitch(self, x: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        pitched = self.pitch_of(x) >= 0
        out[..., 0] = torch.where(pitched, (pitch.to(x.dtype) - PITCH_CENTER) / PITCH_SCALE, x[..., 0])
        return out

    def is_boundary(self, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x[..., 1] * DURATION_SCALE + DURATION_CENTER) <= 0

    def element_steps(self, x: torch.Tensor) -> torch.Tensor:
        # as decode_norm rounds it: the start element's duration is 0
        return torch.round(x[..., 1] * DURATION_SCALE + DURATION_CENTER).clamp(0, MAX_DURATION).long()

    def loss(self, outputs, target):
        return torch.nn.functional.mse_loss(outputs[0].float(), target)

    def note_metrics(self, outputs, target):
        note = ~self.is_boundary(target)
        pred, target = outputs[0].float()[note], target[note]
        pitch_pred = torch.round(pred[:, 0] * PITCH_SCALE + PITCH_CENTER).clamp(0, REST)
        pitch_true = torch.round(target[:, 0] * PITCH_SCALE + PITCH_CENTER)
        correct = pitch_pred == pitch_true
        pitch_bits = _binned_gaussian_bits(pred[:, 0], target[:, 0], 0.5 / PITCH_SCALE)
        duration_bits = _binned_gaussian_bits(pred[:, 1], target[:, 1], 0.5 / DURATION_SCALE)
        totals = {
            "notes": note.sum().float(),
            "pitch_correct": correct.sum().float(),
            "pitch_bits": pitch_bits.sum(),
            "duration_bits": duration_bits.sum(),
        }
        return rest_sums(totals, pitch_true == REST, correct, pitch_bits, duration_bits)

    def sample(self, outputs, temperature=1.0, top_k=0, top_p=1.0, generator=None, previous=None):
        # The post's way: the prediction is the next note, rounded onto the grid (no randomness).
        pitch, duration = decode_norm(outputs[0].detach().float().cpu().numpy())
        duration = np.maximum(duration, 1)
        return torch.as_tensor(encode_norm(pitch, duration), device=outputs[0].device)

    def candidates(self, outputs, k, previous=None):
        # one candidate, the rounded prediction: the post's model predicts a value, not a distribution
        element = self.sample(outputs)
        return element[:, None], torch.zeros(element.shape[0], 1, device=element.device)
