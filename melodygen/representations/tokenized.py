"""MidiTok: a melody as the tokens of a MidiTok tokenization (REMI, TSD, MIDILike, Structured), with an
optional vocabulary learned on top (BPE or Unigram, on the training split only).

A :class:`Melody` becomes a one-track symusic ``Score`` on its 16th grid and then token ids; decoding
goes back through a ``Score`` and the extraction rules of :mod:`melodygen.data.midi` (skyline, gaps as
rests), so any token sequence, even one MidiTok's grammar refuses, decodes to a melody.

Every element is two numbers: the token id, which the network reads and predicts, and how many of the
melody's notes and rests the token opens (a note's pitch token opens the note and the rests after it),
which only the metrics read. So the bits of a melody are the sum of −log2 p over all its tokens (bars,
positions, time shifts and durations included), divided by its notes and rests, as for every other
representation. Without a learned vocabulary each token is one MidiTok token, and the bits split exactly
into the pitch's (which pitch, given that a pitch token comes) and the rest (timing, durations, rests);
with one, a token can hold several notes and durations, so only the total is reported.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from melodygen.errors import MelodygenError
from melodygen.music.melody import MAX_DURATION, REST, STEPS_PER_QUARTER, Melody, grid_melody
from melodygen.representations.base import Representation, bits, sample_logits

#: The tokenizations that write a melody as one stream of single tokens.
log = logging.getLogger(__name__)
TOKENIZERS = ("REMI", "TSD", "MIDILike", "Structured")
EXTRA = "pip install 'melodygen[miditok]' (make setup installs it)"
#: token types that carry a note's pitch and open it
_NOTE_TYPES = ("Pitch", "NoteOn")
#: token types that carry a pitch (a note-off names the note it ends)
_PITCHED_TYPES = ("Pitch", "NoteOn", "NoteOff")
_NEVER = ("PAD", "BOS", "EOS", "MASK", "PitchDrum")  # never sampled: specials, and drums


def require_miditok():
    """The ``miditok`` module, or one line naming the extra that installs it."""
    try:
        import miditok  # noqa: F401
        import symusic  # noqa: F401
    except ImportError as exc:
        raise MelodygenError(
            f"data.representation=miditok needs MidiTok 3.1 and symusic 0.6 ({exc.name} is missing): {EXTRA}"
        ) from None
    return miditok


def tokenizer_config(beat_res: int = 4, rest_res: int = 4, rests: bool = True, time_signatures: bool = True):
    """A ``TokenizerConfig`` for melodies on a 16th grid: every pitch, positions and durations at
    ``beat_res`` per beat up to 12 beats, rests at ``rest_res``, no velocities."""
    miditok = require_miditok()
    try:
        return miditok.TokenizerConfig(
            pitch_range=(0, 127),
            beat_res={(0, 4): beat_res, (4, 12): beat_res},
            beat_res_rest={(0, 4): rest_res, (4, 12): rest_res},
            use_velocities=False,
            num_velocities=1,
            use_rests=rests,
            use_time_signatures=time_signatures,
        )
    except ValueError as exc:  # MidiTok's own checks, e.g. a rest resolution finer than beat_res
        text = " ".join(str(exc).split())
        raise MelodygenError(
            f"data.tokenizer_rest_res={rest_res} with data.tokenizer_beat_res={beat_res}: MidiTok refuses "
            f"it ({text[:160]}); use a rest resolution no finer than the beat resolution"
        ) from None


def load_tokenizer(spec: str, config=None, key: str = "data.tokenizer"):
    """A MidiTok tokenizer: a name of :data:`TOKENIZERS` (built with ``config``), a tokenizer.json saved
    by MidiTok, or that file's text (as a checkpoint holds it)."""
    miditok = require_miditok()
    spec = str(spec)
    if spec in TOKENIZERS:
        return getattr(miditok, spec)(config if config is not None else tokenizer_config())
    text = spec if spec.lstrip().startswith("{") else None
    if text is None:
        path = Path(spec).expanduser()
        if not path.is_file():
            known = getattr(miditok, spec, None)
            if isinstance(known, type) and issubclass(known, miditok.MusicTokenizer):
                raise MelodygenError(
                    f"{key}={spec}: melodygen reads one token at a time; choose one of {', '.join(TOKENIZERS)}"
                )
            raise MelodygenError(
                f"{key}={spec!r} is neither one of {', '.join(TOKENIZERS)} nor a tokenizer.json file"
            )
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise MelodygenError(f"{key}={spec!r} cannot be read: {exc}") from None
    try:
        kind = json.loads(text)["tokenization"]
    except (ValueError, KeyError, TypeError):
        raise MelodygenError(f"{key}={_short(spec)}: not a tokenizer.json saved by MidiTok") from None
    if kind not in TOKENIZERS:
        raise MelodygenError(
            f"{key}={_short(spec)} is a {kind} tokenizer; melodygen reads one token at a time: "
            f"use one of {', '.join(TOKENIZERS)}"
        )
    with tempfile.TemporaryDirectory() as folder:  # MidiTok loads its parameters from a file
        path = Path(folder) / "tokenizer.json"
        path.write_text(text)
        try:
            return getattr(miditok, kind)(params=path)
        except Exception as exc:
            raise MelodygenError(f"{key}={_short(spec)}: MidiTok cannot load it ({exc})") from None


def _short(spec: str) -> str:
    return repr(spec) if len(spec) < 80 else "<tokenizer.json text>"


def tokenizer_text(tokenizer) -> str:
    """The tokenizer's parameters (its learned vocabulary too) as the JSON text MidiTok saves."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tokenizer.json"
        tokenizer.save(path)
        return path.read_text()


def melody_score(melody: Melody, time_signature: bool = True):
    """The melody as a one-track symusic ``Score`` with 4 ticks per quarter (one tick per 16th)."""
    import symusic

    score = symusic.Score(STEPS_PER_QUARTER)
    track = symusic.Track("melody", 0, False)
    onset = np.r_[0, np.cumsum(melody.duration.astype(np.int64))[:-1]]
    note = melody.pitch != REST
    track.notes.extend(
        symusic.Note(int(t), int(d), int(p), 80)
        for t, d, p in zip(onset[note], melody.duration[note], melody.pitch[note])
    )
    score.tracks.append(track)
    score.tempos.append(symusic.Tempo(0, float(melody.qpm)))
    if time_signature:
        score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    return score


def score_melody(score) -> Melody:
    """The melody of a decoded ``Score``: its first track put on the 16th grid by the extraction rules."""
    notes = score.tracks[0].notes if len(score.tracks) else []
    if not len(notes):
        return Melody(np.zeros(0), np.zeros(0))
    steps = STEPS_PER_QUARTER / score.tpq
    array = notes.numpy()
    start = array["time"] * steps
    return Melody(*grid_melody(start, start + array["duration"] * steps, array["pitch"]))


class MidiTok(Representation):
    """A MidiTok tokenizer behind melodygen's representation interface (see the module docstring)."""

    name = "miditok"
    input_kind = "embedding"
    dtype = np.dtype(np.int64)
    element_is_note = False
    #: a note's tokens, with the bar, time-signature, position and rest tokens that can come before it
    max_elements_per_note = 8

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.kind = type(tokenizer).__name__
        self.trained = bool(tokenizer.is_trained)
        size = len(tokenizer)
        self.input_sizes = (size,)
        self.output_sizes = (size,)
        self.bos = int(tokenizer.vocab["BOS_None"])
        self._tables(size)

    @property
    def label(self) -> str:
        if not self.trained:
            return f"miditok {self.kind}"
        model = json.loads(self.tokenizer._model.to_str())["model"]["type"]
        return f"miditok {self.kind} + {model} {len(self.tokenizer)}"

    # --- building ----------------------------------------------------------------------------------
    @classmethod
    def from_spec(
        cls,
        spec: str,
        beat_res: int = 4,
        rest_res: int = 4,
        rests: bool = True,
        time_signatures: bool = True,
        key: str = "data.tokenizer",
    ) -> MidiTok:
        """From ``data.tokenizer`` and its settings (used only when it names a tokenization)."""
        config = tokenizer_config(beat_res, rest_res, rests, time_signatures) if spec in TOKENIZERS else None
        representation = cls(load_tokenizer(spec, config, key))
        representation.check_grid(key if spec not in TOKENIZERS else None)
        return representation

    def base_tokens(self, token_id: int) -> list[str]:
        """The MidiTok tokens one id stands for (several for a learned one)."""
        if not self.trained:
            return [self.tokenizer[int(token_id)]]
        learned = self.tokenizer._model.id_to_token(int(token_id))
        return list(self.tokenizer._vocab_learned_bytes_to_tokens[learned])

    def _tables(self, size: int) -> None:
        """Per id: its MidiTok tokens' count, the notes it opens, its pitch (single tokens only), its
        first and last token types; and the type graph that says which ids may follow which."""
        expansions = [self.base_tokens(i) for i in range(size)]
        # a learned id for the word-start mark alone stands for no token: never sampled, decoded as nothing
        types = [[t.split("_")[0] for t in tokens] or ["PAD"] for tokens in expansions]
        self.expansion_length = np.array([len(tokens) for tokens in expansions], np.int64)
        self.notes_in = torch.tensor([sum(t in _NOTE_TYPES for t in kinds) for kinds in types])
        pitch = torch.full((size,), -1, dtype=torch.long)
        kind = torch.full((size,), -1, dtype=torch.long)
        self.id_of = torch.full((len(_PITCHED_TYPES), 128), -1, dtype=torch.long)  # (type, pitch) → id
        for i, (tokens, kinds) in enumerate(zip(expansions, types)):
            if len(tokens) == 1 and kinds[0] in _PITCHED_TYPES:
                value = int(tokens[0].split("_")[1])
                pitch[i], kind[i] = value, _PITCHED_TYPES.index(kinds[0])
                self.id_of[kind[i], value] = i
        self.pitch_table, self.kind_table = pitch, kind
        #: one id is one MidiTok token: pitch bits and timing bits can be told apart, pitches transposed
        self.splits_pitch = self.transposes_elements = bool((self.expansion_length == 1).all())
        self.note_ids = torch.tensor([i for i, k in enumerate(types) if k[0] in _NOTE_TYPES and len(k) == 1])
        graph = self.tokenizer.tokens_types_graph
        names = sorted({k for kinds in types for k in kinds} | set(graph))
        index = {n: j for j, n in enumerate(names)}
        allowed = torch.zeros(len(names), size, dtype=torch.bool)
        for prev in names:
            follows = {f.split("_")[0] for f in graph.get(prev, ())}
            for i, kinds in enumerate(types):
                allowed[index[prev], i] = kinds[0] in follows and not set(kinds) & set(_NEVER)
        first_ok = torch.tensor([not set(kinds) & set(_NEVER) for kinds in types])
        allowed[index["BOS"]] = first_ok  # a melody may open with any of its own tokens
        self.allowed = allowed
        self.last_type = torch.tensor([index[kinds[-1]] for kinds in types])

    def check_grid(self, key: str | None) -> None:
        """Refuse a loaded tokenizer that cannot write 16th-note melodies exactly (coarser beats)."""
        durations = np.r_[1 : MAX_DURATION + 1, 3, 5, 7, 1]
        probe = Melody(np.r_[60 + np.arange(MAX_DURATION) % 12, REST, 62, REST, 64], durations)
        try:
            back = self.decode(self.encode(probe))
        except MelodygenError:
            back = None
        if back is None or not back.equals(probe):
            where = f"{key}: this tokenizer" if key else "the tokenizer"
            raise MelodygenError(
                f"{where} cannot write 16th-note melodies exactly: its beat resolution must be a multiple "
                f"of 4 per beat, with every pitch and rests (see data.tokenizer_beat_res)"
            )

    @classmethod
    def from_config(cls, data) -> MidiTok:
        """From ``data.tokenizer`` and the ``data.tokenizer_*`` settings; a vocabulary of
        ``data.tokenizer_vocab_size`` is learned in :meth:`fit`."""
        representation = cls.from_spec(
            str(data["tokenizer"]),
            int(data["tokenizer_beat_res"]),
            int(data["tokenizer_rest_res"]),
            bool(data["tokenizer_rests"]),
            bool(data["tokenizer_time_signatures"]),
        )
        representation.vocab_size = int(data["tokenizer_vocab_size"])
        representation.vocab_model = str(getattr(data["tokenizer_model"], "value", data["tokenizer_model"]))
        return representation

    @classmethod
    def from_hparams(cls, hparams) -> MidiTok:
        """From the tokenizer a checkpoint keeps (its JSON, with any learned vocabulary)."""
        if hparams.get("tokenizer") is None:
            raise MelodygenError("data.representation=miditok needs a tokenizer (data.tokenizer)")
        return cls.from_spec(hparams["tokenizer"])

    #: a vocabulary to learn on the training melodies (0: none), and how (BPE or Unigram)
    vocab_size: int = 0
    vocab_model: str = "BPE"

    @property
    def needs_fit(self) -> bool:
        return bool(self.vocab_size) and not self.trained

    def fit(self, melodies: Sequence[Melody]) -> None:
        """Learn ``data.tokenizer_vocab_size`` tokens on ``melodies`` (the training split)."""
        if self.needs_fit:
            self.train_vocabulary(melodies, self.vocab_size, self.vocab_model)
            log.info("learned a vocabulary of %d tokens (%s) on the %d training melodies", self.vocab_size,
                     self.vocab_model, len(melodies))  # fmt: skip

    def write_files(self, folder) -> list[Path]:
        return [save_tokenizer(self, folder)]

    def train_vocabulary(self, melodies: Sequence[Melody], vocab_size: int, model: str = "BPE") -> None:
        """Learn ``vocab_size`` tokens (``model``: BPE or Unigram) from ``melodies`` (the training split)."""
        base = len(self.tokenizer)
        if vocab_size <= base:
            raise MelodygenError(
                f"data.tokenizer_vocab_size={vocab_size}: the {self.kind} tokenizer already has {base} "
                f"tokens; ask for more (or 0 for none)"
            )
        self.tokenizer.train(vocab_size=vocab_size, model=model, iterator=_TrainingText(self, melodies))
        self.__init__(self.tokenizer)

    def hparams(self) -> dict:
        """What a checkpoint keeps to rebuild this representation with no access to the data."""
        return {"tokenizer": tokenizer_text(self.tokenizer)}

    # --- encoding ----------------------------------------------------------------------------------
    @property
    def start(self) -> np.ndarray:
        return np.array([self.bos, 0], dtype=np.int64)

    def _sequence(self, melody: Melody, encode_ids: bool = True):
        sequences = self.tokenizer.encode(
            melody_score(melody, self.tokenizer.config.use_time_signatures), encode_ids=encode_ids
        )
        return sequences[0] if isinstance(sequences, list) else sequences

    def encode(self, melody: Melody) -> np.ndarray:
        pitches = melody.pitch[melody.pitch != REST]
        low, high = self.tokenizer.config.pitch_range
        if pitches.size and (pitches.min() < low or pitches.max() > high):
            raise MelodygenError(
                f"{melody.source or 'a melody'}: pitches {pitches.min()}–{pitches.max()} lie outside the "
                f"tokenizer's pitch range {low}–{high - 1 if high > 127 else high}"
            )
        sequence = self._sequence(melody)
        tokens = sequence.tokens
        opens = np.zeros(len(tokens), np.int64)
        at = [i for i, t in enumerate(tokens) if t.split("_")[0] in _NOTE_TYPES]
        if len(at) != melody.num_notes:
            raise MelodygenError(
                f"{melody.source or 'a melody'}: the {self.kind} tokenizer wrote {len(at)} of its "
                f"{melody.num_notes} notes"
            )
        notes = np.flatnonzero(melody.pitch != REST)
        opens[at] = np.diff(np.r_[notes, len(melody)])  # the note and the rests before the next one
        ids = np.asarray(sequence.ids, np.int64)
        if self.trained:
            ends = np.cumsum(self.expansion_length[ids])
            if ends.size and ends[-1] != len(tokens):
                raise MelodygenError(
                    f"{melody.source or 'a melody'}: its learned tokens do not cover its tokens"
                )
            total = np.r_[0, np.cumsum(opens)]
            opens = total[ends] - total[ends - self.expansion_length[ids]]
        return np.stack([ids, opens], axis=1)

    def token_ids(self, elements: np.ndarray) -> list[int]:
        """The ids of ``elements`` without the boundary and the other special tokens."""
        ids = np.asarray(elements).reshape(-1, self.num_features)[:, 0]
        special = set(self.tokenizer.special_tokens_ids)
        return [int(i) for i in ids if int(i) not in special and 0 <= i < len(self.tokenizer)]

    def decode(self, elements: np.ndarray) -> Melody:
        from miditok import TokSequence

        ids = self.token_ids(elements)
        if not ids:
            return Melody(np.zeros(0), np.zeros(0))
        score = self.tokenizer.decode([TokSequence(ids=ids, are_ids_encoded=self.trained)])
        return score_melody(score)

    def token_errors(self, elements: np.ndarray) -> float:
        """The share of the tokens that break the tokenizer's grammar (MidiTok's count); the decoder
        skips what it cannot use."""
        from miditok import TokSequence

        ids = self.token_ids(elements)
        if not ids:
            return 0.0
        return float(self.tokenizer.tokens_errors(TokSequence(ids=ids, are_ids_encoded=self.trained)))

    # --- pitch access --------------------------------------------------------------------------------
    def pitch_of(self, x: torch.Tensor) -> torch.Tensor:
        return self.pitch_table.to(x.device)[x[..., 0]]

    def with_pitch(self, x: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        if not self.splits_pitch:
            raise MelodygenError(
                "a learned vocabulary (data.tokenizer_vocab_size) merges pitches with other tokens, so its "
                "windows cannot be transposed: use data.transpose=0 (data.transpose_to_c still works)"
            )
        kind = self.kind_table.to(x.device)[x[..., 0]]
        pitched = kind >= 0
        moved = self.id_of.to(x.device)[kind.clamp_min(0), pitch.clamp(0, 127).long()]
        out = x.clone()
        out[..., 0] = torch.where(pitched, moved, x[..., 0])
        return out

    def is_boundary(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., 0] == self.bos

    def is_onset(self, x: torch.Tensor) -> torch.Tensor:
        return self.notes_in.to(x.device)[x[..., 0]] > 0

    # --- learning ------------------------------------------------------------------------------------
    def loss(self, outputs, target):
        return torch.nn.functional.cross_entropy(outputs[0].flatten(0, 1).float(), target[..., 0].flatten())

    def note_metrics(self, outputs, target):
        logits = outputs[0].float()
        token, opens = target[..., 0], target[..., 1]
        scored = ~self.is_boundary(target)
        zero = torch.zeros((), device=logits.device)
        token_bits = torch.where(scored, bits(logits, token), zero)
        notes_in = self.notes_in.to(token.device)[token]
        sums = {
            "notes": torch.where(scored, opens, 0).sum().float(),
            "rests": torch.where(scored, opens - notes_in, 0).sum().float(),
            "bits": token_bits.sum(),
        }
        if not self.splits_pitch:
            return sums
        # p(pitch token) = p(a pitch token comes) · p(which pitch | one comes): the second is the pitch's
        note_ids = self.note_ids.to(token.device)
        is_note = scored & (notes_in > 0)
        pitch_logits = logits.index_select(-1, note_ids)
        which = torch.searchsorted(note_ids, token.contiguous()).clamp_max(note_ids.numel() - 1)
        pitch_bits = torch.where(is_note, bits(pitch_logits, which), zero)
        correct = (note_ids[pitch_logits.argmax(-1)] == token) & is_note
        return {
            **sums,
            "pitch_correct": correct.sum().float(),
            "pitch_bits": pitch_bits.sum(),
            "duration_bits": sums["bits"] - pitch_bits.sum(),
        }

    def _masked(self, logits: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
        """``logits`` with the ids that cannot follow ``previous`` (MidiTok's type graph), the special
        tokens and drums masked out."""
        if previous is None:
            allowed = self.allowed[self.last_type[self.bos]].to(logits.device).expand_as(logits)
        else:
            allowed = self.allowed.to(logits.device)[self.last_type.to(logits.device)[previous[..., 0]]]
        return logits.float().masked_fill(~allowed, float("-inf"))

    def _element(self, token: torch.Tensor) -> torch.Tensor:
        return torch.stack([token, self.notes_in.to(token.device)[token]], dim=-1)

    def sample(self, outputs, temperature=1.0, top_k=0, top_p=1.0, generator=None, previous=None):
        token = sample_logits(self._masked(outputs[0], previous), temperature, top_k, top_p, generator)
        return self._element(token)

    def candidates(self, outputs, k, previous=None):
        log_probs = self._masked(outputs[0], previous).log_softmax(-1)
        allowed = int(torch.isfinite(log_probs).sum(-1).min())
        log_probs, token = log_probs.topk(min(k, allowed))
        return self._element(token), log_probs


class _TrainingText:
    """The training melodies as MidiTok's trainer reads them: each one's tokens per bar, as characters."""

    def __init__(self, representation: MidiTok, melodies: Sequence[Melody]):
        self.representation, self.melodies = representation, melodies

    def __len__(self) -> int:
        return len(self.melodies)

    def __iter__(self):
        tokenizer = self.representation.tokenizer
        for melody in self.melodies:
            sequence = self.representation._sequence(melody, encode_ids=False)
            bars = [bar.ids for bar in sequence.split_per_bars() if len(bar)]
            yield tokenizer._ids_to_bytes(bars, as_one_str=True) if bars else []


def miditok_representation(data) -> MidiTok:
    """The representation a ``data`` config (or the datamodule's hyperparameters) asks for."""
    return MidiTok.from_config(data)


def save_tokenizer(representation: MidiTok, folder: str | os.PathLike) -> Path:
    """Write the tokenizer (with its learned vocabulary) as ``tokenizer.json`` in ``folder``."""
    path = Path(folder) / "tokenizer.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tokenizer_text(representation.tokenizer))
    return path
