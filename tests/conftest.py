"""Shared fixtures: the real embedded model, the real Hydra config, the shared reference data."""

from __future__ import annotations

import os
import shutil
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


def model_folder(path: Path) -> Path:
    """A folder the config check takes for a Hugging Face model (config.json with a model_type, a tokenizer that
    loads, weights whose safetensors header reads), for tests of configs that never load it."""
    import json

    import numpy as np
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    Tokenizer(WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]")).save(str(path / "tokenizer.json"))
    save_file({"w": np.zeros((2, 2), np.float32)}, str(path / "model.safetensors"))
    return path


def adapter_folder(path: Path) -> Path:
    """A folder the config check takes for a peft adapter (adapter_config.json, a readable safetensors header),
    for tests of configs that never load it."""
    import json

    import numpy as np
    from safetensors.numpy import save_file

    path.mkdir(parents=True, exist_ok=True)
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    save_file({"w": np.zeros((2, 2), np.float32)}, str(path / "adapter_model.safetensors"))
    return path


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


# Tiny finished runs of four kinds, each made once per session (per xdist worker) when a test first asks, with the
# session's engine pool: the overrides of each kind's `python -m bench` command.
FINISHED_RUNS = {
    # BFI, no persona: four units (4 items x 2 option orders, batches of 2), one temperature
    "bfi": ("max_items=4", "repetitions=1", "temperatures=[0.0]", "option_orders=[original,reversed]",
            "templates=[describe]", "batch_size=2", "progress=false"),
    # BFI with the trait personas
    "bfi_traits": ("persona=traits", "max_items=5", "repetitions=1", "temperatures=[0.7]", "option_orders=[original]",
                   "templates=[describe]", "progress=false"),
    # a type inventory: MBTI, two type personas, 4 items (one per dichotomy), two temperatures
    "mbti": ("inventory=mbti", "persona=mbti_types", "persona.ids=[ISTJ,ENFP]", "max_items=4", "repetitions=1",
             "temperatures=[0,1.0]", "templates=[describe]", "progress=false"),
    # a survey: ATP wave 92 against OpinionQA (the shared data)
    "survey": ("inventory=atp_w92", "population=opinionqa_w92", "population.temperature=0.0", "max_items=2",
               "repetitions=1", "temperatures=[0.0]",
               "option_orders=[original]", "templates=[pew]", "progress=false"),
}


class FinishedRuns:
    """The session's finished runs by kind, made on first use. `path` is shared: read it, never change it;
    `copy` gives a folder of one's own to change."""

    def __init__(self, root: Path):
        self.root = root
        self.made: dict[str, Path] = {}

    def config(self, kind: str) -> dict:
        """The kind's resolved run config (results_dir: where its run is)."""
        extra = []
        if kind == "survey":
            data = shared_data()
            folder = data / "opinionqa" / "American_Trends_Panel_W92" if data else None
            if folder is None or not folder.is_dir():
                pytest.skip("OpinionQA W92 not in the shared data (set PERSONA_BENCH_SHARED_DATA)")
            extra.append(f"population.reference.path={folder}")
        return compose(*FINISHED_RUNS[kind], *extra, f"results_dir={self.root / kind}")

    def path(self, kind: str) -> Path:
        if kind not in self.made:
            from bench.pipelines.run import run

            self.made[kind] = run(self.config(kind), print_summary=False)
        return self.made[kind]

    def copy(self, kind: str, into: Path) -> Path:
        """A copy of the kind's run folder under `into` (same folder name), for a test that changes it."""
        source = self.path(kind)
        return Path(shutil.copytree(source, into / source.name))


@pytest.fixture(scope="session")
def finished_runs(tmp_path_factory) -> FinishedRuns:
    return FinishedRuns(tmp_path_factory.mktemp("finished_runs"))


@pytest.fixture
def finished_run(finished_runs, tmp_path):
    """`finished_run(kind)`: a fresh copy of that kind's finished run in this test's tmp_path."""
    return lambda kind: finished_runs.copy(kind, tmp_path / "finished")


@pytest.fixture
def full_bootstrap(monkeypatch):
    """The product's own bootstrap size (N_BOOT) for a test of an interval's coverage, instead of the session's
    smaller one (see pytest_configure)."""
    from bench.metrics.uncertainty import N_BOOT_VARIABLE

    monkeypatch.delenv(N_BOOT_VARIABLE, raising=False)


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
MARKED_BY_FIXTURE = {"hf_engine": "model", "smollm2_spec": "model", "finished_runs": "model", "vllm_engine": "vllm",
                     "gemma_spec": "gemma", "browser": "browser"}


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


# Resamples per bootstrap interval in tests (PERSONA_BENCH_N_BOOT; the product's default is 200): the intervals
# are computed the same way, on fewer draws. Tests of an interval's coverage take `full_bootstrap`.
TEST_N_BOOT = "50"


def pytest_configure(config):
    """Two workers on two cores: torch in each (and the processes its tests start) computes on its share of
    the cores, instead of both oversubscribing them. The session's bootstrap size, for its processes too."""
    os.environ.setdefault("PERSONA_BENCH_N_BOOT", TEST_N_BOOT)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    if workers > 1:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        os.environ.setdefault("OMP_NUM_THREADS", threads)
        os.environ.setdefault("MKL_NUM_THREADS", threads)
