"""Train a clone: the clone config checked once (`bench.config.validate`), then `bench.clone.train` on it."""

from __future__ import annotations

from pathlib import Path

from bench.config import validate


def clone_train(cfg: dict, progress: bool | None = None, stop_after: int | None = None) -> Path:
    """The adapter folder of a clone trained (or resumed) as `cfg` says; every value checked before any work."""
    from bench.clone.train import train_clone

    return train_clone(validate("clone", cfg), progress=progress, stop_after=stop_after)
