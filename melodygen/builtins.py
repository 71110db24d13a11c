"""melodygen's own parts, registered by name as a plugin's are (see :mod:`melodygen.registry`).

Each is named by ``"module:attribute"`` and imported only when first used, so composing a config loads
no torch.
"""

from melodygen.config import DataConfig, GRUConfig, LSTMConfig, SamplingConfig, TransformerConfig
from melodygen.registry import DATA_SOURCES, NETWORKS, REPRESENTATIONS, SAMPLERS, SET_FEATURES, STATISTICS

NETWORKS.register("lstm", "melodygen.models.recurrent:LSTMNetwork", LSTMConfig)
NETWORKS.register("gru", "melodygen.models.recurrent:GRUNetwork", GRUConfig)
NETWORKS.register("transformer", "melodygen.models.transformer:TransformerNetwork", TransformerConfig)

REPRESENTATIONS.register("continuous", "melodygen.representations.continuous:Continuous")
REPRESENTATIONS.register("categorical", "melodygen.representations.categorical:Categorical")
REPRESENTATIONS.register("event", "melodygen.representations.event:Event")
# its settings are the data.tokenizer* keys, which predate data.representations
REPRESENTATIONS.register("miditok", "melodygen.representations.tokenized:MidiTok")

DATA_SOURCES.register("midi", "melodygen.data.datamodule:MelodyDataModule", DataConfig, reads_midi_dir=True)

# one_search: the samples are the best continuations of one search, so they share one set of conditions
SAMPLERS.register("sample", "melodygen.generation.sampling:draw", SamplingConfig)
SAMPLERS.register("beam", "melodygen.generation.sampling:beam", SamplingConfig, one_search=True)

for _name in (
    "distinct_pitches", "top_pitch_share", "pitch_range", "mean_abs_interval", "pitch_classes_used",
    "pitch_class_entropy", "scale_consistency", "rest_share", "ngram_repetition", "downbeat_share",
    "across_bar_share",
):  # fmt: skip
    STATISTICS.register(_name, f"melodygen.evaluation.metrics:{_name}")
    SET_FEATURES.register(_name, f"melodygen.evaluation.metrics:{_name}")
for _name in ("pitch_entropy", "interval_histogram", "note_length_histogram", "onset_position_histogram"):
    SET_FEATURES.register(_name, f"melodygen.evaluation.metrics:{_name}")
