"""Model scores against published human norms, as PsychoBench reports them: mean and SD beside each
human group, the difference in human SD units, and Welch's t on the summary statistics.

Pure functions of the score table and the inventory's norms. The model's unit is the persona (its
participants, the templates, orders, temperatures and repetitions of one persona, averaged first: they
are repeated measures, not independent people; docs/uncertainty.md, "Unit of analysis"): model_n counts
personas, model_sd is the SD between persona means, n_participants the participants behind them. With
fewer than MIN_UNITS personas, or no spread between them, the test is not computed (no p) and the note
says so. A table without persona_id counts each row as a unit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from bench.instruments import Norm
from bench.metrics.uncertainty import MIN_UNITS

NORM_COLS = ["trait", "group", "model_mean", "model_sd", "model_n", "human_mean", "human_sd", "human_n",
             "diff_sd", "diff_sd_ci_low", "diff_sd_ci_high", "welch_t", "welch_df", "p", "trusted", "note",
             "n_participants"]


def welch(mean1: float, sd1: float, n1: int, mean2: float, sd2: float, n2: int, level: float = 0.95) -> dict:
    """Welch's t (scipy), its Welch-Satterthwaite df, and the interval of mean1 - mean2 at `level`."""
    res = stats.ttest_ind_from_stats(mean1, sd1, n1, mean2, sd2, n2, equal_var=False)
    v1, v2 = sd1 ** 2 / n1, sd2 ** 2 / n2
    se = math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1))
    half = stats.t.ppf(0.5 + level / 2, df) * se
    diff = mean1 - mean2
    return {"t": float(res.statistic), "p": float(res.pvalue), "df": float(df), "ci": (diff - half, diff + half)}


def norm_comparison(scores: pd.DataFrame, norms: Sequence[Norm], level: float = 0.95) -> pd.DataFrame:
    """One row per trait x human group (the order of `norms`): model mean/SD/n over personas (each
    persona's participants averaged first), human mean/SD/n, (model - human) / human SD with its
    interval, Welch's t, df and two-sided p; no test with fewer than MIN_UNITS personas or no spread."""
    rows = []
    for norm in norms:
        on_trait = scores[scores["trait"] == norm.trait]
        s = on_trait["score"].astype(float)
        ok = np.isfinite(s)
        n_parts = int(ok.sum())
        if "persona_id" in on_trait.columns:
            s = s[ok].groupby(on_trait.loc[ok, "persona_id"].astype(str)).mean()
            unit = "persona"
        else:
            s = s[ok]
            unit = "participant"
        n = int(len(s))
        mean = float(s.mean()) if n else math.nan
        sd = float(s.std(ddof=1)) if n > 1 else math.nan
        row = {"trait": norm.trait, "group": norm.group, "model_mean": mean, "model_sd": sd, "model_n": n,
               "human_mean": norm.mean, "human_sd": norm.sd, "human_n": norm.n,
               "diff_sd": (mean - norm.mean) / norm.sd if n else math.nan,
               "diff_sd_ci_low": math.nan, "diff_sd_ci_high": math.nan,
               "welch_t": math.nan, "welch_df": math.nan, "p": math.nan, "trusted": False, "note": "",
               "n_participants": n_parts}
        if n < MIN_UNITS:
            row["note"] = (f"fewer than {MIN_UNITS} model {unit}s ({n}"
                           + (f", from {n_parts} participants" if unit == "persona" and n_parts > n else "")
                           + f"): too few for a test; the {unit}s are the units, not their repetitions")
        elif sd == 0:
            row["note"] = f"every {unit} has the same score: no spread, no test"
        else:
            w = welch(mean, sd, n, norm.mean, norm.sd, norm.n, level)
            row.update(welch_t=w["t"], welch_df=w["df"], p=w["p"], diff_sd_ci_low=w["ci"][0] / norm.sd,
                       diff_sd_ci_high=w["ci"][1] / norm.sd, trusted=True)
        rows.append(row)
    return pd.DataFrame(rows, columns=NORM_COLS)
