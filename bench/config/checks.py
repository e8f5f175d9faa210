"""Every value of a composed config, checked before any model work or folder: types, ranges, files, names.

Types are OmegaConf's: a plain dict (what `run(cfg)` and the tools take) is merged into its structured
schema first, so the Python API refuses `seed="abc"` as the command line does. What a type cannot say
(ranges, finite numbers, existing files, registry names) is checked by one rule per field
(`bench.config.rules`), the run's in `run_checks`, each tool's in `tool_checks`; each failure is a
`ConfigError` naming the field and the value (and the file, when the config came from one).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.config.frozen import FrozenConfig, freeze, is_validated, thaw
from bench.config.run_checks import check_run
from bench.config.tool_checks import check_behaviour, check_clone, check_compare, check_fidelity_table, \
    check_leaderboard, check_norms_table, check_tv_check, check_validity
from bench.errors import ConfigError, cli_value


def validate(config_name: str, cfg: dict, source: str | Path | None = None) -> FrozenConfig:
    """Check a composed config against its schema and return it frozen (`bench.config.frozen`): the one
    object the pipelines read. A config this returned before is returned as it is, not checked again.
    Raises ConfigError naming the field and value."""
    if is_validated(cfg, config_name):
        return cfg
    if config_name not in CHECKS:
        raise ConfigError(f"config {config_name!r}: unknown; known configs: {', '.join(sorted(CHECKS))}")
    plain = thaw(cfg)  # a config built from parts of a frozen one is checked as the plain mapping it stands for
    try:
        typed(config_name, plain)
        CHECKS[config_name](plain)
    except ConfigError as err:
        if source is None:
            raise
        raise ConfigError(f"{source}: {err}") from None
    return freeze(plain, config_name)


def typed(config_name: str, cfg: dict) -> None:
    """OmegaConf's type check of a plain dict: merged into the structured schema of its config (and of
    its model and population shape), as Hydra does when composing."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from bench.config.load import one_line
    from bench.config.schema import INVENTORY_SCHEMAS, MODEL_SCHEMAS, POPULATION_SCHEMAS, SCHEMAS

    if not isinstance(cfg, dict):
        raise ConfigError(f"config {config_name!r}: expected a mapping, got {cli_value(cfg)}")
    parts = [(SCHEMAS[config_name], cfg, "")]
    for key in ("model", "rater", "rater2"):  # the behaviour config's raters are model entries too
        if isinstance(cfg.get(key), dict):
            shape = "gguf" if {"package", "gguf_file"} & cfg[key].keys() else "path"
            parts.append((MODEL_SCHEMAS[shape], cfg[key], f"{key}."))
    if isinstance(cfg.get("inventory"), dict) and config_name != "clone":
        shape = "psychobench" if "scale" in cfg["inventory"] else "file"
        parts.append((INVENTORY_SCHEMAS[shape], cfg["inventory"], "inventory."))
    if isinstance(cfg.get("population"), dict) and config_name != "clone":
        pop = cfg["population"]
        shape = ("respondents" if {"attributes", "demographics", "sample"} & pop.keys()
                 else "counts" if "reference" in pop else "choice")
        parts.append((POPULATION_SCHEMAS[shape], pop, "population."))
    for schema, node, prefix in parts:
        try:
            merged = OmegaConf.merge(OmegaConf.structured(schema), node)
            OmegaConf.to_container(merged, throw_on_missing=True)
        except OmegaConfBaseException as err:
            raise ConfigError(f"config {config_name!r}: {prefix}{one_line(err)}") from None


CHECKS: dict[str, Callable[[dict], None]] = {
    "config": check_run,
    "fidelity_table": check_fidelity_table,
    "tv_check": check_tv_check,
    "validity": check_validity,
    "norms_table": check_norms_table,
    "behaviour": check_behaviour,
    "compare": check_compare,
    "clone": check_clone,
    "leaderboard": check_leaderboard,
}
