"""Every config schema (Hydra structured configs) and every value check, split by group.

Each default lives here once. The YAML files under ``conf/`` set only what their variant changes, and
the library constructors take their defaults from these classes. A misspelled key, a wrongly typed
value or an unknown choice fails when the config is composed; the ``check_*`` functions then reject
impossible values (``model.hidden_size=0``) with one line naming the key.

- :mod:`~melodygen.config.data` (``data.*``), :mod:`~melodygen.config.model` (``model.*``, each built-in
  network's keys), :mod:`~melodygen.config.sampling` (``samples.*``), :mod:`~melodygen.config.sweep`
  (``sweep.*``, ``trial.*``, the Optuna sweeper), :mod:`~melodygen.config.runs` (each command's schema and
  the checks of a whole config), :mod:`~melodygen.config.choices` (the fixed choices),
  :mod:`~melodygen.config.values` (the one-line error), :mod:`~melodygen.config.store` (Hydra's ConfigStore
  and the resolvers).

This package imports no torch, so a user's typo is reported before any heavy import.
"""

from melodygen.config.choices import (
    Accelerator,
    Direction,
    FolkCollection,
    FolkRoute,
    KeySource,
    Optimizer,
    Reader,
    Scheduler,
    SearchPruner,
    SearchSampler,
    TokenizerModel,
)
from melodygen.config.data import LIMITS, DataConfig, check_data, check_midi_dir, representation_settings
from melodygen.config.model import (
    ARCHITECTURES,
    TRAINING_KEYS,
    GRUConfig,
    LSTMConfig,
    ModelConfig,
    RecurrentConfig,
    TransformerConfig,
    architecture_defaults,
    check_model,
    network_keys,
)
from melodygen.config.runs import (
    SCHEMAS,
    CorpusConfig,
    EvaluateConfig,
    ExportConfig,
    GenerateConfig,
    PathsConfig,
    PrepareConfig,
    TrainConfig,
    TrainerConfig,
    check_checkpoint_path,
    check_corpus,
    check_corpus_config,
    check_evaluate,
    check_export,
    check_generate,
    check_prepare,
    check_train,
    checkpoint_list,
)
from melodygen.config.sampling import (
    SamplingConfig,
    check_samples,
    check_sampling,
    sampler_options,
    samples_conditions,
)
from melodygen.config.store import DISCRIMINATORS, claim_folder, register_configs
from melodygen.config.sweep import OptunaSweeperConfig, SweepConfig, TrialConfig
from melodygen.config.values import as_typed, require, to_plain

__all__ = [
    "ARCHITECTURES", "DISCRIMINATORS", "LIMITS", "SCHEMAS", "TRAINING_KEYS",
    "Accelerator", "CorpusConfig", "DataConfig", "Direction", "EvaluateConfig", "ExportConfig", "FolkCollection", "FolkRoute",
    "GRUConfig", "GenerateConfig", "KeySource", "LSTMConfig", "ModelConfig", "Optimizer", "OptunaSweeperConfig",
    "PathsConfig", "PrepareConfig", "Reader", "RecurrentConfig", "SamplingConfig", "Scheduler", "SearchPruner",
    "SearchSampler", "SweepConfig", "TokenizerModel", "TrainConfig", "TrainerConfig", "TransformerConfig",
    "TrialConfig",
    "architecture_defaults", "as_typed", "check_checkpoint_path", "check_corpus", "check_corpus_config",
    "check_data", "check_evaluate", "check_export", "check_generate", "check_midi_dir", "check_model", "check_prepare",
    "check_sampling", "check_samples", "check_train", "checkpoint_list", "claim_folder", "network_keys",
    "register_configs", "representation_settings", "require", "sampler_options", "samples_conditions",
    "to_plain",
]  # fmt: skip
