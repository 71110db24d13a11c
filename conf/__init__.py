"""melodygen's Hydra configs, shipped inside the package as ``melodygen.conf``."""
