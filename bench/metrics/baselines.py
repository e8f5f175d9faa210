"""Floors and ceilings around every population- and group-level fidelity figure: what a population
answering uniformly reaches (the floor), a fidelity normalised between floor and ceiling, and, per
demographic group, a group-blind baseline, the within-group split-half ceiling and OpinionQA's
steerability.

Why: a distance to humans means little alone. A model can only be said to simulate a population if it
beats what knows nothing (a uniform answerer; the overall human distribution handed to every group),
and it cannot beat a second sample of the same people (the split-half ceiling). Every distance is
taken with `bench.metrics.distances`, so floors, models and ceilings are measured the same way.
Individual-level baselines are in `bench.metrics.individual`; the spread between personas in
`bench.metrics.spread`.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from bench.errors import BenchError
from bench.instruments import Scale
from bench.metrics.distances import (answer_distributions, frobenius, ordinal_frame, question_distances,
                                     weighted_correlation)
from bench.metrics.uncertainty import LEVEL, inside, n_boot_default, t_interval

DISTANCE_COLUMNS = {"mean_wd": "wd", "mean_wd_normalized": "wd_normalized", "mean_tv": "tv"}  # summary -> per question
STEER_METRIC = "mean_wd_normalized"  # OpinionQA's representativeness is 1 - this; steerability is its change


class BaselineError(BenchError):
    """A reference that cannot carry the baseline asked of it (named before any model work)."""


class NoDemographics(BaselineError):
    """Group or individual level asked of a reference that has no demographics."""


class TooFewRespondents(BaselineError):
    """Fewer respondents than cross-validation folds (or than a split needs)."""


class ConstantDemographic(BaselineError):
    """A demographic column with a single value: it cannot separate anyone, and a regression on it is singular."""


# ---------------------------------------------------------------------------------------------
# population level: the floor, and fidelity normalised between floor and ceiling


def uniform_distributions(scales: Mapping[str, Scale]) -> dict[str, np.ndarray]:
    """Each question answered uniformly over all its options (refusals too; `question_distances` drops them)."""
    return {q: np.full(len(s.values), 1.0 / len(s.values)) for q, s in scales.items()}


def alpha_difference(model_alpha: Mapping[str, float], human_alpha: Mapping[str, float]) -> dict[str, float]:
    """|alpha_model - alpha_human| per trait both hold: a distance, so lower is better like the others."""
    return {t: float(abs(model_alpha[t] - human_alpha[t])) for t in human_alpha if t in model_alpha}


def population_floor(human: Mapping[str, np.ndarray], scales: Mapping[str, Scale],
                     human_correlation: pd.DataFrame | None = None,
                     human_alpha: Mapping[str, float] | None = None) -> dict:
    """Every fidelity distance of a population answering uniformly, against the humans.

    WD and TV: each question's uniform distribution against the human one (`question_distances`).
    Frobenius: the identity correlation matrix (independent answers) against the humans' matrix
    (`frobenius`, raw and normalised); NaN without a matrix (group counts have none). Alpha: a
    population with identity correlations has alpha 0 (standardised alpha, k r / (1 + (k - 1) r) at
    r = 0), so its difference is |alpha_human| per trait. The floor is what knowing nothing reaches,
    the "0" of `normalised_fidelity`.
    """
    out = _mean_distances(uniform_distributions({q: scales[q] for q in human}), human, scales)[0]
    nan = float("nan")
    if human_correlation is not None and len(human_correlation):
        identity = pd.DataFrame(np.eye(len(human_correlation)), index=human_correlation.index,
                                columns=human_correlation.columns)
        fro = frobenius(identity, human_correlation)
        out |= {"frobenius": fro["frobenius"], "frobenius_normalized": fro["frobenius_normalized"]}
    else:
        out |= {"frobenius": nan, "frobenius_normalized": nan}
    alpha = alpha_difference({t: 0.0 for t in human_alpha or {}}, human_alpha or {})
    out["alpha_difference"] = alpha
    out["mean_alpha_difference"] = float(np.nanmean(list(alpha.values()))) if alpha else nan
    return out


def answer_table_floor(human_answers: pd.DataFrame, human_weights: pd.Series | None, questions, scales,
                       human_alpha: Mapping[str, float] | None = None) -> dict:
    """`population_floor` of a respondent-level reference: its distributions and correlation matrix taken
    as `answer_table_distances` takes them (weighted when the reference has weights)."""
    qs = list(questions)
    dists = answer_distributions(human_answers, qs, scales, human_weights)
    corr = weighted_correlation(ordinal_frame(human_answers[qs], scales), human_weights)
    return population_floor(dists, scales, corr, human_alpha)


def normalised_fidelity(model, floor, ceiling):
    """(floor - model) / (floor - ceiling): 0 at the uniform floor, 1 at the split-half ceiling, on one
    scale for every instrument and population; NaN where floor <= ceiling (the ceiling is no better than
    knowing nothing, so there is no scale). Works element-wise on arrays (bootstrap draws)."""
    model, floor, ceiling = (np.asarray(v, float) for v in (model, floor, ceiling))
    span = floor - ceiling
    with np.errstate(all="ignore"):
        out = np.where(span > 0, (floor - model) / np.where(span > 0, span, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def draws_from_interval(estimate: float, low: float, high: float, n: int, seed: int = 0,
                        level: float = LEVEL) -> np.ndarray:
    """Normal draws matching an interval (sd = width / 2z), for a figure that comes with interval ends
    but no draws. An approximation: a skewed interval is symmetrised around its estimate."""
    z = stats.norm.ppf(0.5 + level / 2)
    sd = (float(high) - float(low)) / (2 * z)
    if not np.isfinite(sd) or sd < 0:
        return np.full(n, np.nan)
    return np.random.default_rng(seed).normal(float(estimate), sd, n)


def normalised_fidelity_interval(model: float, floor: float, ceiling: float, model_draws=None, ceiling_draws=None,
                                 model_ci: tuple[float, float] | None = None,
                                 ceiling_ci: tuple[float, float] | None = None,
                                 seed: int = 0, level: float = LEVEL) -> dict:
    """Normalised fidelity with a percentile interval propagated from the model's and the ceiling's draws.

    Draw i of the model and of the ceiling are combined (paired arrays of one length: independent
    bootstraps of independent samples can be paired in any order). Where a side has no draws but
    interval ends, normal draws are made from them (`draws_from_interval`); a side with neither is held
    at its estimate. The floor is held fixed: it is the uniform population against the full humans.
    Percentile, not BCa: BCa needs the jackknife of the data, which draws alone do not carry. Pass the
    draws of the ceiling's estimate (a bootstrap of the split-half mean), not the spread of single
    splits, or the interval is as wide as one split is noisy.
    """
    value = normalised_fidelity(model, floor, ceiling)
    out = {"value": value, "ci_low": float("nan"), "ci_high": float("nan"), "ci_method": "percentile", "reason": None}
    if not np.isfinite(value):
        out["reason"] = (f"undefined: the floor ({floor:.4g}) is not above the ceiling ({ceiling:.4g})"
                         if np.isfinite(floor) and np.isfinite(ceiling) else "undefined: floor or ceiling missing")
        return out
    given = [None if d is None else np.asarray(d, float).ravel() for d in (model_draws, ceiling_draws)]
    if all(d is None for d in given) and model_ci is None and ceiling_ci is None:
        out["reason"] = "no interval: neither the model nor the ceiling has draws or an interval"
        return out
    n = next((len(d) for d in given if d is not None), n_boot_default())
    arrays = []
    for k, (est, d, ci) in enumerate(((model, given[0], model_ci), (ceiling, given[1], ceiling_ci))):
        arrays.append(d if d is not None else np.full(n, float(est)) if ci is None
                      else draws_from_interval(est, ci[0], ci[1], n, seed=seed + k, level=level))
    if len(arrays[0]) != len(arrays[1]):
        raise ValueError(f"normalised_fidelity_interval: {len(arrays[0])} model draws but "
                         f"{len(arrays[1])} ceiling draws")
    draws = normalised_fidelity(arrays[0], floor, arrays[1])
    draws = draws[np.isfinite(draws)]
    if len(draws) < 0.9 * n:
        out["reason"] = f"no interval: {n - len(draws)} of {n} draws undefined (the ceiling reaches the floor)"
        return out
    out["ci_low"], out["ci_high"] = (float(v) for v in np.percentile(draws, [50 * (1 - level), 50 * (1 + level)]))
    return out


LADDER_FIGURES = ("mean_wd", "mean_wd_normalized", "mean_tv", "frobenius", "frobenius_normalized")
NO_ALPHA_CEILING = "undefined: no split-half estimate of the alpha difference (halves are not scored for alpha)"


def _finite(*values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in values)


def ladder_rung(model, floor, ceiling: Mapping | None, model_ci=(None, None), seed: int = 0,
                reason: str | None = None) -> dict:
    """One figure's ladder: floor, model (with its interval), ceiling (estimate and interval) and the
    normalised fidelity with its interval, which is dropped (`inside`) where it excludes its estimate.
    `reason` replaces the normalisation's own when there is no ceiling to say why."""
    ceiling = dict(ceiling or {})
    est = ceiling.get("estimate")
    c_ci = (ceiling.get("ci_low"), ceiling.get("ci_high"))
    m_ci = tuple(model_ci) if _finite(model, *model_ci) else None
    model_outside = inside(model, *m_ci)[2] if m_ci else None  # a BCa interval can exclude a biased distance
    norm = normalised_fidelity_interval(
        model if _finite(model) else np.nan, floor if _finite(floor) else np.nan, est if _finite(est) else np.nan,
        model_ci=m_ci, ceiling_ci=c_ci if _finite(*c_ci) else None, seed=seed)
    lo, hi, outside = inside(norm["value"], norm["ci_low"], norm["ci_high"])
    if model_outside and np.isfinite(norm["value"]):
        lo, hi, outside = np.nan, np.nan, f"no interval: the model's {model_outside.removeprefix('no interval: the ')}"
    norm.update(ci_low=lo, ci_high=hi, reason=outside or norm["reason"])
    if reason and not _finite(est):
        norm["reason"] = reason
    rung = {"floor": floor, "model": model, "model_ci_low": model_ci[0], "model_ci_high": model_ci[1],
            "ceiling": {"estimate": est, "ci_low": c_ci[0], "ci_high": c_ci[1]}, "normalised": norm}
    if model_outside:
        rung.update(model_ci_low=None, model_ci_high=None, model_warning=model_outside)
    return rung


def fidelity_ladder(section: Mapping, floor: Mapping, seed: int = 0) -> dict:
    """The population ladder of a fidelity section: per figure of LADDER_FIGURES the model has, its floor
    (`population_floor`), the human split-half estimate as ceiling and the normalised fidelity; and
    `mean_alpha_difference` where both alphas exist (its ceiling undefined: see NO_ALPHA_CEILING)."""
    bound = section.get("human_lower_bound") or {}
    out = {}
    for fig in LADDER_FIGURES:
        if not _finite(section.get(fig)):
            continue
        b = bound.get(fig) or {}
        out[fig] = ladder_rung(section[fig], floor.get(fig),
                               {"estimate": b.get("mean"), "ci_low": b.get("ci_low"), "ci_high": b.get("ci_high")},
                               (section.get(f"{fig}_ci_low"), section.get(f"{fig}_ci_high")), seed=seed)
    diff = alpha_difference({t: a for t, a in (section.get("alpha_model") or {}).items() if _finite(a)},
                            {t: a for t, a in (section.get("alpha_human") or {}).items() if _finite(a)})
    if diff and _finite(floor.get("mean_alpha_difference")):
        out["mean_alpha_difference"] = ladder_rung(float(np.mean(list(diff.values()))),
                                                   floor["mean_alpha_difference"], None, reason=NO_ALPHA_CEILING)
    return out


# ---------------------------------------------------------------------------------------------
# group level: per demographic group, the model beside a group-blind baseline and the split-half ceiling


def tidy_distributions(table: pd.DataFrame, value: str, scales: Mapping[str, Scale],
                       by: str | None = "group") -> dict:
    """A tidy (group, question, option, value) table -> {group: {question: array over options 1..k}}
    (or {question: array} with by=None), each normalised to sum to 1. `option` is the option value 1..k
    of `scales[question]`; `value` a share or a count."""
    out: dict = {}
    keys = [by] if by else []
    for key, sub in table.groupby([*keys, "question"], sort=False):
        *g, q = key if isinstance(key, tuple) else (key,)
        if q not in scales:
            continue
        arr = np.zeros(len(scales[q].values))
        opts = sub["option"].to_numpy(int)
        if ((opts < 1) | (opts > len(arr))).any():
            raise ValueError(f"question {q!r}: option values {sorted(set(opts.tolist()))} outside 1..{len(arr)}")
        np.add.at(arr, opts - 1, sub[value].to_numpy(float))
        if arr.sum() > 0:
            (out.setdefault(g[0], {}) if by else out)[q] = arr / arr.sum()
    return out


def _count_halves(counts: pd.DataFrame, scales, rng) -> tuple[dict, dict]:
    """One random halving of each group's respondents behind its counts (multivariate hypergeometric)."""
    a: dict = {}
    b: dict = {}
    for (g, q), sub in counts.groupby(["group", "question"], sort=False):
        if q not in scales:
            continue
        c = np.zeros(len(scales[q].values), dtype=np.int64)
        np.add.at(c, sub["option"].to_numpy(int) - 1, np.round(sub["count"].to_numpy(float)).astype(np.int64))
        half = rng.multivariate_hypergeometric(c, int(c.sum()) // 2)
        a.setdefault(g, {})[q], b.setdefault(g, {})[q] = half.astype(float), (c - half).astype(float)
    return a, b


def _respondent_counts(part: pd.DataFrame, questions, scales) -> dict[str, np.ndarray]:
    """Weighted answer counts per question of some respondents (rows with a `weight` column weighted)."""
    w = part["weight"] if "weight" in part.columns else None
    total = len(part) if w is None else float(w.sum())
    return {q: d * total for q, d in answer_distributions(part, questions, scales, w).items() if np.isfinite(d).all()}


def _respondent_halves(people: pd.DataFrame, scales, rng) -> tuple[dict, dict]:
    """One random halving of each group's respondents; the weighted answer counts of each half."""
    questions = [q for q in scales if q in people.columns]
    a: dict = {}
    b: dict = {}
    for g, sub in people.groupby("group", sort=False):
        perm = rng.permutation(len(sub))
        a[g] = _respondent_counts(sub.iloc[perm[:len(sub) // 2]], questions, scales)
        b[g] = _respondent_counts(sub.iloc[perm[len(sub) // 2:]], questions, scales)
    return a, b


def _normalised(d: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {q: c / c.sum() for q, c in d.items() if c.sum() > 0}


def _mean_distances(model, human, scales) -> tuple[dict[str, float], pd.DataFrame]:
    per_q = question_distances(model, human, scales)
    return {k: float(np.nanmean(per_q[c])) if len(per_q) else float("nan") for k, c in DISTANCE_COLUMNS.items()}, per_q


def group_ladder(model: pd.DataFrame, human: pd.DataFrame, scales: Mapping[str, Scale],
                 unconditioned: pd.DataFrame | None = None, n_splits: int = 50, seed: int = 0,
                 level: float = LEVEL) -> tuple[pd.DataFrame, dict]:
    """Per group of one demographic attribute: the group-conditioned model against the group's people,
    beside the group-blind baseline and the within-group split-half ceiling, and steerability.

    model: tidy (group, question, option, share): the personas conditioned on each group.
    human: tidy counts (group, question, option, count), as OpinionQA gives them, or one row per
    respondent with a `group` column, question columns of option values 1..k and an optional `weight`.
    The groups should partition the people (one attribute at a time). Each of n_splits splits halves
    every group's people (counts: a multivariate hypergeometric draw); the ceiling is half A against
    half B of the group, the group-blind baseline all groups' halves A pooled (the overall
    distribution, without the people it is scored on) against the group's half B. Both are half-sample
    figures, so a little pessimistic beside the model, which is scored on the whole group.
    Steerability (OpinionQA): how much conditioning moves the model toward the group, the group's
    distance from the unconditioned model minus its distance from the conditioned one, on the
    normalised WD (so it equals the gain in representativeness); `unconditioned` (question, option,
    share) is the model asked without a group; without it, the conditioned model's mean over groups
    stands in (column steer_reference says which). Its interval: Student t over questions (paired
    per-question differences). Returns (one row per group, the means over groups).
    """
    if "group" not in human.columns:
        raise NoDemographics("group level: the human reference has no `group` column (no demographics)")
    counts = {"question", "option", "count"} <= set(human.columns)
    qs = [q for q in scales if (q in set(human["question"]) if counts else q in human.columns)]
    scales = {q: scales[q] for q in qs}
    if counts and not np.allclose(human["count"], np.round(human["count"])):
        raise BaselineError("group level: human counts are not whole respondents (weighted?); give respondent rows")
    cond = tidy_distributions(model, "share", scales)
    if counts:
        full = tidy_distributions(human, "count", scales)
    else:
        full = {g: _normalised(_respondent_counts(sub, qs, scales)) for g, sub in human.groupby("group", sort=False)}
    if unconditioned is not None:
        blind_model, reference = tidy_distributions(unconditioned, "share", scales, by=None), "unconditioned"
    else:
        blind_model = {q: np.mean([cond[g][q] for g in cond if q in cond[g]], axis=0)
                       for q in qs if any(q in cond[g] for g in cond)}
        reference = "model mean over groups"
    groups = [g for g in full if g in cond]
    rng = np.random.default_rng(seed)
    split: dict = {g: {"blind": [], "ceiling": []} for g in groups}
    for _ in range(n_splits):
        a, b = _count_halves(human, scales, rng) if counts else _respondent_halves(human, scales, rng)
        pooled = _normalised({q: sum(a[g].get(q, 0) for g in a) for q in qs})
        for g in groups:
            bg = _normalised(b.get(g, {}))
            split[g]["blind"].append(_mean_distances(pooled, bg, scales)[0])
            split[g]["ceiling"].append(_mean_distances(_normalised(a.get(g, {})), bg, scales)[0])
    rows, diffs = [], {}
    for g in groups:
        m, per_m = _mean_distances(cond[g], full[g], scales)
        u, per_u = _mean_distances(blind_model, full[g], scales)
        d = (per_u["wd_normalized"] - per_m["wd_normalized"]).dropna()
        diffs[g] = d
        lo, hi = t_interval(d.to_numpy(), level)
        row = {"group": g, "n_questions": len(per_m), **{f"model_{k}": v for k, v in m.items()}}
        for kind in ("blind", "ceiling"):
            for k in DISTANCE_COLUMNS:
                vals = np.array([s[k] for s in split[g][kind]], float)
                row[f"{kind}_{k}"] = float(np.nanmean(vals)) if len(vals) else float("nan")
                row[f"{kind}_{k}_sd"] = float(np.nanstd(vals, ddof=1)) if len(vals) > 1 else float("nan")
        row |= {f"unconditioned_{k}": v for k, v in u.items()}
        row |= {"steerability": float(d.mean()) if len(d) else float("nan"), "steer_ci_low": lo, "steer_ci_high": hi,
                "steer_reference": reference}
        rows.append(row)
    table = pd.DataFrame(rows)
    by_q = pd.DataFrame(diffs).mean(axis=1) if diffs else pd.Series(dtype=float)
    lo, hi = t_interval(by_q.dropna().to_numpy(), level)
    summary = {"n_groups": len(groups), "n_splits": n_splits, "seed": seed, "steer_metric": STEER_METRIC,
               "steer_reference": reference,
               "mean_steerability": float(table["steerability"].mean()) if len(table) else float("nan"),
               "mean_steerability_ci_low": lo, "mean_steerability_ci_high": hi, "ci_method": "t over questions"}
    for col in table.columns:
        if col.startswith(("model_", "blind_", "ceiling_", "unconditioned_")) and not col.endswith("_sd"):
            summary[f"mean_{col}"] = float(table[col].mean())
    return table, summary
