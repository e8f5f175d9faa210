"""Engines and the model registry: `model=<entry>` resolves to local weights (`resolve_model`), and
`engine=<name>` picks the backend that scores and generates on them (one file per backend)."""

from __future__ import annotations

import importlib

from bench.engines.base import Engine, load_tokenizer
from bench.engines.models import ModelError, ModelSpec, cache_dir, resolve_model, sha256_folder
from bench.engines.pool import EnginePool, engine_for
from bench.errors import BenchError

ENGINES = {
    "transformers": "bench.engines.transformers_engine:TransformersEngine",
    "vllm": "bench.engines.vllm_engine:VLLMEngine",
    "openai": "bench.engines.openai_engine:OpenAIEngine",
}
ENGINE_OPTIONS = {  # the keyword options each engine takes from its conf/engine/*.yaml (checked when the config loads)
    "transformers": ("device", "prefix_reuse", "prefix_cache", "row_cache_mb"),
    "vllm": ("enforce_eager", "gpu_memory_utilization", "block_size"),
    "openai": ("base_url", "model_name", "api_key_env", "timeout", "max_retries", "logprobs", "concurrency"),
}


class EngineError(BenchError):
    """An unknown engine, or an engine option it does not take."""


def engine_class(name: str) -> type[Engine]:
    if name not in ENGINES:
        raise EngineError(f"engine '{name}' is unknown; choose one of: {', '.join(sorted(ENGINES))}")
    module, cls = ENGINES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_engine(name: str, spec: ModelSpec, seed: int = 0, **options) -> Engine:
    return engine_class(name)(spec, seed=seed, **options)


def open_engine(cfg: dict, spec: ModelSpec) -> Engine:
    """A new engine as a run config names it (the caller closes it); runs take theirs from
    `bench.engines.pool.engine_for`, which reuses an open one inside a command's pool."""
    from bench.engines.pool import engine_options

    return make_engine(cfg["engine"]["name"], spec, seed=int(cfg["seed"]), **engine_options(cfg))


__all__ = ["ENGINES", "ENGINE_OPTIONS", "Engine", "EngineError", "EnginePool", "engine_for", "load_tokenizer", "ModelError", "ModelSpec", "cache_dir", "make_engine", "open_engine",
           "resolve_model", "sha256_folder"]
