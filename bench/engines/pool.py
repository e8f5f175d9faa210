"""Open engines kept for the runs of one command, so a model is loaded once per process, not once per run.

`compare`, `validity`, `behaviour`, `fidelity-table`, `norms-table` and a local Hydra multirun run several
runs in one process; each asks `engine_for(cfg, spec)`. Inside `with EnginePool():` runs of the same model
(weights and adapter by hash, dtype), engine, options and seed get the engine already open, its kept caches
forgotten first (`Engine.reset`) so a run's numbers do not depend on what ran before it. Outside a pool each
run opens and closes its own engine, as before.
"""

from __future__ import annotations

import contextvars
import json
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from bench.engines.base import Engine
from bench.engines.models import ModelSpec

# Engines kept open at once: a command rarely needs more than a model and a rater; past this the least
# recently used one is closed (each holds a model's weights, a vLLM one its KV cache too).
MAX_OPEN = 3

ACTIVE: contextvars.ContextVar[EnginePool | None] = contextvars.ContextVar("engine_pool", default=None)


def engine_options(cfg: dict) -> dict:
    """The engine options a run config sets (unset ones left to the engine's defaults)."""
    return {k: v for k, v in cfg["engine"].items() if k != "name" and v is not None}


# Options that change what an engine reports about itself, never its numbers.
OBSERVING = ("log_stats",)


def engine_key(name: str, spec: ModelSpec, seed: int, options: dict) -> str:
    """What makes two engines interchangeable: the weights and adapter by hash, not by path alone (or, where the
    engine serves several adapters, their rank: `Engine.shared_by`)."""
    from bench.engines import engine_class

    spec = engine_class(name).shared_by(spec)
    kept = {k: v for k, v in options.items() if k not in OBSERVING}
    return json.dumps([name, spec.id, spec.path, spec.sha256, spec.dtype, spec.adapter, spec.adapter_sha256,
                       spec.max_model_len, int(seed), kept], sort_keys=True, default=str)


class EnginePool:
    """Engines opened by the runs of one command (or one test session), closed together at its end."""

    def __init__(self, max_open: int = MAX_OPEN):
        self.max_open = max_open
        self.engines: OrderedDict[str, Engine] = OrderedDict()
        self.kept: set[str] = set()  # keys never closed to make room (a test session's shared engines)
        self.loads = 0  # engines this pool opened (a test counts them: one model, one load)
        self.token: contextvars.Token | None = None

    def get(self, name: str, spec: ModelSpec, seed: int = 0, keep: bool = False, **options) -> Engine:
        """The open engine for this model, engine, seed and options, opened on first use; `keep`: never
        closed to make room for another (only when the pool closes)."""
        from bench.engines import make_engine

        key = engine_key(name, spec, seed, options)
        if keep:
            self.kept.add(key)
        if key in self.engines:
            self.engines.move_to_end(key)
            engine = self.engines[key]
            engine.reset()
            engine.take(spec)
            return engine
        spare = [k for k in self.engines if k not in self.kept]
        while spare and len(self.engines) >= self.max_open + len(self.kept & set(self.engines)):
            self.engines.pop(spare.pop(0)).close()  # the least recently used one
        engine = make_engine(name, spec, seed=seed, **options)
        self.loads += 1
        self.engines[key] = engine
        return engine

    def close(self) -> None:
        """Close every kept engine, oldest first, freeing their models."""
        while self.engines:
            _, engine = self.engines.popitem(last=False)
            engine.close()

    def __enter__(self) -> EnginePool:
        self.token = ACTIVE.set(self)
        return self

    def __exit__(self, *exc) -> None:
        ACTIVE.reset(self.token)
        self.close()


def active_pool() -> EnginePool | None:
    """The pool of the command running in this context, if any: where a run takes its engine from."""
    return ACTIVE.get()


@contextmanager
def command_pool() -> Iterator[EnginePool]:
    """The pool of the command this runs in, or a new one held for this scope and closed at its end."""
    pool = active_pool()
    if pool is not None:
        yield pool
        return
    with EnginePool() as pool:
        yield pool


@contextmanager
def pooled_engine(name: str, spec: ModelSpec, seed: int = 0, **options) -> Iterator[Engine]:
    """The pool's engine when a command holds a pool, else one opened here and closed on leaving."""
    from bench.engines import make_engine

    pool = active_pool()
    if pool is not None:
        yield pool.get(name, spec, seed, **options)
        return
    engine = make_engine(name, spec, seed=seed, **options)
    try:
        yield engine
    finally:
        engine.close()


def engine_for(cfg: dict, spec: ModelSpec):
    """The engine a run config names (`with engine_for(cfg, spec) as engine:`)."""
    return pooled_engine(cfg["engine"]["name"], spec, int(cfg["seed"]), **engine_options(cfg))
