"""How often the model gave no usable answer, and per-question answer distributions (surveys)."""

from __future__ import annotations


import numpy as np
import pandas as pd

from bench.instruments import Inventory
from bench.metrics.tables import finite
from bench.metrics.uncertainty import cluster_bootstrap, clusters_of


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


def question_distributions(responses: pd.DataFrame, inventory: Inventory, n_boot: int | None = None,
                           seed: int = 0) -> pd.DataFrame:
    """Per question, the share of each option over all participants (canonical option order), with a
    95% cluster-bootstrap interval per share (personas resampled with their participants, drawn from `seed`).

    Logprob rows contribute their whole option distribution, sampled rows their one answer
    (invalid rows none), so the table is the population's answer distribution either way. The interval
    is a bootstrap rather than Wilson's because a logprob row's mass is not a count, and because one
    persona's repetitions are not independent answers.
    """
    parts = responses.drop_duplicates("participant_id").reset_index(drop=True)
    row_of = pd.Series(np.arange(len(parts)), index=parts["participant_id"].to_numpy())
    mats, labels_of = [], []
    for item in inventory.items:
        r = responses[responses["item_id"] == item.id]
        labels = inventory.scale_of(item).labels
        m = np.zeros((len(parts), len(labels)))  # participant x option answer mass
        for i, probs, answer, invalid in zip(row_of.reindex(r["participant_id"]).to_numpy(), r["option_probs"],
                                             r["answer"], r["invalid"]):
            if probs is not None and len(probs):
                m[i] += np.asarray(probs, float)
            elif not invalid and finite(answer):
                m[i, int(answer) - 1] += 1
        mats.append(m)
        labels_of.append(labels)

    def shares(ix: np.ndarray) -> np.ndarray:
        k = np.bincount(ix, minlength=len(parts)).astype(float)
        out = []
        for m in mats:
            total = k @ m
            out.append(total / total.sum() if total.sum() > 0 else total * np.nan)
        return np.concatenate(out) if out else np.zeros(0)

    share = shares(np.arange(len(parts)))
    lo = hi = np.full(share.shape, np.nan)
    if len(parts) and share.size:
        lo, hi = cluster_bootstrap(clusters_of(parts), shares, n_boot=n_boot, seed=seed)
    keys = [(item.id, lab) for item, labels in zip(inventory.items, labels_of) for lab in labels]
    rows = [{"item_id": q, "option": lab, "share": float(x), "share_ci_low": float(a), "share_ci_high": float(b)}
            for (q, lab), x, a, b in zip(keys, share, lo, hi)]
    return pd.DataFrame(rows, columns=["item_id", "option", "share", "share_ci_low", "share_ci_high"])
