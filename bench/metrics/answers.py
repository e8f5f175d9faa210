"""How often the model gave no usable answer, and per-question answer distributions (surveys)."""

from __future__ import annotations


import numpy as np
import pandas as pd

from bench.instruments import Inventory
from bench.metrics.tables import finite


# --------------------------------------------------------------------------------------------
# invalid answers


def _rates(frame: pd.DataFrame) -> dict:
    n = int(len(frame))
    return {
        "n": n,
        "invalid_rate": float(frame["invalid"].fillna(False).astype(bool).mean()) if n else float("nan"),
        "refusal_rate": float(frame["refusal"].fillna(False).astype(bool).mean()) if n else float("nan"),
    }


def invalid_rates(responses: pd.DataFrame) -> dict:
    """Share of item responses that were unusable (invalid) or refusals, overall and broken down
    by template_id and by temperature (keys are str(float(temperature)), e.g. "0.7")."""
    out = _rates(responses)
    out["by_template"] = {str(k): _rates(g) for k, g in responses.groupby("template_id", sort=True)}
    out["by_temperature"] = {str(float(k)): _rates(g) for k, g in responses.groupby("temperature", sort=True)}
    return out


# --------------------------------------------------------------------------------------------
# surveys


def question_distributions(responses: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """Per question, the share of each option over all participants (canonical option order).

    Logprob rows contribute their whole option distribution, sampled rows their one answer
    (invalid rows none), so the table is the population's answer distribution either way.
    """
    rows = []
    for item in inventory.items:
        r = responses[responses["item_id"] == item.id]
        labels = inventory.scale_of(item).labels
        total = np.zeros(len(labels))
        for probs, answer, invalid in zip(r["option_probs"], r["answer"], r["invalid"]):
            if probs is not None and len(probs):
                total += np.asarray(probs, float)
            elif not invalid and finite(answer):
                total[int(answer) - 1] += 1
        share = total / total.sum() if total.sum() > 0 else total * np.nan
        rows += [{"item_id": item.id, "option": lab, "share": float(x)} for lab, x in zip(labels, share)]
    return pd.DataFrame(rows, columns=["item_id", "option", "share"])
