"""results.json and prompts.parquet on real SmolLM2 runs: the schema, the prompt texts, resume, validate, leaderboard.

One tiny run (4 items, two option orders, batches of 2: four units; the session's finished `bfi` run) is made
once; the resume and leaderboard tests work on copies of it, so only the units they take away are computed again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import jsonschema
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from bench.leaderboard import build_leaderboard
from bench.leaderboard.collect import collect_runs
from bench.pipelines.run import rerun, run
from bench.results.results_json import SCHEMA_PATH, build_results, problems, schema, update_metrics, write_results
from bench.results.schema import PROMPT_SCHEMA
from bench.results.store import PartQuarantined
from bench.tools.filecheck import check_file
from tests.conftest import REPO, cli_in_process, compose

pytestmark = [pytest.mark.model]


@pytest.fixture(scope="module")
def tiny(finished_runs):
    """The session's `bfi` run (tests/conftest.py FINISHED_RUNS) and its config: read it, change only copies."""
    return finished_runs.config("bfi"), finished_runs.path("bfi")


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_results_json_follows_its_schema_and_holds_the_run(tiny):
    _, folder = tiny
    jsonschema.Draft202012Validator.check_schema(schema())
    data = load(folder / "results.json")
    assert problems(data) == []
    assert data["format"] == "persona-bench results" and data["schema_version"] == "1.0"
    assert data["run"] == {"name": folder.name, "kind": "run"}
    assert data["config"] == yaml.safe_load((folder / "config.yaml").read_text())
    assert data["provenance"] == load(folder / "provenance.json")
    assert data["config_hash"] == data["provenance"]["config_hash"]
    metrics = load(folder / "metrics.json")
    assert data["metrics"] == metrics and data["warnings"] == metrics["warnings"]
    for name in ("responses.parquet", "prompts.parquet", "scores.parquet", "metrics.json", "config.yaml",
                 "provenance.json", "summary.md"):
        assert data["files"][name] == {"bytes": (folder / name).stat().st_size, "sha256": sha256(folder / name)}


def test_the_provenance_says_how_many_bootstrap_resamples_the_intervals_took(tiny):
    """Same config and same PERSONA_BENCH_N_BOOT: same numbers; the provenance says which size a run used."""
    from bench.metrics.uncertainty import n_boot_default

    _, folder = tiny
    assert load(folder / "provenance.json")["n_boot"] == n_boot_default()
    assert load(folder / "results.json")["provenance"]["n_boot"] == n_boot_default()


def test_every_interval_of_metrics_json_is_a_figure(tiny):
    _, folder = tiny
    data = load(folder / "results.json")
    figs = {f["path"]: f for f in data["figures"]}
    for i, row in enumerate(data["metrics"]["trait_summary"]):
        f = figs[f"/trait_summary/{i}/mean"]
        assert (f["value"], f["ci_low"], f["ci_high"], f["n"]) == (row["mean"], row["ci_low"], row["ci_high"], row["n"])
        assert f["labels"]["trait"] == row["trait"] and f["warning"] == row.get("warning")
    for i, row in enumerate(data["metrics"]["reliability"]):
        assert figs[f"/reliability/{i}/alpha"]["ci_low"] == row["alpha_ci_low"]
    rate = figs["/invalid_rates/invalid_rate"]
    assert rate["value"] == data["metrics"]["invalid_rates"]["invalid_rate"] and rate["section"] == "invalid_rates"
    # counted independently, in the file's text: each interval (`ci_low` or `X_ci_low`) is one figure
    assert len(data["figures"]) == (folder / "metrics.json").read_text().count('ci_low"') > 10


def test_prompts_parquet_holds_each_prompt_once_with_its_text(tiny):
    from transformers import AutoTokenizer

    cfg, folder = tiny
    responses = pd.read_parquet(folder / "responses.parquet")
    prompts = pd.read_parquet(folder / "prompts.parquet")
    assert prompts["prompt_hash"].is_unique
    assert set(prompts["prompt_hash"]) == set(responses["prompt_hash"])
    # 4 items x 2 option orders, each shown once (one temperature, one repetition)
    assert len(prompts) == 8
    tok = AutoTokenizer.from_pretrained(load(folder / "provenance.json")["model"]["path"])
    for row in prompts.itertuples():
        assert hashlib.sha256(row.text.encode()).hexdigest()[:16] == row.prompt_hash
        assert row.text.endswith(cfg["prompt"]["answer_prefix"])
        assert row.n_tokens == len(tok(row.text, add_special_tokens=False).input_ids)
    # the reversed order shows the options the other way round: the texts differ, the question does not
    first = responses[responses["item_index"] == 0].drop_duplicates("prompt_hash")
    texts = prompts.set_index("prompt_hash").loc[first["prompt_hash"], "text"].tolist()
    assert len(texts) == 2 and texts[0] != texts[1]


def _rewrite_prompts_text(path: Path, vouch: bool) -> None:
    """A prompts file whose text was changed after its record was written (vouch: and the record too)."""
    table = pq.read_table(path).to_pandas()
    table.loc[0, "text"] = table.loc[0, "text"] + " tampered"
    pq.write_table(pa.Table.from_pandas(table, schema=PROMPT_SCHEMA, preserve_index=False), path)
    if vouch:
        record = path.with_name(path.name + ".json")
        record.write_text(json.dumps(dict(load(record), bytes=path.stat().st_size, sha256=sha256(path))))


def test_resume_keeps_the_prompt_texts_complete(tiny, tmp_path):
    cfg, folder = tiny
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    for name in ("responses.parquet", "prompts.parquet", "results.json", "metrics.json"):
        (copy / name).unlink()
    parts = copy / "parts"
    # unit 3: killed after its prompts were written, before its part; unit 2: a part written before prompt
    # texts were kept; unit 1: a prompts file changed after its record; unit 0: a text that is not its hash's
    (parts / "part-000003.parquet").unlink()
    (parts / "part-000003.parquet.json").unlink()
    (parts / "prompts-000002.parquet").unlink()
    (parts / "prompts-000002.parquet.json").unlink()
    _rewrite_prompts_text(parts / "prompts-000001.parquet", vouch=False)
    _rewrite_prompts_text(parts / "prompts-000000.parquet", vouch=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = run(dict(cfg, results_dir=str(tmp_path)), print_summary=False)
    assert resumed == copy
    said = " ".join(str(w.message) for w in caught if issubclass(w.category, PartQuarantined))
    assert "prompts-000001.parquet (it has" in said
    assert "prompts-000000.parquet (the text of prompt" in said and "does not hash to it" in said
    assert {p.name for p in (parts / "quarantine").iterdir()} == {
        f"prompts-00000{k}.parquet{ext}" for k in (0, 1) for ext in ("", ".json")}
    key = ["prompt_hash"]
    want = pd.read_parquet(folder / "prompts.parquet").sort_values(key, ignore_index=True)
    got = pd.read_parquet(copy / "prompts.parquet").sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(got, want)
    volatile = ["git_commit"]  # changes when code is committed between the two runs
    pd.testing.assert_frame_equal(pd.read_parquet(copy / "responses.parquet").drop(columns=volatile),
                                  pd.read_parquet(folder / "responses.parquet").drop(columns=volatile))
    assert problems(load(copy / "results.json")) == []
    assert not list(copy.rglob("*.tmp"))


def test_conversation_prompts_rendered_again_are_the_ones_shown(tmp_path):
    """Conversation prompts hold earlier answers: rendering them again takes those from the parts."""
    cfg = compose("administration=conversation", "max_items=3", "repetitions=1", "temperatures=[1.0]",
                  "option_orders=[original]", "templates=[describe]", "batch_size=1", "progress=false",
                  f"results_dir={tmp_path}")
    folder = run(cfg, print_summary=False)
    shown = pd.read_parquet(folder / "prompts.parquet")
    assert len(shown) == 3 and shown["text"].str.len().is_monotonic_increasing  # each holds the answers before it
    for f in (folder / "parts").glob("prompts-*"):
        f.unlink()
    (folder / "prompts.parquet").unlink()
    rerun(folder)
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "prompts.parquet"), shown)


def _corrupt(tmp_path: Path, folder: Path, name: str, change) -> Path:
    copy = tmp_path / name
    shutil.copytree(folder, copy)
    path = copy / "results.json"
    if callable(change):
        data = load(path)
        change(data)
        path.write_text(json.dumps(data))
    else:
        path.write_bytes(change)
    return path


CORRUPT = [
    ("newer-version", lambda d: d.update(schema_version="2.0"), ["field '/schema_version': value \"2.0\"", "1.x"]),
    ("figure-not-a-number", lambda d: d["figures"][0].update(ci_low="low"),
     ["field '/figures/0/ci_low': value \"low\"", "not of type"]),
    ("no-config-hash", lambda d: d.pop("config_hash"), ["field '/config_hash': missing"]),
    ("foreign", lambda d: d.update(format="lm-eval results"), ["field '/format': value \"lm-eval results\""]),
    ("unknown-field", lambda d: d.update(extra=1), ["field '/extra': not a field"]),
    ("bad-sha", lambda d: d["files"]["metrics.json"].update(sha256="0" * 64),
     ["field '/files/metrics.json/sha256'", "changed after the run"]),
    ("torn", b'{"format": "persona-bench results", "schema_', ["not valid JSON: line 1"]),
    ("a-list", b"[1, 2]", ["top level is a list"]),
]


@pytest.mark.parametrize("case,change,words", CORRUPT, ids=[c[0] for c in CORRUPT])
def test_validate_refuses_a_corrupted_or_foreign_results_json(tiny, tmp_path, case, change, words):
    _, folder = tiny
    path = _corrupt(tmp_path, folder, case, change)
    report = check_file(str(path))
    assert report.problems, report
    text = " ".join(report.problems)
    for w in words:
        assert w in text, text


def test_validate_command_names_file_field_and_value(tiny, tmp_path):
    _, folder = tiny
    ok = cli_in_process("validate", str(folder / "results.json"))
    assert ok.returncode == 0 and "ok (results" in ok.stdout, ok.stderr
    path = _corrupt(tmp_path, folder, "bad", lambda d: d["figures"][1].update(value=[1]))
    bad = cli_in_process("validate", str(path))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert f"{path}: results: field '/figures/1/value': value [1]" in bad.stderr


def test_writing_a_results_json_that_breaks_the_schema_fails_loudly(tiny, tmp_path):
    cfg, folder = tiny
    prov = load(folder / "provenance.json")
    prov.pop("git")
    with pytest.raises(RuntimeError, match="bug: .*results.json.*'/provenance/git': missing"):
        write_results(tmp_path, "run", cfg, prov, load(folder / "metrics.json"), ())
    assert not (tmp_path / "results.json").exists()


def test_sections_added_later_flow_through_as_figures(tiny):
    cfg, folder = tiny
    metrics = dict(load(folder / "metrics.json"),
                   paper_tables={"table_2": [{"model": "m/x", "r": 0.5, "ci_low": 0.2, "ci_high": 0.7, "n": 30},
                                             {"model": "y", "kappa": 0.4, "kappa_ci_low": 0.1, "kappa_ci_high": 0.6}]})
    data = build_results("r", "run", cfg, load(folder / "provenance.json"), metrics, {})
    assert problems(data) == []
    figs = {f["path"]: f for f in data["figures"]}
    r = figs["/paper_tables/table_2/0/r"]
    assert (r["value"], r["ci_low"], r["ci_high"], r["n"], r["labels"]) == (0.5, 0.2, 0.7, 30, {"model": "m/x"})
    assert figs["/paper_tables/table_2/1/kappa"]["ci_high"] == 0.6


def test_a_section_added_to_a_finished_run_reaches_its_results_json(tiny, tmp_path):
    """clone-report adds a `clone` section to a run's metrics.json: results.json follows."""
    _, folder = tiny
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    metrics = dict(load(copy / "metrics.json"), clone={"trait_mae": 0.31, "profile_r": None})
    update_metrics(copy, metrics)
    data = load(copy / "results.json")
    assert problems(data) == [] and data["metrics"]["clone"] == {"trait_mae": 0.31, "profile_r": None}
    assert data["files"]["metrics.json"]["sha256"] == sha256(copy / "metrics.json")
    assert data["config"] == load(folder / "results.json")["config"]
    assert not check_file(str(copy / "results.json")).problems


def test_leaderboard_reads_results_json_and_falls_back_to_the_old_files(tiny, tmp_path):
    _, folder = tiny
    new, old, bad = tmp_path / "new", tmp_path / "old", tmp_path / "bad"
    shutil.copytree(folder, new / "run")
    for name in ("metrics.json", "config.yaml", "provenance.json"):
        (new / "run" / name).unlink()  # results.json alone is enough
    shutil.copytree(folder, old / "run")
    (old / "run" / "results.json").unlink()  # a folder written before results.json
    (a,), skipped_a = collect_runs([new])
    (b,), skipped_b = collect_runs([old])
    assert not skipped_a and not skipped_b
    assert (a.config, a.metrics, a.provenance) == (b.config, b.metrics, b.provenance)
    build_leaderboard([new], tmp_path / "site-new", plots=False)
    build_leaderboard([old], tmp_path / "site-old", plots=False)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "site-new" / "leaderboard.csv"),
                                  pd.read_csv(tmp_path / "site-old" / "leaderboard.csv"))

    edited = tmp_path / "edited"
    shutil.copytree(folder, edited / "run")
    (edited / "run" / "metrics.json").write_text("{}")
    (c,), _ = collect_runs([edited])
    assert c.metrics == a.metrics and c.notes == ("metrics.json changed after results.json was written; "
                                                  "results.json was read",)

    shutil.copytree(folder, bad / "good")
    _corrupt(bad, folder, "newer", lambda d: d.update(schema_version="2.0"))
    _corrupt(bad, folder, "torn", b'{"format": "persona')
    runs, skipped = collect_runs([bad])
    reasons = {s.path.name: s.reason for s in skipped}
    assert [r.path.name for r in runs] == ["good"] and set(reasons) == {"newer", "torn"}
    assert "results.json" in reasons["newer"] and "'/schema_version': value \"2.0\"" in reasons["newer"]
    assert "results.json is malformed" in reasons["torn"]


def test_the_schema_ships_with_the_package():
    assert SCHEMA_PATH.parent.name == "results" and SCHEMA_PATH.is_file()
    text = (REPO / "pyproject.toml").read_text()
    assert '"results/*.json"' in text and "jsonschema" in text


def _rows(pairs: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table({k: [p[i] for p in pairs] for i, k in enumerate(("participant_id", "item_id", "prompt_hash"))})


def test_prompts_are_gathered_once_and_a_missing_text_stops_finalize(tmp_path):
    from bench.results.schema import prompt_hash, prompt_table
    from bench.results.store import RunStore, RunStoreError

    a, b, c = "prompt a", "prompt b", "prompt c"
    ha, hb, hc = map(prompt_hash, (a, b, c))
    store = RunStore(tmp_path / "run")
    # two units share prompt b (two conditions that render the same text)
    store.write_part(0, _rows([("p1", "i1", ha), ("p2", "i1", hb)]), prompt_table([(a, [1]), (b, [1, 2])]))
    store.write_part(1, _rows([("p3", "i1", hb), ("p3", "i2", hc)]), prompt_table([(b, [1, 2]), (c, [3])]))
    store.finalize()
    got = pd.read_parquet(store.finalize_prompts())
    assert sorted(got["prompt_hash"]) == sorted([ha, hb, hc]) and got["prompt_hash"].is_unique
    assert dict(zip(got["text"], got["n_tokens"])) == {a: 1, b: 2, c: 1}

    lacking = RunStore(tmp_path / "lacking")
    lacking.write_part(0, _rows([("p1", "i1", ha), ("p2", "i1", hb)]), prompt_table([(a, [1])]))
    lacking.finalize()
    with pytest.raises(RunStoreError, match=f"1 prompt\\(s\\) of responses.parquet have no text, e.g. {hb}"):
        lacking.finalize_prompts()
    assert not (tmp_path / "lacking" / "prompts.parquet").exists()
