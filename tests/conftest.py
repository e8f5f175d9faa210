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


@pytest.fixture(scope="session")
def hf_engine(smollm2_spec):
    from bench.engines import make_engine

    engine = make_engine("transformers", smollm2_spec, seed=0)
    yield engine
    engine.close()


def vllm_available() -> bool:
    try:
        import vllm  # noqa: F401
    except Exception:
        return False
    return True
