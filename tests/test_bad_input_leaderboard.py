"""Hostile input to the leaderboard and `sweep merge`, on real SmolLM2 run folders.

Each case asserts the correct result or a named error (a BenchError subclass), never a traceback, and
that nothing is lost: every file that existed before under the runs and the output folder is
byte-identical after. The first tests are the failures of issue 12, each failing on the code before it:
the leaderboard deleting `runs/`, survey runs skipped with KeyError 'trait_summary', `&#x27;` in
leaderboard.md, a YAML alias bomb hanging the collector, and merge giving two runs the same key.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bench.errors import BenchError
from bench.leaderboard import build_leaderboard
from bench.leaderboard.site import SITE_MANIFEST
from bench.pipelines.run import run
from bench.results.outdir import OutputFolderError
from bench.results.sweep import SweepError, merge
from tests.conftest import cli_in_process, compose

pytestmark = [pytest.mark.model]

TINY = ("max_items=2", "repetitions=1", "temperatures=[0.0]", "option_orders=[original]", "templates=[describe]",
        "progress=false")
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))
FAST = 60  # seconds: a hostile folder is refused at once, never parsed for minutes


def snapshot(*roots: Path) -> dict[str, bytes | str]:
    """Every file (bytes) and link (target) below the roots, links not followed."""
    out: dict[str, bytes | str] = {}
    for root in roots:
        if root.is_symlink() or root.is_file():
            out[str(root)] = os.readlink(root) if root.is_symlink() else root.read_bytes()
            continue
        for top, dirs, files in os.walk(root):
            for name in dirs + files:
                p = Path(top) / name
                if p.is_symlink():
                    out[str(p)] = os.readlink(p)
                elif p.is_file():
                    out[str(p)] = p.read_bytes()
    return out


@pytest.fixture(scope="module")
def runs_a(tmp_path_factory) -> Path:
    """Two real runs under one runs folder: a BFI run named `my-run` and an MBTI run."""
    root = tmp_path_factory.mktemp("runs_a") / "runs"
    run(compose(*TINY, f"results_dir={root}", "run_name=my-run"), print_summary=False)
    run(compose(*TINY, "inventory=mbti", f"results_dir={root}"), print_summary=False)
    return root


@pytest.fixture(scope="module")
def runs_b(tmp_path_factory) -> Path:
    """A different run (seed 1) under another runs folder, with the same folder name `my-run`."""
    root = tmp_path_factory.mktemp("runs_b") / "runs"
    run(compose(*TINY, f"results_dir={root}", "run_name=my-run", "seed=1"), print_summary=False)
    return root


@pytest.fixture(scope="module")
def survey_run(finished_runs) -> Path:
    """The session's survey run (ATP W92 against OpinionQA, in a runs folder of its own): read only."""
    return finished_runs.path("survey")


def good(runs_a: Path) -> Path:
    return runs_a / "my-run"


def old_style_copy(source: Path, target: Path, **kw) -> None:
    """A copy without results.json: a folder written before it, whose config.yaml, metrics.json and
    provenance.json are what the leaderboard reads (and what these tests edit)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("results.json"), **kw)


# -- the failures of issue 12 ------------------------------------------------------------------------

def test_leaderboard_into_the_folder_above_runs_is_refused_and_deletes_nothing(runs_a, tmp_path):
    top = tmp_path / "project"
    shutil.copytree(runs_a, top / "runs")
    before = snapshot(top)
    with pytest.raises(OutputFolderError, match=r"holds the input folder .*runs"):
        build_leaderboard([top / "runs"], top)
    assert snapshot(top) == before  # responses.parquet and all: byte-identical, nothing added


def test_cli_refuses_out_above_runs_with_a_message_not_a_traceback(runs_a, tmp_path):
    top = tmp_path / "project"
    shutil.copytree(runs_a, top / "runs")
    before = snapshot(top)
    done = cli_in_process("leaderboard", f"runs=[{top / 'runs'}]", f"out={top}")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error: out" in done.stderr and "Traceback" not in done.stderr
    assert snapshot(top) == before


def test_survey_runs_get_a_row_with_their_fidelity(runs_a, survey_run, tmp_path):
    board = build_leaderboard([runs_a, survey_run.parent], tmp_path / "site")
    assert survey_run.name not in {s.path.name for s in board.skipped}, board.report()
    table = pd.read_csv(tmp_path / "site" / "leaderboard.csv").set_index("run")
    row = table.loc[survey_run.name]
    metrics = json.loads((survey_run / "metrics.json").read_text())
    assert row["kind"] == "survey" and row["n_questions"] == 2
    assert row["fidelity.mean_wd"] == pytest.approx(metrics["fidelity"]["mean_wd"])
    assert row["fidelity.mean_tv"] == pytest.approx(metrics["fidelity"]["mean_tv"])
    assert table.loc["my-run", "kind"] == "inventory"
    assert set(table["kind"]) == {"inventory", "type inventory", "survey"}
    page = (tmp_path / "site" / "runs" / f"{survey_run.name}.html").read_text()
    assert "Answer shares by question" in page and "questions.svg" in page
    assert (tmp_path / "site" / "runs" / survey_run.name / "questions.svg").stat().st_size > 1000


def test_clone_report_runs_are_a_kind_with_their_section(runs_a, tmp_path):
    root = tmp_path / "runs"
    old_style_copy(good(runs_a), root / "clone-run")
    metrics = json.loads((root / "clone-run" / "metrics.json").read_text())
    metrics["clone"] = {"perplexity_base": 20.5, "perplexity_clone": 12.25, "trait_mae": 0.31, "profile_r": 0.6,
                        "style_similarity": 0.8, "kl_clone_base": 0.1, "mbti_letter_agreement": None}
    (root / "clone-run" / "metrics.json").write_text(json.dumps(metrics))
    build_leaderboard([root], tmp_path / "site")
    row = pd.read_csv(tmp_path / "site" / "leaderboard.csv").iloc[0]
    assert row["kind"] == "clone report" and row["clone.trait_mae"] == 0.31
    payload = json.loads((tmp_path / "site" / "leaderboard.json").read_text())
    assert "clone.trait_mae" in payload["headline_columns"]


def test_markdown_has_quotes_not_html_entities(runs_a, tmp_path):
    root = tmp_path / "runs"
    old_style_copy(good(runs_a), root / "quoted")
    cfg = yaml.safe_load((root / "quoted" / "config.yaml").read_text())
    cfg["persona"]["set"] = "it's \"quoted\" & <b>"
    (root / "quoted" / "config.yaml").write_text(yaml.safe_dump(cfg))
    build_leaderboard([root], tmp_path / "site")
    md = (tmp_path / "site" / "leaderboard.md").read_text()
    assert "it's \"quoted\" \\& \\<b\\>" in md and "&#x27;" not in md and "&quot;" not in md


def test_alias_bomb_config_is_skipped_at_once(runs_a, tmp_path):
    root = tmp_path / "runs"
    old_style_copy(good(runs_a), root / "bomb")
    (root / "bomb" / "config.yaml").write_text(BOMB)
    assert len(BOMB) < 1100
    start = time.monotonic()
    board = build_leaderboard([root], tmp_path / "site")
    assert time.monotonic() - start < FAST
    (skipped,) = board.skipped
    assert skipped.path.name == "bomb" and "alias bomb" in skipped.reason and "config.yaml" in skipped.reason


def test_merge_keys_runs_of_the_same_folder_name_apart(runs_a, runs_b, tmp_path):
    report = merge([runs_a, runs_b], tmp_path / "merged")
    responses = pd.read_parquet(tmp_path / "merged" / "responses.parquet")
    assert len(report["run_ids"]) == len(set(report["run_ids"])) == 3
    assert not responses.duplicated(["run_id", "participant_id", "item_id"]).any()
    same_name = responses[responses["run"] == "my-run"]
    assert same_name["run_id"].nunique() == 2
    metrics = pd.read_csv(tmp_path / "merged" / "metrics.csv")
    assert metrics["run_id"].is_unique and (metrics["run"] == "my-run").sum() == 2


def test_merge_refuses_the_same_run_twice_naming_both(runs_a, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(good(runs_a), copy / "my-run")
    with pytest.raises(SweepError, match=r"twice: .*my-run and .*my-run"):
        merge([runs_a, copy], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


# -- hostile run folders: skipped with their reason, the good run kept, nothing touched --------------

def _write(rel: str, data: bytes | str):
    def change(folder: Path) -> None:
        path = folder / rel
        path.unlink(missing_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return change


def _json(rel: str, change):
    def edit(folder: Path) -> None:
        m = json.loads((folder / rel).read_text())
        change(m)
        (folder / rel).write_text(json.dumps(m))  # NaN written as NaN, as Python's json does
    return edit


def _metrics(change):
    return _json("metrics.json", change)


def _results(change):
    return _json("results.json", change)


def _config(change):
    def edit(folder: Path) -> None:
        cfg = yaml.safe_load((folder / "config.yaml").read_text())
        change(cfg)
        (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    return edit


def _torn(rel: str, keep: float):
    def change(folder: Path) -> None:
        data = (folder / rel).read_bytes()
        (folder / rel).write_bytes(data[: int(len(data) * keep)])
    return change


def _huge(rel: str, size: int):
    def change(folder: Path) -> None:
        with open(folder / rel, "r+b") as fh:  # sparse: refused by its size, never read
            fh.truncate(size)
    return change


def _remove(rel: str):
    return lambda folder: (folder / rel).unlink()


def _as_folder(rel: str):
    def change(folder: Path) -> None:
        (folder / rel).unlink()
        (folder / rel).mkdir()
        (folder / rel / "x").write_text("x")
    return change


def _link(rel: str, target: str):
    def change(folder: Path) -> None:
        (folder / rel).unlink()
        (folder / rel).symlink_to(target)
    return change


# (case, change to a copy of a real run folder, expected: ("skipped", words in the reason) or ("row", note))
FOLDER_CASES = [
    ("config-empty", _write("config.yaml", ""), ("skipped", "config.yaml is malformed: expected a mapping")),
    ("config-torn", lambda f: (f / "config.yaml").write_text((f / "config.yaml").read_text() + "\ntemperatures: [0.0, "),
     ("skipped", "config.yaml is malformed")),
    ("config-truncated-mid-key", _write("config.yaml", "model:\n  id: smollm2\ninventory: {name: bf"),
     ("skipped", "not valid YAML")),
    ("config-non-utf8", _write("config.yaml", b"model: \xff\xfe\xfa\n"), ("skipped", "not valid YAML")),
    ("config-alias-bomb", _write("config.yaml", BOMB), ("skipped", "alias bomb")),
    ("config-huge", _huge("config.yaml", 5 * 1024 * 1024), ("skipped", "over the")),
    ("config-a-list", _write("config.yaml", "- a\n- b\n"), ("skipped", "expected a mapping, got list")),
    ("config-deeply-nested", _write("config.yaml", "[" * 20000 + "]" * 20000), ("skipped", "config.yaml is malformed")),
    ("config-deep-block-mapping", _write("config.yaml", "a:\n" + "".join("  " * i + "b:\n" for i in range(1, 3000))),
     ("skipped", "config.yaml is malformed")),
    ("config-is-a-folder", _as_folder("config.yaml"), ("skipped", "not a file")),
    ("config-link-to-dev-zero", _link("config.yaml", "/dev/zero"), ("skipped", "not a file")),
    ("config-broken-link", _link("config.yaml", "/no/such/file"), ("skipped", "config.yaml is malformed")),
    ("config-python-tag", _write("config.yaml", "model: !!python/object/apply:os.system [echo pwned]\n"),
     ("skipped", "not valid YAML")),
    ("metrics-a-list", _write("metrics.json", "[1, 2, 3]"), ("skipped", "expected a mapping, got list")),
    ("metrics-empty", _write("metrics.json", ""), ("skipped", "metrics.json is malformed")),
    ("metrics-truncated", _torn("metrics.json", 0.3), ("skipped", "metrics.json is malformed")),
    ("metrics-non-utf8", _write("metrics.json", b"{\"a\": \"\xff\"}"), ("skipped", "metrics.json is malformed")),
    ("metrics-huge", _huge("metrics.json", 65 * 1024 * 1024), ("skipped", "over the")),
    ("metrics-deeply-nested", _write("metrics.json", "[" * 200000), ("skipped", "metrics.json is malformed")),
    ("metrics-missing", _remove("metrics.json"), ("skipped", "metrics.json is missing")),
    ("provenance-missing", _remove("provenance.json"), ("skipped", "provenance.json is missing")),
    ("metrics-trait-summary-a-string", _metrics(lambda m: m.update(trait_summary="E")), ("skipped", "per-trait rows")),
    ("metrics-invalid-rates-missing", _metrics(lambda m: m.pop("invalid_rates")), ("skipped", "invalid_rates")),
    ("config-model-a-string", _config(lambda c: c.update(model="smollm2")), ("row", "")),
    ("metrics-nan-everywhere", _metrics(lambda m: [r.update(mean=float("nan"), sd=float("inf"))
                                                   for r in m["trait_summary"]]), ("row", "")),
    ("responses-garbage", _write("responses.parquet", b"PAR1 not really"), ("row", "responses.parquet left out")),
    ("scores-torn", _torn("scores.parquet", 0.5), ("row", "scores.parquet left out")),
    ("fidelity-binary", _write("fidelity.csv", b"\x00\xff" * 1000), ("row", "")),
    # results.json, read (where present) instead of config.yaml, metrics.json and provenance.json
    ("results-torn", _torn("results.json", 0.3), ("skipped", "results.json is malformed")),
    ("results-a-list", _write("results.json", "[1, 2, 3]"), ("skipped", "expected a mapping, got list")),
    ("results-huge", _huge("results.json", 65 * 1024 * 1024), ("skipped", "over the")),
    ("results-deeply-nested", _write("results.json", "[" * 200000), ("skipped", "results.json is malformed")),
    ("results-is-a-folder", _as_folder("results.json"), ("skipped", "not a file")),
    ("results-link-to-dev-zero", _link("results.json", "/dev/zero"), ("skipped", "not a file")),
    ("results-newer-version", _results(lambda d: d.update(schema_version="2.0")),
     ("skipped", "field '/schema_version': value \"2.0\"")),
    ("results-config-a-string", _results(lambda d: d.update(config="x")), ("skipped", "field '/config': value \"x\"")),
    ("results-trait-summary-a-string", _results(lambda d: d["metrics"].update(trait_summary="E")),
     ("skipped", "per-trait rows")),
    ("results-alone", lambda f: [(f / n).unlink() for n in ("config.yaml", "metrics.json", "provenance.json")],
     ("row", "")),
]


@pytest.mark.parametrize("case,change,expect", FOLDER_CASES, ids=[c[0] for c in FOLDER_CASES])
def test_hostile_run_folder(runs_a, tmp_path, case, change, expect):
    root = tmp_path / "runs"
    shutil.copytree(good(runs_a), root / "good")
    if case.startswith(("config-", "metrics-", "provenance-")):
        old_style_copy(good(runs_a), root / case, symlinks=True)
    else:
        shutil.copytree(good(runs_a), root / case, symlinks=True)
    change(root / case)
    before = snapshot(root)
    start = time.monotonic()
    board = build_leaderboard([root], tmp_path / "site", plots=False)
    assert time.monotonic() - start < FAST
    rows = {r.path.name for r in board.runs}
    skipped = {s.path.name: s.reason for s in board.skipped}
    if expect[0] == "skipped":
        assert rows == {"good"} and case in skipped, board.report()
        assert expect[1] in skipped[case], skipped[case]
        assert case in (tmp_path / "site" / "index.html").read_text()
    else:
        assert rows == {"good", case} and not skipped, board.report()
        notes = " ".join(next(r for r in board.runs if r.path.name == case).notes)
        assert expect[1] in notes
    json.loads((tmp_path / "site" / "leaderboard.json").read_text(),
               parse_constant=lambda c: pytest.fail(f"leaderboard.json holds {c}"))
    assert snapshot(root) == before


def test_symlink_loop_below_runs_is_walked_once(runs_a, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(good(runs_a), root / "good")
    (root / "deeper").mkdir()
    (root / "deeper" / "loop").symlink_to(root, target_is_directory=True)
    (root / "self").symlink_to(".", target_is_directory=True)
    before = snapshot(root)
    board = build_leaderboard([root], tmp_path / "site", plots=False)
    assert [r.path.name for r in board.runs] == ["good"] and not board.skipped
    assert snapshot(root) == before


def test_a_run_folder_that_is_a_file_is_passed_over_and_a_file_root_is_named(runs_a, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(good(runs_a), root / "good")
    (root / "smollm2-bfi-none-logprob-0123456789").write_text("config.yaml\n")
    board = build_leaderboard([root], tmp_path / "site", plots=False)
    assert [r.path.name for r in board.runs] == ["good"] and not board.skipped
    with pytest.raises(BenchError, match="is not a folder"):
        build_leaderboard([root / "smollm2-bfi-none-logprob-0123456789"], tmp_path / "site2")
    assert not (tmp_path / "site2").exists()


def test_two_runs_with_the_same_folder_name_are_two_rows_and_two_pages(runs_a, runs_b, tmp_path):
    board = build_leaderboard([runs_a, runs_b], tmp_path / "site", plots=False)
    assert [r.path.name for r in board.runs].count("my-run") == 2
    pages = sorted(p.name for p in (tmp_path / "site" / "runs").glob("my-run*.html"))
    assert pages == ["my-run-2.html", "my-run.html"]


HOSTILE_LABELS = [
    ("pipe", "model | with | pipes", "model \\| with \\| pipes", "model | with | pipes"),
    ("script", "<script>alert(1)</script>", "\\<script\\>alert(1)\\</script\\>", "<script>alert(1)</script>"),
    ("formula", "=cmd()|' /C calc'!A0", "=cmd()\\|' /C calc'!A0", "'=cmd()|' /C calc'!A0"),
    ("plus-formula", "+HYPERLINK(\"http://x\")", "+HYPERLINK(\"http://x\")", "'+HYPERLINK(\"http://x\")"),
    ("at-and-newline", "@SUM(1)\nsecond line", "@SUM(1) second line", "'@SUM(1)\nsecond line"),
    ("backslash-and-link", "a\\b [x](javascript:alert(1))", "a\\\\b \\[x\\](javascript:alert(1))",
     "a\\b [x](javascript:alert(1))"),
]


@pytest.mark.parametrize("case,model,md,csv", HOSTILE_LABELS, ids=[c[0] for c in HOSTILE_LABELS])
def test_hostile_labels_are_escaped_for_each_format(runs_a, tmp_path, case, model, md, csv):
    root = tmp_path / "runs"
    old_style_copy(good(runs_a), root / "hostile")
    prov = json.loads((root / "hostile" / "provenance.json").read_text())
    prov["model"]["id"] = model
    (root / "hostile" / "provenance.json").write_text(json.dumps(prov))
    build_leaderboard([root], tmp_path / "site", plots=False)
    site = tmp_path / "site"
    text = (site / "leaderboard.md").read_text()
    row = next(line for line in text.splitlines() if "hostile" in line)
    assert md in row and row.count(" | ") == text.splitlines()[2].count(" | ")  # the cell stays one cell
    assert pd.read_csv(site / "leaderboard.csv")["model"].iloc[0] == csv
    assert json.loads((site / "leaderboard.json").read_text())["runs"][0]["model"] == model
    page = (site / "runs" / "hostile.html").read_text()
    assert "<script>alert" not in page and "<script>alert" not in (site / "index.html").read_text()


# -- hostile output folders: refused before anything is written, nothing lost -----------------------

def _out_cases():
    def above_runs(t, runs):
        return t  # runs=[t/runs], out=t: the case

    return [
        ("out-is-the-runs-folder", lambda t, runs: runs, r"is the input folder"),
        ("out-above-the-runs-folder", above_runs, r"holds the input folder"),
        ("out-inside-the-runs-folder", lambda t, runs: runs / "site", r"is inside the input folder"),
        ("out-inside-a-run-folder", lambda t, runs: runs / "good" / "site", r"inside the input folder"),
        ("out-holds-other-run-folders", lambda t, runs: _make(t / "site", lambda o: shutil.copytree(
            runs / "good", o / "old-results" / "good")), r"holds run folder"),
        ("out-holds-a-users-index", lambda t, runs: _make(t / "site", lambda o: (o / "index.html").write_text(
            "<h1>my own page</h1>")), r"index.html"),
        ("out-non-empty-without-manifest", lambda t, runs: _make(t / "site", lambda o: (
            (o / "notes").mkdir(), (o / "notes" / "todo.txt").write_text("mine"))), r"no \.persona-bench-site"),
        ("out-is-a-file", lambda t, runs: _make_file(t / "site"), r"not a folder"),
        ("out-forged-manifest", lambda t, runs: _make(t / "site", lambda o: (o / SITE_MANIFEST).write_text(json.dumps(
            {"tool": "persona-bench leaderboard", "files": ["../victim.txt"]}))), r"outside the folder"),
        ("out-manifest-of-another-tool", lambda t, runs: _make(t / "site", lambda o: (o / SITE_MANIFEST).write_text(
            json.dumps({"tool": "something else", "files": []}))), r"not a manifest written by"),
        ("out-manifest-torn", lambda t, runs: _make(t / "site", lambda o: (o / SITE_MANIFEST).write_text(
            '{"tool": "persona-bench leaderboard", "fil')), r"unreadable manifest"),
        ("out-link-to-the-runs-folder", lambda t, runs: _link_to(t / "site", runs), r"is the input folder"),
    ]


def _make(folder: Path, fill) -> Path:
    folder.mkdir(parents=True)
    fill(folder)
    return folder


def _make_file(path: Path) -> Path:
    path.write_text("a file")
    return path


def _link_to(path: Path, target: Path) -> Path:
    path.symlink_to(target, target_is_directory=True)
    return path


OUT_CASES = _out_cases()


@pytest.mark.parametrize("case,make_out,message", OUT_CASES, ids=[c[0] for c in OUT_CASES])
def test_hostile_output_folder_is_refused_before_writing(runs_a, tmp_path, case, make_out, message):
    runs = tmp_path / "runs"
    shutil.copytree(good(runs_a), runs / "good")
    (tmp_path / "victim.txt").write_text("keep me")
    out = make_out(tmp_path, runs)
    before = snapshot(tmp_path)
    with pytest.raises(OutputFolderError, match=message) as err:
        build_leaderboard([runs], out)
    assert str(out) in str(err.value)
    assert snapshot(tmp_path) == before


def test_rebuild_removes_only_its_own_stale_files(runs_a, runs_b, tmp_path):
    site = tmp_path / "site"
    build_leaderboard([runs_a, runs_b], site)
    assert (site / "runs" / "my-run-2.html").is_file()
    manifest = json.loads((site / SITE_MANIFEST).read_text())
    assert manifest["complete"] and "runs/my-run-2.html" in manifest["files"]
    on_disk = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert on_disk == sorted([*manifest["files"], SITE_MANIFEST])  # every file it wrote is listed
    board = build_leaderboard([runs_a], site)
    assert not (site / "runs" / "my-run-2.html").exists() and not (site / "runs" / "my-run-2").exists()
    assert "runs/my-run-2.html" in board.removed
    # a file of the user's added to the site is never deleted: the next build is refused, the file kept
    (site / "runs" / "mine.txt").write_text("mine")
    before = snapshot(site)
    with pytest.raises(OutputFolderError, match="mine.txt"):
        build_leaderboard([runs_a], site)
    assert snapshot(site) == before


def test_a_killed_build_leaves_files_the_next_build_owns(runs_a, tmp_path):
    site = tmp_path / "site"
    build_leaderboard([runs_a], site)
    (site / "runs" / ".my-run.html.abc123.tmp").write_text("half")  # what a kill -9 mid-write leaves
    manifest = json.loads((site / SITE_MANIFEST).read_text())
    manifest["complete"] = False
    (site / SITE_MANIFEST).write_text(json.dumps(manifest))
    build_leaderboard([runs_a], site)
    assert not (site / "runs" / ".my-run.html.abc123.tmp").exists()
    assert json.loads((site / SITE_MANIFEST).read_text())["complete"]


# -- sweep merge: its folder ------------------------------------------------------------------------

MERGE_CASES = [
    ("merge-out-is-an-input-run", lambda t, runs: runs / "my-run", r"is the input folder"),
    ("merge-out-inside-an-input-run", lambda t, runs: runs / "my-run" / "merged", r"inside the input folder"),
    ("merge-out-is-the-runs-folder", lambda t, runs: runs, r"holds run folder"),
    ("merge-out-holds-a-foreign-responses", lambda t, runs: _make(t / "merged", lambda o: (
        o / "responses.parquet").write_bytes(b"someone else's results")), r"responses\.parquet"),
    ("merge-out-holds-a-foreign-metrics-csv", lambda t, runs: _make(t / "merged", lambda o: (
        o / "metrics.csv").write_text("mine\n")), r"metrics\.csv"),
    ("merge-out-is-a-file", lambda t, runs: _make_file(t / "merged"), r"not a folder"),
]


@pytest.mark.parametrize("case,make_out,message", MERGE_CASES, ids=[c[0] for c in MERGE_CASES])
def test_merge_refuses_a_folder_it_does_not_own(runs_a, tmp_path, case, make_out, message):
    runs = tmp_path / "runs"
    shutil.copytree(runs_a, runs)
    out = make_out(tmp_path, runs)
    before = snapshot(tmp_path)
    with pytest.raises(OutputFolderError, match=message):
        merge([runs], out)
    assert snapshot(tmp_path) == before


def test_merge_leaves_other_files_alone_and_reruns_into_its_own_folder(runs_a, tmp_path):
    out = tmp_path / "merged"
    out.mkdir()
    (out / "README.txt").write_text("my notes")
    merge([runs_a], out)
    first = (out / "metrics.csv").read_bytes()
    merge([runs_a], out)  # its manifest says the four files are its own
    assert (out / "metrics.csv").read_bytes() == first and (out / "README.txt").read_text() == "my notes"
    assert set(json.loads((out / ".persona-bench-merge.json").read_text())["files"]) == {
        "responses.parquet", "scores.parquet", "metrics.parquet", "metrics.csv"}


def test_merge_of_an_alias_bombed_run_is_refused_by_name(runs_a, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(runs_a, runs)
    (runs / "my-run" / "config.yaml").write_text(BOMB)
    start = time.monotonic()
    with pytest.raises(BenchError, match=r"my-run/config\.yaml.*alias bomb"):
        merge([runs], tmp_path / "merged")
    assert time.monotonic() - start < FAST and not (tmp_path / "merged").exists()


def test_cli_merge_into_an_input_run_folder_exits_2(runs_a, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(runs_a, runs)
    before = snapshot(runs)
    done = cli_in_process("sweep", "merge", str(runs / "my-run"), str(runs))
    assert done.returncode == 2 and "error: out" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert snapshot(runs) == before


# -- publishing: only the site's own files, and only over files of ours ------------------------------

def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          capture_output=True, text=True, check=True, timeout=300).stdout


def _repo_with_pages(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "init")
    _git(repo, "checkout", "-q", "--orphan", "gh-pages")
    for name, text in files.items():
        (repo / name).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "pages")
    _git(repo, "checkout", "-q", "main")
    return repo


def test_publish_refuses_a_folder_the_leaderboard_did_not_build(tmp_path):
    from bench.leaderboard.publish import PublishError, publish_gh_pages

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>mine</h1>")
    repo = _repo_with_pages(tmp_path, {"CNAME": "example.org\n"})
    with pytest.raises(PublishError, match=r"no \.persona-bench-site\.json"):
        publish_gh_pages(tmp_path / "site", repo, ["x"])


def test_publish_keeps_others_files_in_the_branch_and_never_their_index(runs_a, tmp_path):
    from bench.leaderboard.publish import PublishError, publish_gh_pages

    site = tmp_path / "site"
    build_leaderboard([runs_a], site, plots=False)
    (site / "secret-notes.txt").write_text("not for publishing")  # refused by the next build, never published
    repo = _repo_with_pages(tmp_path, {"CNAME": "example.org\n"})
    assert "committed" in publish_gh_pages(site, repo, ["my-run"])
    files = set(_git(repo, "ls-tree", "-r", "--name-only", "gh-pages").split())
    assert "CNAME" in files and "index.html" in files and "secret-notes.txt" not in files
    assert _git(repo, "show", "gh-pages:CNAME") == "example.org\n"
    theirs = _repo_with_pages(tmp_path / "b", {"index.html": "<h1>their page</h1>"})
    head = _git(theirs, "rev-parse", "gh-pages")
    with pytest.raises(PublishError, match=r"index\.html"):
        publish_gh_pages(site, theirs, ["my-run"])
    assert _git(theirs, "rev-parse", "gh-pages") == head
