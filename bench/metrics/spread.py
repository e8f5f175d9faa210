"""Spread between personas against the spread between people: per trait (or item), the SD across
personas over the SD across people in the reference (or its norms), with an interval, and collapse
flagged where personas differ far less than people do.

Why: a persona set can match the human mean and still be a set of near copies ("persona collapse":
richer persona descriptions can shrink the differences between personas). Distances between answer
distributions hide that; a ratio of SDs shows it directly.
"""

from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np
import pandas as pd

from bench.metrics.uncertainty import LEVEL, n_boot_default

# Personas whose SD is under half the people's (a quarter of their variance) are a collapse: at that
# point most of what distinguishes people is missing between personas. Where there is an interval, it
# must also lie below 1, so a small persona set is not called collapsed on noise alone.
COLLAPSE_RATIO = 0.5
MIN_UNITS = 3  # fewer personas (or people) than this: no SD worth a ratio


def unit_means(table: pd.DataFrame, unit: str, key: str, value: str) -> pd.DataFrame:
    """A long (unit, key, value) table -> wide, one row per unit (persona or person), the mean of its rows
    per key: a persona's repetitions, templates and orders averaged into one score, as a person has one."""
    return table.groupby([unit, key], sort=True)[value].mean().unstack(key)


def spread_ratio(model: pd.DataFrame, human: pd.DataFrame | Mapping[str, float], seed: int = 0,
                 n_boot: int | None = None, level: float = LEVEL) -> pd.DataFrame:
    """Per column (trait or item): sd_model / sd_human with a bootstrap interval, and the collapse flag.

    model: one row per persona (`unit_means`), columns traits or items. human: one row per person with
    the same columns, or a mapping column -> SD from published norms (then held fixed: the interval
    covers the personas' side only). SDs with ddof 1 over the non-missing rows. Interval: personas and
    people resampled independently (a two-sample percentile bootstrap, seeded, vectorised), not an F interval
    for the variance ratio: F assumes normal scores, and persona scores (bounded, often bunched at the
    scale's ends) are not; the F interval's coverage falls far from 95% under such tails. A row "mean"
    gives the mean ratio over columns (the leaderboard's one number), from the same resamples.
    """
    n_boot = n_boot_default() if n_boot is None else n_boot
    cols = [c for c in model.columns if (c in human.columns if isinstance(human, pd.DataFrame) else c in human)]
    m = model[cols].to_numpy(float)
    fixed = not isinstance(human, pd.DataFrame)
    h = None if fixed else human[cols].to_numpy(float)
    sd_h_fixed = np.array([float(human[c]) for c in cols]) if fixed else None

    def sds(x, rows):
        """SD per column of x over each row set of `rows` (draws x units): one column at a time, so a
        long item table never holds draws x units x items at once."""
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.column_stack([np.nanstd(x[:, j][rows], axis=-1, ddof=1) for j in range(x.shape[1])])

    def ratios(sd_m, sd_h):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = sd_m / sd_h
            return np.column_stack([r, np.nanmean(r, axis=1)])

    n_m = np.sum(np.isfinite(m), axis=0)
    n_h = np.sum(np.isfinite(h), axis=0) if not fixed else np.full(len(cols), np.nan)
    est = ratios(sds(m, np.arange(len(m))[None, :]),
                 sd_h_fixed[None, :] if fixed else sds(h, np.arange(len(h))[None, :]))[0]
    lo = hi = np.full(len(cols) + 1, np.nan)
    if len(m) >= MIN_UNITS and (fixed or len(h) >= MIN_UNITS) and np.isfinite(est).any():
        rng = np.random.default_rng(seed)
        draws = ratios(sds(m, rng.integers(0, len(m), (n_boot, len(m)))),
                       sd_h_fixed[None, :] if fixed else sds(h, rng.integers(0, len(h), (n_boot, len(h)))))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanpercentile(draws, [50 * (1 - level), 50 * (1 + level)], axis=0)
    sd_m = np.nanstd(m, axis=0, ddof=1) if len(m) > 1 else np.full(len(cols), np.nan)
    sd_h = sd_h_fixed if fixed else np.nanstd(h, axis=0, ddof=1)
    out = pd.DataFrame({"sd_model": [*sd_m, np.nan], "sd_human": [*sd_h, np.nan],
                        "n_model": [*n_m, len(m)], "n_human": [*n_h, np.nan if fixed else len(h)],
                        "ratio": est, "ci_low": lo, "ci_high": hi},
                       index=pd.Index([*map(str, cols), "mean"], name="column"))
    out["ci_method"] = "bootstrap percentile (personas" + (")" if fixed else " and people, independently)")
    out.loc[out["n_model"] < MIN_UNITS, ["ratio", "ci_low", "ci_high"]] = np.nan
    out["collapse"] = (out["ratio"] < COLLAPSE_RATIO) & (out["ci_high"].isna() | (out["ci_high"] < 1))
    out["human_source"] = "norms" if fixed else "reference"
    return out


def spread_section(scores: pd.DataFrame, human: pd.DataFrame | Mapping[str, float], source: str, seed: int = 0,
                   n_boot: int | None = None) -> dict:
    """metrics.json's `spread`: per trait and over traits (`mean`), the personas' SD over the people's
    (`spread_ratio` on the personas' mean trait scores, `unit_means`), collapse flagged per row and for the
    set (the mean row), and a warning for each collapse. `scores`: long (persona_id, trait, score) rows."""
    valid = scores.dropna(subset=["score"])
    table = spread_ratio(unit_means(valid, "persona_id", "trait", "score"), human, seed=seed, n_boot=n_boot)
    table = table.rename(columns={"ci_low": "ratio_ci_low", "ci_high": "ratio_ci_high", "ci_method": "ratio_ci_method"})
    records = table.reset_index().rename(columns={"column": "trait"}).to_dict(orient="records")
    mean = records.pop()
    warnings_ = [{"figure": f"spread.{r['trait']}",
                  "reason": f"persona collapse: the personas' SD is {r['ratio']:.2f} of the people's "
                            f"({source}), under {COLLAPSE_RATIO}"} for r in [*records, mean] if r["collapse"]]
    return {"human": source, "human_source": str(table["human_source"].iloc[0]), "n_personas": int(len(
            valid["persona_id"].unique())), "rows": records, "mean": mean, "collapse": bool(mean["collapse"]),
            "collapse_ratio": COLLAPSE_RATIO, "warnings": warnings_}
