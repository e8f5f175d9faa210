"""Shared fixtures: the real embedded model, the real Hydra config, the shared reference data."""

from __future__ import annotations

import os
from dataclasses import dataclass
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

    with EnginePool(max_open=6) as pool:  # besides the kept ones: SmolLM2 on vLLM with LoRA, Gemma, peft clones...
        yield pool


@pytest.fixture(scope="session")
def hf_engine(engine_pool, smollm2_spec):
    """The real SmolLM2 on transformers, the very engine a default in-process run gets from the pool."""
    from bench.engines.pool import engine_options

    cfg = compose()
    return engine_pool.get(cfg["engine"]["name"], smollm2_spec, int(cfg["seed"]), keep=True, **engine_options(cfg))


@pytest.fixture(scope="session")
def vllm_engine(engine_pool, smollm2_spec):
    """The real SmolLM2 on vLLM, started once for the session: the engine an in-process `engine=vllm` run gets
    from the pool (its stats on, for the prefix-cache counters; they change no number)."""
    if not vllm_available():
        pytest.skip("vLLM is not installed")
    from bench.engines.pool import engine_options

    cfg = compose("engine=vllm")
    return engine_pool.get("vllm", smollm2_spec, int(cfg["seed"]), keep=True, log_stats=True, **engine_options(cfg))


def vllm_available() -> bool:
    try:
        import vllm  # noqa: F401
    except Exception:
        return False
    return True


@dataclass(frozen=True)
class CliResult:
    """What a command printed and returned, from either `cli_in_process` or a real subprocess."""
    returncode: int
    stdout: str
    stderr: str


def cli_in_process(*args: str, cwd: Path | None = None) -> CliResult:
    """`persona-bench ARGS` through the CLI's own `main`, in this process: the same dispatch, checks and
    messages as the console script without a 3 s interpreter start (a handful of tests keep the real
    subprocess for "exit 2, no traceback")."""
    import contextlib
    import io

    from bench.cli import main

    out, err = io.StringIO(), io.StringIO()
    debug = os.environ.pop("PERSONA_BENCH_DEBUG", None)  # `--debug` sets it for the Hydra job: not for the next test
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), contextlib.chdir(cwd or REPO):
        try:
            code = main(list(args))
        except SystemExit as stop:  # a Hydra job's error exit, argparse's usage exit
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        finally:
            os.environ.pop("PERSONA_BENCH_DEBUG", None)
            if debug is not None:
                os.environ["PERSONA_BENCH_DEBUG"] = debug
    return CliResult(int(code or 0), out.getvalue(), err.getvalue())


# A test that asks for one of these fixtures (itself or through another fixture) gets the marker: `-m "not vllm"`
# and the like select by what a test really starts. Tests that start the model through a run say `model` in
# their module's `pytestmark`; tests that start processes say `subprocess` on themselves.
MARKED_BY_FIXTURE = {"hf_engine": "model", "smollm2_spec": "model", "vllm_engine": "vllm", "gemma_spec": "gemma",
                     "browser": "browser"}


# Under pytest-xdist each test goes to a worker with its group: a module's tests stay together (its module
# fixtures run once), and every vLLM test shares one worker (one vLLM start, one LoRA engine, one server). These
# modules go there whole, since their vLLM tests read module fixtures that the others share.
VLLM_MODULES = ("test_clone.py", "test_openai_engine.py", "test_plain_format.py")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the markers
def pytest_collection_modifyitems(items):
    for item in items:
        for fixture, marker in MARKED_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)
        module = item.path.name
        vllm = module in VLLM_MODULES or item.get_closest_marker("vllm") is not None
        item.add_marker(pytest.mark.xdist_group("vllm" if vllm else module))
        if item.get_closest_marker("vllm") is not None:
            item.add_marker("slow")  # a vLLM start is 45-85 s on 2 cores: not for the inner loop


def pytest_configure(config):
    """Two workers on two cores: torch in each (and the processes its tests start) computes on its share of
    the cores, instead of both oversubscribing them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    if workers > 1:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        os.environ.setdefault("OMP_NUM_THREADS", threads)
        os.environ.setdefault("MKL_NUM_THREADS", threads)
