"""The fixed choices of the schema: a value outside one fails when the config is composed."""

from enum import Enum


class KeySource(Enum):
    """Where ``data.transpose_to_c`` takes a melody's key from."""

    estimated = "estimated"  # from its notes, all of them (Krumhansl–Schmuckler; melodygen.music.keys)
    notated = "notated"  # the file's key signature, as written before the first note; else estimated


class TokenizerModel(Enum):
    """What MidiTok learns on top of a tokenization when ``data.tokenizer_vocab_size`` is set."""

    BPE = "BPE"
    Unigram = "Unigram"


class Reader(Enum):
    """The library that reads MIDI files (the same extraction rules, limits and skip reasons either way)."""

    pretty_midi = "pretty_midi"
    symusic = "symusic"  # much faster on big folders; needs the folk or the miditok extra
    auto = "auto"  # symusic for a folder melodygen-corpus wrote (when installed), pretty_midi for any other


class Optimizer(Enum):
    adam = "adam"
    adamw = "adamw"
    sgd = "sgd"


class Scheduler(Enum):
    none = "none"
    cosine = "cosine"  # cosine decay over trainer.max_epochs, stepped each epoch
    plateau = "plateau"
    # linear warm-up over model.warmup_steps optimizer steps, then cosine decay to 0 at the last step
    # (trainer.max_steps, or max_epochs × the batches of an epoch), stepped each optimizer step
    warmup_cosine = "warmup_cosine"


class Accelerator(Enum):
    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"
    cuda = "cuda"
    mps = "mps"


class Direction(Enum):
    minimize = "minimize"
    maximize = "maximize"


class SearchSampler(Enum):
    tpe = "tpe"  # Optuna's default, a Bayesian sampler
    random = "random"


class SearchPruner(Enum):
    median = "median"  # stop a trial whose epoch is worse than the median of earlier trials' same epoch
    hyperband = "hyperband"
    none = "none"


class FolkCollection(Enum):
    """The ABC collections shipped inside music21."""

    essen = "essen"
    oneills = "oneills"
    ryans = "ryans"


class FolkRoute(Enum):
    """How ABC becomes MIDI: ``auto`` uses abc2midi when it is installed, music21 otherwise."""

    auto = "auto"
    abc2midi = "abc2midi"
    music21 = "music21"
