"""Every interval honest (issue #24): on planted data, no model loaded.

The two failures a researcher found (a Frobenius distance and an MTMM mean |discriminant r| outside their
own percentile intervals, 10 personas) are rebuilt and now give an interval that holds the estimate or
none, with a warning; a bounded score's interval stays on its scale; fewer than 3 units or no spread give
no interval and say which; type accuracy at T=0.01 with 2 repetitions rests on the conditions, not the
answers; the results.json writer and `validate` catch an estimate outside its interval.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from bench.metrics import SCORE_COLS, compute_metrics, score_participants
from bench.metrics import mtmm as mtmm_module
from bench.metrics.mtmm import mtmm
from bench.metrics.paper_tables import paper_tables, trait_scores
from bench.metrics.tables import score_bounds
from bench.metrics.uncertainty import (cluster_bootstrap, drop_outside, effective_n, inside, no_interval_reason,
                                       t_interval)
from bench.populations import fidelity as fidelity_module
from bench.results.results_json import build_results, figures, outside, write_results
from bench.tools.filecheck import check_file
from tests.test_metrics import likert_inventory, responses_table
from tests.test_paper_tables import MBTI
from tests.test_uncertainty import factor_population


def percentile_instead(module, monkeypatch):
    """The module's bootstrap as it was before issue #24: percentile at the nominal level, whatever the
    caller asks."""
    import bench.metrics.uncertainty as uncertainty

    monkeypatch.setattr(uncertainty, "expanded_level", lambda level, n_clusters: level)
    monkeypatch.setattr(module, "cluster_bootstrap", lambda *a, **k: cluster_bootstrap(*a, **{**k, "method": "percentile"}))


def honest(record: dict, name: str) -> bool:
    """The estimate inside its interval, or no interval and a warning that says why."""
    lo, hi = record.get(f"{name}_ci_low"), record.get(f"{name}_ci_high")
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return "no interval" in (record.get(f"{name}_warning") or "")
    return lo <= record[name] <= hi


# ------------------------------------------------------------------------------------------
# the two cases: Frobenius against a human reference, MTMM mean |discriminant r|, 10 personas


@pytest.mark.parametrize("seed", [2, 7])
def test_frobenius_against_a_human_reference_holds_its_estimate_or_drops_its_interval(seed, monkeypatch):
    from bench.metrics.distances import frobenius, ordinal_frame, weighted_correlation

    inv = likert_inventory([(f"q{i}", "E", 1) for i in range(4)])
    scales = {it.id: inv.scale_of(it) for it in inv.items}
    qs = [it.id for it in inv.items]
    human_corr = pd.DataFrame(np.eye(4), index=qs, columns=qs)
    human = {q: np.full(5, 0.2) for q in qs}
    r = factor_population(np.random.default_rng(seed), 10, 2, inv, loading=0.0)  # 10 personas x 2 repetitions
    w = pd.Series(1.0, index=r["participant_id"].unique())
    point = frobenius(weighted_correlation(ordinal_frame(fidelity_module.model_answers(r), scales)), human_corr)

    def section() -> dict:
        ci = fidelity_module.distance_intervals(r, inv, w, human, scales, seed=0, human_corr=human_corr)
        return {"fidelity": {**point, **{k: v for k, v in ci.items() if k.startswith("frobenius")}}}

    with monkeypatch.context() as m:  # the reported failure: a percentile bootstrap above its own estimate
        percentile_instead(fidelity_module, m)
        old = section()["fidelity"]
    assert old["frobenius_ci_low"] > point["frobenius"], old
    metrics = section()
    found = drop_outside(metrics)
    fid = metrics["fidelity"]
    for name in ("frobenius", "frobenius_normalized"):
        assert honest(fid, name), (name, fid)
        if fid[f"{name}_ci_low"] is not None:
            assert fid[f"{name}_ci_low"] >= 0  # a distance's interval stays on [0, inf)
    assert all("excludes the estimate" in f["reason"] for f in found)
    assert outside(figures(metrics)) == []  # what the results.json writer checks


def mtmm_long(seed: int, n_personas: int = 10, reps: int = 2) -> pd.DataFrame:
    """Two methods x three independent traits (true discriminant r 0), 10 personas x 2 repetitions."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_personas):
        z = {t: rng.normal() for t in ("E", "A", "C")}
        for rep in range(reps):
            for method in ("bfi", "ipip"):
                for t, v in z.items():
                    rows.append(dict(participant_id=f"p{p}|t|original|0.01|{rep}", method=method, trait=t,
                                     score=3 + v + 0.5 * rng.normal()))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", [5, 10])
def test_validity_mean_discriminant_r_holds_its_estimate_or_drops_its_interval(seed, monkeypatch):
    long = mtmm_long(seed)
    with monkeypatch.context() as m:
        percentile_instead(mtmm_module, m)
        old = mtmm(long, n_boot=50, seed=0)
    new = mtmm(long, n_boot=50, seed=0)
    means = new["mean_r"]
    for name in ("convergent", "discriminant", "discriminant_abs", "heterotrait_monomethod"):
        assert honest(means, name), (name, means)
    assert {w["figure"].split("/")[-1] for w in new["warnings"]} == \
        {k.removesuffix("_warning") for k in means if k.endswith("_warning")}
    if seed == 10:  # the reported failure (0.228 [0.263, 0.526]): percentile above its estimate, dropped
        assert old["mean_r"]["discriminant_abs_ci_low"] is None
        assert "excludes the estimate" in old["mean_r"]["discriminant_abs_warning"]


def test_inside_keeps_the_estimate_and_never_stretches_the_interval():
    assert inside(3.807, 3.0, 4.0) == (3.0, 4.0, None)
    lo, hi, why = inside(3.807, 3.810, 5.829)
    assert np.isnan(lo) and np.isnan(hi) and "3.81" in why and "3.807" in why
    assert inside(1.0, float("nan"), float("nan"))[2] is None  # nothing to check
    tree = {"s": [{"mean": 0.228, "ci_low": 0.263, "ci_high": 0.526, "warning": "low label mass"}]}
    found = drop_outside(tree)
    rec = tree["s"][0]
    assert rec["mean"] == 0.228 and rec["ci_low"] is None and rec["ci_high"] is None
    assert rec["warning"].startswith("low label mass; no interval") and found[0]["figure"] == "s/0/mean"


def test_bca_falls_back_to_percentile_where_its_jackknife_is_degenerate():
    x = np.arange(10, dtype=float)
    # the number of distinct personas drawn: every resample is at most the estimate, so BCa has no z0
    lo, hi = cluster_bootstrap(np.arange(10), lambda ix: float(len(set(ix.tolist()))), n_boot=50, method="BCa")
    assert np.isfinite(lo) and np.isfinite(hi) and lo <= hi <= 10
    lo2, hi2 = cluster_bootstrap(np.arange(10), lambda ix: x[ix].mean(), n_boot=50, method="BCa")
    assert lo2 < 4.5 < hi2
    with pytest.raises(ValueError, match="method"):
        cluster_bootstrap(np.arange(10), lambda ix: 0.0, method="studentized")


# ------------------------------------------------------------------------------------------
# bounded quantities, too few units, no spread


def test_a_bounded_t_interval_stays_on_the_scale_and_holds_the_mean():
    values = [1.0, 1.0, 5.0]  # plain t: [-3.4, 8.1] on a 1-5 scale
    plain = t_interval(values)
    assert plain[0] < 1 and plain[1] > 5
    lo, hi = t_interval(values, bounds=(1, 5))
    assert 1 < lo < np.mean(values) < hi < 5
    healthy = np.random.default_rng(0).normal(3, 0.3, 20)
    assert t_interval(healthy, bounds=(1, 5)) == pytest.approx(t_interval(healthy), abs=0.01)


def per_persona_scores(conditions: list[tuple[str, str, float]]) -> pd.DataFrame:
    rows = [dict(participant_id=f"a|{t}|{o}|1.0|0", persona_id="a", persona_target="", template_id=t, option_order=o,
                 temperature=1.0, repetition=0, trait="E", score=s, n_items=2, n_valid=2, letter=None)
            for t, o, s in conditions]
    return pd.DataFrame(rows, columns=SCORE_COLS)


def test_per_persona_trait_score_is_on_the_scale_or_warned():
    bounds = {"E": (1.0, 5.0)}
    two = trait_scores(per_persona_scores([("t0", "original", 1.0), ("t1", "original", 5.0)]), bounds=bounds).iloc[0]
    assert two["mean"] == 3.0 and np.isnan(two["ci_low"]) and two["warning"] == "no interval: 2 conditions"
    same = trait_scores(per_persona_scores([("t0", "original", 2.0), ("t1", "original", 2.0)]), bounds=bounds).iloc[0]
    assert np.isnan(same["ci_low"]) and same["warning"] == "no interval: 2 conditions"
    agree = trait_scores(per_persona_scores([(t, o, 2.0) for t in ("t0", "t1") for o in ("original", "reversed")]),
                         bounds=bounds).iloc[0]
    assert np.isnan(agree["ci_low"]) and agree["warning"] == "no interval: all 4 conditions agree"
    four = trait_scores(per_persona_scores([("t0", "original", 1.0), ("t0", "reversed", 1.0), ("t1", "original", 5.0),
                                            ("t1", "reversed", 1.0)]), bounds=bounds).iloc[0]
    assert 1.0 < four["ci_low"] < four["mean"] < four["ci_high"] < 5.0 and four["warning"] is None


def test_score_bounds_follow_the_scoring_rule():
    inv = likert_inventory([("e0", "E", 1), ("e1", "E", -1), ("a0", "A", 1)])
    assert score_bounds(inv) == {"E": (1.0, 5.0), "A": (1.0, 5.0)}
    bounds = score_bounds(MBTI)
    assert set(bounds) == {d.id for d in MBTI.dichotomies}
    assert all(lo < d.cutoff < hi for d in MBTI.dichotomies for lo, hi in [bounds[d.id]])


def persona_run(levels: list[int], reps: int = 2):
    """One trait, 4 items, one persona per level, its repetitions identical."""
    inv = likert_inventory([(f"e{i}", "E", 1) for i in range(4)])
    answers, meta = {}, {}
    for p, level in enumerate(levels):
        for rep in range(reps):
            pid = f"p{p}|t|original|0.01|{rep}"
            answers[pid] = {f"e{i}": level for i in range(4)}
            meta[pid] = {"persona_id": f"p{p}", "repetition": rep, "temperature": 0.01}
    responses = responses_table(inv, answers, meta)
    return compute_metrics(responses, score_participants(responses, inv), inv, seed=0, n_boot=50)


@pytest.mark.parametrize("levels,reason", [([2, 4], "no interval: 2 personas"),
                                           ([3] * 10, "no interval: all 10 personas agree")])
def test_too_few_personas_or_no_spread_gives_no_interval_and_says_which(levels, reason):
    row = persona_run(levels)["trait_summary"][0]
    assert row["ci_low"] is None and row["ci_high"] is None and reason in row["warning"]
    assert no_interval_reason([1.0, 2.0, 3.0], "personas") is None
    assert no_interval_reason([1.0], "personas") == "no interval: 1 persona"


# ------------------------------------------------------------------------------------------
# repeated measures counted once


def type_scores_at_low_temperature(found: list[str], reps: int = 2) -> pd.DataFrame:
    """One ENTJ persona, four conditions (2 templates x 2 orders) at T=0.01, each repeated identically."""
    rows = []
    conditions = [("t0", "original"), ("t0", "reversed"), ("t1", "original"), ("t1", "reversed")]
    for (template, order), typ in zip(conditions, found):
        for rep in range(reps):
            pid = f"p|{template}|{order}|0.01|{rep}"
            for k, d in enumerate(MBTI.dichotomies):
                rows.append(dict(participant_id=pid, persona_id="p", persona_target="ENTJ", template_id=template,
                                 option_order=order, temperature=0.01, repetition=rep, trait=d.id,
                                 score=30.0 if typ[k] == d.high else 20.0, n_items=8, n_valid=8, letter=typ[k]))
    return pd.DataFrame(rows, columns=SCORE_COLS)


def test_type_accuracy_at_low_temperature_rests_on_the_conditions_not_the_answers():
    tables = paper_tables(type_scores_at_low_temperature(["ENTJ", "ENTJ", "ENTJ", "INTJ"]), MBTI)
    row = tables["type_accuracy"].iloc[0]
    assert row["n"] == 8 and row["n_effective"] == pytest.approx(4.0) and row["accuracy"] == 0.75
    want = proportion_confint(3, 4, alpha=0.05, method="wilson")
    assert (row["accuracy_ci_low"], row["accuracy_ci_high"]) == pytest.approx(want)
    dist = tables["type_distribution"].set_index("type")
    assert dist.loc["INTJ", "n_effective"] == pytest.approx(4.0)
    assert tuple(dist.loc["INTJ", ["share_ci_low", "share_ci_high"]]) == \
        pytest.approx(proportion_confint(1, 4, alpha=0.05, method="wilson"))
    # independent repetitions (one per condition) count in full
    assert effective_n([1, 0, 1, 1], ["a", "b", "c", "d"]) == 4
    # repetitions that disagree as often within a condition as between them count nearly in full
    assert effective_n([1, 0, 1, 0, 1, 0, 1, 0], list("aabbccdd")) == pytest.approx(8.0)


# ------------------------------------------------------------------------------------------
# the results.json writer and validate check every record


PROVENANCE = {"config_hash": "0" * 64, "git": {"commit": None, "dirty": None}, "packages": {}}


def small_metrics() -> dict:
    rng = np.random.default_rng(3)
    inv = likert_inventory([(f"e{i}", "E", 1) for i in range(4)])
    answers, meta = {}, {}
    for p in range(6):
        level = int(rng.integers(2, 5))
        for rep in range(2):
            pid = f"p{p}|t|original|1.0|{rep}"
            answers[pid] = {f"e{i}": int(np.clip(level + rng.integers(-1, 2), 1, 5)) for i in range(4)}
            meta[pid] = {"persona_id": f"p{p}", "repetition": rep}
    responses = responses_table(inv, answers, meta)
    return compute_metrics(responses, score_participants(responses, inv), inv, seed=0, n_boot=50)


def test_the_writer_and_validate_catch_an_estimate_outside_its_interval(tmp_path):
    metrics = small_metrics()
    assert outside(figures(metrics)) == []
    path = write_results(tmp_path, "run", {}, PROVENANCE, metrics, ())
    assert check_file(str(path)).problems == []
    bad = json.loads(json.dumps(metrics))
    row = bad["trait_summary"][0]
    row["ci_low"], row["ci_high"] = row["mean"] + 0.1, row["mean"] + 0.5  # a hand-edited record
    with pytest.raises(RuntimeError, match=r"bug: .*estimate.* outside their own interval.*'/trait_summary/0/mean'"):
        write_results(tmp_path / "again", "run", {}, PROVENANCE, bad, ())
    data = json.loads(path.read_text())
    data["metrics"] = bad
    data["figures"] = build_results("x", "run", {}, PROVENANCE, bad, {})["figures"]
    edited = tmp_path / "edited" / "results.json"
    edited.parent.mkdir()
    edited.write_text(json.dumps(data))
    problems = check_file(str(edited)).problems
    assert any("'/trait_summary/0/mean'" in p and "outside its interval" in p for p in problems), problems
    # only the figures list edited: validate reads the metrics again and still finds it
    data = json.loads(path.read_text())
    rec = next(f for f in data["figures"] if f["path"] == "/trait_summary/0/mean")
    rec["ci_low"] = rec["value"] + 1
    edited.write_text(json.dumps(data))
    assert any("outside its interval" in p for p in check_file(str(edited)).problems)
