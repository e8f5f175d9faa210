"""Engines and the model registry: `model=<entry>` resolves to local weights (`resolve_model`), and
`engine=<name>` picks the backend that scores and generates on them (one file per backend)."""

from __future__ import annotations

from bench.engines.base import Engine, load_tokenizer
from bench.engines.models import ModelError, ModelSpec, cache_dir, resolve_model, sha256_folder
from bench.engines.pool import EnginePool, engine_for
from bench.engines.registry import EngineError, Option, engine_entry, engine_names, option_problems, register_engine
from bench.errors import cli_value


def engine_class(name: str) -> type[Engine]:
    """The class registered as `name` (its module imported on first use)."""
    return engine_entry(name).cls


def make_engine(name: str, spec: ModelSpec, seed: int = 0, **options) -> Engine:
    """A new engine; its options are checked by the rules its module declares before anything loads.
    Options it does not declare (`log_stats`) are the engine's own keyword arguments, passed through."""
    declared = engine_entry(name).options
    problems = option_problems(name, {k: v for k, v in options.items() if k in declared})
    if problems:
        key, value, problem = problems[0]
        raise EngineError(f"engine.{key}={cli_value(value)}: {problem}")
    return engine_class(name)(spec, seed=seed, **options)


def open_engine(cfg: dict, spec: ModelSpec) -> Engine:
    """A new engine as a run config names it (the caller closes it); runs take theirs from
    `bench.engines.pool.engine_for`, which reuses an open one inside a command's pool."""
    from bench.engines.pool import engine_options

    return make_engine(cfg["engine"]["name"], spec, seed=int(cfg["seed"]), **engine_options(cfg))


__all__ = ["Engine", "EngineError", "EnginePool", "Option", "engine_class", "engine_entry", "engine_for", "engine_names", "load_tokenizer", "ModelError", "ModelSpec", "cache_dir", "make_engine", "open_engine",
           "option_problems", "register_engine", "resolve_model", "sha256_folder"]
