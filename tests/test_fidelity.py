"""Fidelity metrics against hand computations, scipy, POT, statsmodels, pingouin and real data."""

from __future__ import annotations

import numpy as np
import ot
import pandas as pd
import pytest
from scipy.stats import wasserstein_distance
from statsmodels.stats.weightstats import DescrStatsW

from bench.instruments import Inventory, Scale, load_inventory, validate_inventory
from bench.metrics.distances import (
    alpha_by_trait,
    answer_distribution,
    frobenius,
    keyed_scores,
    max_wasserstein,
    question_distances,
    representativeness,
    split_refusal,
    total_variation,
    wasserstein,
    weighted_correlation,
)
from bench.populations.human import HumanResponses, load_opinionqa, load_psych_bfi
from bench.populations.reference_fidelity import population_fidelity, split_half_bounds
from tests.conftest import shared_data
from tests.test_human import SURVEY

LIFEFIFTY = Scale(values=(1, 2, 3, 4), labels=("Better", "Worse", "About the same", "Refused"),
                  ordinal=(1.0, 3.0, 2.0, None), codes=(1.0, 2.0, 3.0, 99.0))


@pytest.fixture(scope="module")
def bfi() -> HumanResponses:
    return load_psych_bfi()


# ---------------------------------------------------------------------------------------------
# distributions and distances


def test_wasserstein_by_hand():
    assert wasserstein([1, 0, 0], [0, 0, 1], [1, 2, 3]) == pytest.approx(2.0)
    assert wasserstein([1, 0, 0], [0, 0, 1], [1, 2, 3]) / max_wasserstein([1, 2, 3]) == pytest.approx(1.0)
    # half the mass moves one step: 0.5 * 1 + 0.5 * 1
    assert wasserstein([0.5, 0.5, 0], [0, 0.5, 0.5], [1, 2, 3]) == pytest.approx(1.0)
    # positions need not be sorted: "About the same" sits between Better (1) and Worse (3)
    assert wasserstein([1, 0, 0], [0, 0, 1], [1, 3, 2]) == pytest.approx(1.0)
    assert max_wasserstein([1, 3, 2]) == 2.0
    assert np.isnan(wasserstein([np.nan] * 3, [1, 0, 0], [1, 2, 3]))


def test_wasserstein_matches_scipy_and_pot():
    rng = np.random.default_rng(7)
    for k in (2, 3, 5, 7):
        x = np.sort(rng.uniform(0, 4, k))
        for _ in range(5):
            p, q = rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k))
            wd = wasserstein(p, q, x)
            assert wd == pytest.approx(wasserstein_distance(x, x, p, q), abs=1e-12)
            assert wd == pytest.approx(ot.wasserstein_1d(x, x, p, q, p=1), abs=1e-9)
            assert wd == pytest.approx(ot.emd2_1d(x, x, p, q, metric="euclidean"), abs=1e-9)
            # the normaliser really is the largest distance: mass at one end vs the other
            assert wd <= max_wasserstein(x) + 1e-12


def test_total_variation_and_refusal_split_by_hand():
    assert total_variation([0.5, 0.5, 0], [0, 0.5, 0.5]) == pytest.approx(0.5)
    assert total_variation([0.2, 0.8], [0.2, 0.8]) == 0.0
    p, mass = split_refusal([0.4, 0.3, 0.2, 0.1], [False, False, False, True])
    np.testing.assert_allclose(p, [0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9])
    assert mass == pytest.approx(0.1)
    p, mass = split_refusal([0.0, 0.0, 1.0], [False, True, True])
    assert mass == 1.0 and np.isnan(p).all()


def test_answer_distribution_weights_nan_and_range():
    np.testing.assert_allclose(answer_distribution([1, 2, 2, np.nan], 3), [1 / 3, 2 / 3, 0])
    np.testing.assert_allclose(answer_distribution([1, 2, 2, 3], 3, weights=[2, 1, 1, 4]), [0.25, 0.25, 0.5])
    assert np.isnan(answer_distribution([np.nan, np.nan], 3)).all()
    with pytest.raises(ValueError, match="answer 4 is not an option value 1..3"):
        answer_distribution([1, 4], 3)


def test_question_distances_drop_refusals_by_hand():
    # human: Worse, Refused, Better, Better -> Better 1/2, Worse 1/4, About the same 0, Refused 1/4
    human = {"Q": answer_distribution([2, 4, 1, 1], 4, weights=[1, 1, 1, 1])}
    model = {"Q": np.array([1.0, 0.0, 0.0, 0.0])}
    row = question_distances(model, human, {"Q": LIFEFIFTY}).loc["Q"]
    # human renormalised over ordinal options: Better 2/3, Worse 1/3; 1/3 of the mass moves 1 -> 3
    assert row["human_refusal"] == pytest.approx(0.25) and row["model_refusal"] == 0.0
    assert row["wd"] == pytest.approx(2 / 3)
    assert row["wd_normalized"] == pytest.approx(1 / 3)
    assert row["tv"] == pytest.approx(1 / 3)
    assert row["n_options"] == 3
    human_w = {"Q": answer_distribution([2, 4, 1, 1], 4, weights=[3, 1, 1, 1])}
    row = question_distances(model, human_w, {"Q": LIFEFIFTY}).loc["Q"]
    # weighted: Worse 3/6, Refused 1/6, Better 2/6 -> renormalised Better .4, Worse .6
    assert row["human_refusal"] == pytest.approx(1 / 6)
    assert row["wd"] == pytest.approx(1.2) and row["wd_normalized"] == pytest.approx(0.6)


def test_representativeness_by_hand():
    binary = Scale(values=(1, 2, 3), labels=("Yes", "No", "Refused"), ordinal=(1.0, 2.0, None))
    scales = {"A": binary, "B": LIFEFIFTY}
    model = {"A": np.array([0.6, 0.4, 0.0]), "B": np.array([0.0, 0.0, 1.0, 0.0])}
    groups = {"g1": {"A": np.array([0.45, 0.45, 0.1]), "B": np.array([0.0, 0.0, 1.0, 0.0])},
              "g2": {"A": np.array([0.0, 1.0, 0.0]), "B": np.array([0.5, 0.0, 0.0, 0.5])}}
    r = representativeness(model, groups, scales)
    # g1: A renormalised [.5, .5] -> |.6 - .5| = .1 of 1; B identical -> 0; mean .05
    # g2: A -> .6 of 1; B: all "About the same" (2) vs all "Better" (1) -> 1 of 2 = .5; mean .55
    assert r["g1"] == pytest.approx(1 - 0.05)
    assert r["g2"] == pytest.approx(1 - 0.55)


# ---------------------------------------------------------------------------------------------
# correlations, Frobenius, alpha


def hand_weighted_corr(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    ok = ~np.isnan(x) & ~np.isnan(y)
    x, y, w = x[ok], y[ok], w[ok]
    mx, my = np.sum(w * x) / w.sum(), np.sum(w * y) / w.sum()
    cov = np.sum(w * (x - mx) * (y - my))
    return cov / np.sqrt(np.sum(w * (x - mx) ** 2) * np.sum(w * (y - my) ** 2))


def test_weighted_correlation_equal_weights_is_pearson():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 4)) @ rng.normal(size=(4, 4))
    frame = pd.DataFrame(x, columns=list("abcd"))
    np.testing.assert_allclose(weighted_correlation(frame).to_numpy(), np.corrcoef(x, rowvar=False), atol=1e-12)
    np.testing.assert_allclose(weighted_correlation(frame, np.full(200, 2.5)).to_numpy(),
                               np.corrcoef(x, rowvar=False), atol=1e-12)
    holes = frame.mask(rng.random(frame.shape) < 0.2)
    np.testing.assert_allclose(weighted_correlation(holes).to_numpy(), holes.corr().to_numpy(), atol=1e-12)


def test_weighted_correlation_with_weights():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(150, 3)) @ rng.normal(size=(3, 3))
    w = rng.uniform(0.2, 3.0, 150)
    frame = pd.DataFrame(x, columns=["q1", "q2", "q3"])
    r = weighted_correlation(frame, pd.Series(w))
    np.testing.assert_allclose(r.to_numpy(), DescrStatsW(x, weights=w).corrcoef, atol=1e-12)
    holes = frame.mask(rng.random(frame.shape) < 0.25)
    r = weighted_correlation(holes, w)
    for i in holes.columns:
        for j in holes.columns:
            assert r.loc[i, j] == pytest.approx(hand_weighted_corr(holes[i].to_numpy(), holes[j].to_numpy(), w),
                                                 abs=1e-12)
    const = frame.assign(q3=1.0)
    assert weighted_correlation(const, w)["q3"].isna().all()


def test_frobenius_by_hand():
    a = pd.DataFrame([[1, 0.5], [0.5, 1]], index=["x", "y"], columns=["x", "y"])
    b = pd.DataFrame([[1, 0.1], [0.1, 1]], index=["x", "y"], columns=["x", "y"])
    f = frobenius(a, b)
    assert f["frobenius"] == pytest.approx(np.sqrt(2 * 0.4**2))
    assert f["frobenius_normalized"] == pytest.approx(0.4)  # RMS off-diagonal difference
    ids = ["x", "y", "z"]
    a3 = pd.DataFrame([[1, 0.2, 0.3], [0.2, 1, 0.4], [0.3, 0.4, 1]], index=ids, columns=ids)
    b3 = pd.DataFrame([[1, 0.0, 0.0], [0.0, 1, 0.4], [0.0, 0.4, 1]], index=ids, columns=ids)
    shuffled = b3.loc[["z", "x", "y"], ["z", "x", "y"]].assign(w=0.0)  # order and extra questions don't matter
    shuffled.loc["w"] = 0.0
    f = frobenius(a3, shuffled)
    assert f["frobenius"] == pytest.approx(np.sqrt(2 * (0.2**2 + 0.3**2)))
    assert f["frobenius_normalized"] == pytest.approx(np.sqrt(2 * (0.2**2 + 0.3**2) / 6))
    assert f["n_questions"] == 3


def test_alpha_by_trait_reproduces_psych_bfi(bfi):
    inv = load_inventory("ipip25")
    alpha = alpha_by_trait(keyed_scores(bfi.answers, inv), {it.id: it.trait for it in inv.items})
    expected = {"A": 0.703, "C": 0.727, "E": 0.762, "N": 0.814, "O": 0.600}
    assert {t: round(a, 3) for t, a in alpha.items()} == expected


# ---------------------------------------------------------------------------------------------
# split halves and the whole comparison on real data


def test_split_half_is_deterministic_and_uses_disjoint_halves(bfi):
    seen = []

    def metric(a: HumanResponses, b: HumanResponses) -> dict:
        seen.append(set(a.answers.index) & set(b.answers.index))
        return {"mean_a1": float(a.answers["A1"].mean() - b.answers["A1"].mean())}

    one = split_half_bounds(bfi, metric, n_splits=10, seed=1)
    assert one == split_half_bounds(bfi, metric, n_splits=10, seed=1)
    assert one != split_half_bounds(bfi, metric, n_splits=10, seed=2)
    assert one["mean_a1"]["n"] == 10 and all(not s for s in seen)
    assert abs(one["mean_a1"]["mean"]) < 3 * one["mean_a1"]["sd"] + 1e-9  # halves of one population


def test_population_fidelity_on_psych_bfi(bfi):
    inv = load_inventory("ipip25")
    all_threes = pd.DataFrame(3.0, index=[f"p{i}" for i in range(40)], columns=bfi.answers.columns)
    section, per_q = population_fidelity(all_threes, bfi, inv, n_splits=20, seed=0)
    bound = section["human_lower_bound"]
    assert section["n_questions"] == 25 and len(per_q) == 25
    assert bound["mean_wd_normalized"]["mean"] < 0.05
    # an all-"3" population is far from the people: many spreads beyond the split-half bound
    gap = bound["mean_wd_normalized"]["mean"] + 10 * bound["mean_wd_normalized"]["sd"]
    assert section["mean_wd_normalized"] > gap
    assert section["mean_wd"] == pytest.approx(5 * section["mean_wd_normalized"])  # 1..6 scale: max WD 5
    # per question, independently: the humans' distribution vs a point mass at 3
    h = bfi.answers["A1"].dropna().to_numpy()
    assert per_q.loc["A1", "wd"] == pytest.approx(np.mean(np.abs(h - 3)))
    assert np.isnan(section["frobenius"])  # constant answers have no correlations
    assert section["alpha_human"]["N"] == pytest.approx(0.814, abs=5e-4)
    # a population of real people (one half) sits near the bound; determinism
    sample = bfi.answers.sample(1400, random_state=0)
    near, _ = population_fidelity(sample, bfi, inv, n_splits=20, seed=0)
    assert near["mean_wd_normalized"] < section["mean_wd_normalized"] / 5
    assert near["frobenius_normalized"] < 0.1
    again, _ = population_fidelity(sample, bfi, inv, n_splits=20, seed=0)
    assert again == near


def test_population_fidelity_survey_with_refusals_and_weights():
    survey = validate_inventory(SURVEY)
    ids = pd.Index(["r1", "r2", "r3", "r4"])
    human = HumanResponses(
        source="hand", weights=pd.Series([3.0, 1.0, 1.0, 1.0], index=ids),
        answers=pd.DataFrame({"LIFEFIFTY_W92": [2.0, 4.0, 1.0, 1.0], "POL1JB_W92": [1.0, 2.0, 1.0, 3.0]}, index=ids))
    model = pd.DataFrame({"LIFEFIFTY_W92": [1.0, 1.0, np.nan], "POL1JB_W92": [1.0, 2.0, 3.0]})
    section, per_q = population_fidelity(model, human, survey, n_splits=5)
    # LIFEFIFTY as in test_question_distances_drop_refusals_by_hand (weights 3, 1, 1, 1)
    assert per_q.loc["LIFEFIFTY_W92", "wd"] == pytest.approx(1.2)
    # POL1JB: human Approve 4/6, Disapprove 1/6, Refused 1/6 -> renormalised .8/.2; model .5/.5, refused 1/3
    assert per_q.loc["POL1JB_W92", "wd"] == pytest.approx(0.3)
    assert per_q.loc["POL1JB_W92", "model_refusal"] == pytest.approx(1 / 3)
    assert section["mean_wd"] == pytest.approx((1.2 + 0.3) / 2)
    assert section["alpha_model"] == {} and section["alpha_human"] == {}


# ---------------------------------------------------------------------------------------------
# OpinionQA: representativeness on real group counts


@pytest.mark.parametrize("wave", ["American_Trends_Panel_W34", "American_Trends_Panel_W92"])
def test_representativeness_on_opinionqa(wave):
    root = shared_data()
    folder = root / "opinionqa" / wave if root else None
    if folder is None or not folder.is_dir():
        pytest.skip(f"OpinionQA wave {wave} not in the shared data folder")
    counts = load_opinionqa(folder, attributes=["POLPARTY"])
    qs = counts.questions
    scales = {q: counts.scale(q) for q in qs}
    groups = {g: {q: counts.distribution(q, "POLPARTY", g) for q in qs} for g in ("Democrat", "Republican")}
    overall = {q: counts.distribution(q) for q in qs}
    r = representativeness(groups["Democrat"], {"Democrat": groups["Democrat"], **{"overall": overall},
                                                "Republican": groups["Republican"]}, scales)
    assert r["Democrat"] == pytest.approx(1.0)
    assert 0 < r["Republican"] < r["overall"] < 1
    # independent check on the two-option questions: normalised WD = |difference in the first share|
    binary = [q for q in qs if sum(o is not None for o in counts.ordinal[q]) == 2]
    assert len(binary) >= 5
    diffs = []
    for q in binary:
        d, rr = (counts.counts_of(q, "POLPARTY", g)[:2] for g in ("Democrat", "Republican"))
        diffs.append(abs(d[0] / d.sum() - rr[0] / rr.sum()))
    sub = {q: scales[q] for q in binary}
    only = representativeness({q: groups["Democrat"][q] for q in binary},
                              {"Republican": {q: groups["Republican"][q] for q in binary}}, sub)
    assert only["Republican"] == pytest.approx(1 - np.mean(diffs))


def survey_from_counts(counts, questions) -> Inventory:
    """A survey instrument built straight from info.csv's options, codes and ordinal values."""
    items = []
    for q in questions:
        opts = []
        for label, code, o in zip(counts.options[q], counts.codes[q], counts.ordinal[q]):
            opts.append({"label": label, "code": code, "refusal": True} if o is None
                        else {"label": label, "code": code, "ordinal": o})
        items.append({"id": q, "text": counts.text[q], "options": opts})
    return validate_inventory({"id": "w", "name": "w", "version": 1, "source": "t", "licence": "t", "kind": "survey",
                               "items": items})


def population_with_counts(per_question: dict[str, np.ndarray]) -> pd.DataFrame:
    """Respondent x question option values whose per-question tallies are exactly the given counts."""
    cols = {q: np.repeat(np.arange(1, len(c) + 1, dtype=float), c.astype(int)) for q, c in per_question.items()}
    n = max(len(v) for v in cols.values())
    return pd.DataFrame({q: np.concatenate([v, np.full(n - len(v), np.nan)]) for q, v in cols.items()})


def test_group_fidelity_on_opinionqa_w92():
    root = shared_data()
    folder = root / "opinionqa" / "American_Trends_Panel_W92" if root else None
    if folder is None or not folder.is_dir():
        pytest.skip("OpinionQA W92 not in the shared data folder")
    from bench.populations.reference_fidelity import aligned_counts, group_fidelity

    counts = load_opinionqa(folder, attributes=["POLPARTY", "CREGION"])
    qs = ["POL1JB_W92", "LIFEFIFTY_W92", "BIGHOUSES_W92", "INSTN_CHR_W92"]
    survey = survey_from_counts(counts, qs)
    # a "model" population that answers exactly as the Democrats did
    dem = {q: counts.counts_of(q, "POLPARTY", "Democrat") for q in qs}
    section, per_q, groups = group_fidelity(population_with_counts(dem), counts, survey, n_splits=10)
    rep = groups.set_index(["attribute", "group"])["representativeness"]
    assert rep["POLPARTY", "Democrat"] == pytest.approx(1.0)
    assert rep["POLPARTY", "Republican"] < rep["CREGION", "South"] < 1
    for q in qs:  # vs everyone, independently with scipy on the renormalised ordinal options
        ordinal = [o for o in counts.ordinal[q] if o is not None]
        k = len(ordinal)
        d, everyone = dem[q][:k], counts.counts_of(q)[:k]
        wd = wasserstein_distance(ordinal, ordinal, d / d.sum(), everyone / everyone.sum())
        assert per_q.loc[q, "wd"] == pytest.approx(wd)
        assert per_q.loc[q, "human_refusal"] == pytest.approx(counts.distribution(q)[-1])
    bound = section["human_lower_bound"]["mean_wd_normalized"]
    assert bound["mean"] < section["mean_wd_normalized"] and bound["mean"] < 0.02
    again = group_fidelity(population_with_counts(dem), counts, survey, n_splits=10)[0]
    assert again["human_lower_bound"] == section["human_lower_bound"] and again["mean_wd"] == section["mean_wd"]
    # codes are matched, not positions: a survey listing Refused first still lines up
    flipped = survey_from_counts(counts, ["POL1JB_W92"])
    scale = flipped.items[0].scale
    swapped = Scale(values=scale.values, labels=scale.labels[::-1], ordinal=scale.ordinal[::-1], codes=scale.codes[::-1])
    np.testing.assert_allclose(aligned_counts(counts, "POL1JB_W92", swapped), counts.counts_of("POL1JB_W92")[::-1])
    wrong = Scale(values=scale.values, labels=scale.labels, ordinal=scale.ordinal, codes=(1.0, 2.0, 98.0))
    with pytest.raises(ValueError, match=r"'POL1JB_W92': the reference's option codes \[1, 2, 99\] differ"):
        aligned_counts(counts, "POL1JB_W92", wrong)
