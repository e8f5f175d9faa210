"""End-to-end runs on the real SmolLM2: files, provenance, determinism, resume, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bench.engines.models import ModelError, resolve_model
from bench.errors import ConfigError
from bench.instruments import InventoryError
from bench.engines.pool import active_pool
from bench.pipelines.run import run
from bench.results.provenance import SPLIT_KEYS
from tests.conftest import REPO, compose

pytestmark = [pytest.mark.model]

SMALL = ("max_items=5", "repetitions=2", "temperatures=[0,0.7]", "templates=[describe,rate]", "progress=false")
VOLATILE = ["git_commit"]  # may change between two runs of the same config when code is committed


def assert_same_responses(resumed: pd.DataFrame, clean: pd.DataFrame) -> None:
    """A resumed run's rows equal an uninterrupted run's: every column exactly, the probabilities to float
    error. A unit computed after a resume starts without the prefix (or conversation) cache the uninterrupted
    run kept from the unit before, and the engine's cached and full paths agree to float error, not bit for bit
    (tests/test_perf.py)."""
    pd.testing.assert_frame_equal(resumed.drop(columns="option_probs"), clean.drop(columns="option_probs"))
    probs = [np.stack(f["option_probs"].map(lambda v: np.asarray(v, dtype=float))) for f in (resumed, clean)]
    np.testing.assert_allclose(*probs, atol=1e-5)  # (sample mode: no probabilities, both empty)


def small_cfg(tmp: Path, *extra: str) -> dict:
    return compose(*SMALL, f"results_dir={tmp}", *extra)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("results")
    cfg = small_cfg(tmp)
    return cfg, run(cfg, print_summary=False)


def test_run_writes_every_table(small_run):
    cfg, run_dir = small_run
    for name in ("responses.parquet", "scores.parquet", "metrics.json", "config.yaml", "provenance.json",
                 "summary.md"):
        assert (run_dir / name).is_file(), name
    responses = pd.read_parquet(run_dir / "responses.parquet")
    # 1 persona x 2 templates x 2 orders x 2 temperatures x 2 repetitions = 16 participants x 5 items
    assert len(responses) == 16 * 5
    assert not responses.duplicated(["participant_id", "item_id"]).any()
    assert responses["participant_id"].nunique() == 16
    probs = np.stack(responses["option_probs"].to_numpy())
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    assert (responses["label_mass"] > 0.5).all()
    assert not responses["invalid"].any()


def test_reverse_keying_is_undone_and_expectations_agree(small_run):
    _, run_dir = small_run
    r = pd.read_parquet(run_dir / "responses.parquet")
    rev = r[r["keyed"] == -1]
    fwd = r[r["keyed"] == 1]
    assert len(rev) and len(fwd)
    np.testing.assert_array_equal(rev["score"], 6 - rev["answer"])
    np.testing.assert_array_equal(fwd["score"], fwd["answer"])
    probs = np.stack(r["option_probs"].to_numpy())
    expected_answer = probs @ np.arange(1, 6)
    want = np.where(r["keyed"] == 1, expected_answer, 6 - expected_answer)
    np.testing.assert_allclose(r["expected_score"], want)
    # At T = 0 the draw is the argmax, shown in the participant's own option order.
    greedy = r[r["temperature"] == 0]
    np.testing.assert_array_equal(greedy["answer"], np.stack(greedy["option_probs"]).argmax(1) + 1)


def test_temperatures_and_repetitions_share_one_forward_pass(small_run):
    _, run_dir = small_run
    r = pd.read_parquet(run_dir / "responses.parquet")
    keys = ["persona_id", "template_id", "option_order", "item_id"]
    assert (r.groupby(keys)["prompt_hash"].nunique() == 1).all()
    assert (r.groupby(keys)["label_mass"].nunique() == 1).all()
    # Reversed order shows different prompts from the original one.
    assert r.groupby(["template_id", "item_id"])["prompt_hash"].nunique().min() == 2


def test_every_row_carries_provenance(small_run):
    cfg, run_dir = small_run
    r = pd.read_parquet(run_dir / "responses.parquet")
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert set(r["model_sha256"]) == {prov["model"]["sha256"]} and len(prov["model"]["sha256"]) == 64
    assert set(r["inventory_version"]) == {"1.0"} and set(r["inventory_id"]) == {"bfi"}
    assert set(r["seed"]) == {cfg["seed"]} and set(r["run_config_hash"]) == {prov["config_hash"]}
    assert set(r["env_hash"]) == {prov["env_hash"]}
    assert prov["packages"]["torch"] and prov["packages"]["transformers"]
    assert prov["inventory"]["sha256"] and prov["git"]["commit"]
    # the saved config is the run's, less how it was split over workers (every worker shares the folder)
    assert yaml.safe_load((run_dir / "config.yaml").read_text()) == {k: v for k, v in cfg.items() if k not in SPLIT_KEYS}


def test_scores_and_metrics(small_run):
    _, run_dir = small_run
    scores = pd.read_parquet(run_dir / "scores.parquet")
    r = pd.read_parquet(run_dir / "responses.parquet")
    one = r[r["participant_id"] == r["participant_id"].iloc[0]]
    for trait, group in one.groupby("trait"):
        got = scores[(scores["participant_id"] == one["participant_id"].iloc[0]) & (scores["trait"] == trait)]
        assert got["score"].item() == pytest.approx(group["score"].mean())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("reliability", "icc_repetitions", "prompt_sensitivity", "option_order_symmetry", "invalid_rates"):
        assert key in metrics
    assert metrics["n_participants"] == 16


def test_same_config_and_seed_same_numbers(small_run, tmp_path):
    cfg, first = small_run
    again = run({**cfg, "results_dir": str(tmp_path)}, print_summary=False)
    a = pd.read_parquet(first / "responses.parquet").drop(columns=VOLATILE)
    b = pd.read_parquet(again / "responses.parquet").drop(columns=VOLATILE)
    pd.testing.assert_frame_equal(a, b)


def test_a_finished_run_is_not_redone(small_run):
    cfg, run_dir = small_run
    before = {p.name: p.stat().st_mtime_ns for p in (run_dir / "parts").iterdir()}
    started = time.time()
    run(cfg, print_summary=False)
    assert time.time() - started < 30  # no engine is loaded
    assert {p.name: p.stat().st_mtime_ns for p in (run_dir / "parts").iterdir()} == before


def test_another_seed_changes_the_draws_not_the_distributions(small_run, tmp_path):
    cfg, first = small_run
    other = run({**cfg, "seed": cfg["seed"] + 1, "results_dir": str(tmp_path)}, print_summary=False)
    a = pd.read_parquet(first / "responses.parquet").sort_values(["participant_id", "item_id"])
    b = pd.read_parquet(other / "responses.parquet").sort_values(["participant_id", "item_id"])
    np.testing.assert_allclose(np.stack(a["option_probs"]), np.stack(b["option_probs"]))
    warm = (a["temperature"] > 0).to_numpy()
    assert (a["answer"].to_numpy()[warm] != b["answer"].to_numpy()[warm]).any()


def test_sample_mode_generates_and_parses(tmp_path):
    cfg = compose("scoring=sample", "max_items=4", "repetitions=2", "temperatures=[0.7]", "templates=[describe]",
                  "option_orders=[original]", "progress=false", f"results_dir={tmp_path}")
    r = pd.read_parquet(run(cfg, print_summary=False) / "responses.parquet")
    assert len(r) == 2 * 4
    assert r["raw_answer"].str.len().gt(0).all()
    valid = r[~r["invalid"]]
    assert len(valid) >= len(r) // 2  # the prefilled answer makes most generations a digit
    assert valid["parsed_option"].between(1, 5).all()
    assert r.loc[r["invalid"], "answer"].isna().all()
    assert r["label_mass"].isna().all()


def test_conversation_mode_keeps_earlier_answers_in_context(tmp_path, hf_engine):
    from bench.administration.prompts import messages_for, question_text
    from bench.engines.rendering import PromptRenderer
    from bench.results.schema import prompt_hash
    from bench.pipelines.run import prepare

    cfg = compose("administration=conversation", "max_items=3", "repetitions=3", "temperatures=[1.0]",
                  "templates=[describe]", "option_orders=[original]", "progress=false", f"results_dir={tmp_path}")
    r = pd.read_parquet(run(cfg, print_summary=False) / "responses.parquet")
    assert len(r) == 3 * 3
    assert r[r["item_index"] == 0]["prompt_hash"].nunique() == 1  # nothing answered yet
    # Rebuild each participant's third prompt from its own earlier raw answers: the hash must match.
    _, plan, _ = prepare(cfg)
    renderer = PromptRenderer(hf_engine.tokenizer, "Answer: ")
    for p in plan.participants:
        mine = r[r["participant_id"] == p.id].sort_values("item_index")
        questions = [question_text(plan.inventory, p, it, plan.option_permutation(p, it)) for it in plan.items]
        text, _ = renderer.render(messages_for(p, questions, list(mine["raw_answer"].iloc[:2]), "Answer: "))
        assert f"Answer: {mine['raw_answer'].iloc[0]}" in text
        assert prompt_hash(text) == mine["prompt_hash"].iloc[2]


@pytest.mark.slow
def test_persona_sets_and_mbti_accuracy(tmp_path):
    cfg = compose("inventory=mbti", "persona=mbti_types", "temperatures=[0]", "repetitions=1",
                  "templates=[describe]", "option_orders=[original]", "max_items=4", "progress=false",
                  f"results_dir={tmp_path}")  # 4 items: one per dichotomy, so every letter is scored
    run_dir = run(cfg, print_summary=False)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    acc = metrics["mbti"]["accuracy"]
    assert acc["n"] == 16 and 0 <= acc["exact"] <= 1
    assert set(acc["per_dichotomy"]) == {"IE", "SN", "FT", "JP"}
    scores = pd.read_parquet(run_dir / "scores.parquet")
    assert set(scores["letter"].dropna()) <= set("IESNFTJP")


# -- bad input: clear errors naming what is wrong --------------------------------------------

def test_malformed_inventory_file_is_named(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text(yaml.safe_dump({
        "id": "mine", "name": "x", "version": 1, "source": "me", "licence": "none", "kind": "likert",
        "scale": {"values": [1, 2, 3], "labels": ["no", "maybe", "yes"]}, "traits": {"E": "Extraversion"},
        "scoring": "mean", "items": [{"id": "q1", "text": "I talk.", "trait": "E", "keyed": "sideways"}],
    }))
    with pytest.raises(InventoryError) as err:
        run(small_cfg(tmp_path, "inventory=custom", f"inventory.path={bad}"), print_summary=False)
    assert "mine.yaml" in str(err.value) and "q1" in str(err.value) and "keyed" in str(err.value)
    assert "sideways" in str(err.value)


def test_user_inventory_file_runs(tmp_path):
    mine = tmp_path / "my16p.yaml"
    mine.write_text(yaml.safe_dump({
        "id": "my16p", "name": "My own 7-point file", "version": "0.1", "source": "me", "licence": "mine",
        "kind": "likert", "scale": {"values": list(range(1, 8)), "labels": [f"level {i}" for i in range(1, 8)]},
        "traits": {"E": "Extraversion", "I": "Intuition"}, "scoring": "mean",
        "items": [{"id": "a", "text": "I enjoy parties.", "trait": "E", "keyed": "+"},
                  {"id": "b", "text": "I trust my hunches.", "trait": "I", "keyed": "-"}],
    }))
    cfg = compose("inventory=custom", f"inventory.path={mine}", "repetitions=1", "temperatures=[0]",
                  "templates=[describe]", "option_orders=[reversed]", "progress=false", f"results_dir={tmp_path}")
    r = pd.read_parquet(run(cfg, print_summary=False) / "responses.parquet")
    assert len(r) == 2 and len(r["option_probs"].iloc[0]) == 7
    b = r[r["item_id"] == "b"].iloc[0]
    assert b["score"] == 8 - b["answer"]


def test_clone_without_adapter_says_how_to_get_one(tmp_path):
    with pytest.raises(ConfigError, match="adapter=<folder>.*peft"):  # refused when the config loads
        run(small_cfg(tmp_path, "model=clone_lora"), print_summary=False)
    with pytest.raises(ConfigError, match="adapter_config.json"):  # a folder without an adapter: also when it loads
        run(small_cfg(tmp_path, "model=clone_lora", f"adapter={tmp_path}"), print_summary=False)
    with pytest.raises(ModelError, match="adapter_config.json"):  # and where the model resolves, for other callers
        resolve_model(compose("model=clone_lora")["model"], str(tmp_path))


def test_hf_model_needs_a_path(tmp_path):
    with pytest.raises(ConfigError, match="model.path"):  # refused when the config loads
        run(small_cfg(tmp_path, "model=hf"), print_summary=False)
    with pytest.raises(ConfigError, match="config.json"):  # a folder without a model: also when the config loads
        run(small_cfg(tmp_path, "model=hf", f"model.path={tmp_path}"), print_summary=False)
    with pytest.raises(ModelError, match="config.json"):  # and where the model resolves, for other callers
        resolve_model(compose("model=hf", f"model.path={tmp_path}")["model"])


def test_bad_sweep_values_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"temperatures=\[0.7, 0.7\]: 0.7 listed more than once"):
        run(small_cfg(tmp_path, "temperatures=[0.7,0.7]"), print_summary=False)
    with pytest.raises(ConfigError, match="sideways"):
        run(small_cfg(tmp_path, "option_orders=[sideways]"), print_summary=False)
    with pytest.raises(ConfigError, match="nope"):
        run(small_cfg(tmp_path, "templates=[nope]"), print_summary=False)


def test_garbage_answers_are_recorded_as_invalid(small_run, hf_engine):
    from bench.administration.administer import Administrator
    from bench.engines.rendering import PromptRenderer
    from bench.pipelines.run import prepare

    cfg, _ = small_run
    _, plan, _ = prepare(cfg)
    admin = Administrator(plan, PromptRenderer(hf_engine.tokenizer, "Answer: "), "sample")
    p = plan.participants[0]
    perm = plan.option_permutation(p, plan.items[0])
    for text in ["", "lorem ipsum", "\x00\xff\ufffd", "9999", "I'm sorry, as an AI I cannot answer."]:
        row = admin._from_text(p, 0, perm, "prompt", text)
        assert row["invalid"] and np.isnan(row["answer"]) and np.isnan(row["score"])
    assert admin._from_text(p, 0, perm, "prompt", "As an AI I cannot answer that.")["refusal"]


# -- the command line -------------------------------------------------------------------------

def bench_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench", *args]


@pytest.mark.subprocess
def test_cli_rejects_an_unknown_model(tmp_path):
    out = subprocess.run(bench_cmd("model=nope", f"results_dir={tmp_path}"), capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode != 0
    assert "model" in out.stderr and "nope" in out.stderr


@pytest.mark.slow
@pytest.mark.subprocess
def test_interrupted_run_resumes_with_nothing_lost_or_duplicated(tmp_path):
    args = ("max_items=12", "batch_size=3", "repetitions=2", "temperatures=[0,1.0]", "templates=[describe,rate]",
            "option_orders=[original]", "progress=false")
    killed_dir = tmp_path / "killed"
    cmd = bench_cmd(*args, f"results_dir={killed_dir}")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 240
    parts = []
    while time.time() < deadline and proc.poll() is None:
        parts = list(killed_dir.glob("*/parts/part-*.parquet"))
        if len(parts) >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(parts) >= 2, "the run did not get going"
    run_dir = parts[0].parent.parent
    n_units = 2 * 12 // 3
    assert len(list(run_dir.glob("parts/part-*.parquet"))) < n_units, "killed too late to test resuming"
    assert not (run_dir / "responses.parquet").exists()

    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Trait scores" in done.stdout
    resumed = pd.read_parquet(run_dir / "responses.parquet").drop(columns=VOLATILE)
    assert len(resumed) == 2 * 2 * 2 * 12 and not resumed.duplicated(["participant_id", "item_id"]).any()

    clean = run(compose(*args, f"results_dir={tmp_path / 'clean'}"), print_summary=False)
    want = pd.read_parquet(clean / "responses.parquet").drop(columns=VOLATILE)
    assert_same_responses(resumed, want)


FINALIZE_ARGS = ("max_items=4", "repetitions=2", "temperatures=[0.0,1.0]", "option_orders=[original]",
                 "templates=[describe]", "batch_size=2", "progress=false")


def run_folder_of(root: Path, proc: subprocess.Popen) -> Path | None:
    while proc.poll() is None:
        found = [p for p in root.glob("*") if p.is_dir()] if root.is_dir() else []
        if found:
            return found[0]
        time.sleep(0.01)
    return None


@pytest.mark.slow
@pytest.mark.subprocess
def test_killed_during_finalize_resumes_with_the_same_results_and_no_temp_files(tmp_path):
    """SIGKILL while responses.parquet's temp file is being written (polled for), then the same command."""
    killed_dir = tmp_path / "killed"
    cmd = bench_cmd(*FINALIZE_ARGS, f"results_dir={killed_dir}")
    caught, run_dir = None, None
    for _ in range(5):  # finalize takes milliseconds; a poll that misses it tries again (parts are kept)
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        run_dir = run_folder_of(killed_dir, proc) or run_dir
        while caught is None and proc.poll() is None and run_dir is not None:
            caught = next((n for n in os.listdir(run_dir) if n.startswith(".responses.parquet.") and n.endswith(".tmp")),
                          None)
        if caught:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if caught:
            break
        (run_dir / "responses.parquet").unlink()  # missed: finalize again from the same parts
    assert caught, "never saw responses.parquet's temp file"
    assert (run_dir / caught).exists() and not (run_dir / "responses.parquet").exists()
    assert not (run_dir / "metrics.json").exists()

    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "PartQuarantined" not in done.stderr  # the parts were whole: nothing to recompute
    assert not [p for p in run_dir.rglob("*.tmp")], "temp files left behind"
    resumed = pd.read_parquet(run_dir / "responses.parquet").drop(columns=VOLATILE)
    assert len(resumed) == 2 * 2 * 4 and not resumed.duplicated(["participant_id", "item_id"]).any()
    clean = run(compose(*FINALIZE_ARGS, f"results_dir={tmp_path / 'clean'}"), print_summary=False)
    pd.testing.assert_frame_equal(resumed, pd.read_parquet(clean / "responses.parquet").drop(columns=VOLATILE))
    assert json.loads((run_dir / "metrics.json").read_text()) == json.loads((clean / "metrics.json").read_text())


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_second_process_stops_naming_the_first_and_a_killed_first_does_not_block_resume(tmp_path):
    args = ("max_items=24", "batch_size=2", "repetitions=2", "temperatures=[0,1.0]", "templates=[describe,rate]",
            "option_orders=[original]", "progress=false", f"results_dir={tmp_path}")
    first = subprocess.Popen(bench_cmd(*args), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        run_dir = run_folder_of(tmp_path, first)
        deadline = time.time() + 240
        while first.poll() is None and time.time() < deadline and not (run_dir / "run.lock.json").exists():
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended before the second could meet it"
        # Paused (not ended: it holds its lock and is alive) while the second starts, however slowly the
        # machine brings a second interpreter up; then it goes on for a couple of parts and is killed.
        os.killpg(first.pid, signal.SIGSTOP)
        second = subprocess.run(bench_cmd(*args), cwd=REPO, capture_output=True, text=True, timeout=300)
        still_running = first.poll() is None
        os.killpg(first.pid, signal.SIGCONT)
        while first.poll() is None and time.time() < deadline and len(list(run_dir.glob("parts/*.json"))) < 2:
            time.sleep(0.05)  # let the first finish a couple of parts before it is killed
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert still_running, "the first run ended before the second reached the lock: make it longer"
    assert second.returncode == 2, second.stderr[-2000:]
    assert f"error: {run_dir}: in use by pid {first.pid} on host " in second.stderr
    assert "Traceback" not in second.stderr
    vouched = {p.name: p.stat().st_mtime_ns for p in (run_dir / "parts").glob("part-*.parquet")
               if (run_dir / "parts" / (p.name + ".json")).exists()}
    assert vouched

    done = subprocess.run(bench_cmd(*args), cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    r = pd.read_parquet(run_dir / "responses.parquet")
    assert len(r) == 2 * 2 * 2 * 24 and not r.duplicated(["participant_id", "item_id"]).any()
    # the first run's finished parts were reused, not redone
    assert {n: (run_dir / "parts" / n).stat().st_mtime_ns for n in vouched} == vouched


@pytest.mark.vllm
@pytest.mark.skipif(not __import__("tests.conftest", fromlist=["x"]).vllm_available(), reason="vLLM is not installed")
def test_a_whole_run_on_vllm_matches_transformers(small_run, tmp_path, vllm_engine):
    """An in-process run with engine=vllm: the pool gives it the session's vLLM engine (counted: no new load)."""
    cfg, hf_dir = small_run
    loads = active_pool().loads
    vllm_dir = run({**cfg, "engine": compose("engine=vllm")["engine"], "results_dir": str(tmp_path)},
                   print_summary=False)
    a = pd.read_parquet(hf_dir / "responses.parquet")
    b = pd.read_parquet(vllm_dir / "responses.parquet")
    assert set(b["engine"]) == {"vllm"} and (a["prompt_hash"].to_numpy() == b["prompt_hash"].to_numpy()).all()
    np.testing.assert_allclose(np.stack(b["option_probs"]), np.stack(a["option_probs"]), atol=1e-4)
    assert (a["answer"] == b["answer"]).mean() > 0.95  # seeded draws agree unless a probability sits on an edge
    assert active_pool().loads == loads


@pytest.mark.slow
def test_tv_check_compares_logprob_and_sampled_answers(tmp_path):
    from bench.config.load import compose as compose_config
    from bench.pipelines.tv_check import tv_check

    cfg = compose_config("tv_check", ["max_items=2", "tv_check.samples=24", "tv_check.temperature=1.0",
                                      f"results_dir={tmp_path}"])
    table = tv_check(cfg)
    assert len(table) == 2
    assert table["tv"].between(0, 1).all() and table["tv_noise"].between(0, 1).all()
    # with 24 samples the distance is dominated by sampling noise; a broken path would be far off (> 0.5)
    assert table["tv"].mean() < 0.5
    written = list(tmp_path.glob("*-tv-T1-n24/tv_check.json"))
    assert written and json.loads(written[0].read_text())["n_prompts"] == 2


def test_any_hf_folder_runs_as_model_hf(small_run, smollm2_spec, tmp_path):
    """model=hf with the embedded model's own folder must reproduce the embedded run exactly."""
    cfg, first = small_run
    hf_cfg = small_cfg(tmp_path, "model=hf", f"model.path={smollm2_spec.path}", "model.dtype=float32")
    r = pd.read_parquet(run(hf_cfg, print_summary=False) / "responses.parquet")
    want = pd.read_parquet(first / "responses.parquet")
    assert set(r["model_id"]) == {"hf"} and set(r["model_sha256"]) == set(want["model_sha256"])
    np.testing.assert_allclose(np.stack(r["option_probs"]), np.stack(want["option_probs"]), atol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("scoring", ["logprob", "sample"])
def test_conversation_run_resumes_after_an_interruption(hf_engine, tmp_path, scoring):
    """Conversation units depend on earlier answers: a resumed run must rebuild them from the parts."""
    from bench.administration.administer import Administrator
    from bench.engines.rendering import PromptRenderer
    from bench.pipelines.run import prepare
    from bench.results.store import RunStore

    cfg = compose("administration=conversation", f"scoring={scoring}", "max_items=4", "repetitions=2",
                  "temperatures=[1.0]", "templates=[describe]", "option_orders=[original,reversed]",
                  "batch_size=2", "max_new_tokens=4", "progress=false")
    _, plan, _ = prepare(cfg)
    renderer = PromptRenderer(hf_engine.tokenizer, "Answer: ")

    def administrator():
        return Administrator(plan, renderer, scoring, batch_size=2, max_new_tokens=4,
                             constants=dict.fromkeys(("run_config_hash", "model_id", "model_sha256", "adapter_sha256",
                                                      "engine", "scoring_mode", "administration", "inventory_id",
                                                      "inventory_version", "persona_set", "env_hash", "git_commit"),
                                                     "x") | {"seed": 0})

    class Stop(Exception):
        pass

    def stop_after(n):
        def hook(unit):
            if unit >= n:
                raise Stop
        return hook

    interrupted = RunStore(tmp_path / "interrupted")
    with pytest.raises(Stop):  # stop after unit 4 (units: 4 items x 2 chunks; chunk 0 runs first, item after item)
        administrator().run(hf_engine, interrupted, progress=False, after_unit=stop_after(4))
    assert 0 < len(interrupted.done_units()) < len(administrator().units())
    administrator().run(hf_engine, interrupted, progress=False)
    clean = RunStore(tmp_path / "clean")
    administrator().run(hf_engine, clean, progress=False)
    a = pd.read_parquet(interrupted.finalize())
    b = pd.read_parquet(clean.finalize())
    assert len(a) == 4 * 4 and not a.duplicated(["participant_id", "item_id"]).any()
    # a resumed chunk's item starts from a conversation cache kept (or not) by whichever run the engine served before
    assert_same_responses(a, b)


def test_resume_refuses_when_weights_inventory_or_packages_changed(small_run, tmp_path):
    from bench.results.run_folder import RunFolderError

    cfg, first = small_run
    copy = tmp_path / first.name
    import shutil

    shutil.copytree(first, copy)
    stamp = json.loads((copy / "fingerprint.json").read_text())
    (copy / "fingerprint.json").write_text(json.dumps({**stamp, "env_hash": "something-else"}))
    with pytest.raises(RunFolderError, match="env_hash changed"):
        run({**cfg, "results_dir": str(tmp_path)}, print_summary=False)
    (copy / "fingerprint.json").write_text(json.dumps(stamp))
    with pytest.raises(RunFolderError, match="different config .*repetitions"):
        run({**cfg, "results_dir": str(tmp_path), "run_name": first.name, "repetitions": 3}, print_summary=False)


def test_prompts_longer_than_the_model_allows_fail_before_any_work(tmp_path):
    from bench.pipelines.run import RunError

    with pytest.raises(RunError, match="max_model_len=300"):
        run(small_cfg(tmp_path, "administration=conversation", "model.max_model_len=300"), print_summary=False)
    assert not list(tmp_path.glob("*/parts/*.parquet"))
