"""Is it robust: to the prompt's wording (Kruskal-Wallis across templates) and to option order."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from bench.metrics.tables import condition_means, finite, nan_if_not_finite
from bench.metrics.uncertainty import cluster_bootstrap, clusters_of, t_interval


def _eta2_h(score: np.ndarray, template: np.ndarray) -> float:
    """eta^2_H of Kruskal-Wallis H across templates; NaN when not computable (see prompt_sensitivity)."""
    groups = [score[template == t] for t in np.unique(template)]
    n, k = score.size, len(groups)
    if k < 2 or n <= k or np.unique(score).size < 2:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = stats.kruskal(*groups).statistic
    return (h - k + 1) / (n - k) if finite(h) else float("nan")


# --------------------------------------------------------------------------------------------
# robustness to prompt wording and option order


def prompt_sensitivity(scores: pd.DataFrame, n_boot: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Do trait scores depend on the prompt template? Kruskal-Wallis across template_id.

    Per trait, condition-level scores (repetitions averaged first: identical draws at T = 0 are
    not independent observations; pooled over personas, orders, temperatures) grouped by template: H and p from scipy.stats.kruskal, and eta^2_H = (H - k + 1) / (n - k) (Tomczak &
    Tomczak 2014; k templates, n scores) as effect size: the share of rank variance explained by
    the template, ~0 when the wording does not matter. NaN when fewer than 2 templates have
    scores, n <= k, or all scores are equal.
    """
    rows = []
    for trait, sub in condition_means(scores).groupby("trait", sort=False):
        sub = sub.dropna(subset=["score"])
        groups = [g["score"].to_numpy(float) for _, g in sub.groupby("template_id", sort=True)]
        n, k = int(len(sub)), len(groups)
        h = p = eta = float("nan")
        if k >= 2 and n > k and sub["score"].nunique() > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = stats.kruskal(*groups)
            h, p = nan_if_not_finite(res.statistic), nan_if_not_finite(res.pvalue)
            eta = (h - k + 1) / (n - k) if finite(h) else float("nan")
        lo = hi = float("nan")
        if finite(eta):
            score, template = sub["score"].to_numpy(float), sub["template_id"].astype(str).to_numpy()
            lo, hi = cluster_bootstrap(clusters_of(sub), lambda ix: _eta2_h(score[ix], template[ix]),
                                       n_boot=n_boot, seed=seed)
        rows.append([trait, n, k, h, p, eta, lo, hi])
    return pd.DataFrame(rows, columns=["trait", "n", "k_templates", "H", "p", "eta2_h", "eta2_ci_low", "eta2_ci_high"])


def option_order_symmetry(scores: pd.DataFrame) -> pd.DataFrame:
    """Does showing the options in reverse order shift trait scores? (order / position bias)

    Pairs the "reversed" and "original" conditions sharing persona_id, template_id and
    temperature (repetitions averaged first, as in `prompt_sensitivity`); shift = reversed - original, in trait-score units. Per trait:
    mean and SD (ddof 1) of the shifts, n_pairs, and the two-sided Wilcoxon signed-rank p
    (scipy.stats.wilcoxon, zeros dropped) when n_pairs >= 2 and some shift is non-zero; a 95% t
    interval for the mean shift over the pairs.
    """
    shifts = order_shifts(scores)
    rows = []
    for trait in dict.fromkeys(scores["trait"]):
        diff = shifts.loc[shifts["trait"] == trait, "shift"].to_numpy(float)
        n = int(diff.size)
        mean = float(diff.mean()) if n else float("nan")
        sd = float(diff.std(ddof=1)) if n >= 2 else float("nan")
        p = float("nan")
        if n >= 2 and np.any(diff != 0):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p = nan_if_not_finite(stats.wilcoxon(diff).pvalue)
        rows.append([trait, mean, *t_interval(diff), sd, n, p])
    return pd.DataFrame(rows, columns=["trait", "mean_shift", "ci_low", "ci_high", "sd_shift", "n_pairs", "wilcoxon_p"])


def order_shifts(scores: pd.DataFrame) -> pd.DataFrame:
    """Per trait and persona x template x temperature, reversed minus original (repetitions averaged)."""
    keys = ["trait", "persona_id", "template_id", "temperature"]
    means = condition_means(scores)
    sub = means[means["option_order"].isin(["original", "reversed"])]
    wide = sub.pivot_table(index=keys, columns="option_order", values="score", aggfunc="mean")
    if not {"original", "reversed"} <= set(wide.columns):
        return pd.DataFrame(columns=[*keys, "shift"])
    return (wide["reversed"] - wide["original"]).dropna().rename("shift").reset_index()


def _mean_over_traits(values) -> float:
    v = np.asarray(list(values), float)
    return float(np.mean(v[np.isfinite(v)])) if np.isfinite(v).any() else float("nan")


def robustness_summary(scores: pd.DataFrame, sensitivity: pd.DataFrame, symmetry: pd.DataFrame,
                       n_boot: int | None = None, seed: int = 0) -> dict:
    """The leaderboard's means over traits of eta^2_H and of |mean order shift|, each with a 95% cluster-
    bootstrap interval: personas resampled with all their conditions, every trait's figure recomputed
    from the same resample (so the traits' shared sampling moves together)."""
    eta = _mean_over_traits(sensitivity["eta2_h"]) if len(sensitivity) else float("nan")
    shift = _mean_over_traits(np.abs(symmetry["mean_shift"].to_numpy(float))) if len(symmetry) else float("nan")
    out = {"prompt_sensitivity_eta2_mean": eta, "option_order_abs_shift_mean": shift}
    lo = hi = float("nan")
    if finite(eta):
        cond = condition_means(scores).dropna(subset=["score"]).reset_index(drop=True)
        score, template = cond["score"].to_numpy(float), cond["template_id"].astype(str).to_numpy()
        by_trait = [np.flatnonzero(cond["trait"].to_numpy() == t) for t in dict.fromkeys(cond["trait"])]
        pos = np.empty(len(cond), int)

        def eta_mean(ix: np.ndarray) -> float:
            pos[:] = 0
            np.add.at(pos, ix, 1)
            values = []
            for rows in by_trait:
                pick = np.repeat(rows, pos[rows])
                values.append(_eta2_h(score[pick], template[pick]))
            return _mean_over_traits(values)

        lo, hi = cluster_bootstrap(clusters_of(cond), eta_mean, n_boot=n_boot, seed=seed)
    out["prompt_sensitivity_eta2_mean_ci_low"], out["prompt_sensitivity_eta2_mean_ci_high"] = lo, hi
    lo = hi = float("nan")
    shifts = order_shifts(scores).reset_index(drop=True)
    if finite(shift) and len(shifts):
        diff, trait = shifts["shift"].to_numpy(float), shifts["trait"].to_numpy()
        traits = list(dict.fromkeys(trait))

        def shift_mean(ix: np.ndarray) -> float:
            return _mean_over_traits(abs(diff[ix][trait[ix] == t].mean()) if (trait[ix] == t).any() else np.nan
                                     for t in traits)

        lo, hi = cluster_bootstrap(clusters_of(shifts), shift_mean, n_boot=n_boot, seed=seed)
    out["option_order_abs_shift_mean_ci_low"], out["option_order_abs_shift_mean_ci_high"] = lo, hi
    return out
