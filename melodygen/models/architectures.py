"""Every network by its ``model.architecture`` name (a registered one: :data:`melodygen.registry.NETWORKS`),
built from the settings of its schema."""

from __future__ import annotations

from melodygen.config import network_keys
from melodygen.errors import MelodygenError
from melodygen.models.network import MelodyNetwork
from melodygen.registry import NETWORKS
from melodygen.representations import Representation


def build_network(
    architecture: str, representation: Representation, settings: dict, condition_sizes: tuple[int, ...] = ()
) -> MelodyNetwork:
    """The ``architecture`` network for ``representation``; ``settings`` are its schema's keys, and
    ``condition_sizes`` the classes of each condition it reads beside every element (none: unconditioned)."""
    network = NETWORKS.get_class(architecture)
    unknown = sorted(set(settings) - set(network_keys(architecture)))
    if unknown:
        raise MelodygenError(
            f"model.{unknown[0]} is not a setting of model={architecture} (its settings: "
            f"{', '.join(network_keys(architecture))})"
        )
    return network(representation, **settings, condition_sizes=condition_sizes)
