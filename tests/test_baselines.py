"""Floors, baselines and ceilings (issue 25) on planted data with known answers, no model: the uniform
floor, normalised fidelity (a second sample of the people near 1, a uniform population near 0), the
group ladder and steerability, individual-level baselines recovering a planted demographic model, the
spread ratio of a planted persona set, and the named errors of bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from bench.errors import BenchError
from bench.instruments import Scale
from bench.metrics.baselines import (ConstantDemographic, NoDemographics, TooFewRespondents, answer_table_floor,
                                     group_ladder, normalised_fidelity, normalised_fidelity_interval,
                                     population_floor)
from bench.metrics.distances import answer_table_distances
from bench.metrics.individual import (check_individual_inputs, cross_validated_baselines, individual_scores,
                                      individual_summary)
from bench.metrics.spread import COLLAPSE_RATIO, spread_ratio

FIVE = Scale(values=(1, 2, 3, 4, 5), labels=("1", "2", "3", "4", "5"))
CUTS = np.array([-1.5, -0.5, 0.5, 1.5])


def ordinal_probs(eta: np.ndarray) -> np.ndarray:
    """P(answer = 1..5) under an ordinal logit with linear predictor eta and the thresholds CUTS."""
    cum = expit(CUTS[None, :] - eta[:, None])  # P(y <= j)
    cum = np.hstack([np.zeros((len(eta), 1)), cum, np.ones((len(eta), 1))])
    return np.diff(cum, axis=1)


def draw(probs: np.ndarray, rng) -> np.ndarray:
    u = rng.random((len(probs), 1))
    return (u > probs.cumsum(axis=1)).sum(axis=1).clip(max=probs.shape[1] - 1) + 1.0


def factor_population(n: int, rng, loading: float = 1.0, n_items: int = 6) -> pd.DataFrame:
    """Answers driven by one latent factor: correlated items, unequal option shares."""
    f = rng.normal(size=n)
    return pd.DataFrame({f"q{j}": draw(ordinal_probs(loading * f + 0.6 * j - 1.5), rng) for j in range(n_items)},
                        index=[f"p{i}" for i in range(n)])


# ---------------------------------------------------------------------------------------------
# population level


def test_floor_of_known_distributions():
    """All human mass on option 5: the uniform floor's WD is mean |x - 5| = 2, normalised 0.5, TV 0.8;
    a human correlation of 0.5 between two items gives Frobenius sqrt(2 * 0.25); alpha floor |alpha|."""
    corr = pd.DataFrame([[1.0, 0.5], [0.5, 1.0]], index=["a", "b"], columns=["a", "b"])
    floor = population_floor({"a": np.array([0, 0, 0, 0, 1.0])}, {"a": FIVE, "b": FIVE}, corr, {"E": 0.8, "A": -0.1})
    assert floor["mean_wd"] == pytest.approx(2.0)
    assert floor["mean_wd_normalized"] == pytest.approx(0.5)
    assert floor["mean_tv"] == pytest.approx(0.8)
    assert floor["frobenius"] == pytest.approx(np.sqrt(0.5))
    assert floor["frobenius_normalized"] == pytest.approx(0.5)
    assert floor["alpha_difference"] == {"E": pytest.approx(0.8), "A": pytest.approx(0.1)}
    assert floor["mean_alpha_difference"] == pytest.approx(0.45)


def test_normalised_fidelity_of_a_second_sample_is_near_one_and_of_a_uniform_population_near_zero():
    rng = np.random.default_rng(0)
    humans = factor_population(1200, rng, loading=1.5)
    qs, scales = list(humans.columns), {q: FIVE for q in humans.columns}
    floor = answer_table_floor(humans, None, qs, scales)
    halves = []
    for _ in range(20):
        perm = rng.permutation(len(humans))
        a, b = humans.iloc[perm[:600]], humans.iloc[perm[600:]]
        halves.append(answer_table_distances(a, None, b, None, qs, scales)[0])
    ceiling = {k: float(np.mean([h[k] for h in halves])) for k in halves[0]}
    # a second sample of the same population, of n/3 people: against all n it carries the sampling noise
    # of two halves (1/(n/3) + 1/n = 2/(n/2)), the noise the split-half ceiling has
    copy = factor_population(400, rng, loading=1.5)
    uniform = pd.DataFrame(rng.integers(1, 6, size=(600, len(qs))).astype(float), columns=qs)
    for name, model, target in (("copy", copy, 1.0), ("uniform", uniform, 0.0)):
        dist = answer_table_distances(model, None, humans, None, qs, scales)[0]
        for k in ("mean_wd", "mean_tv", "frobenius", "frobenius_normalized"):
            nf = normalised_fidelity(dist[k], floor[k], ceiling[k])
            assert nf == pytest.approx(target, abs=0.06), (name, k, dist[k], floor[k], ceiling[k])


def test_normalised_fidelity_interval_from_draws_and_from_interval_ends():
    rng = np.random.default_rng(1)
    model_draws, ceiling_draws = rng.normal(0.2, 0.02, 400), rng.normal(0.05, 0.01, 400)
    out = normalised_fidelity_interval(0.2, 1.0, 0.05, model_draws=model_draws, ceiling_draws=ceiling_draws)
    assert out["value"] == pytest.approx(0.8 / 0.95)
    assert out["ci_low"] < out["value"] < out["ci_high"] and out["ci_high"] - out["ci_low"] < 0.1
    ends = normalised_fidelity_interval(0.2, 1.0, 0.05, model_ci=(0.16, 0.24), ceiling_ci=(0.03, 0.07))
    assert ends["ci_low"] == pytest.approx(out["ci_low"], abs=0.02)
    assert ends["ci_high"] == pytest.approx(out["ci_high"], abs=0.02)
    fixed = normalised_fidelity_interval(0.2, 1.0, 0.05)
    assert np.isnan(fixed["ci_low"]) and fixed["reason"].startswith("no interval")
    bad = normalised_fidelity_interval(0.2, 0.05, 0.05, model_draws=model_draws)
    assert np.isnan(bad["value"]) and "not above the ceiling" in bad["reason"]
    assert np.isnan(normalised_fidelity(0.1, 0.3, 0.4))


# ---------------------------------------------------------------------------------------------
# group level


def group_world(rng, n_per_group: int = 400):
    """Three groups whose answers differ (a planted shift per group), as respondents and as counts."""
    shift = {"a": -1.0, "b": 0.0, "c": 1.0}
    qs = [f"q{j}" for j in range(6)]
    rows, true = [], {}
    for g, s in shift.items():
        probs = ordinal_probs(np.full(len(qs), s) + 0.2 * np.arange(len(qs)))
        true[g] = dict(zip(qs, probs))
        answers = np.column_stack([draw(np.tile(p, (n_per_group, 1)), rng) for p in probs])
        frame = pd.DataFrame(answers, columns=qs)
        frame.insert(0, "group", g)
        rows.append(frame)
    people = pd.concat(rows, ignore_index=True)
    counts = (people.melt(id_vars="group", var_name="question", value_name="option")
              .groupby(["group", "question", "option"]).size().rename("count").reset_index())
    return people, counts, true, {q: FIVE for q in qs}


def tidy(dists: dict, group: str | None = None) -> pd.DataFrame:
    return pd.DataFrame([{**({"group": group} if group else {}), "question": q, "option": o + 1, "share": p}
                         for q, arr in dists.items() for o, p in enumerate(arr)])


@pytest.mark.parametrize("shape", ["respondents", "counts"])
def test_group_ladder_steerability_positive_when_conditioning_moves_toward_the_group(shape):
    rng = np.random.default_rng(2)
    people, counts, true, scales = group_world(rng)
    overall = {q: np.mean([true[g][q] for g in true], axis=0) for q in scales}
    # conditioned personas: two thirds of the way from the overall distribution to the group's
    model = pd.concat([tidy({q: overall[q] / 3 + 2 * true[g][q] / 3 for q in scales}, g) for g in true])
    table, summary = group_ladder(model, people if shape == "respondents" else counts, scales,
                                  unconditioned=tidy(overall), n_splits=10, seed=0)
    assert list(table["group"]) == ["a", "b", "c"]
    ends = table.set_index("group").loc[["a", "c"]]
    assert (ends["steerability"] > 0.02).all() and (ends["steer_ci_low"] > 0).all()
    assert (table["ceiling_mean_wd"] < table["blind_mean_wd"]).all()
    assert (ends["model_mean_wd"] < ends["blind_mean_wd"]).all()
    assert summary["mean_steerability"] > 0 and summary["mean_steerability_ci_low"] > 0
    # the model left unconditioned does not move at all
    still = pd.concat([tidy(overall, g) for g in true])
    table0, _ = group_ladder(still, counts, scales, unconditioned=tidy(overall), n_splits=3)
    assert np.allclose(table0["steerability"], 0)


# ---------------------------------------------------------------------------------------------
# individual level


def planted_respondents(n: int, rng):
    """Answers from a known ordinal logit on gender and education: the model the regression should recover."""
    demo = pd.DataFrame({"gender": rng.choice(["f", "m"], n), "education": rng.choice(["lo", "mid", "hi"], n)},
                        index=[f"r{i}" for i in range(n)])
    eta = 1.2 * (demo["gender"] == "f") + demo["education"].map({"lo": -1.0, "mid": 0.0, "hi": 1.0})
    probs = ordinal_probs(eta.to_numpy(float))
    answers = pd.DataFrame({f"q{j}": draw(probs, rng) for j in range(4)}, index=demo.index)
    return answers, demo, probs


def test_regression_baseline_recovers_the_planted_model_and_beats_the_marginal_by_its_margin():
    rng = np.random.default_rng(3)
    answers, demo, probs = planted_respondents(900, rng)
    scales = {q: FIVE for q in answers.columns}
    evaluate = list(answers.index[:600])
    pred, prov = cross_validated_baselines(answers, demo, scales, evaluate=evaluate, k_folds=3, seed=0,
                                           k_neighbours=30)
    # provenance: folds partition the respondents; the same seed gives the same folds
    assert sorted(sum(prov["folds"], [])) == sorted(answers.index) and prov["evaluated"] == evaluate
    assert prov["folds"] == cross_validated_baselines(answers.iloc[:, :1], demo, scales, k_folds=3, seed=0,
                                                      methods=["marginal"])[1]["folds"]
    assert set(pred["respondent"]) == set(evaluate)
    reg = pred[pred["method"] == "regression"].pivot_table(index="respondent", columns=["item", "option"], values="p")
    truth = pd.DataFrame(probs, index=answers.index).loc[reg.index]
    tv = [0.5 * np.abs(reg[q].to_numpy() - truth.to_numpy()).sum(axis=1).mean() for q in answers.columns]
    assert max(tv) < 0.06, tv  # the fitted distributions are the planted ones

    summary = individual_summary(individual_scores(pred, answers, scales)).set_index("method")
    p = probs[: len(evaluate)]
    marginal = probs.mean(axis=0)
    planted_log_loss = float(np.mean((p * (np.log(p) - np.log(marginal))).sum(axis=1)))  # KL(truth || marginal)
    planted_accuracy = float(np.mean(p.max(axis=1) - p[:, marginal.argmax()]))
    gain = summary.loc["regression"]
    assert -gain["log_loss_vs_marginal"] == pytest.approx(planted_log_loss, abs=0.03)
    assert gain["accuracy_vs_marginal"] == pytest.approx(planted_accuracy, abs=0.05)
    assert gain["log_loss_vs_marginal_ci_high"] < 0 and gain["accuracy_vs_marginal_ci_low"] > 0
    # nearest respondents on these few demographic cells come close to the regression
    assert summary.loc["knn", "log_loss"] < summary.loc["marginal", "log_loss"]
    assert summary.loc["knn", "accuracy"] == pytest.approx(summary.loc["regression", "accuracy"], abs=0.04)


def test_regression_survives_a_category_missing_from_a_fold_and_reads_numeric_labels_as_numbers():
    """A category only two people have (absent from some folds' training rows), an age stored as labels:
    every prediction is still a distribution; the ordinal score is the exact gradient."""
    from statsmodels.tools.numdiff import approx_fprime

    from bench.metrics.individual import OrderedLogit, as_numbers

    rng = np.random.default_rng(7)
    answers, demo, _ = planted_respondents(150, rng)
    demo.iloc[:2, demo.columns.get_loc("education")] = "rare"
    demo["age"] = rng.integers(18, 80, len(demo)).astype(str)
    assert as_numbers(demo["age"]) is not None and as_numbers(demo["education"]) is None
    scales = {q: FIVE for q in answers.columns}
    pred, _ = cross_validated_baselines(answers, demo, scales, k_folds=3, seed=1, methods=["regression", "knn"])
    sums = pred.groupby(["method", "respondent", "item"])["p"].sum()
    assert np.allclose(sums, 1) and pred["p"].between(0, 1).all() and len(sums) == 2 * 150 * 4
    y = answers["q0"].to_numpy(int)
    model = OrderedLogit(pd.Series(pd.Categorical(y, ordered=True)), (demo["gender"] == "f").to_numpy(float)[:, None],
                         distr="logit")
    params = np.array([0.5, -1.0, 0.1, -0.2, 0.3])
    assert np.allclose(model.score(params), approx_fprime(params, model.loglike), atol=1e-4)


def test_individual_scores_known_values():
    answers = pd.DataFrame({"q": [1.0, 5.0, 3.0]}, index=["x", "y", "z"])
    uniform = pd.DataFrame({"method": "u", "respondent": np.repeat(["x", "y", "z"], 5), "item": "q",
                            "option": np.tile(np.arange(1, 6), 3), "p": 0.2})
    sure = uniform.assign(method="s", p=np.where(uniform["option"] == 3, 1.0, 0.0))
    scores = individual_scores(pd.concat([uniform, sure]), answers, {"q": FIVE})
    s = individual_summary(scores, versus=None).set_index("method")
    assert s.loc["u", "accuracy"] == pytest.approx(0.2) and s.loc["u", "log_loss"] == pytest.approx(np.log(5))
    assert s.loc["u", "mae"] == pytest.approx(np.mean([2.0, 2.0, 1.2]))  # every option tied: mean distance
    assert s.loc["s", "accuracy"] == pytest.approx(1 / 3) and s.loc["s", "mae"] == pytest.approx(4 / 3)
    assert s.loc["s", "log_loss"] == pytest.approx((2 * -np.log(1e-6)) / 3)


# ---------------------------------------------------------------------------------------------
# spread between personas


def test_planted_spread_ratio_and_collapse():
    rng = np.random.default_rng(4)
    people = pd.DataFrame({"E": rng.normal(3, 1.0, 500), "A": rng.normal(3, 0.8, 500)})
    personas = pd.DataFrame({"E": rng.normal(3, 0.3, 120), "A": rng.normal(3, 0.8, 120)})
    out = spread_ratio(personas, people, seed=0, n_boot=300)
    assert out.loc["E", "ratio"] == pytest.approx(0.3, abs=0.05)
    assert out.loc["E", "ci_low"] < 0.3 < out.loc["E", "ci_high"] and out.loc["E", "collapse"]
    assert out.loc["A", "ratio"] == pytest.approx(1.0, abs=0.15) and not out.loc["A", "collapse"]
    assert out.loc["mean", "ratio"] == pytest.approx((out.loc["E", "ratio"] + out.loc["A", "ratio"]) / 2)
    normed = spread_ratio(personas, {"E": 1.0, "A": 0.8}, seed=0, n_boot=200)
    assert normed.loc["E", "ratio"] == pytest.approx(personas["E"].std() / 1.0)
    assert normed.loc["E", "human_source"] == "norms" and COLLAPSE_RATIO == 0.5


def test_spread_ratio_interval_covers_the_planted_ratio():
    """~100 planted persona sets: the two-sample bootstrap interval covers the true ratio near 95% of the time."""
    rng = np.random.default_rng(5)
    hits = 0
    for i in range(100):
        out = spread_ratio(pd.DataFrame({"t": rng.normal(0, 0.5, 40)}), pd.DataFrame({"t": rng.normal(0, 1, 150)}),
                           seed=i, n_boot=200)
        hits += out.loc["t", "ci_low"] <= 0.5 <= out.loc["t", "ci_high"]
    assert 85 <= hits <= 100


# ---------------------------------------------------------------------------------------------
# bad input: named errors before any model work


def test_bad_input_named_errors():
    answers, demo, _ = planted_respondents(30, np.random.default_rng(6))
    scales = {q: FIVE for q in answers.columns}
    with pytest.raises(NoDemographics, match="no demographics"):
        check_individual_inputs(answers, pd.DataFrame(index=answers.index), 5)
    with pytest.raises(TooFewRespondents, match="3 respondents for 5 folds"):
        cross_validated_baselines(answers.iloc[:3], demo, scales, k_folds=5)
    with pytest.raises(ConstantDemographic, match="'country' has the single value 'US'"):
        check_individual_inputs(answers, demo.assign(country="US"), 5)
    with pytest.raises(NoDemographics, match="no `group` column"):
        group_ladder(pd.DataFrame(columns=["group", "question", "option", "share"]),
                     answers, scales)
    for err in (NoDemographics, TooFewRespondents, ConstantDemographic):
        assert issubclass(err, BenchError)
