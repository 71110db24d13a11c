"""Logger glue: Lightning's loggers as melodygen configures them."""

from __future__ import annotations

from pytorch_lightning.loggers import WandbLogger as _LightningWandbLogger


class WandbLogger(_LightningWandbLogger):
    """Lightning's W&B logger without its ``anonymous=None`` argument, which W&B ≥ 0.19 warns about
    on every run although it has no effect."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)
