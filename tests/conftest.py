"""Shared fixtures: the real embedded model, the real Hydra config, the shared reference data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path | None:
    root = Path(os.environ.get("PERSONA_BENCH_SHARED_DATA") or REPO.parent / "shared" / "data")
    return root if root.is_dir() else None


def compose(*overrides: str) -> dict:
    """The run config exactly as `python -m bench <overrides>` would resolve it."""
    from bench.config.load import compose as compose_config

    return compose_config("config", overrides)


@pytest.fixture(scope="session")
def smollm2_spec():
    from bench.engines.models import resolve_model

    return resolve_model(compose()["model"])


@pytest.fixture(scope="session")
def gemma_spec():
    """The second embedded model (base Gemma 3 270M): assembled from its chunk packages and converted once
    (file-locked, cached) for the whole session."""
    from bench.engines.models import resolve_model

    return resolve_model(compose("model=gemma3_270m")["model"])


@pytest.fixture(scope="session", autouse=True)
def engine_pool():
    """The product's engine pool, held for the whole session: every in-process run (and `hf_engine`) of the
    same model, engine and options shares one real engine, loaded once. Subprocess runs load their own."""
    from bench.engines import EnginePool

    with EnginePool(max_open=4) as pool:
        yield pool


@pytest.fixture(scope="session")
def hf_engine(engine_pool, smollm2_spec):
    """The real SmolLM2 on transformers, the very engine a default in-process run gets from the pool."""
    from bench.engines.pool import engine_options

    cfg = compose()
    return engine_pool.get(cfg["engine"]["name"], smollm2_spec, int(cfg["seed"]), **engine_options(cfg))


def vllm_available() -> bool:
    try:
        import vllm  # noqa: F401
    except Exception:
        return False
    return True
