"""melodygen's Optuna sweeper for Hydra (``hydra/sweeper=melodygen_optuna``, or ``sweep=optuna``).

Hydra finds sweepers only in the ``hydra_plugins`` namespace; the work is done in :mod:`melodygen.sweeps.optuna_search`.
"""
