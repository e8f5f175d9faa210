"""Engine registry: `engine=<name>` in the config picks one of these."""

from __future__ import annotations

from bench.engines.base import Engine
from bench.models import ModelSpec

ENGINES = {
    "transformers": "bench.engines.transformers_engine:TransformersEngine",
    "vllm": "bench.engines.vllm_engine:VLLMEngine",
}


class EngineError(ValueError):
    pass


def make_engine(name: str, spec: ModelSpec, seed: int = 0, **options) -> Engine:
    if name not in ENGINES:
        raise EngineError(f"engine '{name}' is unknown; choose one of: {', '.join(sorted(ENGINES))}")
    import importlib

    module, cls = ENGINES[name].split(":")
    return getattr(importlib.import_module(module), cls)(spec, seed=seed, **options)


__all__ = ["Engine", "EngineError", "make_engine", "ENGINES"]
