"""The leaderboard on real SmolLM2 runs: aggregation, outputs, escaping, bad folders, publishing, browser.

Three real runs are made once (two share a key and differ in temperatures, one uses trait personas).
Hand-made fixtures of the file format cover what real runs do not hold yet: "fidelity" (#3) and
"clone" (#4) sections, fidelity.csv, hostile names, a corpus key, malformed and partial folders.
The browser tests drive Debian's chromium through selenium and /usr/bin/chromedriver; their
screenshots are saved to tests/artifacts/ (gitignored; CI can keep it as an artifact).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bench.leaderboard import build_leaderboard
from bench.leaderboard.collect import RunFolderError, collect_runs
from bench.results.figures import human_distribution
from bench.leaderboard.publish import publish_gh_pages, publish_hf
from bench.pipelines.run import run
from tests.conftest import REPO, compose

pytestmark = [pytest.mark.model, pytest.mark.slow]

SMALL = ("max_items=10", "repetitions=2", "templates=[describe]", "progress=false")
HOSTILE_MODEL = '<script>window.__pwned = 1</script>evil"model'
HOSTILE_PERSONA = '<img src=x onerror="window.__pwned = 2">I am & "quoted"'
CORPUS_SECRET = "SECRET-CORPUS-LINE my diary says\nthis must never be published"
ARTIFACTS = REPO / "tests" / "artifacts"


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory, finished_runs) -> Path:
    """Two BFI runs without personas, and (a copy of the session's) one with the trait personas."""
    root = tmp_path_factory.mktemp("results")
    for extra in (("temperatures=[0,0.7]",), ("temperatures=[0,1.0]",)):
        run(compose(*SMALL, f"results_dir={root}", *extra), print_summary=False)
    finished_runs.copy("bfi_traits", root)
    return root


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.fixture(scope="module")
def crafted_runs(real_runs, tmp_path_factory) -> Path:
    """File-format fixtures made from a real run folder."""
    root = tmp_path_factory.mktemp("crafted")
    source = next(p for p in sorted(real_runs.iterdir()) if "-none-" in p.name)
    # Copies whose config.yaml, metrics.json or provenance.json are edited stand for folders written before
    # results.json (which, where present, is what the leaderboard reads): they are copied without it.
    old_style = shutil.ignore_patterns("results.json")

    hostile = root / "hostile-run"
    shutil.copytree(source, hostile, ignore=old_style)
    cfg = yaml.safe_load((hostile / "config.yaml").read_text())
    cfg["model"]["id"] = HOSTILE_MODEL
    cfg["persona"] = {"set": "custom</td>", "personas": [{"id": "p1", "target": "E+", "text": HOSTILE_PERSONA}]}
    cfg["corpus_text"] = CORPUS_SECRET
    (hostile / "config.yaml").write_text(yaml.safe_dump(cfg))
    _edit_json(hostile / "provenance.json", lambda p: p["model"].update(id=HOSTILE_MODEL))

    def add_sections(m):
        m["fidelity"] = {"reference": "psych::bfi", "method": "portray", "n_questions": 10, "mean_wd": 0.42,
                         "mean_wd_normalized": 0.1, "mean_tv": 0.3, "frobenius": 2.5, "frobenius_normalized": None,
                         "alpha_model": {"E": 0.5}, "alpha_human": {"E": 0.8},
                         "human_lower_bound": {"mean_wd": {"mean": 0.11, "sd": 0.02},
                                               "frobenius": {"mean": 0.9, "sd": 0.1}}}
        m["clone"] = {"perplexity_base": 20.5, "perplexity_clone": 12.25, "trait_mae": 0.31, "profile_r": 0.6}

    _edit_json(hostile / "metrics.json", add_sections)
    pd.DataFrame({"item_id": ["q1", "q2"], "human_1": [0.1, 0.3], "human_2": [0.2, 0.1], "human_3": [0.3, 0.2],
                  "human_4": [0.2, 0.2], "human_5": [0.2, 0.2]}).to_csv(hostile / "fidelity.csv", index=False)

    truncated = root / "truncated-metrics"
    shutil.copytree(source, truncated, ignore=old_style)
    (truncated / "metrics.json").write_text((truncated / "metrics.json").read_text()[:100])

    unfinished = root / "unfinished"
    unfinished.mkdir()
    shutil.copy(source / "config.yaml", unfinished / "config.yaml")

    wrong_shape = root / "wrong-shape"
    shutil.copytree(source, wrong_shape, ignore=old_style)
    _edit_json(wrong_shape / "metrics.json", lambda m: m.pop("trait_summary"))

    bad_optional = root / "bad-responses"
    shutil.copytree(source, bad_optional)
    (bad_optional / "responses.parquet").write_bytes(b"not a parquet file")
    return root


@pytest.fixture(scope="module")
def site(real_runs, crafted_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    return build_leaderboard([real_runs, crafted_runs], out), out


def _csv(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "leaderboard.csv")


def test_every_run_is_one_row_and_same_key_runs_stay_apart(site, real_runs):
    board, out = site
    table = _csv(out)
    assert len(table) == 5  # 3 real runs + the hostile copy + the copy with broken responses
    none_runs = table[(table["persona"] == "none") & (table["model"] == "smollm2")]
    # Same key (model, inventory, persona, scoring, engine), different config: separate rows, told apart.
    assert none_runs["config_hash"].nunique() == 2
    variants = dict(zip(none_runs["run"], none_runs["variant"]))
    # temperatures are typed List[float]: `temperatures=[0,0.7]` is saved (and shown) as [0.0, 0.7]
    assert all(v.startswith("temperatures=[0.0, ") for v in variants.values()), variants
    assert {v.split(";")[0] for v in variants.values()} == {"temperatures=[0.0, 0.7]", "temperatures=[0.0, 1.0]"}
    # A copy of a run with the same config (bad-responses) is kept too, and says which run it repeats.
    assert "same config as" in variants["bad-responses"]
    assert sum("same config as" in v for v in variants.values()) == 2
    assert set(table["persona"]) >= {"none", "traits"}


def test_columns_match_each_runs_metrics(site):
    board, out = site
    table = _csv(out).set_index("run")
    for rec in board.runs:
        m = rec.metrics
        row = table.loc[rec.path.name]
        for t in m["trait_summary"]:
            want = np.nan if t["mean"] is None else t["mean"]
            assert row[f"score.{t['trait']}"] == pytest.approx(want, nan_ok=True)
        # independent of metrics.json: the trait means recomputed from the run's own scores.parquet
        scores = pd.read_parquet(rec.path / "scores.parquet")
        for trait, mean in scores.groupby("trait")["score"].mean().dropna().items():
            assert row[f"score.{trait}"] == pytest.approx(mean)
        alphas = [r["alpha"] for r in m["reliability"] if r["alpha"] is not None]
        assert row["alpha_mean"] == pytest.approx(np.mean(alphas) if alphas else np.nan, nan_ok=True)
        shifts = [abs(r["mean_shift"]) for r in m["option_order_symmetry"] if r["mean_shift"] is not None]
        if shifts:
            assert row["option_order_abs_shift_mean"] == pytest.approx(np.mean(shifts))
        assert row["invalid_rate"] == pytest.approx(m["invalid_rates"]["invalid_rate"])
        icc = m["icc_repetitions"]["pooled"]["icc2_mean"]
        assert row["icc2_mean"] == pytest.approx(np.nan if icc is None else icc, nan_ok=True)


def test_extra_sections_become_columns(site):
    _, out = site
    table = _csv(out)
    row = table[table["model"] == HOSTILE_MODEL].iloc[0]
    assert row["fidelity.mean_wd"] == 0.42 and row["fidelity.frobenius"] == 2.5
    assert row["fidelity.human_lower_bound.mean_wd.mean"] == 0.11
    assert row["fidelity.alpha_human.E"] == 0.8 and np.isnan(row["fidelity.frobenius_normalized"])
    assert row["clone.perplexity_clone"] == 12.25 and row["clone.trait_mae"] == 0.31
    # runs without the sections have empty cells, not zeros
    assert table.loc[table["model"] == "smollm2", "fidelity.mean_wd"].isna().all()
    payload = json.loads((out / "leaderboard.json").read_text())
    for col in ("fidelity.mean_wd", "fidelity.human_lower_bound.mean_wd.mean", "clone.trait_mae"):
        assert col in payload["headline_columns"]
    assert "fidelity.alpha_human.E" not in payload["headline_columns"]  # in the CSV/JSON, not the page table


def test_markdown_and_json_hold_every_run(site):
    board, out = site
    md = (out / "leaderboard.md").read_text()
    for rec in board.runs:
        assert rec.path.name in md
    header = md.splitlines()[2]
    # (an underscore is backslash-escaped in Markdown: it renders as mean_wd)
    assert header.startswith("| model") and "alpha (mean)" in header and "mean\\_wd human LB" in header
    # Markdown escaping, not HTML escaping: markup characters backslash-escaped, quotes left as quotes
    assert "<script>" not in md and "\\<script\\>" in md and "&lt;" not in md and "&#" not in md
    assert 'evil"model' in md
    payload = json.loads((out / "leaderboard.json").read_text())
    assert len(payload["runs"]) == 5 and payload["key"] == ["model", "inventory", "persona", "scoring", "engine"]


def test_bad_run_folders_are_reported_and_skipped(site):
    board, out = site
    reasons = {s.path.name: s.reason for s in board.skipped}
    assert set(reasons) == {"truncated-metrics", "unfinished", "wrong-shape"}
    assert "metrics.json is malformed" in reasons["truncated-metrics"]
    assert "metrics.json is missing" in reasons["unfinished"]
    assert "trait_summary" in reasons["wrong-shape"]
    broken = next(r for r in board.runs if r.path.name == "bad-responses")
    assert broken.answers is None and any("responses.parquet" in n for n in broken.notes)
    index = (out / "index.html").read_text()
    assert "truncated-metrics" in index and "metrics.json is malformed" in index
    report = board.report()
    assert "skipped" in report and "bad-responses" in report


def test_no_corpus_text_and_no_raw_markup_in_any_output(site):
    _, out = site
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            assert "SECRET-CORPUS-LINE" not in text, path
            if path.suffix in (".html", ".md"):
                assert "<script>window.__pwned" not in text and "<img src=x" not in text, path
    page = next((out / "runs").glob("hostile-run*.html")).read_text()
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;evil&#34;model" in page
    assert "&lt;img src=x onerror=&#34;window.__pwned = 2&#34;&gt;" in page
    assert "custom&lt;/td&gt;" in page and "[withheld]" in page


def test_charts_and_provenance_on_run_pages(site):
    board, out = site
    for rec in board.runs:
        folder = out / "runs" / rec.path.name
        for fmt in ("svg", "png"):
            assert (folder / f"profile.{fmt}").stat().st_size > 1000
            # a run at one temperature has no temperature figure, and its page says why
            assert (folder / f"temperature.{fmt}").is_file() == (rec.scores["temperature"].nunique() > 1)
            assert (folder / f"answers.{fmt}").is_file() == (rec.answers is not None)
        page = (out / "runs" / f"{rec.path.name}.html").read_text()
        assert f'href="{rec.path.name}/profile.png"' in page
        if rec.scores["temperature"].nunique() == 1:
            assert "temperature effect on scores: one temperature only" in page
        assert rec.provenance["config_hash"] in page and rec.provenance["model"]["sha256"] in page


def test_human_distribution_from_fidelity_csv():
    wide = pd.DataFrame({"item_id": ["a", "b"], "human_1": [0.2, 0.4], "human_2": [0.8, 0.6]})
    np.testing.assert_allclose(human_distribution(wide).to_numpy(), [0.3, 0.7])
    long = pd.DataFrame({"option": [1, 2, 1, 2], "human": [1.0, 3.0, 1.0, 3.0]})
    np.testing.assert_allclose(human_distribution(long).to_numpy(), [0.25, 0.75])
    assert human_distribution(pd.DataFrame({"item_id": ["a"], "wd": [0.1]})) is None


def test_a_missing_results_folder_is_named(tmp_path):
    with pytest.raises(RunFolderError, match="nowhere"):
        collect_runs([tmp_path / "nowhere"])


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_cli_builds_and_commits_to_gh_pages(real_runs, crafted_runs, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("project\n")
    _git(repo, "add", "README.md")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    out = tmp_path / "site"
    cmd = [sys.executable, "-m", "bench", "leaderboard", f"runs=[{real_runs},{crafted_runs}]", f"out={out}",
           f"publish.gh_pages_repo={repo}", "publish.hf_repo=someone/leaderboard"]
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "leaderboard: 5 runs" in done.stdout and "skipped" in done.stdout
    assert "Hugging Face push skipped: HF_TOKEN is not set" in done.stdout
    for name in ("index.html", "leaderboard.md", "leaderboard.csv", "leaderboard.json", "assets/leaderboard.js"):
        assert (out / name).is_file(), name
    # The site is the whole content of gh-pages; main and the working tree are untouched.
    files = set(_git(repo, "ls-tree", "-r", "--name-only", "gh-pages").split())
    assert {"index.html", "leaderboard.csv", ".nojekyll"} <= files and "README.md" not in files
    message = _git(repo, "log", "-1", "--format=%B", "gh-pages")
    assert message.startswith("leaderboard: 5 runs")
    for run_dir in real_runs.iterdir():
        assert run_dir.name in message
    assert _git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert _git(repo, "show", "gh-pages:leaderboard.md") == (out / "leaderboard.md").read_text()
    # Publishing the same site again adds no commit; a changed site adds one on top.
    names = [p.name for p in real_runs.iterdir()]
    assert "nothing to commit" in publish_gh_pages(out, repo, names)
    # A file the leaderboard did not write is never published; a rebuilt site adds a commit on top.
    (out / "private-notes.txt").write_text("x")
    assert "nothing to commit" in publish_gh_pages(out, repo, names)
    (out / "private-notes.txt").unlink()
    build_leaderboard([real_runs, crafted_runs], out, title="another title")
    assert "committed" in publish_gh_pages(out, repo, names)
    assert int(_git(repo, "rev-list", "--count", "gh-pages")) == 2
    assert "private-notes.txt" not in _git(repo, "ls-tree", "-r", "--name-only", "gh-pages")


def test_hf_push_is_skipped_without_a_token(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    message = publish_hf(tmp_path, "someone/leaderboard", ["a"])
    assert message.startswith("Hugging Face push skipped") and "HF_TOKEN" in message


# --------------------------------------------------------------------------------------------
# in a real browser


@pytest.fixture(scope="module")
def browser():
    if not (shutil.which("chromium") and Path("/usr/bin/chromedriver").exists()):
        pytest.skip("chromium / chromedriver not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--allow-file-access-from-files"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def _column(driver, col: str) -> list[str]:
    from selenium.webdriver.common.by import By

    heads = [th.get_attribute("data-col") for th in driver.find_elements(By.CSS_SELECTOR, "#leaderboard thead th")]
    k = heads.index(col)
    return [tr.find_elements(By.TAG_NAME, "td")[k].get_attribute("data-v")
            for tr in driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr") if tr.is_displayed()]


def test_browser_sorts_filters_and_opens_a_run_page(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    board, out = site
    browser.get((out / "index.html").as_uri())
    assert browser.title == "persona-bench leaderboard"
    header = browser.find_element(By.CSS_SELECTOR, '#leaderboard th[data-col="score.E"]')
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    values = [float(v) for v in _column(browser, "score.E") if v]
    assert values == sorted(values) and len(set(values)) > 1
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    values = [float(v) for v in _column(browser, "score.E") if v]
    assert values == sorted(values, reverse=True)

    Select(browser.find_element(By.ID, "filter-persona")).select_by_visible_text("traits")
    assert _column(browser, "persona") == ["traits"]
    assert browser.find_element(By.ID, "shown-count").text == "1"
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "leaderboard-index.png"))

    traits_run = next(r for r in board.runs if r.config["persona"]["set"] == "traits")
    link = browser.find_element(By.LINK_TEXT, traits_run.path.name)
    link.click()
    assert browser.current_url.endswith(f"runs/{traits_run.path.name}.html")
    assert browser.find_element(By.ID, "run-title").text == "smollm2 on bfi"
    provenance = browser.find_element(By.ID, "provenance").text
    assert traits_run.provenance["config_hash"] in provenance and traits_run.provenance["model"]["sha256"] in provenance
    images = browser.find_elements(By.CSS_SELECTOR, ".charts img")
    assert len(images) == 3
    assert all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
               for img in images)
    # A persona text from the run's config is shown as written.
    persona_text = traits_run.config["persona"]["personas"][0]["text"]
    assert persona_text in browser.find_element(By.TAG_NAME, "body").text
    browser.save_screenshot(str(ARTIFACTS / "leaderboard-run.png"))


def test_browser_shows_a_script_model_name_as_text(site, browser):
    from selenium.webdriver.common.by import By

    _, out = site
    browser.get((out / "index.html").as_uri())
    cells = [tr.find_elements(By.TAG_NAME, "td")[0].text
             for tr in browser.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")]
    assert HOSTILE_MODEL in cells
    assert browser.execute_script("return window.__pwned === undefined")
    page = next((out / "runs").glob("hostile-run*.html"))
    browser.get(page.as_uri())
    assert browser.execute_script("return window.__pwned === undefined")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert f"{HOSTILE_MODEL} on bfi" in body and HOSTILE_PERSONA in body
    assert browser.find_elements(By.TAG_NAME, "script") == []  # run pages carry no script at all
