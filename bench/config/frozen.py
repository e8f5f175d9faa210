"""A validated config, frozen: what `bench.config.validate` returns and the pipelines pass down.

A frozen config is still the mapping it was composed as (JSON, YAML and the config hash see the same
values, so run folders made before keep their hash), read by key or by attribute (`cfg.model.id`), but
nothing below the validator can change it: a module that wants another config builds a new one (`{**cfg,
"model": node}`), which is validated again before it runs. It also remembers which schema it was
validated against (`config_name`), so a pipeline handed an already-validated config does not check it twice.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.representer import SafeRepresenter

from bench.errors import ConfigError


class FrozenError(ConfigError, TypeError):
    """A write to a validated config: make a new config instead."""


def refuse(*args, **kwargs):
    """What every write method of a frozen config does: raise, saying how to make a changed config instead."""
    raise FrozenError("a validated config is read-only: build a new one ({**cfg, key: value}) and validate it")


class FrozenList(list):
    """A list of a frozen config (temperatures, templates): equal to, and dumped as, a plain list."""
    __setitem__ = __delitem__ = __iadd__ = __imul__ = append = extend = insert = pop = remove = clear = sort = \
        reverse = refuse

    def __reduce__(self):
        return FrozenList, (list(self),)

    def __copy__(self):
        return thaw(self)

    def __deepcopy__(self, memo):
        return thaw(self)


class FrozenConfig(dict):
    """A frozen config node: a dict that refuses writes, with attribute access. `config_name`: the schema
    it was validated against (set on the root only)."""
    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = refuse
    config_name: str | None = None

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        refuse()

    def __reduce__(self):
        return frozen_root, (dict(self), self.config_name)

    def __copy__(self):
        return thaw(self)

    def __deepcopy__(self, memo):
        """A deep copy is a plain, writable dict: the way to derive a changed config."""
        return thaw(self)


def freeze(value: Any, config_name: str | None = None) -> Any:
    """`value` with every dict and list inside it frozen; the root remembers `config_name`."""
    if isinstance(value, dict):
        out = FrozenConfig({k: freeze(v) for k, v in value.items()})
        if config_name is not None:
            object.__setattr__(out, "config_name", config_name)
        return out
    if isinstance(value, (list, tuple)):
        return FrozenList(freeze(v) for v in value)
    return value


def frozen_root(data: dict, config_name: str | None) -> FrozenConfig:
    """Unpickling: the frozen config again, with its schema name."""
    return freeze(data, config_name)


def thaw(value: Any) -> Any:
    """A plain, writable copy (dicts and lists all the way down)."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    return value


def is_validated(cfg: Any, config_name: str) -> bool:
    """Validated against `config_name` already (and frozen since, so still valid)."""
    return isinstance(cfg, FrozenConfig) and cfg.config_name == config_name


yaml.SafeDumper.add_representer(FrozenConfig, SafeRepresenter.represent_dict)
yaml.SafeDumper.add_representer(FrozenList, SafeRepresenter.represent_list)
