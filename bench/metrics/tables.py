"""The response and score tables' shared vocabulary: participant columns and small pure helpers."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bench.instruments import Inventory


# Columns that describe a participant (constant over its rows).
PARTICIPANT_COLS = [
    "participant_id",
    "persona_id",
    "persona_target",
    "template_id",
    "option_order",
    "temperature",
    "repetition",
]
# A condition; its repetitions differ only in `repetition`.
CONDITION_COLS = ["persona_id", "template_id", "option_order", "temperature"]
SCORE_COLS = [*PARTICIPANT_COLS, "trait", "score", "n_items", "n_valid", "letter"]

POLE_TARGET = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*([+-])\s*$")


# --------------------------------------------------------------------------------------------
# helpers


def participants(responses: pd.DataFrame) -> pd.DataFrame:
    """One row per participant with its describing columns, in order of first appearance."""
    return responses[PARTICIPANT_COLS].drop_duplicates("participant_id").reset_index(drop=True)


def valid_scores(responses: pd.DataFrame, column: str = "score") -> pd.Series:
    """`column` with invalid rows set to NaN (an invalid row never counts, whatever it holds)."""
    invalid = responses["invalid"].fillna(False).astype(bool)
    return responses[column].astype(float).where(~invalid)


def trait_order(inventory: Inventory) -> list[str]:
    """Trait codes in report order, then any item trait the trait list does not name."""
    order = [code for code, _ in inventory.traits]
    for item in inventory.items:
        if item.trait not in order:
            order.append(item.trait)
    return order


def finite(x: Any) -> bool:
    """Whether `x` converts to a finite float (False for None, NaN, inf or anything not a number)."""
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def nan_if_not_finite(x: Any) -> float:
    """`x` as a float, NaN where it is not a finite number: the one missing-value convention of the
    metrics tables."""
    return float(x) if finite(x) else float("nan")


def jsonable(x: Any) -> Any:
    """Plain Python types for json.dumps; NaN/inf become None."""
    if isinstance(x, pd.DataFrame):
        return [jsonable(r) for r in x.to_dict(orient="records")]
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray, pd.Series)):
        return [jsonable(v) for v in list(x)]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if x is None or isinstance(x, str):
        return x
    if x is pd.NA or x is pd.NaT:
        return None
    return str(x)


def condition_means(scores: pd.DataFrame) -> pd.DataFrame:
    """Trait scores averaged over repetitions: one row per condition and trait."""
    keys = ["persona_id", "persona_target", "template_id", "option_order", "temperature", "trait"]
    return scores.groupby(keys, sort=False, dropna=False)["score"].mean().reset_index()


def score_bounds(inventory: Inventory) -> dict[str, tuple[float, float]]:
    """Per trait, the lowest and highest score its scoring rule can give (mean: the scale's range; sum:
    the item count times it; dichotomy: constant + each item's keyed extreme), the range a score's
    interval must stay on."""
    out: dict[str, tuple[float, float]] = {}
    by_trait: dict[str, list] = {}
    for item in inventory.items:
        by_trait.setdefault(item.trait, []).append(item)
    dich = {d.id: d for d in inventory.dichotomies}
    for trait, items in by_trait.items():
        ends = [(float(inventory.scale_of(it).low), float(inventory.scale_of(it).high)) for it in items]
        if inventory.scoring == "dichotomy" and trait in dich:
            terms = [sorted((it.keyed * lo, it.keyed * hi)) for it, (lo, hi) in zip(items, ends)]
            c = float(dich[trait].constant)
            out[trait] = (c + sum(t[0] for t in terms), c + sum(t[1] for t in terms))
        elif inventory.scoring in ("mean", "sum"):
            lo, hi = min(e[0] for e in ends), max(e[1] for e in ends)
            k = len(items) if inventory.scoring == "sum" else 1
            out[trait] = (k * lo, k * hi)
    return out
