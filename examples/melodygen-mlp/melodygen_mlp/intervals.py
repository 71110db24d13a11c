"""``data.representation=intervals``: a note is (the interval from the note before, its duration), two classes.

The first note's interval is taken from middle C (60), so a melody decodes in the key it was written in;
a rest is a class of its own, and the interval after it is from the last note before it. Intervals are
cut to ±max_interval, so a wider leap decodes smaller.
"""

import numpy as np
import torch
import torch.nn.functional as F

from melodygen.music.melody import MAX_DURATION, REST, Melody, normalize
from melodygen.representations import Representation, sample_logits
from melodygen.representations.base import bits, rest_sums

ANCHOR = 60


class Intervals(Representation):
    input_kind = "embedding"
    dtype = np.dtype(np.int64)
    times_elements = True  # a note's duration is its second class: the model can read bar positions

    def __init__(self, max_interval: int = 24):
        self.max_interval = max_interval
        self.rest = 2 * max_interval + 1  # classes 0 … 2M are the intervals −M … +M
        self.boundary = self.rest + 1
        self.input_sizes = self.output_sizes = (self.boundary + 1, MAX_DURATION + 1)

    @property
    def start(self):
        return np.array([self.boundary, MAX_DURATION], dtype=np.int64)

    def encode(self, melody: Melody) -> np.ndarray:
        classes, previous = np.empty(len(melody), np.int64), ANCHOR
        for i, pitch in enumerate(melody.pitch.tolist()):
            if pitch == REST:
                classes[i] = self.rest
                continue
            step = int(np.clip(pitch - previous, -self.max_interval, self.max_interval))
            previous += step
            classes[i] = step + self.max_interval
        return np.stack([classes, melody.duration.astype(np.int64) - 1], axis=1)

    def decode(self, elements) -> Melody:
        elements = np.asarray(elements)
        elements = elements[elements[:, 0] != self.boundary]
        pitch, previous = [], ANCHOR
        for step in elements[:, 0].tolist():
            if step == self.rest:
                pitch.append(REST)
            else:
                previous = int(np.clip(previous + step - self.max_interval, 0, 127))
                pitch.append(previous)
        return Melody(*normalize(np.array(pitch, np.int64), elements[:, 1] + 1))

    # intervals do not move when a melody is transposed
    def pitch_of(self, x):
        return torch.full_like(x[..., 0], -1)

    def with_pitch(self, x, pitch):
        return x

    def is_boundary(self, x):
        return x[..., 0] == self.boundary

    def element_steps(self, x):
        return torch.where(self.is_boundary(x), 0, x[..., 1].long() + 1)

    def loss(self, outputs, target):
        return sum(
            F.cross_entropy(o.flatten(0, 1).float(), target[..., i].flatten()) for i, o in enumerate(outputs)
        )

    def note_metrics(self, outputs, target):
        step_logits, duration_logits = outputs
        note, zero = ~self.is_boundary(target), torch.zeros((), device=target.device)
        correct = (step_logits.argmax(-1) == target[..., 0]) & note
        # given the note before, the interval names the pitch: these are pitch bits
        pitch_bits = torch.where(note, bits(step_logits, target[..., 0]), zero)
        duration_bits = torch.where(note, bits(duration_logits, target[..., 1]), zero)
        totals = {"notes": note.sum().float(), "pitch_correct": correct.sum().float(),
                  "pitch_bits": pitch_bits.sum(), "duration_bits": duration_bits.sum()}  # fmt: skip
        return rest_sums(totals, note & (target[..., 0] == self.rest), correct, pitch_bits, duration_bits)

    def sample(self, outputs, temperature=1.0, top_k=0, top_p=1.0, generator=None, previous=None):
        step, duration = (
            outputs[0][..., : self.boundary],
            outputs[1][..., :MAX_DURATION],
        )  # never the boundary
        return torch.stack([sample_logits(step, temperature, top_k, top_p, generator),
                            sample_logits(duration, temperature, top_k, top_p, generator)], dim=-1)  # fmt: skip

    def candidates(self, outputs, k, previous=None):
        step = outputs[0][..., : self.boundary].float().log_softmax(-1)
        duration = outputs[1][..., :MAX_DURATION].float().log_softmax(-1)
        step_lp, step_class = step.topk(min(k, step.shape[-1]))
        duration_lp, duration_class = duration.topk(min(k, duration.shape[-1]))
        joint = (step_lp[:, :, None] + duration_lp[:, None, :]).flatten(1)
        log_probs, pair = joint.topk(min(k, joint.shape[1]))
        columns = duration_lp.shape[1]
        pairs = [step_class.gather(1, pair // columns), duration_class.gather(1, pair % columns)]
        return torch.stack(pairs, dim=-1), log_probs
