"""Typed configs: the run's and each tool's schema, validated when they load.

Importing this package registers the schemas in Hydra's ConfigStore, which the shipped yaml files
name in their defaults lists.
"""

from bench.config.schema import register

register()


def validate(config_name: str, cfg: dict) -> None:
    """Check a composed config against its schema; raises ConfigError naming the field and value."""
