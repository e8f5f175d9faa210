"""Distances between answer distributions and between answer tables: pure functions of arrays and tables.

They follow OpinionQA (Santurkar et al. 2023) and Anthology (Moon et al. 2024): a 1-D Wasserstein
distance over each question's ordinal positions, raw (Anthology) and divided by its maximum, max -
min position (OpinionQA); refusals ("Refused", "Not sure", ...) have no ordinal position, so their
mass is reported apart and the distribution renormalised over the ordinal options. Structure is
compared through the inter-question correlation matrices (Frobenius norm of the difference) and
Cronbach's alpha. `bench.populations` applies them to a persona population and a human reference.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

from bench.instruments import Inventory, Scale
from bench.metrics.reliability import cronbach_alpha


# ---------------------------------------------------------------------------------------------
# distributions and distances


def answer_distribution(values, n_options: int, weights=None) -> np.ndarray:
    """Weighted share of each option 1..n_options; NaN answers skipped; all NaN when none is left."""
    v = np.asarray(values, dtype=float)
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != v.shape:
        raise ValueError(f"{len(w)} weights for {len(v)} answers")
    keep = ~np.isnan(v)
    v, w = v[keep], w[keep]
    bad = v[(v < 1) | (v > n_options) | (v != np.round(v))]
    if len(bad):
        raise ValueError(f"answer {bad[0]:g} is not an option value 1..{n_options}")
    counts = np.bincount(v.astype(int) - 1, weights=w, minlength=n_options).astype(float)
    total = counts.sum()
    return counts / total if total > 0 else np.full(n_options, np.nan)


def split_refusal(p, refusals: Sequence[bool]) -> tuple[np.ndarray, float]:
    """(distribution renormalised over the non-refusal options, refusal mass), as OpinionQA does."""
    p = np.asarray(p, dtype=float)
    ref = np.asarray(refusals, dtype=bool)
    if p.shape != ref.shape:
        raise ValueError(f"{len(p)} probabilities for {len(ref)} refusal flags")
    mass = float(p[ref].sum())
    rest = p[~ref]
    total = rest.sum()
    return (rest / total if total > 0 else np.full(len(rest), np.nan)), mass


def wasserstein(p, q, positions) -> float:
    """1-D Wasserstein (earth mover's) distance between p and q placed at `positions`."""
    p, q, x = (np.asarray(a, dtype=float) for a in (p, q, positions))
    if not (p.shape == q.shape == x.shape):
        raise ValueError(f"shapes differ: p {p.shape}, q {q.shape}, positions {x.shape}")
    if np.isnan(p).any() or np.isnan(q).any() or p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    return float(wasserstein_distance(x, x, p, q))


def max_wasserstein(positions) -> float:
    """The largest possible WD over these positions (all mass at one end vs the other): max - min."""
    x = np.asarray(positions, dtype=float)
    return float(x.max() - x.min())


def total_variation(p, q) -> float:
    """Half the L1 distance: the largest difference in probability any set of options can show."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.shape != q.shape:
        raise ValueError(f"shapes differ: {p.shape} vs {q.shape}")
    return float(0.5 * np.abs(p - q).sum())


QUESTION_COLUMNS = ["wd", "wd_normalized", "tv", "model_refusal", "human_refusal", "n_options"]


def question_distances(model: Mapping[str, np.ndarray], human: Mapping[str, np.ndarray],
                       scales: Mapping[str, Scale]) -> pd.DataFrame:
    """Per question (in `model`'s order, those also in `human`): distances after dropping refusals.

    wd over the scale's ordinal positions; wd_normalized = wd / (max - min position); tv on the
    renormalised ordinal distributions; *_refusal the refusal mass; n_options the ordinal options.
    """
    rows = {}
    for q, p in model.items():
        if q not in human:
            continue
        scale = scales[q]
        if len(p) != len(scale.values) or len(human[q]) != len(scale.values):
            raise ValueError(f"question {q!r}: {len(p)} model / {len(human[q])} human probabilities "
                             f"for {len(scale.values)} options")
        ref = scale.refusals
        positions = [o for o in scale.ordinal_values if o is not None]
        pm, mref = split_refusal(p, ref)
        ph, href = split_refusal(human[q], ref)
        wd = wasserstein(pm, ph, positions)
        top = max_wasserstein(positions)
        rows[q] = [wd, wd / top if top > 0 else float("nan"), total_variation(pm, ph), mref, href, len(positions)]
    out = pd.DataFrame.from_dict(rows, orient="index", columns=QUESTION_COLUMNS)
    out.index.name = "question"
    return out.astype({"n_options": int}) if len(out) else out


def representativeness(model: Mapping[str, np.ndarray], groups: Mapping[str, Mapping[str, np.ndarray]],
                       scales: Mapping[str, Scale]) -> pd.Series:
    """OpinionQA's representativeness per group: 1 - mean over questions of the normalised WD."""
    out = {g: 1.0 - float(np.nanmean(question_distances(model, dists, scales)["wd_normalized"]))
           for g, dists in groups.items()}
    return pd.Series(out, name="representativeness", dtype=float)


# ---------------------------------------------------------------------------------------------
# structure: correlations, alpha


def weighted_correlation(wide: pd.DataFrame, weights=None) -> pd.DataFrame:
    """Weighted Pearson correlation of every pair of columns over the rows where both are present.

    Vectorised over pairs: each column is first centred on its own weighted mean (for numerical
    stability), then per pair the weighted means, variances and covariance are taken over the
    pairwise-complete rows. NaN where a pair has fewer than 2 rows or no variance.
    """
    x = wide.to_numpy(dtype=float)
    w = np.ones(len(x)) if weights is None else np.asarray(
        weights.reindex(wide.index) if isinstance(weights, pd.Series) else weights, dtype=float)
    if w.shape != (len(x),) or np.isnan(w).any() or (w < 0).any():
        raise ValueError("weights must be one non-negative number per row")
    m = (~np.isnan(x)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.nansum(x * w[:, None], axis=0) / (m * w[:, None]).sum(axis=0)
        xc = np.where(m > 0, x - centre, 0.0)
        wm = m * w[:, None]
        # einsum rather than `@`: small products, and BLAS threads spin badly on a busy 2-core box
        s = np.einsum("ki,kj->ij", wm, m)  # s[i, j] = sum of weights where i and j are both present
        sx = np.einsum("ki,kj->ij", wm * xc, m)  # weighted sum of column i over rows where j is present
        sxx = np.einsum("ki,kj->ij", wm * xc**2, m)
        sxy = np.einsum("ki,kj->ij", wm * xc, m * xc)
        mx, my = sx / s, sx.T / s
        cov = sxy / s - mx * my
        vx, vy = sxx / s - mx**2, sxx.T / s - my**2
        r = cov / np.sqrt(vx * vy)
    npair = np.einsum("ki,kj->ij", m, m)
    r[(npair < 2) | ~(vx > 1e-12) | ~(vy > 1e-12)] = np.nan
    r = np.clip(r, -1.0, 1.0)
    return pd.DataFrame(r, index=wide.columns, columns=wide.columns)


def frobenius(a: pd.DataFrame, b: pd.DataFrame) -> dict:
    """||A - B||_F on the questions both matrices hold (A's order), and a size-normalised variant.

    frobenius_normalized = ||A - B||_F / sqrt(n (n - 1)): the root mean square difference of the
    off-diagonal correlations (the diagonals are both 1), comparable across question counts and in
    correlation units (0 .. 2). Entries NaN in either matrix (a constant column) are left out and
    the normaliser counts only the off-diagonal entries kept.
    """
    common = [q for q in a.index if q in b.index]
    d = a.loc[common, common].to_numpy(float) - b.loc[common, common].to_numpy(float)
    off = ~np.eye(len(common), dtype=bool) & ~np.isnan(d)
    n_off = int(off.sum())
    sq = float(np.nansum(d**2))
    return {"frobenius": float(np.sqrt(sq)) if n_off else float("nan"),
            "frobenius_normalized": float(np.sqrt(np.sum(d[off] ** 2) / n_off)) if n_off else float("nan"),
            "n_questions": len(common)}


def alpha_by_trait(wide_scores: pd.DataFrame, traits: Mapping[str, str]) -> dict[str, float]:
    """Cronbach's alpha per trait (pingouin, pairwise-complete) over already reverse-keyed scores."""
    return {t: a for t, (a, _, _) in alpha_with_ci(wide_scores, traits).items()}


def alpha_with_ci(wide_scores: pd.DataFrame, traits: Mapping[str, str]) -> dict[str, tuple[float, float, float]]:
    """Per trait: (alpha, 95% CI low, high) from `cronbach_alpha` over the respondents with any of the
    trait's items; NaN where it is not computable."""
    nan = float("nan")
    out: dict[str, tuple[float, float, float]] = {}
    for trait in dict.fromkeys(traits.values()):
        items = [i for i, t in traits.items() if t == trait and i in wide_scores.columns]
        data = wide_scores[items].dropna(how="all").astype(float)
        a, lo, hi = nan, nan, nan
        if len(items) >= 2 and len(data) >= 2:
            a, lo, hi = cronbach_alpha(data)
        out[trait] = tuple(v if np.isfinite(v) else nan for v in (a, lo, hi))
    return out


# ---------------------------------------------------------------------------------------------
# two answer tables, and counts halved


def answer_distributions(answers: pd.DataFrame, questions: Sequence[str], scales: Mapping[str, Scale],
                         weights: pd.Series | None) -> dict[str, np.ndarray]:
    """Each question's weighted answer distribution over its options (`answer_distribution`)."""
    w = None if weights is None else weights.reindex(answers.index).to_numpy(float)
    out = {}
    for q in questions:
        try:
            out[q] = answer_distribution(answers[q].to_numpy(float), len(scales[q].values), w)
        except ValueError as exc:
            raise ValueError(f"question {q!r}: {exc}") from None
    return out


def ordinal_frame(answers: pd.DataFrame, scales: Mapping[str, Scale]) -> pd.DataFrame:
    """Option values 1..k -> ordinal positions (refusals -> NaN), for correlations across questions."""
    out = np.full(answers.shape, np.nan)
    for j, q in enumerate(answers.columns):
        table = np.array([np.nan if o is None else float(o) for o in scales[q].ordinal_values])
        v = answers[q].to_numpy(float)
        ok = ~np.isnan(v) & (v >= 1) & (v <= len(table))
        out[ok, j] = table[v[ok].astype(int) - 1]
    return pd.DataFrame(out, index=answers.index, columns=answers.columns)


def answer_table_distances(model_answers: pd.DataFrame, model_weights, human_answers: pd.DataFrame, human_weights,
                           questions: Sequence[str], scales: Mapping[str, Scale],
                           model_distributions: Mapping[str, np.ndarray] | None = None) -> tuple[dict, pd.DataFrame]:
    """The population-level distances between two answer tables (model vs humans, or two halves).

    model_distributions, when given, replaces the distributions counted from model_answers (a
    logprob run knows each participant's exact answer distribution, not just one draw from it)."""
    qs = list(questions)
    per_q = question_distances(model_distributions or answer_distributions(model_answers, qs, scales, model_weights),
                               answer_distributions(human_answers, qs, scales, human_weights), scales)
    corr_m = weighted_correlation(ordinal_frame(model_answers[qs], scales), model_weights)
    corr_h = weighted_correlation(ordinal_frame(human_answers[qs], scales), human_weights)
    fro = frobenius(corr_m, corr_h)
    summary = {"mean_wd": float(np.nanmean(per_q["wd"])), "mean_wd_normalized": float(np.nanmean(per_q["wd_normalized"])),
               "mean_tv": float(np.nanmean(per_q["tv"])),
               "frobenius": fro["frobenius"], "frobenius_normalized": fro["frobenius_normalized"]}
    return summary, per_q


def keyed_scores(answers: pd.DataFrame, instrument: Inventory) -> pd.DataFrame:
    """Answers with reverse-keyed items reversed (Scale.reverse), for alpha."""
    out = answers.copy()
    for it in instrument.items:
        if it.id in out.columns and it.keyed == -1:
            out[it.id] = instrument.scale_of(it).reverse(out[it.id])
    return out


def count_split_half_bounds(human: Mapping[str, np.ndarray], scales: Mapping[str, Scale], n_splits: int = 100,
                            seed: int = 0, n_boot: int | None = None) -> dict[str, dict[str, float]]:
    """Split-half estimates when only counts exist: each question's respondents halved at random.

    Each split draws half of every question's respondents without replacement (a multivariate
    hypergeometric draw, which is exactly a random halving of the people behind the counts) and
    compares the halves' distributions. No correlations: aggregates hold no joint answers. The 95%
    interval (ci_low, ci_high) is `split_half_interval`'s: each question's counts redrawn (multinomial:
    the respondents resampled) and halved again, `n_boot` times (default `n_boot_default()`).
    """
    from bench.metrics.uncertainty import n_boot_default

    rng = np.random.default_rng(seed)
    ints = {}
    for q, c in human.items():
        c = np.asarray(c, dtype=float)
        if not np.allclose(c, np.round(c)):
            raise ValueError(f"question {q!r}: counts {c.tolist()} are not whole respondents (weighted?)")
        ints[q] = np.round(c).astype(np.int64)

    def halves(counts: Mapping[str, np.ndarray], draw: np.random.Generator) -> list[float]:
        a, b = {}, {}
        for q, c in counts.items():
            half = draw.multivariate_hypergeometric(c, int(c.sum()) // 2)
            a[q], b[q] = half / half.sum(), (c - half) / (c - half).sum()
        d = question_distances(a, b, scales)
        return [float(np.nanmean(d[c])) for c in ("wd", "wd_normalized", "tv")]

    names = ["mean_wd", "mean_wd_normalized", "mean_tv"]
    splits = np.array([halves(ints, rng) for _ in range(n_splits)], dtype=float).reshape(-1, len(names))
    boot_rng = np.random.default_rng([seed, 1])  # apart from the splits' own draws, which stay as they were
    boots = []
    for _ in range(n_boot_default() if n_boot is None else n_boot):
        redrawn = {q: boot_rng.multinomial(c.sum(), c / c.sum()) for q, c in ints.items()}
        boots.append([halves(redrawn, boot_rng) for _ in range(BOOT_SPLITS)])
    boots = np.array(boots, dtype=float).reshape(-1, BOOT_SPLITS, len(names))
    return split_half_summary(names, splits, boots)


BOOT_SPLITS = 2  # splits of each resample of the respondents: their spread is taken out of the resamples'


def split_half_summary(names: Sequence[str], splits: np.ndarray, boots: np.ndarray) -> dict[str, dict[str, float]]:
    """Per metric: mean and sd over the splits (split x metric), n finite splits, and the 95% interval of
    `split_half_interval` from the resamples (resample x split x metric)."""
    out = {}
    for j, k in enumerate(names):
        arr = splits[:, j][np.isfinite(splits[:, j])]
        mean = float(arr.mean()) if len(arr) else float("nan")
        sd = float(arr.std(ddof=1)) if len(arr) > 1 else float("nan")
        lo, hi = split_half_interval(mean, sd, len(arr), boots[:, :, j])
        out[k] = {"mean": mean, "sd": sd, "n": int(len(arr)), "ci_low": lo, "ci_high": hi}
    return out


def split_half_interval(estimate: float, split_sd: float, n_splits: int, boot: np.ndarray,
                        level: float = 0.95) -> tuple[float, float]:
    """95% interval of a split-half estimate (the mean over `n_splits` random splits) over both of its
    noises: which respondents were drawn, and which splits.

    `boot` (resample x split) holds the figure for a few splits of each bootstrap resample of the
    respondents. The spread of the resamples' means is the respondents' variance plus the splits' own
    variance over the splits per resample; the latter, the pooled within-resample variance, is taken out
    (the method of moments of a one-way random-effects model; at 0 at least), and the variance of the
    estimate's own splits (split_sd^2 / n_splits) added. The interval is normal on the log scale when
    every figure is positive (a distance: the interval stays above 0), else on the figure's own scale; the
    estimate is inside it either way. NaN when there is no spread or fewer than 3 resamples.
    """
    from scipy.stats import norm

    boot = np.asarray(boot, dtype=float)
    boot = boot[np.isfinite(boot).all(axis=1)] if boot.ndim == 2 else boot.reshape(0, 1)
    nan = (float("nan"), float("nan"))
    if len(boot) < 3 or boot.shape[1] < 2 or not np.isfinite(estimate) or n_splits < 2:
        return nan
    within = float(boot.var(axis=1, ddof=1).mean())
    between = float(boot.mean(axis=1).var(ddof=1))
    var = max(between - within / boot.shape[1], 0.0) + (split_sd ** 2 / n_splits if np.isfinite(split_sd) else 0.0)
    if not np.sqrt(var) > 1e-12 * max(abs(estimate), 1.0):  # no spread beyond rounding
        return nan
    z = float(norm.ppf(0.5 + level / 2)) * np.sqrt(var)
    if estimate > 0 and (boot > 0).all():
        return float(estimate * np.exp(-z / estimate)), float(estimate * np.exp(z / estimate))
    return float(estimate - z), float(estimate + z)
