"""Composing a config as the command line would, and validating it before any model work.

Every command that takes Hydra overrides goes through `load_config`: the overrides are composed
against the shipped config (package data), the result is checked against its typed schema, and a bad
value raises `ConfigError` naming the field and the value, before a folder is made or a model loads.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from bench.errors import ConfigError
from bench.resources import CONF_DIR


def compose(config_name: str, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The resolved config exactly as `persona-bench <tool> <overrides>` sees it, as a plain dict."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(f"config {config_name!r}: {one_line(err)}") from None


def one_line(err: Exception) -> str:
    """Hydra and OmegaConf errors span lines (full key, object type, a hint): keep what names the problem."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("object_type=", "full_key:", "reference_type=", "Set the environment"))]
    return "; ".join(keep or lines)
