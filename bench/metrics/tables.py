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


def score_range(inventory: Inventory) -> list[dict]:
    """The lowest and highest score each trait can take under the inventory's rule (metrics.json
    `score_range`), with the pole each end stands for: "<trait>-" / "<trait>+" (a pole target's form), a
    dichotomy's letters. The profile figure draws on this range; a score outside it is impossible.

    mean: the items' scale ends; sum: times the trait's item count (prorated, so also under max_items);
    dichotomy: constant + sum(keyed * answer) at its extreme answers (imputed answers are midpoints, inside)."""
    if inventory.scoring not in ("mean", "sum", "dichotomy"):
        return []
    items: dict[str, list] = {}
    for it in inventory.items:
        items.setdefault(it.trait, []).append(it)
    rows = []
    if inventory.scoring == "dichotomy":
        for d in inventory.dichotomies:
            ends = [sorted((it.keyed * inventory.scale_of(it).low, it.keyed * inventory.scale_of(it).high))
                    for it in items.get(d.id, [])]
            rows.append({"trait": d.id, "min": float(d.constant + sum(e[0] for e in ends)),
                         "max": float(d.constant + sum(e[1] for e in ends)), "min_pole": d.low, "max_pole": d.high})
        return rows
    for trait in trait_order(inventory):
        its = items.get(trait, [])
        if not its:
            continue
        k = len(its) if inventory.scoring == "sum" else 1
        rows.append({"trait": trait, "min": float(k * min(inventory.scale_of(it).low for it in its)),
                     "max": float(k * max(inventory.scale_of(it).high for it in its)),
                     "min_pole": f"{trait}-", "max_pole": f"{trait}+"})
    return rows


def score_bounds(inventory: Inventory) -> dict[str, tuple[float, float]]:
    """Per trait, (lowest, highest) of `score_range`: the range a score's interval must stay on."""
    return {r["trait"]: (r["min"], r["max"]) for r in score_range(inventory)}
