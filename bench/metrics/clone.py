"""Clone fidelity as pure functions: does the clone predict the person's held-out text (perplexity, KL
to the base model), and does it answer personality questions like them (trait recovery against the
person's self-report). How it writes is measured in `bench.writing.stylometry`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

# ---------------------------------------------------------------------------------------------
# language-model fit


def perplexity(token_nll: Sequence[float]) -> float:
    """exp(mean negative log-likelihood per token); NaN for no tokens."""
    nll = np.asarray(token_nll, dtype=float)
    return float(math.exp(nll.mean())) if nll.size else math.nan


def kl_divergence(logp: np.ndarray, logq: np.ndarray) -> np.ndarray:
    """KL(p || q) per row from full-vocabulary log-probabilities (natural log, nats)."""
    logp, logq = np.asarray(logp, dtype=np.float64), np.asarray(logq, dtype=np.float64)
    return np.sum(np.exp(logp) * (logp - logq), axis=-1)


# ---------------------------------------------------------------------------------------------
# trait recovery


def trait_recovery(recovered: Mapping[str, float], reported: Mapping[str, float]) -> dict:
    """The clone's trait scores against the person's self-report, over the traits both have.

    abs_error per trait, trait_mae (their mean), profile_r (Pearson correlation across traits:
    does the clone get the person's shape, high where they are high; NaN under 3 traits)."""
    traits = [t for t in reported if t in recovered and np.isfinite(recovered[t]) and np.isfinite(reported[t])]
    errors = {t: abs(float(recovered[t]) - float(reported[t])) for t in traits}
    x = np.array([recovered[t] for t in traits], float)
    y = np.array([reported[t] for t in traits], float)
    r = math.nan
    if len(traits) >= 3 and x.std() > 0 and y.std() > 0:
        r = float(np.corrcoef(x, y)[0, 1])
    return {"abs_error": errors, "trait_mae": float(np.mean(list(errors.values()))) if errors else math.nan,
            "profile_r": r, "n_traits": len(traits)}


def mbti_letter_agreement(recovered: str | None, reported: str | None) -> float:
    """Share of the four letters that match, position by position (E/I, S/N, T/F, J/P)."""
    if not recovered or not reported or len(recovered) != len(reported):
        return math.nan
    return float(np.mean([a == b for a, b in zip(recovered.upper(), reported.upper())]))


def trait_correlations(recovered: pd.DataFrame, reported: pd.DataFrame) -> pd.DataFrame:
    """Across people: per trait, Pearson r between recovered and self-reported scores.

    Both tables: one row per author (index), one column per trait. Rows are matched by author;
    a trait needs 3 authors with both scores. Columns: trait, r, p (two-sided), n."""
    rows = []
    for trait in [t for t in reported.columns if t in recovered.columns]:
        both = pd.concat([recovered[trait].rename("x"), reported[trait].rename("y")], axis=1, join="inner").dropna()
        n = len(both)
        r = p = math.nan
        if n >= 3 and both["x"].std() > 0 and both["y"].std() > 0:
            res = stats.pearsonr(both["x"], both["y"])
            r, p = float(res.statistic), float(res.pvalue)
        rows.append({"trait": trait, "r": r, "p": p, "n": n})
    return pd.DataFrame(rows, columns=["trait", "r", "p", "n"])
