"""Every network by its ``model.architecture`` name, built from the settings of its schema."""

from __future__ import annotations

from melodygen.config import ARCHITECTURES, network_keys
from melodygen.errors import MelodygenError
from melodygen.models.network import MelodyNetwork
from melodygen.models.recurrent import GRUNetwork, LSTMNetwork
from melodygen.models.transformer import TransformerNetwork
from melodygen.representations import Representation

NETWORKS: dict[str, type[MelodyNetwork]] = {
    "lstm": LSTMNetwork,
    "gru": GRUNetwork,
    "transformer": TransformerNetwork,
}
assert set(NETWORKS) == set(ARCHITECTURES), "every architecture of the schema has a network"


def build_network(
    architecture: str, representation: Representation, settings: dict, condition_sizes: tuple[int, ...] = ()
) -> MelodyNetwork:
    """The ``architecture`` network for ``representation``; ``settings`` are its schema's keys, and
    ``condition_sizes`` the classes of each condition it reads beside every element (none: unconditioned)."""
    if architecture not in NETWORKS:
        raise MelodygenError(f"unknown model.architecture={architecture!r}; choose one of {sorted(NETWORKS)}")
    unknown = sorted(set(settings) - set(network_keys(architecture)))
    if unknown:
        raise MelodygenError(
            f"model.{unknown[0]} is not a setting of model={architecture} (its settings: "
            f"{', '.join(network_keys(architecture))})"
        )
    return NETWORKS[architecture](representation, **settings, condition_sizes=condition_sizes)
