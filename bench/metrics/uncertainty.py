"""95% intervals for every reported figure: analytic where a library gives one, else a seeded cluster
bootstrap over personas, so the repetitions (and templates, orders) of one persona move together.

Why personas: a participant id is persona|template|order|T|rep, and the repetitions of one condition,
at T near 0, are near copies of one another; counting them as independent draws would make every
interval far too narrow. The persona is what a persona set samples, so it is the resampling unit. A run
with a single persona (persona=none) has nothing to resample between personas; its clusters are then
its templates (persona|template), the next factor that is sampled from a pool, and with one template
too no interval is given (NaN, flagged) rather than one that pretends repetitions are independent. A
bootstrap needs MIN_CLUSTERS clusters; a t interval over cluster means needs two.

Biased statistics (distances, mean |r|, alpha and omega and their differences) take a bias-corrected
(BCa) bootstrap; where BCa cannot be computed (a degenerate jackknife or bootstrap distribution) the
percentile interval of the same resamples stands in. Both are percentiles of the bootstrap
distribution, so they stay inside the range a statistic can take (a distance never goes below 0).
Every interval must hold its own estimate: `inside` drops one that does not (never stretched or
clipped) and says why, and `drop_outside` applies it to every interval record of a metrics dict.
Bounded scores take a t interval on the logit scale of the scale's range (`t_interval(bounds=...)`);
fewer than MIN_UNITS independent units, or no spread between them, give no interval
(`no_interval_reason` says which). Repetitions that are near copies count once: `effective_n` is the
Wilson n after the design effect of the intra-cluster correlation (docs/uncertainty.md, "Unit of
analysis").

Same data, same seed => same interval: every bootstrap draws from numpy's default_rng(seed).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats
from statsmodels.stats.proportion import proportion_confint

from bench.errors import BenchError

LEVEL = 0.95
N_BOOT = 200  # resamples per bootstrap interval
N_BOOT_VARIABLE = "PERSONA_BENCH_N_BOOT"  # another number of resamples (a test suite's smaller one)
MIN_CLUSTERS = 5  # fewer clusters than this: a bootstrap distribution is a handful of values, no interval
MIN_UNITS = 3  # fewer independent units than this: no t interval (with 2, its t quantile is 12.7)
BOOTSTRAP_METHODS = ("percentile", "BCa")
# More clusters than this: BCa's jackknife (one recomputation per cluster) costs more than it corrects
# (a statistic's bias shrinks as 1 / clusters), and the percentile interval is used.
BCA_MAX_CLUSTERS = 500


class BootstrapSettingError(BenchError):
    """PERSONA_BENCH_N_BOOT set to something that is not a positive whole number."""


def n_boot_default() -> int:
    """Resamples per bootstrap interval where a caller gives none: PERSONA_BENCH_N_BOOT where set, else
    N_BOOT. Read at each call, so a test session can set it; a run records it in its provenance."""
    raw = os.environ.get(N_BOOT_VARIABLE, "").strip()
    if not raw:
        return N_BOOT
    if not raw.isdecimal() or int(raw) < 1:
        raise BootstrapSettingError(f"{N_BOOT_VARIABLE}={raw!r}: expected a positive whole number of bootstrap "
                                    f"resamples (unset it for the default, {N_BOOT})")
    return int(raw)


def t_interval(values, level: float = LEVEL, bounds: tuple[float, float] | None = None) -> tuple[float, float]:
    """Student-t interval for the mean of `values` (NaN dropped); NaN with fewer than MIN_UNITS values or
    when they are all equal (`no_interval_reason` says which).

    `bounds` (lo, hi): the values lie on that range (a score on its scale), and so does the interval: the
    t interval is taken on the logit of (mean - lo) / (hi - lo), with the standard error carried over by
    the delta method, and mapped back, so it holds the mean and never leaves the range."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    if x.size < MIN_UNITS or np.ptp(x) == 0:
        return float("nan"), float("nan")
    if bounds is None:
        lo, hi = stats.t.interval(level, x.size - 1, loc=x.mean(), scale=stats.sem(x))
        return float(lo), float(hi)
    low, high = (float(b) for b in bounds)
    p = (x.mean() - low) / (high - low)
    if not 0 < p < 1:  # values outside the range given: no bounded interval to speak of
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * stats.sem(x) / (high - low) / (p * (1 - p))
    centre = special.logit(p)
    return float(low + (high - low) * special.expit(centre - half)), float(low + (high - low) * special.expit(centre + half))


def no_interval_reason(values, unit: str) -> str | None:
    """Why a t interval over `values` (one per independent `unit`, plural: "personas") is not given, or
    None: "no interval: 2 personas", "no interval: all 10 personas agree"."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None
    if x.size < MIN_UNITS:
        return f"no interval: {x.size} {unit if x.size != 1 else unit.removesuffix('s')}"
    if np.ptp(x) == 0:
        return f"no interval: all {x.size} {unit} agree"
    return None


def inside(estimate, low, high) -> tuple[float, float, str | None]:
    """(low, high, None) when the estimate lies in its interval (or either is missing); else the
    interval dropped, (NaN, NaN, the reason). The estimate is kept; an interval is never stretched or
    clipped to cover it."""
    vals = [float(v) if v is not None else float("nan") for v in (estimate, low, high)]
    est, lo, hi = vals
    if not all(np.isfinite(vals)):
        return lo, hi, None
    tol = 1e-9 * (1.0 + abs(est))
    if lo - tol <= est <= hi + tol:
        return lo, hi, None
    return float("nan"), float("nan"), (f"no interval: the 95% interval [{lo:.4g}, {hi:.4g}] excludes the "
                                        f"estimate {est:.4g} (a biased statistic at this number of units)")


def welch_interval(a, b, level: float = LEVEL) -> tuple[float, float]:
    """Interval for mean(a) - mean(b) from Welch's t (scipy.stats.ttest_ind, equal_var=False)."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return float("nan"), float("nan")
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(level)
    return float(ci.low), float(ci.high)


def wilson_interval(k: float, n: float, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval for a proportion k / n (statsmodels); NaN when n == 0. k and n may be an
    effective count (`effective_n`): the share k / n is kept, the n the interval rests on shrinks."""
    if n <= 0:
        return float("nan"), float("nan")
    whole = float(k).is_integer() and float(n).is_integer()
    lo, hi = proportion_confint(int(k) if whole else float(k), int(n) if whole else float(n), alpha=1 - level,
                                method="wilson")
    return float(lo), float(hi)


def effective_n(outcome, clusters) -> float:
    """How many independent observations `outcome` (one value per observation) is worth when the
    observations of one cluster (a condition's repetitions) are alike: n / design effect, the design
    effect 1 + (m - 1) ICC with m the mean cluster size and ICC the one-way ANOVA intra-cluster
    correlation (clipped to [0, 1]). Where no spread says what the ICC is (every outcome alike) the
    clusters count once each (ICC 1), the conservative choice; one observation per cluster: n; a single
    cluster: 1 when its outcomes agree, n when they differ."""
    y = np.asarray(outcome, float)
    labels = pd.Series(np.asarray(clusters, dtype=object))
    n, sizes = y.size, labels.value_counts().to_numpy(float)
    k = sizes.size
    if n == 0 or k == n:
        return float(n)
    if k == 1:  # one cluster: no between-cluster spread to weigh; copies count once, draws that differ in full
        return float(n) if np.ptp(y) > 0 else 1.0
    means = pd.Series(y).groupby(labels.to_numpy()).transform("mean").to_numpy(float)
    msb = float(((means - y.mean()) ** 2).sum()) / (k - 1)
    msw = float(((y - means) ** 2).sum()) / (n - k)
    m0 = (n - (sizes ** 2).sum() / n) / (k - 1)
    icc = 1.0 if msb + msw == 0 else (msb - msw) / (msb + (m0 - 1) * msw)
    icc = min(max(icc, 0.0), 1.0)
    return float(n / (1 + (n / k - 1) * icc))


def clusters_of(frame: pd.DataFrame) -> pd.Series:
    """The bootstrap cluster of each row: persona_id, or persona|template when the run has one persona
    (see the module docstring). A single cluster means no interval."""
    persona = frame["persona_id"].astype(str)
    if persona.nunique() >= 2 or "template_id" not in frame.columns:
        return persona
    return persona + "|" + frame["template_id"].astype(str)


def expanded_level(level: float, n_clusters: int) -> float:
    """The percentile level a bootstrap over `n_clusters` clusters reads its interval at so it covers at
    `level` (Hesterberg's expanded percentile interval): a bootstrap distribution is as narrow as the
    plug-in SE, sqrt((G-1)/G) of the unbiased one, and normal where Student's t applies. At 10 personas
    a 95% interval reads the 0.85% and 99.15% points; at 200 clusters, almost 2.5% and 97.5%.
    Measured: survey shares at 10 personas covered 89.1% with plain percentiles (tests/test_coverage.py)."""
    if n_clusters < 2:
        return level
    z = np.sqrt(n_clusters / (n_clusters - 1)) * stats.t.ppf((1 + level) / 2, n_clusters - 1)
    return float(2 * stats.norm.cdf(z) - 1)


def cluster_bootstrap(clusters: Sequence, statistic: Callable[[np.ndarray], float | np.ndarray],
                      n_boot: int | None = None, seed: int = 0, level: float = LEVEL, method: str = "percentile"):
    """Interval of `statistic(rows)` with whole clusters resampled (scipy.stats.bootstrap).

    `clusters` labels each row of the caller's data; `statistic` receives the row positions of one
    resample (a cluster drawn twice contributes its rows twice) and returns a number or an array.
    `method` "percentile", or "BCa" for a biased statistic (its jackknife leaves out one cluster at a
    time); where BCa gives NaN (a degenerate jackknife or bootstrap distribution) that element takes the
    percentile interval of the same resamples; above BCA_MAX_CLUSTERS clusters, percentile. Returns (low,
    high), arrays for an array statistic; NaN
    with fewer than MIN_CLUSTERS clusters or when a resample's statistic is not finite. `n_boot` None:
    `n_boot_default()`. The percentiles are read at `expanded_level` (few clusters: wider). The caller
    checks its estimate lies inside (`inside`, `drop_outside`).
    """
    if method not in BOOTSTRAP_METHODS:
        raise ValueError(f"cluster_bootstrap: method {method!r}, expected one of {BOOTSTRAP_METHODS}")
    n_boot = n_boot_default() if n_boot is None else n_boot
    labels = pd.Series(np.asarray(clusters, dtype=object))
    groups = [np.asarray(ix, int) for ix in labels.groupby(labels, sort=True).indices.values()]
    probe = np.asarray(statistic(np.arange(len(labels))), float)
    nan = np.full(probe.shape, np.nan)
    if len(groups) < MIN_CLUSTERS:
        return (float("nan"), float("nan")) if probe.ndim == 0 else (nan, nan.copy())
    if method == "BCa" and len(groups) > BCA_MAX_CLUSTERS:
        method = "percentile"
    wide = expanded_level(level, len(groups))

    def on_clusters(picked):
        return np.asarray(statistic(np.concatenate([groups[int(i)] for i in picked])), float)

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate resamples give NaN, handled below and by the caller
        res = stats.bootstrap((np.arange(len(groups)),), on_clusters, n_resamples=int(n_boot), vectorized=False,
                              confidence_level=wide, method=method, rng=np.random.default_rng(seed))
    lo, hi = np.asarray(res.confidence_interval.low, float), np.asarray(res.confidence_interval.high, float)
    if method == "BCa":
        draws = np.asarray(res.bootstrap_distribution, float).reshape(probe.size, -1)
        ok = np.isfinite(draws).all(axis=1).reshape(probe.shape)
        lost = ~(np.isfinite(lo) & np.isfinite(hi)) & ok
        if lost.any():
            q = np.percentile(draws, [50 * (1 - wide), 50 * (1 + wide)], axis=1).reshape((2, *probe.shape))
            lo, hi = np.where(lost, q[0], lo), np.where(lost, q[1], hi)
    if probe.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


# An interval written without a prefix (ci_low, ci_high) belongs to the record's first of these.
PRINCIPAL = ("mean", "mean_shift", "r", "g", "log_odds_vs_1", "estimate", "value")


def interval_records(node, where: list | None = None):
    """Every interval of a JSON-like metrics tree, wherever it sits (any section, any depth), as
    (path, record, figure name, low key, high key): `X` beside `X_ci_low`/`X_ci_high` (or, without an
    `X`, the record's `X_...` figure), or a record's principal figure (PRINCIPAL) beside `ci_low`/`ci_high`
    (name None when the record has none)."""
    where = [] if where is None else where
    if isinstance(node, list):
        for i, v in enumerate(node):
            yield from interval_records(v, where + [i])
        return
    if not isinstance(node, dict):
        return
    if where:
        for low in list(node):
            stem = low.removesuffix("_ci_low") if isinstance(low, str) and low != "ci_low" else None
            if stem is None or stem == low or f"{stem}_ci_high" not in node:
                continue
            # the interval's figure: `X` itself, else a variant named after it (eta2_ci_low beside eta2_h)
            name = stem if stem in node else next((k for k in node if isinstance(k, str) and k.startswith(
                stem + "_") and not k.startswith(stem + "_ci_")), stem)
            yield where, node, name, low, f"{stem}_ci_high"
        if "ci_low" in node and "ci_high" in node:
            yield where, node, next((k for k in PRINCIPAL if k in node), None), "ci_low", "ci_high"
    for k, v in list(node.items()):
        yield from interval_records(v, where + [k])


def drop_outside(tree) -> list[dict]:
    """Every interval record of a JSON-like metrics tree checked with `inside`: where the estimate lies
    outside, the interval becomes None (JSON null) and the record's warning (`warning`, or `<figure>_warning`
    for a named interval) says why. Changes `tree` in place; returns [{"figure", "reason"}] for each."""
    found = []
    for where, record, name, low, high in list(interval_records(tree)):
        value = record.get(name) if name else None
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (value, record[low], record[high])):
            continue
        _, _, reason = inside(value, record[low], record[high])
        if reason is None:
            continue
        record[low] = record[high] = None
        key = "warning" if low == "ci_low" else f"{name}_warning"
        record[key] = "; ".join(r for r in (record.get(key), reason) if isinstance(r, str) and r)
        found.append({"figure": "/".join(map(str, [*where, name] if name else where)), "reason": reason})
    return found


def interval(lo, hi, method: str) -> dict:
    """The interval fields written beside a figure in metrics.json."""
    return {"ci_low": float(lo), "ci_high": float(hi), "ci_method": method}
