"""Multitrait-multimethod (MTMM) analysis of one long score table (Campbell & Fiske 1959).

Input: one row per participant x method x trait with a score (methods: two inventories given to the
same participants, optionally behavioural scores). Output: the correlation matrix over every
(method, trait) column, each pair with its Pearson r, n, 95% interval and p (scipy), classed as
convergent (same trait, other method), heterotrait-monomethod or heterotrait-heteromethod, and the four
Campbell-Fiske checks. Discriminant correlations are compared in absolute value: a strong negative
correlation between two traits is as much a failure to tell them apart as a positive one.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

from bench.metrics.uncertainty import cluster_bootstrap, clusters_of, drop_outside

PAIR_COLS = ["method_1", "trait_1", "method_2", "trait_2", "kind", "r", "n", "ci_low", "ci_high", "p_greater"]
KINDS = ("convergent", "heterotrait_monomethod", "heterotrait_heteromethod")


def mtmm_columns(long: pd.DataFrame) -> pd.DataFrame:
    """Participants x (method, trait) scores; traits kept only where at least two methods measure them."""
    need = {"participant_id", "method", "trait", "score"}
    if not need <= set(long.columns):
        raise ValueError(f"MTMM needs columns {sorted(need)}, got {sorted(long.columns)}")
    methods = list(dict.fromkeys(long["method"]))
    per_trait = long.groupby("trait", sort=False)["method"].nunique()
    traits = [t for t in dict.fromkeys(long["trait"]) if per_trait[t] >= 2]
    kept = long[long["trait"].isin(traits)]
    wide = kept.pivot_table(index="participant_id", columns=["method", "trait"], values="score", aggfunc="mean")
    cols = [(m, t) for m in methods for t in traits if (m, t) in wide.columns]
    return wide[cols]


def pair_stats(x: pd.Series, y: pd.Series, level: float = 0.95) -> dict:
    """Pearson r on the participants both columns score, with scipy's interval and one-sided p (r > 0)."""
    ok = x.notna() & y.notna()
    xv, yv = x[ok].to_numpy(float), y[ok].to_numpy(float)
    n = int(len(xv))
    out = {"r": math.nan, "n": n, "ci_low": math.nan, "ci_high": math.nan, "p_greater": math.nan}
    if n < 3 or np.ptp(xv) == 0 or np.ptp(yv) == 0:
        return out
    res = stats.pearsonr(xv, yv, alternative="greater")
    ci = stats.pearsonr(xv, yv).confidence_interval(confidence_level=level)
    out.update(r=float(res.statistic), ci_low=float(ci.low), ci_high=float(ci.high), p_greater=float(res.pvalue))
    return out


def mtmm_pairs(wide: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Every pair of (method, trait) columns, labelled convergent or by heterotrait kind, with r, interval
    and one-sided p: the rows the Campbell-Fiske checks count."""
    rows = []
    for (m1, t1), (m2, t2) in itertools.combinations(wide.columns, 2):
        kind = ("convergent" if t1 == t2 else "heterotrait_monomethod" if m1 == m2 else "heterotrait_heteromethod")
        rows.append({"method_1": m1, "trait_1": t1, "method_2": m2, "trait_2": t2, "kind": kind,
                     **pair_stats(wide[(m1, t1)], wide[(m2, t2)], level)})
    return pd.DataFrame(rows, columns=PAIR_COLS)


def _share(wins: list[bool]) -> dict:
    return {"holds": bool(wins) and all(wins), "passed": int(sum(wins)), "comparisons": len(wins)}


def campbell_fiske(corr: pd.DataFrame, pairs: pd.DataFrame, alpha: float) -> dict:
    """The four checks, each with how many of its comparisons pass (NaN correlations are left out)."""
    methods = list(dict.fromkeys(m for m, _ in corr.columns))
    traits = list(dict.fromkeys(t for _, t in corr.columns))

    def r(a, b) -> float:
        return float(corr.loc[a, b]) if a in corr.index and b in corr.columns else math.nan

    conv = pairs[pairs["kind"] == "convergent"]
    significant = [bool(p < alpha) for p in conv["p_greater"] if math.isfinite(p)]
    hetero_method, mono_method = [], []
    for _, c in conv.iterrows():
        v = c["r"]
        if not math.isfinite(v):
            continue
        (ma, ti), (mb, _) = (c["method_1"], c["trait_1"]), (c["method_2"], c["trait_2"])
        for tj in traits:
            if tj == ti:
                continue
            hetero_method += [v > abs(x) for x in (r((ma, ti), (mb, tj)), r((ma, tj), (mb, ti))) if math.isfinite(x)]
            mono_method += [v > abs(x) for x in (r((ma, ti), (ma, tj)), r((mb, ti), (mb, tj))) if math.isfinite(x)]
    # the pattern of trait intercorrelations, one vector per heterotrait triangle, over trait pairs i < j
    tpairs = list(itertools.combinations(traits, 2))
    blocks: dict[str, list[float]] = {}
    for m in methods:
        blocks[m] = [r((m, a), (m, b)) for a, b in tpairs]
    for ma, mb in itertools.combinations(methods, 2):
        blocks[f"{ma} x {mb}"] = [np.nanmean([r((ma, a), (mb, b)), r((ma, b), (mb, a))]) for a, b in tpairs]
    agreements = {}
    for (na, va), (nb, vb) in itertools.combinations(blocks.items(), 2):
        x, y = np.asarray(va, float), np.asarray(vb, float)
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() >= 3 and np.ptp(x[ok]) > 0 and np.ptp(y[ok]) > 0:
            agreements[f"{na} ~ {nb}"] = float(np.corrcoef(x[ok], y[ok])[0, 1])
    pattern = list(agreements.values())
    return {
        "convergent_significant": {**_share(significant), "alpha": alpha, "test": "Pearson r > 0, one-sided"},
        "convergent_above_heterotrait_heteromethod": _share(hetero_method),
        "convergent_above_heterotrait_monomethod": _share(mono_method),
        "same_trait_pattern": {"holds": bool(pattern) and min(pattern) > 0,
                               "min_r": min(pattern) if pattern else None,
                               "mean_r": float(np.mean(pattern)) if pattern else None,
                               "triangles": agreements,
                               "rule": "every pair of heterotrait triangles correlates positively over trait pairs"
                                       " (needs 3 or more traits)"},
    }


MEANS = (*KINDS, "discriminant", "discriminant_abs")


def _kind_masks(columns) -> dict[str, np.ndarray]:
    """Per mean of mean_r, which cells of the upper triangle of the correlation matrix it averages."""
    n = len(columns)
    kind = np.full((n, n), "", dtype=object)
    for i, j in itertools.combinations(range(n), 2):
        (m1, t1), (m2, t2) = columns[i], columns[j]
        kind[i, j] = "convergent" if t1 == t2 else "heterotrait_monomethod" if m1 == m2 else "heterotrait_heteromethod"
    masks = {k: kind == k for k in KINDS}
    masks["discriminant"] = masks["discriminant_abs"] = masks["heterotrait_monomethod"] | masks["heterotrait_heteromethod"]
    return masks


def mean_r_intervals(wide: pd.DataFrame, n_boot: int | None = None, seed: int = 0, level: float = 0.95) -> dict:
    """95% cluster-bootstrap intervals, bias-corrected (BCa: a mean |r| of a resample with repeated
    personas is biased away from 0), of the mean correlations by kind: personas (the part of a
    participant id before the first '|') are resampled with all their participants, the whole matrix
    recomputed from each resample. {"<mean>_ci_low": .., "<mean>_ci_high": ..}; NaN with too few personas."""
    ids = pd.Series(wide.index.astype(str))
    parts = ids.str.split("|", regex=False)
    clusters = clusters_of(pd.DataFrame({"persona_id": parts.map(lambda p: p[0]),
                                         "template_id": parts.map(lambda p: p[1] if len(p) > 1 else "")}))
    x = wide.to_numpy(float)
    masks = _kind_masks(list(wide.columns))

    def means(ix: np.ndarray) -> np.ndarray:
        corr = pd.DataFrame(x[ix]).corr(method="pearson", min_periods=3).to_numpy(float)
        out = []
        for name in MEANS:
            v = corr[masks[name]]
            v = np.abs(v) if name == "discriminant_abs" else v
            out.append(np.nanmean(v) if np.isfinite(v).any() else np.nan)
        return np.asarray(out, float)

    with np.errstate(all="ignore"):
        lo, hi = cluster_bootstrap(clusters, means, n_boot=n_boot, seed=seed, level=level, method="BCa")
    return {f"{name}_ci_{end}": float(v[i]) for i, name in enumerate(MEANS) for end, v in (("low", lo), ("high", hi))}


def mtmm(long: pd.DataFrame, alpha: float = 0.05, level: float = 0.95, n_boot: int | None = None, seed: int = 0) -> dict:
    """The MTMM matrix, every pair's statistics, mean correlations by kind (each with its 95% cluster-
    bootstrap interval, see mean_r_intervals; drawn from `seed`) and the Campbell-Fiske checks."""
    wide = mtmm_columns(long)
    corr = wide.corr(method="pearson", min_periods=3)
    pairs = mtmm_pairs(wide, level)
    means = {kind: (float(pairs.loc[pairs["kind"] == kind, "r"].mean())
                    if pairs.loc[pairs["kind"] == kind, "r"].notna().any() else None) for kind in KINDS}
    hetero = pairs.loc[pairs["kind"] != "convergent", "r"]
    means["discriminant"] = float(hetero.mean()) if hetero.notna().any() else None
    means["discriminant_abs"] = float(hetero.abs().mean()) if hetero.notna().any() else None
    means.update(mean_r_intervals(wide, n_boot=n_boot, seed=seed, level=level))
    dropped = drop_outside({"mean_r": means})  # an estimate outside its own interval keeps no interval
    return {
        "methods": list(dict.fromkeys(m for m, _ in wide.columns)),
        "traits": list(dict.fromkeys(t for _, t in wide.columns)),
        "n_participants": int(len(wide)),
        "matrix": corr,
        "pairs": pairs,
        "mean_r": means,
        "campbell_fiske": campbell_fiske(corr, pairs, alpha),
        "warnings": dropped,
    }
