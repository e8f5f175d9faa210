"""Is the expression reliable: internal consistency (alpha, omega) and stability across repetitions (ICC)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pingouin as pg
from scipy import stats
from statsmodels.multivariate.factor import Factor

from bench.instruments import Inventory
from bench.metrics.tables import CONDITION_COLS, finite, nan_if_not_finite, participants, trait_order, valid_scores
from bench.metrics.uncertainty import LEVEL, cluster_bootstrap, clusters_of, effective_n


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
    return nan_if_not_finite(common / (common + psi.sum()))


def omega_with_ci(wide: pd.DataFrame, clusters, n_boot: int | None = None, seed: int = 0) -> tuple[float, float, float]:
    """McDonald's omega total of `wide` (`_omega_total`) and its 95% bias-corrected (BCa) interval from a
    bootstrap of `clusters` (one label per row: personas for a run, each respondent for human data)."""
    omega, lo, hi = _omega_total(wide), float("nan"), float("nan")
    if finite(omega):
        lo, hi = cluster_bootstrap(clusters, lambda ix: _omega_total(wide.iloc[ix]), n_boot=n_boot, seed=seed,
                                   method="BCa")
    return omega, lo, hi


def feldt_interval(alpha: float, n: float, k: int, level: float = LEVEL) -> tuple[float, float]:
    """Feldt's interval for Cronbach's alpha of k items over n independent respondents (pingouin's,
    unrounded): 1 - (1 - alpha) F quantiles with n - 1 and (n - 1)(k - 1) degrees of freedom."""
    df1 = n - 1
    if not (finite(alpha) and df1 > 0 and k >= 2):
        return float("nan"), float("nan")
    df2 = df1 * (k - 1)
    return (float(1 - (1 - alpha) * stats.f.ppf((1 + level) / 2, df1, df2)),
            float(1 - (1 - alpha) * stats.f.ppf((1 - level) / 2, df1, df2)))


def cronbach_alpha(wide: pd.DataFrame, clusters=None) -> tuple[float, float, float]:
    """pingouin's alpha and its Feldt 95% CI, NaN when not finite. With `clusters` (one label per row:
    its persona), Feldt's n is the effective number of respondents (bench.metrics.uncertainty.effective_n
    of the rows' mean scores): near-copies of one persona count once, not once per repetition."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        a, _ = pg.cronbach_alpha(data=wide.astype(float))
    if not finite(a):
        return (float("nan"),) * 3
    n = float(len(wide))
    if clusters is not None:
        n = effective_n(wide.astype(float).mean(axis=1).to_numpy(), clusters)
    return (float(a), *feldt_interval(float(a), n, wide.shape[1]))


def trait_matrices(responses: pd.DataFrame, inventory: Inventory) -> dict[str, pd.DataFrame]:
    """Per trait with items, the participants x items matrix of valid `score`s (participants and
    items with no valid answer left out)."""
    item_trait = {it.id: it.trait for it in inventory.items}
    r = responses[responses["item_id"].isin(item_trait)]
    data = pd.DataFrame(
        {
            "participant_id": r["participant_id"].to_numpy(),
            "item_id": r["item_id"].to_numpy(),
            "trait": r["item_id"].map(item_trait).to_numpy(),
            "score": valid_scores(r).to_numpy(),
        }
    )
    out = {}
    for trait in trait_order(inventory):
        sub = data[data["trait"] == trait]
        items = [it.id for it in inventory.items if it.trait == trait]
        if not items:
            continue
        out[trait] = (
            sub.pivot_table(index="participant_id", columns="item_id", values="score", aggfunc="mean")
            .reindex(columns=[i for i in items if i in set(sub["item_id"])])
            .dropna(axis=0, how="all")
            .dropna(axis=1, how="all")
        )
    return out


def reliability(responses: pd.DataFrame, inventory: Inventory, n_boot: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Internal consistency per trait over the participants x items matrix of `score`.

    alpha: pingouin.cronbach_alpha with its default pairwise-complete covariances and a 95% Feldt CI on
    the effective number of respondents (repetitions of a persona count as far as they differ). omega: McDonald's omega total from a one-factor ML model (see `_omega_total`), with a
    95% bias-corrected (BCa) interval from a cluster bootstrap over personas (`bench.metrics.uncertainty`).
    Participants with no valid item of the trait are left out. All NaN (not an exception) with
    fewer than 2 participants or items, or no variance.
    """
    parts = participants(responses)
    cluster = dict(zip(parts["participant_id"], clusters_of(parts)))
    rows = []
    for trait, wide in trait_matrices(responses, inventory).items():
        n, k = wide.shape
        alpha = lo = hi = omega = o_lo = o_hi = float("nan")
        if n >= 2 and k >= 2:
            alpha, lo, hi = cronbach_alpha(wide, wide.index.map(cluster))
            omega, o_lo, o_hi = omega_with_ci(wide, wide.index.map(cluster), n_boot=n_boot, seed=seed)
        rows.append([trait, alpha, lo, hi, omega, o_lo, o_hi, int(n), int(k)])
    return pd.DataFrame(
        rows, columns=["trait", "alpha", "alpha_ci_low", "alpha_ci_high", "omega", "omega_ci_low", "omega_ci_high",
                       "n_participants", "n_items"]
    )


def mean_alpha(responses: pd.DataFrame, inventory: Inventory, n_boot: int | None = None, seed: int = 0) -> dict:
    """The mean of the traits' alphas (the leaderboard's headline) with a 95% cluster-bootstrap (BCa) interval:
    one resample of personas serves every trait, so the traits' shared sampling moves together."""
    wides = {t: w for t, w in trait_matrices(responses, inventory).items() if w.shape[0] >= 2 and w.shape[1] >= 2}
    parts = participants(responses)
    ids = parts["participant_id"].to_numpy()

    def mean_of(ix: np.ndarray) -> float:
        picked = pd.Index(ids[ix])
        alphas = []
        for w in wides.values():
            sub = w.reindex(picked[picked.isin(w.index)])
            alphas.append(cronbach_alpha(sub)[0] if len(sub) >= 2 else float("nan"))
        return float(np.nanmean(alphas)) if np.isfinite(alphas).any() else float("nan")

    value = mean_of(np.arange(len(ids))) if wides else float("nan")
    lo = hi = float("nan")
    if finite(value):
        lo, hi = cluster_bootstrap(clusters_of(parts), mean_of, n_boot=n_boot, seed=seed, method="BCa")
    return {"alpha_mean": value, "alpha_mean_ci_low": lo, "alpha_mean_ci_high": hi, "n_traits": len(wides)}


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
    data["score"] = valid_scores(responses).to_numpy()
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
                icc2 = nan_if_not_finite(res.at[name2, "ICC"])
                icc2k = nan_if_not_finite(res.at[name2k, "ICC"])
                ci = res.at[name2, "CI95"]
                lo, hi = nan_if_not_finite(ci[0]), nan_if_not_finite(ci[1])
            except (ValueError, AssertionError, ZeroDivisionError, np.linalg.LinAlgError, StopIteration):
                pass
        rows.append([*key, int(n_reps), int(wide.shape[0]), icc2, lo, hi, icc2k])
    return pd.DataFrame(rows, columns=cols)


def pooled_icc(icc_table: pd.DataFrame, n_boot: int | None = None, seed: int = 0) -> dict:
    """Plain mean (and median) of icc2 over the conditions where they are finite, with counts, and
    a 95% interval for the mean from a cluster bootstrap of the conditions over personas."""
    icc2 = pd.to_numeric(icc_table.get("icc2", pd.Series(dtype=float)), errors="coerce")
    ok = icc2.notna() & np.isfinite(icc2)
    lo = hi = float("nan")
    if ok.sum() >= 2 and "persona_id" in icc_table.columns:
        values = icc2[ok].to_numpy(float)
        lo, hi = cluster_bootstrap(clusters_of(icc_table[ok]), lambda ix: values[ix].mean(), n_boot=n_boot, seed=seed)
    return {
        "icc2_mean": float(icc2[ok].mean()) if ok.any() else float("nan"),
        "icc2_mean_ci_low": lo,
        "icc2_mean_ci_high": hi,
        # ICC2k is not averaged: near ICC2 = -1/(k-1) it explodes, so its mean means nothing.
        "icc2_median": float(icc2[ok].median()) if ok.any() else float("nan"),
        "n_conditions": int(len(icc_table)),
        "n_computable": int(ok.sum()),
    }
