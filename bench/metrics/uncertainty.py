"""95% intervals for every reported figure: analytic where a library gives one, else a seeded cluster
bootstrap over personas, so the repetitions (and templates, orders) of one persona move together.

Why personas: a participant id is persona|template|order|T|rep, and the repetitions of one condition,
at T near 0, are near copies of one another; counting them as independent draws would make every
interval far too narrow. The persona is what a persona set samples, so it is the resampling unit. A run
with a single persona (persona=none) has nothing to resample between personas; its clusters are then
its templates (persona|template), the next factor that is sampled from a pool, and with one template
too no interval is given (NaN, flagged) rather than one that pretends repetitions are independent. A
bootstrap needs MIN_CLUSTERS clusters; a t interval over cluster means needs two.

Same data, same seed => same interval: every bootstrap draws from numpy's default_rng(seed).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from bench.errors import BenchError

LEVEL = 0.95
N_BOOT = 200  # resamples per bootstrap interval (percentile method)
N_BOOT_VARIABLE = "PERSONA_BENCH_N_BOOT"  # another number of resamples (a test suite's smaller one)
MIN_CLUSTERS = 5  # fewer clusters than this: a bootstrap distribution is a handful of values, no interval


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


def t_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """Student-t interval for the mean of `values` (NaN dropped); NaN with fewer than 2 values,
    (mean, mean) when they are all equal (scipy gives NaN for a zero standard error)."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan"), float("nan")
    if np.ptp(x) == 0:
        return float(x[0]), float(x[0])
    lo, hi = stats.t.interval(level, x.size - 1, loc=x.mean(), scale=stats.sem(x))
    return float(lo), float(hi)


def welch_interval(a, b, level: float = LEVEL) -> tuple[float, float]:
    """Interval for mean(a) - mean(b) from Welch's t (scipy.stats.ttest_ind, equal_var=False)."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return float("nan"), float("nan")
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(level)
    return float(ci.low), float(ci.high)


def wilson_interval(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval for a proportion k / n (statsmodels); NaN when n == 0."""
    if n <= 0:
        return float("nan"), float("nan")
    lo, hi = proportion_confint(int(k), int(n), alpha=1 - level, method="wilson")
    return float(lo), float(hi)


def clusters_of(frame: pd.DataFrame) -> pd.Series:
    """The bootstrap cluster of each row: persona_id, or persona|template when the run has one persona
    (see the module docstring). A single cluster means no interval."""
    persona = frame["persona_id"].astype(str)
    if persona.nunique() >= 2 or "template_id" not in frame.columns:
        return persona
    return persona + "|" + frame["template_id"].astype(str)


def cluster_bootstrap(clusters: Sequence, statistic: Callable[[np.ndarray], float | np.ndarray],
                      n_boot: int | None = None, seed: int = 0, level: float = LEVEL):
    """Percentile interval of `statistic(rows)` with whole clusters resampled (scipy.stats.bootstrap).

    `clusters` labels each row of the caller's data; `statistic` receives the row positions of one
    resample (a cluster drawn twice contributes its rows twice) and returns a number or an array.
    Returns (low, high), arrays for an array statistic; NaN with fewer than MIN_CLUSTERS clusters or
    when a resample's statistic is not finite. `n_boot` None: `n_boot_default()`.
    """
    n_boot = n_boot_default() if n_boot is None else n_boot
    labels = pd.Series(np.asarray(clusters, dtype=object))
    groups = [np.asarray(ix, int) for ix in labels.groupby(labels, sort=True).indices.values()]
    probe = np.asarray(statistic(np.arange(len(labels))), float)
    nan = np.full(probe.shape, np.nan)
    if len(groups) < MIN_CLUSTERS:
        return (float("nan"), float("nan")) if probe.ndim == 0 else (nan, nan.copy())

    def on_clusters(picked):
        return np.asarray(statistic(np.concatenate([groups[int(i)] for i in picked])), float)

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # degenerate resamples give NaN, handled by the caller
        res = stats.bootstrap((np.arange(len(groups)),), on_clusters, n_resamples=int(n_boot), vectorized=False,
                              confidence_level=level, method="percentile", rng=np.random.default_rng(seed))
    lo, hi = np.asarray(res.confidence_interval.low, float), np.asarray(res.confidence_interval.high, float)
    if probe.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def interval(lo, hi, method: str) -> dict:
    """The interval fields written beside a figure in metrics.json."""
    return {"ci_low": float(lo), "ci_high": float(hi), "ci_method": method}
