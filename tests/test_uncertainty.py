"""Intervals, position bias apart from preference, and warnings on figures that cannot be trusted.

Intervals are checked against the libraries that give them (scipy, statsmodels, pingouin) and, for the
cluster bootstrap, by coverage on simulated clustered data. The position model recovers a planted
position effect and preference from simulated answer distributions. Each warning fires on a made case
and stays silent on a healthy one. One real SmolLM2 run shows the collapse line of the report.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import stats

from bench.instruments import Inventory, Item
from bench.metrics import compute_metrics, icc_repetitions, reliability, score_participants
from bench.metrics.position import choice_table, collapse, fit_position_model, position_bias
from bench.metrics.uncertainty import (
    N_BOOT,
    N_BOOT_VARIABLE,
    BootstrapSettingError,
    cluster_bootstrap,
    n_boot_default,
    t_interval,
    welch_interval,
    wilson_interval,
)
from tests.test_metrics import (
    LIKERT5,
    likert_inventory,
    oejts_like_inventory,
    repetition_responses,
    responses_table,
)

K = 5


# ------------------------------------------------------------------------------------------
# analytic intervals equal the libraries'


def test_t_welch_and_wilson_intervals_equal_the_libraries():
    x = np.array([2.1, 3.4, 2.9, 4.0, 3.3, 2.2, 3.8])
    y = np.array([1.0, 1.9, 2.7, 1.4, 2.2])
    ci = stats.ttest_1samp(x, 0).confidence_interval(0.95)
    assert t_interval(x) == pytest.approx((ci.low, ci.high))
    # zero spread, or fewer than 3 units: no interval (issue #24), never a zero-width one
    assert np.isnan(t_interval([3.0, 3.0, 3.0])).all() and np.isnan(t_interval([1.0])[0])
    assert np.isnan(t_interval([1.0, 2.0])).all()
    # Welch by hand: Welch-Satterthwaite df and the unpooled standard error
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    half = stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    assert welch_interval(x, y) == pytest.approx((x.mean() - y.mean() - half, x.mean() - y.mean() + half))
    # Wilson: statsmodels' against scipy's binomtest (two implementations), and a textbook value
    assert wilson_interval(8, 10) == pytest.approx(tuple(stats.binomtest(8, 10).proportion_ci(method="wilson")))
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert np.isnan(wilson_interval(0, 0)[0])


def test_alpha_and_icc_intervals_are_pingouins():
    rng = np.random.default_rng(5)
    inv = likert_inventory([(f"e{i}", "E", 1) for i in range(4)])
    trait = rng.normal(size=40)
    answers = {f"p{j}": {f"e{i}": int(np.clip(np.round(3 + trait[j] + rng.normal(scale=0.8)), 1, 5)) for i in range(4)}
               for j in range(40)}
    meta = {f"p{j}": {"persona_id": f"persona{j}"} for j in range(40)}  # 40 independent respondents
    responses = responses_table(inv, answers, meta)
    rel = reliability(responses, inv).iloc[0]
    wide = pd.DataFrame(answers).T.astype(float)
    a, ci = pg.cronbach_alpha(data=wide)
    # pingouin rounds its interval to 3 decimals; ours is Feldt's unrounded
    assert (rel["alpha"], rel["alpha_ci_low"], rel["alpha_ci_high"]) == pytest.approx((a, ci[0], ci[1]), abs=5e-4)
    assert rel["omega_ci_low"] < rel["omega"] < rel["omega_ci_high"]
    # the same 40 answer sets as 10 personas' repetitions, each copied 4 times: Feldt's n is 10, not 40
    copies = {f"p{j}": answers[f"p{j // 4 * 4}"] for j in range(40)}
    tied = reliability(responses_table(inv, copies, {f"p{j}": {"persona_id": f"persona{j // 4}"} for j in range(40)}),
                       inv).iloc[0]
    wide10 = pd.DataFrame({p: copies[p] for p in list(copies)[::4]}).T.astype(float)
    a10, ci10 = pg.cronbach_alpha(data=wide10)
    assert (tied["alpha_ci_low"], tied["alpha_ci_high"]) == pytest.approx(tuple(ci10), abs=5e-4)

    mat = np.clip(np.round(3 + rng.normal(size=(12, 1)) + rng.normal(scale=0.5, size=(12, 3))), 1, 5)
    icc = icc_repetitions(repetition_responses(mat, persona_id="x")).iloc[0]
    long = pd.DataFrame([(i, j, mat[i, j]) for i in range(12) for j in range(3)], columns=["t", "r", "s"])
    res = pg.intraclass_corr(data=long, targets="t", raters="r", ratings="s").set_index("Type")
    row = res.loc[next(n for n in ("ICC2", "ICC(A,1)") if n in res.index)]
    assert (icc["icc2"], icc["icc2_ci_low"], icc["icc2_ci_high"]) == pytest.approx((row["ICC"], *row["CI95"]))


# ------------------------------------------------------------------------------------------
# the cluster bootstrap


def clustered_sample(rng, n_clusters=30, reps=4, mu=2.0):
    """Values sharing a cluster effect (ICC 0.8): repetitions of one persona are near copies."""
    effect = rng.normal(scale=2.0, size=n_clusters)
    values = np.repeat(mu + effect, reps) + rng.normal(scale=1.0, size=n_clusters * reps)
    return values, np.repeat(np.arange(n_clusters), reps)


def test_cluster_bootstrap_covers_the_true_mean_at_about_its_nominal_rate():
    """200 seeded simulations: the 95% cluster interval covers the true mean 90-99% of the time; the same
    bootstrap that treats each repetition as independent covers far less often (why we cluster)."""
    rng = np.random.default_rng(2024)
    cover_cluster = cover_naive = 0
    for sim in range(200):
        values, clusters = clustered_sample(rng)
        lo, hi = cluster_bootstrap(clusters, lambda ix: values[ix].mean(), n_boot=200, seed=sim)
        cover_cluster += lo <= 2.0 <= hi
        lo, hi = cluster_bootstrap(np.arange(values.size), lambda ix: values[ix].mean(), n_boot=200, seed=sim)
        cover_naive += lo <= 2.0 <= hi
    assert 0.90 <= cover_cluster / 200 <= 0.99, cover_cluster
    assert cover_naive / 200 < 0.85, cover_naive


def test_cluster_bootstrap_is_seeded_and_needs_two_clusters():
    values, clusters = clustered_sample(np.random.default_rng(0))

    def stat(ix):
        return np.array([values[ix].mean(), values[ix].std()])

    a = cluster_bootstrap(clusters, stat, seed=7)
    assert np.array_equal(a[0], cluster_bootstrap(clusters, stat, seed=7)[0])
    assert not np.array_equal(a[0], cluster_bootstrap(clusters, stat, seed=8)[0])
    assert np.isnan(cluster_bootstrap(np.zeros(values.size), lambda ix: values[ix].mean())).all()
    assert np.isnan(cluster_bootstrap(clusters % 4, lambda ix: values[ix].mean())).all()  # 4 < MIN_CLUSTERS


@pytest.mark.parametrize("value", ["0", "-5", "2.5", "many", "1e3", "50 draws"])
def test_a_bad_bootstrap_setting_is_named_with_its_value(monkeypatch, value):
    monkeypatch.setenv(N_BOOT_VARIABLE, value)
    with pytest.raises(BootstrapSettingError, match=f"PERSONA_BENCH_N_BOOT={value!r}: expected a positive whole"):
        n_boot_default()
    with pytest.raises(BootstrapSettingError):
        cluster_bootstrap(np.arange(10), lambda ix: float(ix.mean()))  # a default taken is read then


def test_the_bootstrap_setting_is_read_at_each_call_and_is_the_default_of_every_interval(monkeypatch):
    """Unset: N_BOOT (200). Set: that many resamples wherever a caller gives none, the very numbers an explicit
    n_boot gives (same data, seed and size: same intervals); another size, other numbers."""
    monkeypatch.delenv(N_BOOT_VARIABLE, raising=False)
    assert n_boot_default() == N_BOOT == 200
    rng = np.random.default_rng(5)
    inv = likert_inventory([(f"e{i}", "E", 1) for i in range(4)])
    answers = {f"p{k}": {f"e{i}": int(rng.integers(1, 6)) for i in range(4)} for k in range(12)}
    responses = responses_table(inv, answers, {f"p{k}": {"persona_id": f"p{k}"} for k in range(12)})
    scores = score_participants(responses, inv)
    monkeypatch.setenv(N_BOOT_VARIABLE, "30")
    assert n_boot_default() == 30
    by_setting = compute_metrics(responses, scores, inv, seed=2)
    assert json.dumps(by_setting) == json.dumps(compute_metrics(responses, scores, inv, seed=2, n_boot=30))
    monkeypatch.setenv(N_BOOT_VARIABLE, "40")
    assert json.dumps(compute_metrics(responses, scores, inv, seed=2)) != json.dumps(by_setting)


def test_compute_metrics_intervals_are_reproducible_from_the_seed():
    rng = np.random.default_rng(11)
    inv = likert_inventory([(f"e{i}", "E", 1 if i % 2 else -1) for i in range(4)])
    answers, meta = {}, {}
    for persona in range(8):
        level = rng.integers(1, 6)
        for rep in range(2):
            pid = f"p{persona}-{rep}"
            answers[pid] = {f"e{i}": int(np.clip(level + rng.integers(-1, 2), 1, 5)) for i in range(4)}
            meta[pid] = {"persona_id": f"p{persona}", "repetition": rep}
    responses = responses_table(inv, answers, meta)
    scores = score_participants(responses, inv)
    one, two = (compute_metrics(responses, scores, inv, seed=3, n_boot=50) for _ in range(2))
    assert json.dumps(one, allow_nan=False) == json.dumps(two, allow_nan=False)
    other = compute_metrics(responses, scores, inv, seed=4, n_boot=50)
    assert other["reliability"][0]["omega_ci_low"] != one["reliability"][0]["omega_ci_low"]
    row = one["trait_summary"][0]
    persona_means = scores.groupby("persona_id")["score"].mean()
    # on the 1-5 scale (issue #24: a bounded score's interval stays on its range, logit-scale t)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(t_interval(persona_means, bounds=(1, 5)))
    assert row["n_clusters"] == 8 and 1 < row["ci_low"] < row["mean"] < row["ci_high"] < 5
    summary = one["reliability_summary"]
    assert summary["alpha_mean_ci_low"] < summary["alpha_mean"] < summary["alpha_mean_ci_high"]


# ------------------------------------------------------------------------------------------
# position bias apart from preference


def planted_responses(b: np.ndarray, pref_logits: np.ndarray, orders: str, n_personas: int = 200,
                      seed: int = 0) -> tuple[pd.DataFrame, Inventory]:
    """Logprob-style rows whose exact option distributions follow softmax(a_item + b[shown position])."""
    inv = Inventory(id="t", name="t", version="0", source="", licence="", kind="likert", scale=LIKERT5,
                    traits=(("E", "E"), ("A", "A")), scoring="mean",
                    items=tuple(Item(id=f"i{j}", trait="EA"[j % 2], keyed=1 if j % 3 else -1)
                                for j in range(len(pref_logits))))
    rng = np.random.default_rng(seed)
    rows = []
    for persona in range(n_personas):
        for order in ("original", "reversed"):
            for j, item in enumerate(inv.items):
                if orders == "mirror":
                    perm = list(range(K)) if order == "original" else list(range(K))[::-1]
                else:
                    perm = [int(i) for i in rng.permutation(K)]
                where = np.argsort(perm)
                logits = pref_logits[j] + b[where]
                p = np.exp(logits - logits.max())
                p /= p.sum()
                shown = int(where[int(np.argmax(p))]) + 1
                answer = float(perm[shown - 1] + 1)
                rows.append(dict(participant_id=f"p{persona}|{order}", persona_id=f"p{persona}", persona_target="",
                                 template_id="t", option_order=order, temperature=1.0, repetition=0,
                                 item_id=item.id, trait=item.trait, keyed=item.keyed, option_permutation=perm,
                                 parsed_option=shown, option_probs=list(p), invalid=False, refusal=False,
                                 answer=answer, score=answer if item.keyed > 0 else 6.0 - answer,
                                 label_mass=0.95))
    return pd.DataFrame(rows), inv


@pytest.mark.parametrize("orders, b", [
    ("mirror", np.array([-0.6, 0.3, 0.0, -0.3, 0.6])),  # mirror orders identify b's antisymmetric part
    ("shuffled", np.array([0.0, 0.4, -0.3, 1.2, 0.2])),  # random orders identify all of it
])
def test_position_model_recovers_planted_position_effect_and_preference(orders, b):
    a = np.random.default_rng(1).normal(size=(12, K))
    responses, inv = planted_responses(b, a, orders)
    fit = fit_position_model(choice_table(responses, inv), K)
    assert fit["mirror_only"] == (orders == "mirror")
    assert fit["log_odds_vs_1"] == pytest.approx(b - b[0], abs=0.03)
    # every persona answers with the same exact distributions: nothing varies between the independent units,
    # so the cluster-robust interval is a hair wide around the estimate (its coverage of a planted truth, with
    # personas that differ, is tests/test_coverage.py's)
    lo, hi = fit["b_ci"][1:, 0], fit["b_ci"][1:, 1]
    assert np.all((lo <= fit["log_odds_vs_1"][1:]) & (fit["log_odds_vs_1"][1:] <= hi)) and np.all(hi - lo < 0.01)
    assert fit["effect_ci"][0] <= fit["effect"] <= fit["effect_ci"][1] and fit["n_personas"] == 200
    true_pref = np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)
    assert np.abs(fit["preference"].loc[[f"i{j}" for j in range(12)]].to_numpy() - true_pref).max() < 0.01
    shares = np.exp(b) / np.exp(b).sum()
    assert fit["effect"] == pytest.approx(0.5 * np.abs(shares - 1 / K).sum(), abs=0.01)

    section = position_bias(responses, score_participants(responses, inv), inv)
    assert section["identified"] and not section["collapsed"] and section["message"] is None
    # corrected scores: the keyed expected score under the planted preference, for every persona
    axis = np.arange(1, K + 1, dtype=float)
    want = {}
    for j, item in enumerate(inv.items):
        want.setdefault(item.trait, []).append(true_pref[j] @ (axis if item.keyed > 0 else 6 - axis))
    corrected = pd.DataFrame(section["corrected_scores"])
    for trait, values in want.items():
        assert corrected.loc[corrected["trait"] == trait, "corrected"].to_numpy() == pytest.approx(np.mean(values),
                                                                                                 abs=0.02)


def test_collapse_is_named_from_data_and_not_on_healthy_answers():
    # Every answer on shown option 4 in both orders, as SmolLM2 at T=0.01: a huge position-4 effect.
    b = np.array([0.0, 0.0, 0.0, 12.0, 0.0])
    stuck, inv = planted_responses(b - b.mean(), np.zeros((6, K)), "mirror", n_personas=5)
    out = collapse(choice_table(stuck, inv))
    assert out["collapsed"] and out["collapsed_position"] == 4 and out["collapsed_temperatures"] == [1.0]
    assert out["message"].startswith("at T=1 every answer lands on shown option 4 in both option orders")
    healthy, inv = planted_responses(np.array([-0.6, 0.3, 0.0, -0.3, 0.6]),
                                     np.random.default_rng(1).normal(size=(6, K)), "mirror", n_personas=5)
    assert not collapse(choice_table(healthy, inv))["collapsed"]
    one_order = healthy[healthy["option_order"] == "original"]
    section = position_bias(one_order, score_participants(one_order, inv), inv)
    assert section["identified"] is False and "one order" in section["note"]


# ------------------------------------------------------------------------------------------
# warnings


def _flags(metrics: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for w in metrics["warnings"]:
        out.setdefault(w["figure"], []).append(w["reason"])
    return out


def varied_answers(inv: Inventory, n: int, seed: int = 0) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    answers = {f"p{j}": {it.id: int(rng.integers(1, 6)) for it in inv.items} for j in range(n)}
    return answers, {f"p{j}": {"persona_id": f"persona{j}"} for j in range(n)}


def metrics_of(r: pd.DataFrame, inv: Inventory) -> dict:
    return compute_metrics(r, score_participants(r, inv), inv, n_boot=20)  # the intervals are not under test here


def test_each_warning_fires_on_a_made_case_and_not_on_a_healthy_one():
    healthy_inv = likert_inventory([(f"e{i}", "E", 1) for i in range(3)])
    answers, meta = varied_answers(healthy_inv, 12)
    healthy = responses_table(healthy_inv, answers, meta).assign(label_mass=0.9)
    metrics = metrics_of(healthy, healthy_inv)
    assert metrics["warnings"] == [] and metrics["reliability"][0]["warning"] is None

    # alpha from 2 items
    two_items = likert_inventory([(f"e{i}", "E", 1) for i in range(2)])
    answers, meta = varied_answers(two_items, 12)
    r = responses_table(two_items, answers, meta)
    m = metrics_of(r, two_items)
    assert m["reliability"][0]["warning"] == "alpha/omega from 2 items" and "reliability[E]" in _flags(m)
    # alpha from 2 participants
    r = healthy[healthy["participant_id"].isin(["p0", "p1"])]
    m = metrics_of(r, healthy_inv)
    assert "alpha/omega from 2 participants" in m["reliability"][0]["warning"]
    # a collapsed answer distribution
    r = healthy.assign(answer=4.0, score=4.0)
    m = metrics_of(r, healthy_inv)
    assert m["trait_summary"][0]["warning"].startswith("collapsed answers: 100% on option value 4")
    # low label mass
    r = healthy.assign(label_mass=0.2)
    m = metrics_of(r, healthy_inv)
    assert "low label mass: mean 0.20" in m["trait_summary"][0]["warning"]
    # one persona and one template: nothing to resample, no interval, said so
    r = healthy.assign(persona_id="none")
    m = metrics_of(r, healthy_inv)
    assert m["trait_summary"][0]["ci_low"] is None and "no interval" in m["trait_summary"][0]["warning"]

    # type letters from a truncated type inventory (max_items on a type inventory)
    tinv = oejts_like_inventory()
    answers, meta = varied_answers(tinv, 6)
    for pid in meta:
        meta[pid]["persona_target"] = "INTJ"
    full = responses_table(tinv, answers, meta)
    m = metrics_of(full, tinv)
    assert m["mbti"]["warning"] is None
    assert m["mbti"]["accuracy"]["exact_ci_low"] <= m["mbti"]["accuracy"]["exact"] <= m["mbti"]["accuracy"]["exact_ci_high"]
    cut = full[full["item_id"] != full["item_id"].iloc[0]]
    m = metrics_of(cut, tinv)
    assert m["mbti"]["warning"].startswith("type letters from a truncated inventory: IE from 7 of 8 items")
    assert "mbti.accuracy" in _flags(m)


# ------------------------------------------------------------------------------------------
# the real model


def test_smollm2_report_names_its_position_collapse_in_one_line(tmp_path, capsys):
    from bench.pipelines.run import run
    from tests.conftest import compose

    folder = run(compose("max_items=5", "repetitions=1", "templates=[describe]", "temperatures=[0.01]",
                         "progress=false", f"results_dir={tmp_path}"), print_summary=False)
    metrics = json.loads((folder / "metrics.json").read_text())
    section = metrics["position_bias"]
    text = (folder / "summary.md").read_text()
    if not section["collapsed"]:  # detected from data: say what the model did instead
        pytest.fail(f"SmolLM2 at T=0.01 no longer collapses: {section['top_position_share']}")
    section_text = text.split("## Position bias")[1].split("\n## ")[0]
    lines = [line for line in section_text.splitlines() if "lands on shown option" in line]
    assert len(lines) == 1 and "at T=0.01 every answer lands on shown option 4 in both option orders" in lines[0]
    assert f"- position_bias: {section['message']}" in text  # and listed with the other warnings
    assert "position_bias: at T=0.01 every answer lands on shown option" in capsys.readouterr().err
    for row in metrics["trait_summary"]:
        assert "ci_low" in row and row["warning"]  # one persona, one template, collapsed: never a bare number


# ------------------------------------------------------------------------------------------
# figures that had no interval: Frobenius distances, MTMM means, survey shares, leaderboard means


def factor_population(rng, n_personas: int, reps: int, inv: Inventory, loading: float = 0.8) -> pd.DataFrame:
    """Answers 1..5 driven by one latent factor per persona (its repetitions near copies): a planted
    population whose correlation structure a large draw of the same generator gives."""
    rows = []
    for persona in range(n_personas):
        z = rng.normal()
        base = loading * z + np.sqrt(1 - loading**2) * rng.normal(size=len(inv.items))
        for rep in range(reps):
            for j, item in enumerate(inv.items):
                a = float(np.clip(np.round(3 + 1.2 * base[j] + 0.2 * rng.normal()), 1, 5))
                rows.append(dict(participant_id=f"p{persona}|t|original|1.0|{rep}", persona_id=f"p{persona}",
                                 template_id="t", item_id=item.id, option_probs=None, answer=a, invalid=False))
    return pd.DataFrame(rows)


@pytest.mark.usefixtures("full_bootstrap")  # coverage: the product's own bootstrap size
def test_frobenius_interval_covers_the_planted_population_and_its_own_estimate():
    from bench.metrics.distances import frobenius, ordinal_frame, weighted_correlation
    from bench.populations.fidelity import distance_intervals, model_answers

    inv = likert_inventory([(f"q{i}", "E", 1) for i in range(4)])
    scales = {it.id: inv.scale_of(it) for it in inv.items}
    qs = [it.id for it in inv.items]
    human_corr = pd.DataFrame(np.eye(4), index=qs, columns=qs)  # uncorrelated humans: distance = model's RMS r
    human = {q: np.full(5, 0.2) for q in qs}

    def frobenius_of(r):
        return frobenius(weighted_correlation(ordinal_frame(model_answers(r), scales)), human_corr)

    truth = frobenius_of(factor_population(np.random.default_rng(1), 20000, 1, inv))
    r = factor_population(np.random.default_rng(2), 40, 3, inv)
    w = pd.Series(1.0, index=r["participant_id"].unique())
    ci = distance_intervals(r, inv, w, human, scales, seed=5, human_corr=human_corr)
    point = frobenius_of(r)
    for name in ("frobenius", "frobenius_normalized"):
        assert ci[f"{name}_ci_low"] <= point[name] <= ci[f"{name}_ci_high"], (name, ci)
        assert ci[f"{name}_ci_low"] <= truth[name] <= ci[f"{name}_ci_high"], (name, truth, ci)
    assert ci == distance_intervals(r, inv, w, human, scales, seed=5, human_corr=human_corr)  # seeded
    assert "frobenius_ci_low" not in distance_intervals(r, inv, w, human, scales, seed=5)  # no human matrix


@pytest.mark.usefixtures("full_bootstrap")  # coverage: the product's own bootstrap size
def test_survey_share_intervals_match_wilson_and_ignore_repetitions():
    """One sampled answer per persona: the cluster-bootstrap interval of a share is the binomial one (Wilson
    within 0.03); three identical repetitions per persona leave it as it was instead of narrowing it."""
    import dataclasses

    from bench.metrics import question_distributions

    inv = dataclasses.replace(likert_inventory([("q1", "E", 1)]), kind="survey", traits=())
    rng = np.random.default_rng(8)
    picks = rng.choice(5, size=200, p=[0.3, 0.1, 0.2, 0.1, 0.3]) + 1

    def table(reps: int) -> pd.DataFrame:
        answers = {f"p{i}-{rep}": {"q1": int(a)} for i, a in enumerate(picks) for rep in range(reps)}
        meta = {f"p{i}-{rep}": {"persona_id": f"p{i}", "repetition": rep} for i in range(200) for rep in range(reps)}
        return responses_table(inv, answers, meta).assign(option_probs=None)

    one = question_distributions(table(1), inv, seed=2)
    for row in one.itertuples():
        k = int((picks == int(row.option)).sum())
        assert row.share == pytest.approx(k / 200)
        assert (row.share_ci_low, row.share_ci_high) == pytest.approx(wilson_interval(k, 200), abs=0.03)
    three = question_distributions(table(3), inv, seed=2)
    assert np.allclose(three["share_ci_low"], one["share_ci_low"], atol=0.02)
    metrics = compute_metrics(table(1), pd.DataFrame(), inv, seed=2)
    assert metrics["question_distributions"][0]["share_ci_high"] == pytest.approx(one["share_ci_high"][0])


def planted_robustness_scores(n_personas: int = 30, seed: int = 6) -> pd.DataFrame:
    """Trait scores with a planted option-order shift (E +0.4, A -0.2: |shift| mean 0.3) and template effect
    on E only, persona levels shared by all of a persona's conditions, two near-copy repetitions."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_personas):
        level = rng.normal(3, 0.6, size=2)
        for tmpl, t_eff in (("t0", 0.0), ("t1", 0.5)):
            for order in ("original", "reversed"):
                for j, (trait, shift) in enumerate((("E", 0.4), ("A", -0.2))):
                    cond = level[j] + (t_eff if trait == "E" else 0.0) + (shift if order == "reversed" else 0.0)
                    cond += rng.normal(0, 0.3)
                    for rep in range(2):
                        rows.append(dict(participant_id=f"p{p}|{tmpl}|{order}|1.0|{rep}", persona_id=f"p{p}",
                                         persona_target="", template_id=tmpl, option_order=order, temperature=1.0,
                                         repetition=rep, trait=trait, score=cond + rng.normal(0, 0.02)))
    return pd.DataFrame(rows)


@pytest.mark.usefixtures("full_bootstrap")  # coverage: the product's own bootstrap size
def test_robustness_means_over_traits_cover_the_planted_shift_and_feed_the_leaderboard(tmp_path):
    from bench.leaderboard.collect import RunRecord
    from bench.leaderboard.table import run_row
    from bench.metrics.sensitivity import option_order_symmetry, prompt_sensitivity, robustness_summary

    scores = planted_robustness_scores()
    sens, sym = prompt_sensitivity(scores, seed=1), option_order_symmetry(scores)
    out = robustness_summary(scores, sens, sym, seed=1)
    eta, shift = "prompt_sensitivity_eta2_mean", "option_order_abs_shift_mean"
    assert out[eta] == pytest.approx(sens["eta2_h"].mean())
    assert out[shift] == pytest.approx(sym["mean_shift"].abs().mean())
    assert out[f"{shift}_ci_low"] <= 0.3 <= out[f"{shift}_ci_high"], out
    assert out[f"{eta}_ci_low"] <= out[eta] <= out[f"{eta}_ci_high"] and out[f"{eta}_ci_low"] > 0  # E's template effect
    assert out == robustness_summary(scores, sens, sym, seed=1)
    # the leaderboard takes value and interval from metrics.json; an older metrics.json without them still loads
    metrics = {"inventory": "t", "scoring": "sampled", "n_participants": 1, "n_responses": 1, "trait_summary": [],
               "prompt_sensitivity": sens.to_dict("records"), "option_order_symmetry": sym.to_dict("records"),
               "invalid_rates": {"invalid_rate": 0.0, "refusal_rate": 0.0}, "robustness_summary": out}
    cfg = {"model": {"id": "m"}, "inventory": {"name": "t"}, "engine": {"name": "hf"}, "seed": 1}
    row = run_row(RunRecord(path=tmp_path, config=cfg, metrics=metrics, provenance={}))
    for col in (eta, shift):
        assert (row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"]) == (out[col], out[f"{col}_ci_low"],
                                                                          out[f"{col}_ci_high"])
    metrics.pop("robustness_summary")
    old = run_row(RunRecord(path=tmp_path, config=cfg, metrics=metrics, provenance={}))
    assert old[shift] == pytest.approx(out[shift]) and f"{shift}_ci_low" not in old
