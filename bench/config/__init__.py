"""Typed configs: the run's and each tool's schema, validated when they load."""


def validate(config_name: str, cfg: dict) -> None:
    """Check a composed config against its schema; raises ConfigError naming the field and value."""
