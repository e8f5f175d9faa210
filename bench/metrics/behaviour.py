"""Behavioural personality as pure functions of tables: observer ratings of participants' own texts ->
expressed trait scores, and how they sit against self-report, persona targets and a second rater.

Every figure carries n and a 95% interval (Pearson r: scipy's Fisher-z interval; Hedges' g: the
Hedges & Olkin (1985) analytic interval, as pingouin computes it), and `trustworthy` is False where
fewer than `min_n` participants (per group, for g) stand behind it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pingouin as pg
from scipy import stats

from bench.instruments import Inventory
from bench.metrics.scoring import score_participants
from bench.metrics.tables import PARTICIPANT_COLS, POLE_TARGET

MIN_N = 5  # below this many participants a correlation or group mean is shown but marked not trustworthy
RATING_KEY = ["rater", "participant_id", "text_id", "rating_order"]
EXPRESSED_COLS = [*PARTICIPANT_COLS, "rater", "trait", "score", "n_texts", "n_ratings"]


def text_trait_scores(ratings: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """One trait score per (rater, participant, text, rating order), by the inventory's own scoring rule.

    `ratings` holds one row per observer item rating (the response-table columns `score`, `answer`,
    `invalid`, plus RATING_KEY); the observer form keeps the self-report keying, so this is exactly
    how the participant's self-report answers are scored."""
    if ratings.empty:
        return pd.DataFrame(columns=[*RATING_KEY, "trait", "score", "n_valid"])
    keys = ratings[RATING_KEY].astype(str).agg("\x1f".join, axis=1)
    frame = ratings.assign(participant_id=keys.to_numpy())
    scored = score_participants(frame, inventory)
    split = scored["participant_id"].str.split("\x1f", expand=True)
    split.columns = RATING_KEY
    return pd.concat([split, scored[["trait", "score", "n_valid"]].reset_index(drop=True)], axis=1)


def expressed_scores(ratings: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """Each participant's expressed trait score per rater: the mean over its texts and rating orders
    (counterbalanced orders cancel a rater's preference for an option position)."""
    per_text = text_trait_scores(ratings, inventory)
    if per_text.empty:
        return pd.DataFrame(columns=EXPRESSED_COLS)
    per_text = per_text[per_text["score"].notna()]
    g = per_text.groupby(["rater", "participant_id", "trait"], sort=False)
    out = g["score"].mean().rename("score").to_frame()
    out["n_texts"] = g["text_id"].nunique()
    out["n_ratings"] = g.size()
    out = out.reset_index()
    describe = ratings[PARTICIPANT_COLS].drop_duplicates("participant_id")
    return out.merge(describe, on="participant_id", how="left")[EXPRESSED_COLS]


def correlation(x, y, min_n: int = MIN_N) -> dict:
    """Pearson r with scipy's 95% interval, n, p and whether it can be trusted (n >= min_n)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(ok.sum())
    out = {"n": n, "r": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p": math.nan, "trustworthy": False,
           "note": ""}
    if n < 3:
        out["note"] = f"n={n}: a correlation needs at least 3 participants"
        return out
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        out["note"] = "one side is constant across participants: no correlation"
        return out
    res = stats.pearsonr(x, y)
    out.update(r=float(res.statistic), p=float(res.pvalue))
    if n > 3:
        ci = res.confidence_interval(0.95)
        out.update(ci_low=float(ci.low), ci_high=float(ci.high))
    out["trustworthy"] = n >= min_n
    if n < min_n:
        out["note"] = f"n={n} < {min_n}: not trustworthy"
    return out


def hedges_g(high, low, min_n: int = MIN_N) -> dict:
    """Hedges' g of high minus low with its analytic 95% interval (Hedges & Olkin), group sizes and means."""
    high, low = np.asarray(high, float), np.asarray(low, float)
    high, low = high[np.isfinite(high)], low[np.isfinite(low)]
    out = {"n_high": len(high), "n_low": len(low), "mean_high": float(high.mean()) if len(high) else math.nan,
           "mean_low": float(low.mean()) if len(low) else math.nan, "g": math.nan, "ci_low": math.nan,
           "ci_high": math.nan, "trustworthy": False, "note": ""}
    if len(high) < 2 or len(low) < 2:
        out["note"] = "each pole needs at least 2 participants for an effect size"
        return out
    if high.var(ddof=1) + low.var(ddof=1) == 0:
        out["note"] = "no spread within either pole: effect size undefined"
        return out
    g = float(pg.compute_effsize(high, low, paired=False, eftype="hedges"))
    ci = pg.compute_esci(stat=g, nx=len(high), ny=len(low), eftype="cohen", decimals=12)
    out.update(g=g, ci_low=float(ci[0]), ci_high=float(ci[1]), trustworthy=min(len(high), len(low)) >= min_n)
    if not out["trustworthy"]:
        out["note"] = f"fewer than {min_n} participants per pole: not trustworthy"
    return out


def self_vs_expressed(expressed: pd.DataFrame, self_scores: pd.DataFrame, min_n: int = MIN_N) -> pd.DataFrame:
    """Per rater and trait: the correlation across participants between expressed and self-reported scores
    (matched on participant_id)."""
    merged = expressed.merge(self_scores[["participant_id", "trait", "score"]].rename(columns={"score": "self"}),
                             on=["participant_id", "trait"], how="inner")
    rows = []
    for (rater, trait), g in merged.groupby(["rater", "trait"], sort=False):
        rows.append({"rater": rater, "trait": trait, "mean_expressed": float(g["score"].mean()),
                     "mean_self": float(g["self"].mean()), **correlation(g["score"], g["self"], min_n)})
    return pd.DataFrame(rows, columns=["rater", "trait", "mean_expressed", "mean_self", "n", "r", "ci_low",
                                       "ci_high", "p", "trustworthy", "note"])


def pole_of(target: str) -> tuple[str, str] | None:
    """("E", "+") for a persona target such as "E+"; None for no single-pole target."""
    m = POLE_TARGET.match(str(target or ""))
    return (m[1], m[2]) if m else None


def pole_effects(expressed: pd.DataFrame, min_n: int = MIN_N) -> pd.DataFrame:
    """Per rater and trait: expressed score of personas targeting its high pole against its low pole."""
    poles = expressed["persona_target"].map(pole_of)
    frame = expressed.assign(pole_trait=poles.map(lambda p: p[0] if p else None),
                             pole=poles.map(lambda p: p[1] if p else None))
    rows = []
    for (rater, trait), g in frame.groupby(["rater", "trait"], sort=False):
        own = g[g["pole_trait"] == trait]
        if own.empty:
            continue
        rows.append({"rater": rater, "trait": trait,
                     **hedges_g(own.loc[own["pole"] == "+", "score"], own.loc[own["pole"] == "-", "score"], min_n)})
    return pd.DataFrame(rows, columns=["rater", "trait", "n_high", "n_low", "mean_high", "mean_low", "g", "ci_low",
                                       "ci_high", "trustworthy", "note"])


def rater_agreement(expressed: pd.DataFrame, min_n: int = MIN_N) -> pd.DataFrame:
    """Per pair of raters and trait: the correlation across participants of their expressed scores, and
    the mean difference (first minus second), so both rank agreement and level bias show."""
    raters = list(dict.fromkeys(expressed["rater"]))
    columns = ["rater_a", "rater_b", "trait", "mean_difference", "n", "r", "ci_low", "ci_high", "p", "trustworthy",
               "note"]
    if len(raters) < 2:
        return pd.DataFrame(columns=columns)
    wide = expressed.pivot_table(index=["participant_id", "trait"], columns="rater", values="score").reset_index()
    rows = []
    for i, a in enumerate(raters):
        for b in raters[i + 1:]:
            for trait, g in wide.groupby("trait", sort=False):
                both = g[[a, b]].dropna()
                rows.append({"rater_a": a, "rater_b": b, "trait": trait,
                             "mean_difference": float((both[a] - both[b]).mean()) if len(both) else math.nan,
                             **correlation(both[a], both[b], min_n)})
    return pd.DataFrame(rows, columns=columns)


def style_by_persona(texts: pd.DataFrame, features) -> pd.DataFrame:
    """Mean and SD of each stylometric feature over each persona's valid texts, with n."""
    valid = texts[~texts["invalid"].astype(bool)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a feature undefined for every text of a persona
        agg = valid.groupby("persona_id", sort=False)[list(features)].agg(["mean", "std"])
    agg.columns = [f"{f}_{s}" for f, s in agg.columns]
    agg.insert(0, "n_texts", valid.groupby("persona_id", sort=False).size())
    return agg.reset_index()
