"""Paper tables against hand-computed values on a made score table; their printing (LaTeX parses as a
tabular) and the `tables` command's misuse errors."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from bench.cli import main
from bench.instruments import inventory_from_config
from bench.metrics import SCORE_COLS, jsonable
from bench.metrics.paper_tables import paper_tables, stack_runs, trait_scores
from bench.results.paper_tables import TablesError, render, printed_table, tables_text

MBTI = inventory_from_config({"name": "mbti", "path": None})
CONDITIONS = [("t0", "original"), ("t0", "reversed"), ("t1", "original"), ("t1", "reversed")]
# persona -> (target, {temperature: the four participants' types, in CONDITIONS order})
HAND = {
    "ENTJ_p": ("ENTJ", {0.0: ["ENTJ", "ENTJ", "ENTJ", "INTJ"], 1.0: ["ESFP", "ENTJ", "ISTJ", "ENFJ"]}),
    "ISFP_p": ("ISFP", {0.0: ["ISFP", "ISFP", "ISFP", "ISFP"], 1.0: ["ENTJ", "ENTJ", "ENTJ", "ENTJ"]}),
}


def type_scores() -> pd.DataFrame:
    """A score table as score_participants writes it for mbti: one row per participant and dichotomy."""
    rows = []
    for persona, (target, by_t) in HAND.items():
        for temp, types in by_t.items():
            for (template, order), found in zip(CONDITIONS, types):
                pid = f"{persona}|{template}|{order}|{temp}|0"
                for k, d in enumerate(MBTI.dichotomies):
                    letter = found[k]
                    rows.append(dict(participant_id=pid, persona_id=persona, persona_target=target, template_id=template,
                                     option_order=order, temperature=temp, repetition=0, trait=d.id,
                                     score=30.0 if letter == d.high else 20.0, n_items=8, n_valid=8, letter=letter))
    return pd.DataFrame(rows, columns=SCORE_COLS)


def wilson(k, n):
    return proportion_confint(k, n, alpha=0.05, method="wilson")


def test_type_accuracy_per_persona_and_temperature_by_hand():
    tables = paper_tables(type_scores(), MBTI)
    acc = tables["type_accuracy"].set_index(["persona_id", "temperature"])
    # ENTJ_p: 3 of 4 at T=0, 1 of 4 at T=1; ISFP_p: 4 of 4, then 0 of 4
    for key, k in {("ENTJ_p", 0.0): 3, ("ENTJ_p", 1.0): 1, ("ISFP_p", 0.0): 4, ("ISFP_p", 1.0): 0}.items():
        row = acc.loc[key]
        assert row["n"] == 4 and row["accuracy"] == k / 4, key
        np.testing.assert_allclose([row["accuracy_ci_low"], row["accuracy_ci_high"]], wilson(k, 4), rtol=1e-12)
    assert list(tables["type_accuracy"]["persona_id"]) == ["ENTJ_p", "ENTJ_p", "ISFP_p", "ISFP_p"]


def test_dichotomy_accuracy_by_hand():
    acc = paper_tables(type_scores(), MBTI)["dichotomy_accuracy"].set_index(["persona_id", "temperature", "dichotomy"])
    assert sorted(set(acc.index.get_level_values("dichotomy"))) == ["E/I", "J/P", "S/N", "T/F"]
    # ENTJ_p at T=1 found ESFP, ENTJ, ISTJ, ENFJ: E 3/4, N 2/4, T 2/4, J 3/4
    for d, k in {"E/I": 3, "S/N": 2, "T/F": 2, "J/P": 3}.items():
        row = acc.loc[("ENTJ_p", 1.0, d)]
        assert row["accuracy"] == k / 4 and row["n"] == 4, d
        np.testing.assert_allclose([row["accuracy_ci_low"], row["accuracy_ci_high"]], wilson(k, 4), rtol=1e-12)
    assert (acc.xs(("ISFP_p", 1.0), level=["persona_id", "temperature"])["accuracy"] == 0).all()


def test_type_distribution_counts_and_shares():
    dist = paper_tables(type_scores(), MBTI)["type_distribution"]
    at = dist[(dist["persona_id"] == "ENTJ_p") & (dist["temperature"] == 0.0)].set_index("type")
    assert at["count"].to_dict() == {"ENTJ": 3, "INTJ": 1} and (at["n"] == 4).all()
    np.testing.assert_allclose(at.loc["INTJ", ["share_ci_low", "share_ci_high"]].to_numpy(float), wilson(1, 4))
    assert dist.groupby(["persona_id", "temperature"])["share"].sum().eq(1.0).all()


def test_trait_scores_average_repetitions_before_the_t_interval():
    base = dict(persona_target="", option_order="original", n_items=2, n_valid=2, letter=None, trait="E")
    rows = [dict(base, persona_id="a", template_id=t, option_order=o, temperature=0.0, repetition=r, score=s)
            for t, o, r, s in [("t0", "original", 0, 2.0), ("t0", "original", 1, 4.0), ("t0", "reversed", 0, 5.0),
                               ("t1", "original", 0, 1.0)]]
    rows += [dict(base, persona_id="a", template_id="t0", temperature=1.0, repetition=0, score=3.0)]
    scores = pd.DataFrame([{**r, "participant_id": f"{r['persona_id']}|{r['template_id']}|{r['option_order']}|"
                            f"{r['temperature']}|{r['repetition']}"} for r in rows], columns=SCORE_COLS)
    table = trait_scores(scores).set_index(["persona_id", "temperature", "trait"])
    row = table.loc[("a", 0.0, "E")]
    conditions = [3.0, 5.0, 1.0]  # (2 + 4) / 2, 5, 1
    assert row["mean"] == 3.0 and row["n_conditions"] == 3
    want = stats.t.interval(0.95, 2, loc=3.0, scale=stats.sem(conditions))
    np.testing.assert_allclose([row["ci_low"], row["ci_high"]], want, rtol=1e-12)
    one = table.loc[("a", 1.0, "E")]
    assert one["mean"] == 3.0 and np.isnan(one["ci_low"]) and one["n_conditions"] == 1


def test_stacking_runs_keyed_by_model():
    a = paper_tables(type_scores(), MBTI)
    b = {"trait_scores": a["trait_scores"].head(2)}
    stacked = stack_runs({"model-a": a, "model-b": b})
    assert list(stacked["trait_scores"].columns[:2]) == ["model", "persona_id"]
    assert stacked["trait_scores"]["model"].value_counts().to_dict() == {"model-a": len(a["trait_scores"]), "model-b": 2}
    assert set(stacked["type_accuracy"]["model"]) == {"model-a"}  # stacked from the runs that have it
    view = printed_table(stacked["type_accuracy"], "type_accuracy")
    assert list(view.columns[:2]) == ["model", "persona_id"]


def test_latex_is_a_tabular_with_interval_cells():
    table = paper_tables(type_scores(), MBTI)["dichotomy_accuracy"]
    text = render(table, "dichotomy_accuracy", "latex")
    body = text[text.index(r"\begin{tabular}"):text.index(r"\end{tabular}")]
    spec = re.match(r"\\begin\{tabular\}\{([lrc]+)\}", body).group(1)
    rows = [line for line in body.splitlines() if line.rstrip().endswith(r"\\")]
    assert len(rows) == 1 + 4  # header + persona x temperature
    assert all(line.count("&") == len(spec) - 1 for line in rows)
    assert r"ENTJ\_p" in text  # escaped for LaTeX
    lo, hi = wilson(3, 4)
    assert f"0.750 [{lo:.3f}, {hi:.3f}]" in text and "E/I" in rows[0]


def make_run_folder(root, name, metrics: dict, model="smollm2"):
    folder = root / name
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "config.yaml").write_text(yaml.safe_dump({"model": {"id": model}}))
    return folder


def test_tables_command_prints_every_format(tmp_path, capsys):
    metrics = {"paper_tables": jsonable(paper_tables(type_scores(), MBTI))}
    one = make_run_folder(tmp_path, "one", metrics)
    two = make_run_folder(tmp_path, "two", metrics, model="other")
    assert main(["tables", str(one), "--format", "latex", "--table", "type_accuracy"]) == 0
    out = capsys.readouterr().out
    assert out.count(r"\begin{tabular}") == 1 and "% type_accuracy" in out
    assert main(["tables", str(one), str(two), "--table=trait_scores", "--format=csv"]) == 0
    csv = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert set(csv["model"]) == {"smollm2", "other"} and {"mean", "ci_low", "ci_high"} <= set(csv.columns)
    assert main(["tables", str(one), str(one.parent / "one")]) == 2
    assert "given twice" in capsys.readouterr().err
    assert main(["tables", str(one)]) == 0
    assert capsys.readouterr().out.count("## ") == 4


@pytest.mark.parametrize("args, message", [
    ([], "give one or more run folders"),
    (["{tmp}/nowhere"], "nowhere does not exist"),
    (["{tmp}/empty"], "not a finished run folder (no metrics.json)"),
    (["{tmp}/old"], "no paper_tables (written before"),
    (["{tmp}/survey"], "a survey run has no paper tables"),
    (["{tmp}/bad"], "not valid JSON"),
    (["{tmp}/one", "--format", "html"], "unknown --format 'html'; choose one of markdown, latex, csv"),
    (["{tmp}/one", "--table", "alpha"], "unknown --table 'alpha'; choose one of trait_scores"),
    (["{tmp}/one", "--table", "type_accuracy"], "--table 'type_accuracy' is not in"),
    (["{tmp}/one", "--format", "csv"], "one table at a time"),
    (["{tmp}/one", "--colour"], "unknown option '--colour'"),
    (["{tmp}/one", "--format"], "--format needs a value"),
])
def test_tables_misuse_is_named(tmp_path, capsys, args, message):
    tables = jsonable(paper_tables(type_scores(), MBTI))
    make_run_folder(tmp_path, "one", {"paper_tables": {k: tables[k] for k in ("trait_scores", "type_distribution")}})
    (tmp_path / "empty").mkdir()
    make_run_folder(tmp_path, "old", {"trait_summary": []})
    make_run_folder(tmp_path, "survey", {"question_distributions": [{"item_id": "q"}]})
    (make_run_folder(tmp_path, "bad", {}) / "metrics.json").write_text("{not json")
    assert main(["tables", *[a.format(tmp=tmp_path) for a in args]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: tables") and message in err, err


def test_tables_text_raises_a_bench_error():
    with pytest.raises(TablesError, match="unknown --format"):
        tables_text(["x"], "pdf")
