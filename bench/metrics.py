"""Metrics over the response and score tables: pure functions of DataFrames, no I/O.

`score_participants` turns item responses into trait scores (the inventory's own scoring rule);
everything else asks a question of those tables: are the answers internally consistent
(`reliability`), stable across repeated sampling (`icc_repetitions`), robust to prompt wording
(`prompt_sensitivity`) and to the order the options are shown in (`option_order_symmetry`), does a
persona move the trait it targets (`trait_target_shift`, `mbti_types`/`mbti_accuracy`), and how often
the model gave no usable answer (`invalid_rates`). `compute_metrics` gathers all of it as the
JSON-ready dict written to metrics.json.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pingouin as pg
from scipy import stats
from statsmodels.multivariate.factor import Factor

from bench.inventory import Inventory

# Columns that describe a participant (constant over its rows).
PARTICIPANT_COLS = [
    "participant_id",
    "persona_id",
    "persona_target",
    "template_id",
    "option_order",
    "temperature",
    "repetition",
]
# A condition; its repetitions differ only in `repetition`.
CONDITION_COLS = ["persona_id", "template_id", "option_order", "temperature"]
SCORE_COLS = [*PARTICIPANT_COLS, "trait", "score", "n_items", "n_valid", "letter"]

_POLE_TARGET = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*([+-])\s*$")


# --------------------------------------------------------------------------------------------
# helpers


def _participants(responses: pd.DataFrame) -> pd.DataFrame:
    """One row per participant with its describing columns, in order of first appearance."""
    return responses[PARTICIPANT_COLS].drop_duplicates("participant_id").reset_index(drop=True)


def _valid_scores(responses: pd.DataFrame, column: str = "score") -> pd.Series:
    """`column` with invalid rows set to NaN (an invalid row never counts, whatever it holds)."""
    invalid = responses["invalid"].fillna(False).astype(bool)
    return responses[column].astype(float).where(~invalid)


def _trait_order(inventory: Inventory) -> list[str]:
    """Trait codes in report order, then any item trait the trait list does not name."""
    order = [code for code, _ in inventory.traits]
    for item in inventory.items:
        if item.trait not in order:
            order.append(item.trait)
    return order


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _nan_if_not_finite(x: Any) -> float:
    return float(x) if _finite(x) else float("nan")


# --------------------------------------------------------------------------------------------
# scoring


def score_participants(responses: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """Score each participant on each trait with the inventory's own rule (long form).

    scoring == "mean": the mean of `score` (reverse keying already undone) over the trait's valid
    items; NaN with n_valid 0 when none is valid. letter is None.

    scoring == "dichotomy": score = constant + sum(keyed * answer) over the dichotomy's items, with
    `answer` in canonical scale order; letter = `high` when score > cutoff, else `low`. The formula
    needs every item, so an invalid or missing answer is imputed with the scale midpoint
    ((low + high) / 2), which pulls the score toward the neutral point instead of dropping a term;
    n_valid says how many answers were real. With no valid item the score is NaN, letter None.

    n_items counts the inventory's items for the trait; n_valid the valid answers among them.
    """
    parts = _participants(responses)
    if inventory.scoring == "none":  # surveys: answers are compared as distributions, not summed to traits
        return pd.DataFrame(columns=SCORE_COLS)
    traits = [d.id for d in inventory.dichotomies] if inventory.scoring == "dichotomy" else _trait_order(inventory)
    item_trait = {it.id: it.trait for it in inventory.items}
    item_keyed = {it.id: float(it.keyed) for it in inventory.items}
    n_items = pd.Series([it.trait for it in inventory.items]).value_counts()

    r = responses[responses["item_id"].isin(item_trait)]
    value_col = "answer" if inventory.scoring == "dichotomy" else "score"
    long = pd.DataFrame(
        {
            "participant_id": r["participant_id"].to_numpy(),
            "trait": r["item_id"].map(item_trait).to_numpy(),
            "keyed": r["item_id"].map(item_keyed).to_numpy(),
            "value": _valid_scores(r, value_col).to_numpy(),
        }
    ).dropna(subset=["value"])

    grid = pd.MultiIndex.from_product([parts["participant_id"], traits], names=["participant_id", "trait"])
    if inventory.scoring == "mean":
        agg = long.groupby(["participant_id", "trait"])["value"].agg(["mean", "count"]).reindex(grid)
        out = pd.DataFrame(
            {"score": agg["mean"].to_numpy(float), "n_valid": agg["count"].fillna(0).to_numpy(int)},
            index=grid,
        )
        out["letter"] = None
    elif inventory.scoring == "dichotomy":
        mid = (inventory.scale.low + inventory.scale.high) / 2.0
        long["kv"] = long["keyed"] * long["value"]
        agg = (
            long.groupby(["participant_id", "trait"])
            .agg(s_valid=("kv", "sum"), k_valid=("keyed", "sum"), n_valid=("value", "count"))
            .reindex(grid)
        )
        agg["n_valid"] = agg["n_valid"].fillna(0).astype(int)
        dich = {d.id: d for d in inventory.dichotomies}
        keyed_total = {
            d: sum(it.keyed for it in inventory.items if it.trait == d) for d in dich
        }
        trait_idx = agg.index.get_level_values("trait")
        constant = np.array([dich[t].constant for t in trait_idx], float)
        k_total = np.array([keyed_total[t] for t in trait_idx], float)
        # valid terms + the missing items' terms at the midpoint: sum over missing of keyed * mid
        score = constant + agg["s_valid"].to_numpy(float) + mid * (k_total - agg["k_valid"].to_numpy(float))
        score[agg["n_valid"].to_numpy() == 0] = np.nan
        letters = [
            None if not math.isfinite(s) else (dich[t].high if s > dich[t].cutoff else dich[t].low)
            for s, t in zip(score, trait_idx)
        ]
        out = pd.DataFrame({"score": score, "n_valid": agg["n_valid"].to_numpy(int), "letter": letters}, index=grid)
    else:
        raise ValueError(f"unknown scoring rule {inventory.scoring!r} in inventory {inventory.id!r}")

    out = out.reset_index()
    out["n_items"] = out["trait"].map(n_items).fillna(0).astype(int)
    out = out.merge(parts, on="participant_id", how="left")
    out["letter"] = out["letter"].astype(object).where(out["letter"].notna(), None)
    return out[SCORE_COLS].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# type inventories (MBTI-like)


def _normalise_type_target(target: Any, dichotomies: Sequence) -> str | None:
    """A type target rewritten in the inventory's dichotomy order, or None if it is not one.

    "INTJ" for IE,SN,FT,JP stays "INTJ"; the same letters are accepted in any order, so a target
    always lines up letter by letter with the participant's type.
    """
    if not isinstance(target, str):
        return None
    t = target.strip().upper()
    if len(t) != len(dichotomies) or not t.isalpha():
        return None
    letters = []
    for d in dichotomies:
        hits = [c for c in t if c in (d.low.upper(), d.high.upper())]
        if len(hits) != 1:
            return None
        letters.append(hits[0])
    return "".join(letters)


def mbti_types(scores: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """One row per participant: its type letters and its persona's type target, if any.

    `type` joins the letters in the order of `inventory.dichotomies` (e.g. "ENTJ" for IE,SN,FT,JP);
    a dichotomy with no valid item gives "X" at its position, which never matches a target.
    `target` is persona_target when it is a full type (reordered to the same dichotomy order),
    else None. The dichotomy ids are kept in `attrs["dichotomies"]` for `mbti_accuracy`.
    """
    dich = list(inventory.dichotomies)
    ids = [d.id for d in dich]
    parts = scores[PARTICIPANT_COLS].drop_duplicates("participant_id").reset_index(drop=True)
    letters = scores[scores["trait"].isin(ids)].pivot_table(
        index="participant_id", columns="trait", values="letter", aggfunc="first"
    )
    letters = letters.reindex(index=parts["participant_id"], columns=ids)
    types = ["".join(c if isinstance(c, str) and c else "X" for c in row) for row in letters.itertuples(index=False)]
    out = parts.copy()
    out["type"] = types
    out["target"] = pd.Series([_normalise_type_target(t, dich) for t in out["persona_target"]], dtype=object)
    out.attrs["dichotomies"] = ids
    return out


def mbti_accuracy(types: pd.DataFrame, dichotomies: Sequence[str] | None = None) -> dict:
    """How often the participant's type matches its persona's full-type target.

    Over participants whose `target` is a full type (as many letters as dichotomies): `exact` is
    the share with type == target, `per_dichotomy[id]` the share whose letter at that dichotomy's
    position matches. Positions follow the inventory's dichotomy order (the order `mbti_types`
    writes both `type` and `target` in); their ids come from `dichotomies`, else
    `types.attrs["dichotomies"]` (set by `mbti_types`). An unscored letter ("X") counts as
    a miss. Values are NaN when n == 0.
    """
    ids = list(dichotomies) if dichotomies is not None else list(types.attrs.get("dichotomies") or [])
    if not ids:
        raise ValueError("mbti_accuracy: pass `dichotomies` (or a table made by mbti_types)")
    tgt = types["target"].where(types["target"].map(lambda t: isinstance(t, str) and t.isalpha()))
    keep = tgt.notna() & (tgt.str.len() == len(ids))
    t = tgt[keep].str.upper().to_numpy()
    y = types.loc[keep, "type"].fillna("").astype(str).str.upper().to_numpy()
    n = int(keep.sum())
    if n == 0:
        return {"n": 0, "exact": float("nan"), "per_dichotomy": {d: float("nan") for d in ids}}
    exact = float(np.mean([a == b for a, b in zip(y, t)]))
    per = {
        d: float(np.mean([len(a) > i and a[i] == b[i] for a, b in zip(y, t)])) for i, d in enumerate(ids)
    }
    return {"n": n, "exact": exact, "per_dichotomy": per}


# --------------------------------------------------------------------------------------------
# persona conditioning on trait poles


def trait_target_shift(scores: pd.DataFrame) -> pd.DataFrame:
    """Does conditioning move the intended trait? Scores of "T+" vs "T-" personas on trait T.

    For each trait T with pole targets, over condition-level scores (repetitions averaged first, as
    in `prompt_sensitivity`; pooled over templates, orders and temperatures): mean score of the
    "T+" personas, of the "T-" personas, diff = plus - minus, and Cohen's d
    (pingouin.compute_effsize, pooled SD; NaN when it is not finite, e.g. zero spread).
    """
    scores = _condition_means(scores)
    cols = ["trait", "mean_plus", "mean_minus", "diff", "cohen_d", "n_plus", "n_minus"]
    target = scores["persona_target"].fillna("").astype(str).str.strip()
    m = target.str.extract(_POLE_TARGET)
    pole_traits = list(dict.fromkeys(m[0].dropna()))
    rows = []
    for trait in [t for t in dict.fromkeys(scores["trait"]) if t in pole_traits]:
        on_trait = (scores["trait"] == trait) & (m[0] == trait)
        plus = scores.loc[on_trait & (m[1] == "+"), "score"].dropna().to_numpy(float)
        minus = scores.loc[on_trait & (m[1] == "-"), "score"].dropna().to_numpy(float)
        mp = float(plus.mean()) if plus.size else float("nan")
        mm = float(minus.mean()) if minus.size else float("nan")
        d = float("nan")
        if plus.size >= 2 and minus.size >= 2:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                d = _nan_if_not_finite(pg.compute_effsize(plus, minus, paired=False, eftype="cohen"))
        rows.append([trait, mp, mm, mp - mm, d, int(plus.size), int(minus.size)])
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------------------------
# reliability


def _omega_total(wide: pd.DataFrame) -> float:
    """McDonald's omega (total) of the unweighted sum of `wide`'s columns, one-factor model.

    omega = (sum lambda)^2 / ((sum lambda)^2 + sum psi), with loadings lambda and unique variances
    psi from a maximum-likelihood one-factor model (statsmodels Factor, method="ml") fitted to the
    pairwise-complete correlation matrix (the same pairwise covariances pingouin's alpha uses) and
    rescaled by the item SDs (ML is scale invariant), so omega refers to the raw sum score, like
    alpha, and equals alpha for tau-equivalent items. Constant items add nothing to either sum
    and are left out of the fit; NaN with fewer than 3 varying items (one factor is not
    identified) or when a covariance is undefined.
    """
    cov = wide.cov().to_numpy(float)
    if cov.size == 0 or not np.isfinite(np.diag(cov)).all():
        return float("nan")
    keep = np.diag(cov) > 1e-12
    if keep.sum() < 3:
        return float("nan")
    cov = cov[np.ix_(keep, keep)]
    if not np.isfinite(cov).all():
        return float("nan")
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    # Deterministic start (statsmodels otherwise draws random ones): first principal axis.
    evals, evecs = np.linalg.eigh(corr)
    load0 = evecs[:, -1] * np.sqrt(max(evals[-1], 1e-6)) * 0.9
    uniq0 = np.clip(1.0 - load0**2, 0.05, 1.0)
    model = Factor(corr=corr, n_factor=1, method="ml", nobs=len(wide))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model.fit(start=(load0[:, None], uniq0))
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return float("nan")
    lam = np.asarray(model.loadings)[:, 0] * sd
    psi = np.asarray(model.uniqueness) * sd**2
    common = lam.sum() ** 2
    return _nan_if_not_finite(common / (common + psi.sum()))


def reliability(responses: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """Internal consistency per trait over the participants x items matrix of `score`.

    alpha: pingouin.cronbach_alpha with its default pairwise-complete covariances and 95% CI
    (Feldt). omega: McDonald's omega total from a one-factor ML model (see `_omega_total`).
    Participants with no valid item of the trait are left out. All NaN (not an exception) with
    fewer than 2 participants or items, or no variance.
    """
    item_trait = {it.id: it.trait for it in inventory.items}
    r = responses[responses["item_id"].isin(item_trait)]
    data = pd.DataFrame(
        {
            "participant_id": r["participant_id"].to_numpy(),
            "item_id": r["item_id"].to_numpy(),
            "trait": r["item_id"].map(item_trait).to_numpy(),
            "score": _valid_scores(r).to_numpy(),
        }
    )
    rows = []
    for trait in _trait_order(inventory):
        sub = data[data["trait"] == trait]
        items = [it.id for it in inventory.items if it.trait == trait]
        if not items:
            continue
        wide = (
            sub.pivot_table(index="participant_id", columns="item_id", values="score", aggfunc="mean")
            .reindex(columns=[i for i in items if i in set(sub["item_id"])])
            .dropna(axis=0, how="all")
            .dropna(axis=1, how="all")
        )
        n, k = wide.shape
        alpha = lo = hi = omega = float("nan")
        if n >= 2 and k >= 2:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                a, ci = pg.cronbach_alpha(data=wide.astype(float))
            if _finite(a):
                alpha, lo, hi = float(a), float(ci[0]), float(ci[1])
            omega = _omega_total(wide)
        rows.append([trait, alpha, lo, hi, omega, int(n), int(k)])
    return pd.DataFrame(
        rows, columns=["trait", "alpha", "alpha_ci_low", "alpha_ci_high", "omega", "n_participants", "n_items"]
    )


# --------------------------------------------------------------------------------------------
# stability across repetitions


_ICC_NAMES = {"ICC2": ("ICC2", "ICC(A,1)"), "ICC2k": ("ICC2k", "ICC(A,k)")}


def icc_repetitions(responses: pd.DataFrame) -> pd.DataFrame:
    """Agreement of item answers across repetitions of one condition (sampling stability).

    For each condition (persona_id, template_id, option_order, temperature) with >= 2
    repetitions: pingouin.intraclass_corr with targets = item_id, raters = repetition,
    ratings = score (invalid -> NaN; items lacking an answer in some repetition are dropped).
    icc2 is ICC(2,1) = ICC(A,1): two-way random effects, absolute agreement, single repetition —
    how interchangeable one sampled run is with another, which is the headline figure.
    icc2k is ICC(2,k) = ICC(A,k): the same for the mean of the k repetitions. NaN when not
    computable (fewer than 2 complete items, or no variance, as at temperature ~0 when every
    item gets the same answer). `pooled_icc` averages the table over conditions.
    """
    cols = [*CONDITION_COLS, "n_repetitions", "n_items", "icc2", "icc2_ci_low", "icc2_ci_high", "icc2k"]
    data = responses[[*CONDITION_COLS, "repetition", "item_id"]].copy()
    data["score"] = _valid_scores(responses).to_numpy()
    rows = []
    for key, sub in data.groupby(CONDITION_COLS, sort=False, dropna=False):
        n_reps = sub["repetition"].nunique()
        if n_reps < 2:
            continue
        wide = sub.pivot_table(index="item_id", columns="repetition", values="score", aggfunc="mean", dropna=False)
        wide = wide.dropna(axis=0, how="any")
        icc2 = lo = hi = icc2k = float("nan")
        vals = wide.to_numpy(float)
        if wide.shape[0] >= 2 and wide.shape[1] >= 2 and np.nanvar(vals) > 0:
            long = wide.reset_index().melt(id_vars="item_id", var_name="repetition", value_name="score")
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    res = pg.intraclass_corr(data=long, targets="item_id", raters="repetition", ratings="score")
                res = res.set_index("Type")
                name2 = next(n for n in _ICC_NAMES["ICC2"] if n in res.index)
                name2k = next(n for n in _ICC_NAMES["ICC2k"] if n in res.index)
                icc2 = _nan_if_not_finite(res.at[name2, "ICC"])
                icc2k = _nan_if_not_finite(res.at[name2k, "ICC"])
                ci = res.at[name2, "CI95"]
                lo, hi = _nan_if_not_finite(ci[0]), _nan_if_not_finite(ci[1])
            except (ValueError, AssertionError, ZeroDivisionError, np.linalg.LinAlgError, StopIteration):
                pass
        rows.append([*key, int(n_reps), int(wide.shape[0]), icc2, lo, hi, icc2k])
    return pd.DataFrame(rows, columns=cols)


def pooled_icc(icc_table: pd.DataFrame) -> dict:
    """Plain mean (and median) of icc2 over the conditions where they are finite, with counts."""
    icc2 = pd.to_numeric(icc_table.get("icc2", pd.Series(dtype=float)), errors="coerce")
    ok = icc2.notna() & np.isfinite(icc2)
    return {
        "icc2_mean": float(icc2[ok].mean()) if ok.any() else float("nan"),
        # ICC2k is not averaged: near ICC2 = -1/(k-1) it explodes, so its mean means nothing.
        "icc2_median": float(icc2[ok].median()) if ok.any() else float("nan"),
        "n_conditions": int(len(icc_table)),
        "n_computable": int(ok.sum()),
    }


# --------------------------------------------------------------------------------------------
# robustness to prompt wording and option order


def _condition_means(scores: pd.DataFrame) -> pd.DataFrame:
    """Trait scores averaged over repetitions: one row per condition and trait."""
    keys = ["persona_id", "persona_target", "template_id", "option_order", "temperature", "trait"]
    return scores.groupby(keys, sort=False, dropna=False)["score"].mean().reset_index()


def prompt_sensitivity(scores: pd.DataFrame) -> pd.DataFrame:
    """Do trait scores depend on the prompt template? Kruskal-Wallis across template_id.

    Per trait, condition-level scores (repetitions averaged first: identical draws at T = 0 are
    not independent observations; pooled over personas, orders, temperatures) grouped by template: H and p from scipy.stats.kruskal, and eta^2_H = (H - k + 1) / (n - k) (Tomczak &
    Tomczak 2014; k templates, n scores) as effect size: the share of rank variance explained by
    the template, ~0 when the wording does not matter. NaN when fewer than 2 templates have
    scores, n <= k, or all scores are equal.
    """
    rows = []
    for trait, sub in _condition_means(scores).groupby("trait", sort=False):
        sub = sub.dropna(subset=["score"])
        groups = [g["score"].to_numpy(float) for _, g in sub.groupby("template_id", sort=True)]
        n, k = int(len(sub)), len(groups)
        h = p = eta = float("nan")
        if k >= 2 and n > k and sub["score"].nunique() > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = stats.kruskal(*groups)
            h, p = _nan_if_not_finite(res.statistic), _nan_if_not_finite(res.pvalue)
            eta = (h - k + 1) / (n - k) if _finite(h) else float("nan")
        rows.append([trait, n, k, h, p, eta])
    return pd.DataFrame(rows, columns=["trait", "n", "k_templates", "H", "p", "eta2_h"])


def option_order_symmetry(scores: pd.DataFrame) -> pd.DataFrame:
    """Does showing the options in reverse order shift trait scores? (order / position bias)

    Pairs the "reversed" and "original" conditions sharing persona_id, template_id and
    temperature (repetitions averaged first, as in `prompt_sensitivity`); shift = reversed - original, in trait-score units. Per trait:
    mean and SD (ddof 1) of the shifts, n_pairs, and the two-sided Wilcoxon signed-rank p
    (scipy.stats.wilcoxon, zeros dropped) when n_pairs >= 2 and some shift is non-zero.
    """
    keys = ["persona_id", "template_id", "temperature"]
    means = _condition_means(scores)
    sub = means[means["option_order"].isin(["original", "reversed"])]
    rows = []
    for trait in dict.fromkeys(scores["trait"]):
        t = sub[sub["trait"] == trait]
        wide = t.pivot_table(index=keys, columns="option_order", values="score", aggfunc="mean")
        if {"original", "reversed"} <= set(wide.columns):
            diff = (wide["reversed"] - wide["original"]).dropna().to_numpy(float)
        else:
            diff = np.array([], float)
        n = int(diff.size)
        mean = float(diff.mean()) if n else float("nan")
        sd = float(diff.std(ddof=1)) if n >= 2 else float("nan")
        p = float("nan")
        if n >= 2 and np.any(diff != 0):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p = _nan_if_not_finite(stats.wilcoxon(diff).pvalue)
        rows.append([trait, mean, sd, n, p])
    return pd.DataFrame(rows, columns=["trait", "mean_shift", "sd_shift", "n_pairs", "wilcoxon_p"])


# --------------------------------------------------------------------------------------------
# invalid answers


def _rates(frame: pd.DataFrame) -> dict:
    n = int(len(frame))
    return {
        "n": n,
        "invalid_rate": float(frame["invalid"].fillna(False).astype(bool).mean()) if n else float("nan"),
        "refusal_rate": float(frame["refusal"].fillna(False).astype(bool).mean()) if n else float("nan"),
    }


def invalid_rates(responses: pd.DataFrame) -> dict:
    """Share of item responses that were unusable (invalid) or refusals, overall and broken down
    by template_id and by temperature (keys are str(float(temperature)), e.g. "0.7")."""
    out = _rates(responses)
    out["by_template"] = {str(k): _rates(g) for k, g in responses.groupby("template_id", sort=True)}
    out["by_temperature"] = {
        str(float(k)): _rates(g) for k, g in responses.groupby("temperature", sort=True)
    }
    return out


# --------------------------------------------------------------------------------------------
# surveys


def question_distributions(responses: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """Per question, the share of each option over all participants (canonical option order).

    Logprob rows contribute their whole option distribution, sampled rows their one answer
    (invalid rows none), so the table is the population's answer distribution either way.
    """
    rows = []
    for item in inventory.items:
        r = responses[responses["item_id"] == item.id]
        labels = inventory.scale_of(item).labels
        total = np.zeros(len(labels))
        for probs, answer, invalid in zip(r["option_probs"], r["answer"], r["invalid"]):
            if probs is not None and len(probs):
                total += np.asarray(probs, float)
            elif not invalid and _finite(answer):
                total[int(answer) - 1] += 1
        share = total / total.sum() if total.sum() > 0 else total * np.nan
        rows += [{"item_id": item.id, "option": lab, "share": float(x)} for lab, x in zip(labels, share)]
    return pd.DataFrame(rows, columns=["item_id", "option", "share"])


# --------------------------------------------------------------------------------------------
# everything, for metrics.json


def _jsonable(x: Any) -> Any:
    """Plain Python types for json.dumps; NaN/inf become None."""
    if isinstance(x, pd.DataFrame):
        return [_jsonable(r) for r in x.to_dict(orient="records")]
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray, pd.Series)):
        return [_jsonable(v) for v in list(x)]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if x is None or isinstance(x, str):
        return x
    if x is pd.NA or x is pd.NaT:
        return None
    return str(x)


def compute_metrics(responses: pd.DataFrame, scores: pd.DataFrame, inventory: Inventory) -> dict:
    """All metrics as one JSON-serialisable dict (NaN -> None), the content of metrics.json.

    The MBTI block appears only for dichotomy inventories, the trait-shift block only when some
    persona targets a trait pole ("E+" / "E-").
    """
    if inventory.kind == "survey":
        return _jsonable({
            "inventory": inventory.id,
            "scoring": inventory.scoring,
            "n_participants": int(responses["participant_id"].nunique()),
            "n_responses": int(len(responses)),
            "question_distributions": question_distributions(responses, inventory),
            "invalid_rates": invalid_rates(responses),
        })
    icc = icc_repetitions(responses)
    trait_summary = (
        scores.groupby("trait", sort=False)["score"].agg(["mean", "std", "count"]).reset_index()
        .rename(columns={"std": "sd", "count": "n"})
    )
    out: dict[str, Any] = {
        "inventory": inventory.id,
        "scoring": inventory.scoring,
        "n_participants": int(scores["participant_id"].nunique()),
        "n_responses": int(len(responses)),
        "trait_summary": trait_summary,
        "reliability": reliability(responses, inventory),
        "icc_repetitions": {"conditions": icc, "pooled": pooled_icc(icc)},
        "prompt_sensitivity": prompt_sensitivity(scores),
        "option_order_symmetry": option_order_symmetry(scores),
        "invalid_rates": invalid_rates(responses),
    }
    if inventory.scoring == "dichotomy" and inventory.dichotomies:
        types = mbti_types(scores, inventory)
        out["mbti"] = {
            "dichotomies": [d.id for d in inventory.dichotomies],
            "accuracy": mbti_accuracy(types),
            "type_counts": types["type"].value_counts().sort_index().to_dict(),
        }
    targets = scores["persona_target"].fillna("").astype(str)
    if targets.str.match(_POLE_TARGET).any():
        out["trait_target_shift"] = trait_target_shift(scores)
    return _jsonable(out)
