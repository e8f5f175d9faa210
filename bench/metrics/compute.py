"""Every metric of a run gathered into the JSON-ready dict written to metrics.json."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.instruments import Inventory
from bench.metrics.tables import POLE_TARGET, jsonable
from bench.metrics.answers import invalid_rates, question_distributions
from bench.metrics.norms import norm_comparison
from bench.metrics.reliability import icc_repetitions, pooled_icc, reliability
from bench.metrics.scoring import mbti_accuracy, mbti_types, trait_target_shift
from bench.metrics.sensitivity import option_order_symmetry, prompt_sensitivity


# --------------------------------------------------------------------------------------------
# everything, for metrics.json


def compute_metrics(responses: pd.DataFrame, scores: pd.DataFrame, inventory: Inventory) -> dict:
    """All metrics as one JSON-serialisable dict (NaN -> None), the content of metrics.json.

    The MBTI block appears only for dichotomy inventories, the trait-shift block only when some
    persona targets a trait pole ("E+" / "E-").
    """
    if inventory.kind == "survey":
        return jsonable(
            {
                "inventory": inventory.id,
                "scoring": inventory.scoring,
                "n_participants": int(responses["participant_id"].nunique()),
                "n_responses": int(len(responses)),
                "question_distributions": question_distributions(responses, inventory),
                "invalid_rates": invalid_rates(responses),
            }
        )
    icc = icc_repetitions(responses)
    trait_summary = (
        scores.groupby("trait", sort=False)["score"]
        .agg(["mean", "std", "count"])
        .reset_index()
        .rename(columns={"std": "sd", "count": "n"})
    )
    out: dict[str, Any] = {
        "inventory": inventory.id,
        "scoring": inventory.scoring,
        "n_participants": int(scores["participant_id"].nunique()),
        "n_responses": int(len(responses)),
        "trait_summary": trait_summary,
        "reliability": reliability(responses, inventory),
        "icc_repetitions": {"conditions": icc, "pooled": pooled_icc(icc)},
        "prompt_sensitivity": prompt_sensitivity(scores),
        "option_order_symmetry": option_order_symmetry(scores),
        "invalid_rates": invalid_rates(responses),
    }
    if inventory.scoring == "dichotomy" and inventory.dichotomies:
        types = mbti_types(scores, inventory)
        out["mbti"] = {
            "dichotomies": [d.id for d in inventory.dichotomies],
            "accuracy": mbti_accuracy(types),
            "type_counts": types["type"].value_counts().sort_index().to_dict(),
        }
    if inventory.norms:
        table = norm_comparison(scores, inventory.norms)
        out["human_norms"] = {"source": sorted({n.source for n in inventory.norms if n.source}), "rows": table,
                              # one number per trait and group, which the leaderboard shows as a column
                              "diff_sd": {f"{r.trait} / {r.group}": r.diff_sd for r in table.itertuples()}}
    targets = scores["persona_target"].fillna("").astype(str)
    if targets.str.match(POLE_TARGET).any():
        out["trait_target_shift"] = trait_target_shift(scores)
    return jsonable(out)
