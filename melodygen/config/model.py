"""``model.*``: how every network is trained, each built-in network's own keys, and their checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import II, MISSING, DictConfig, OmegaConf

from melodygen.config.choices import Optimizer, Scheduler
from melodygen.config.data import DataConfig
from melodygen.config.values import require
from melodygen.errors import MelodygenError
from melodygen.registry import NETWORKS


@dataclass
class ModelConfig:
    """``MelodyModel``: how every architecture is trained. Each architecture's schema below adds its
    network's own keys; ``model=lstm|gru|transformer`` chooses one."""

    architecture: str = MISSING
    """The network, a registered name: lstm, gru, transformer, or a plugin's; chosen with `model=NAME`."""
    optimizer: Optimizer = Optimizer.adam
    """The optimizer."""
    lr: float = 2e-3
    """The learning rate."""
    weight_decay: float = 0.0
    """Weight decay (L2 for adam and sgd, decoupled for adamw)."""
    scheduler: Scheduler = Scheduler.none
    """The learning-rate schedule: `cosine` decays over `trainer.max_epochs`, `plateau` lowers it when
    validation stalls, `warmup_cosine` warms up over `model.warmup_steps` then decays to 0 at the last
    step.
    """
    warmup_steps: int = 0
    """Optimizer steps of linear warm-up, for `scheduler=warmup_cosine`."""
    conditions: list[str] = field(default_factory=list)
    """What the network is told beside every element: any of meter, key, style ([] = nothing)."""
    condition_dropout: float = 0.0
    """With `model.conditions`: the share of training windows whose conditions are all hidden (a class of their
    own, "not told"), so the model also learns melodies without them and `samples.guidance` can weigh what it
    was told against that (0 = always told).
    """


def check_sizes(m: DictConfig, *keys: str) -> None:
    """Each of ``model.KEY`` is at least 1."""
    for key in keys:
        require(m[key] >= 1, f"model.{key}", m[key], "must be at least 1")


def check_dropout_and_embedding(m: DictConfig) -> None:
    """``model.dropout`` in [0, 1) and ``model.embedding_dim`` not negative."""
    require(m.embedding_dim >= 0, "model.embedding_dim", m.embedding_dim, "must not be negative")
    require(0 <= m.dropout < 1, "model.dropout", m.dropout, "must be in [0, 1)")


@dataclass
class RecurrentConfig(ModelConfig):
    """A recurrent network: input layer → ``num_layers`` recurrent layers → one head per predicted quantity."""

    hidden_size: int = 128
    """Units of each recurrent layer."""
    num_layers: int = 2
    """Recurrent layers, stacked."""
    dropout: float = 0.1
    """Dropout between the recurrent layers and before the heads."""
    embedding_dim: int = 32
    """Width of each class embedding (categorical, event) or of the linear input layer (continuous; 0 feeds
    the raw [pitch, duration] pair to the network, as the blog post did).
    """
    # the recipe that reached 0.1.0's bits in 4 epochs instead of 5 (docs/changelog.md)
    lr: float = 1e-2
    scheduler: Scheduler = Scheduler.warmup_cosine
    warmup_steps: int = 100

    @staticmethod
    def check(m: DictConfig) -> None:
        """Reject settings no recurrent network can have, naming the key."""
        check_sizes(m, "hidden_size", "num_layers")
        check_dropout_and_embedding(m)


@dataclass
class LSTMConfig(RecurrentConfig):
    """``model=lstm``: the blog post's ``nn.LSTM``, the default."""

    architecture: str = "lstm"


@dataclass
class GRUConfig(RecurrentConfig):
    """``model=gru``: ``nn.GRU``, three gates' weights where the LSTM has four."""

    architecture: str = "gru"


@dataclass
class TransformerConfig(ModelConfig):
    """``model=transformer``: a decoder-only causal Transformer with pre-norm blocks and rotary positions.

    Each position sees itself and the ``context - 1`` elements before it, in training, scoring and
    sampling alike (sampling keeps a key/value cache of that many elements and rolls it on).
    """

    architecture: str = "transformer"
    hidden_size: int = 128
    """The width of every block (d_model)."""
    num_layers: int = 2
    """Transformer blocks, stacked."""
    num_heads: int = 4
    """Attention heads; must divide `model.hidden_size`."""
    ff_size: int = 256
    """The feed-forward layer's width."""
    dropout: float = 0.1
    """Dropout on the input and each block's residual branches."""
    embedding_dim: int = 32
    """As for the recurrent networks; projected to `model.hidden_size`."""
    context: int = II("data.seq_len")
    """Elements each prediction sees at most (`data.seq_len` by default)."""
    lr: float = 1e-3
    scheduler: Scheduler = Scheduler.warmup_cosine
    warmup_steps: int = 200

    @staticmethod
    def check(m: DictConfig) -> None:
        check_sizes(m, "hidden_size", "num_layers", "num_heads", "ff_size", "context")
        check_dropout_and_embedding(m)
        rule = f"model.num_heads={m.num_heads} must divide it"
        require(m.hidden_size % m.num_heads == 0, "model.hidden_size", m.hidden_size, rule)
        head = m.hidden_size // m.num_heads
        rule = f"each of the model.num_heads={m.num_heads} heads gets {head}, and rotary positions need an even size"
        require(head % 2 == 0, "model.hidden_size", m.hidden_size, rule)


class _Schemas(Mapping):
    """The config dataclass of each registered network, by ``model.architecture`` (plugins' too)."""

    def __getitem__(self, name: str) -> type[ModelConfig]:
        return NETWORKS.entry(getattr(name, "value", name)).config

    def __iter__(self):
        return iter(NETWORKS)

    def __len__(self) -> int:
        return len(NETWORKS)


#: the schema of each architecture, by ``model.architecture``
ARCHITECTURES: Mapping[str, type[ModelConfig]] = _Schemas()


#: the keys every architecture shares: how it is trained, not what its network is (``conditions`` is: its
#: input, and ``condition_dropout`` gives each condition one class more)
TRAINING_KEYS = tuple(
    f.name
    for f in dataclasses.fields(ModelConfig)
    if f.name not in ("architecture", "conditions", "condition_dropout")
)


def architecture_defaults(architecture: str | Enum) -> dict[str, Any]:
    """An architecture's schema defaults as plain values (``context``, which follows ``data.seq_len``,
    is its default window)."""
    schema = ARCHITECTURES[getattr(architecture, "value", architecture)]
    defaults = {}
    for f in dataclasses.fields(schema):
        value = f.default
        defaults[f.name] = value.value if isinstance(value, Enum) else value
    if "context" in defaults:
        defaults["context"] = DataConfig.seq_len
    return defaults


def network_keys(architecture: str | Enum) -> tuple[str, ...]:
    """The keys of an architecture's network (``hidden_size``, ``num_heads`` …), in schema order."""
    schema = ARCHITECTURES[getattr(architecture, "value", architecture)]
    shared = {f.name for f in dataclasses.fields(ModelConfig)}
    return tuple(f.name for f in dataclasses.fields(schema) if f.name not in shared)


def check_model(m: DictConfig) -> None:
    """Reject ``model.*`` values no network can have, naming the key: how every model is trained here,
    its network's own settings by its schema's ``check`` (a plugin's too)."""
    architecture = NETWORKS.check(m.architecture)
    schema = ARCHITECTURES[architecture]
    if OmegaConf.get_type(m) not in (schema, dict):  # model=lstm model.architecture=transformer
        chosen = next(name for name, cls in ARCHITECTURES.items() if cls is OmegaConf.get_type(m))
        raise MelodygenError(
            f"model.architecture={architecture} is not allowed: choose the architecture with "
            f"model={architecture} (this is model={chosen})"
        )
    for key in ("weight_decay", "warmup_steps"):
        require(m[key] >= 0, f"model.{key}", m[key], "must not be negative")
    require(m.lr > 0, "model.lr", m.lr, "must be positive")
    from melodygen.config.conditions import check_names

    check_names(m.conditions)
    dropout = m.get("condition_dropout", 0.0)
    require(0 <= dropout < 1, "model.condition_dropout", dropout, "must be in [0, 1)")
    require(
        not dropout or bool(m.conditions),
        "model.condition_dropout",
        dropout,
        "it hides the conditions, so it needs model.conditions (e.g. model.conditions=[meter,key])",
    )
    own_check = getattr(schema, "check", None)
    if own_check is not None:
        own_check(m)
