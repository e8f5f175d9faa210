"""Typed configs: the run's and each tool's schema, validated when they load.

Importing this package registers the schemas in Hydra's ConfigStore, which the shipped yaml files
name in their defaults lists; `validate` checks what the types cannot (ranges, files, names).
"""

from bench.config.schema import register
from bench.config.checks import validate
from bench.config.frozen import FrozenConfig, freeze, thaw

register()

__all__ = ["FrozenConfig", "freeze", "thaw", "validate"]
