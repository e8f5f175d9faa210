"""Every metric of a run gathered into the JSON-ready dict written to metrics.json."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.instruments import Inventory
from bench.metrics.tables import POLE_TARGET, jsonable, score_bounds, score_range
from bench.metrics.answers import invalid_rates, question_distributions
from bench.metrics.norms import norm_comparison
from bench.metrics.paper_tables import paper_tables
from bench.metrics.position import position_bias
from bench.metrics.reliability import icc_repetitions, mean_alpha, pooled_icc, reliability
from bench.metrics.scoring import mbti_accuracy, mbti_types, trait_target_shift
from bench.metrics.sensitivity import option_order_symmetry, prompt_sensitivity, robustness_summary
from bench.metrics.trust import annotate
from bench.metrics.uncertainty import cluster_bootstrap, clusters_of, drop_outside, no_interval_reason, t_interval


# --------------------------------------------------------------------------------------------
# everything, for metrics.json


def trait_summary(scores: pd.DataFrame, bounds: dict[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """Per trait: mean, SD and n over participants, and a 95% t interval for the mean over the
    cluster means (personas; see bench.metrics.uncertainty), so repetitions are not counted as
    independent draws; on the trait's score range (`bounds`, a logit-scale t) where given. n_clusters
    says how many values the interval rests on; no_interval why there is none (too few, no spread)."""
    rows = []
    clusters = clusters_of(scores) if len(scores) else pd.Series(dtype=object)
    unit = "personas" if len(scores) and scores["persona_id"].nunique() >= 2 else "templates"
    for trait, sub in scores.groupby("trait", sort=False):
        vals = sub["score"].astype(float)
        by_cluster = vals.groupby(clusters.loc[sub.index]).mean().dropna()
        lo, hi = t_interval(by_cluster, bounds=(bounds or {}).get(str(trait)))
        reason = (no_interval_reason(by_cluster, unit) if len(by_cluster) >= 2 else None)  # 1: trust says it
        rows.append([trait, vals.mean(), vals.std(), int(vals.count()), lo, hi, int(len(by_cluster)), reason])
    return pd.DataFrame(rows, columns=["trait", "mean", "sd", "n", "ci_low", "ci_high", "n_clusters", "no_interval"])


def _rate_interval(responses: pd.DataFrame, column: str, n_boot: int | None, seed: int) -> tuple[float, float]:
    """Cluster-bootstrap interval of the share of rows with `column` true (rows of a persona move together)."""
    if responses.empty:
        return float("nan"), float("nan")
    flag = responses[column].fillna(False).astype(bool).to_numpy(float)
    return cluster_bootstrap(clusters_of(responses), lambda ix: flag[ix].mean(), n_boot=n_boot, seed=seed)


def compute_metrics(responses: pd.DataFrame, scores: pd.DataFrame, inventory: Inventory, seed: int = 0,
                    n_boot: int | None = None) -> dict:
    """All metrics as one JSON-serialisable dict (NaN -> None), the content of metrics.json.

    The MBTI block appears only for dichotomy inventories, the trait-shift block only when some
    persona targets a trait pole ("E+" / "E-"). Every figure carries its 95% interval (ci_low,
    ci_high; see docs/uncertainty.md); bootstrap intervals are drawn from `seed` (the run's seed), so
    the same run gives the same intervals. Figures that cannot be trusted carry a `warning` and are
    listed under "warnings" (bench.metrics.trust).
    """
    rates = invalid_rates(responses)
    for column in ("invalid", "refusal"):
        rates[f"{column}_rate_ci_low"], rates[f"{column}_rate_ci_high"] = _rate_interval(responses, column, n_boot, seed)
    if inventory.kind == "survey":
        return jsonable(
            {
                "inventory": inventory.id,
                "scoring": inventory.scoring,
                "n_participants": int(responses["participant_id"].nunique()),
                "n_responses": int(len(responses)),
                "question_distributions": question_distributions(responses, inventory, n_boot=n_boot, seed=seed),
                "invalid_rates": rates,
            }
        )
    icc = icc_repetitions(responses)
    sensitivity, symmetry = prompt_sensitivity(scores, n_boot=n_boot, seed=seed), option_order_symmetry(scores)
    out: dict[str, Any] = {
        "inventory": inventory.id,
        "scoring": inventory.scoring,
        "n_participants": int(scores["participant_id"].nunique()),
        "n_responses": int(len(responses)),
        "trait_summary": trait_summary(scores, score_bounds(inventory)),
        "score_range": score_range(inventory),  # what a score can be: the profile figure's axis
        "reliability": reliability(responses, inventory, n_boot=n_boot, seed=seed),
        "reliability_summary": mean_alpha(responses, inventory, n_boot=n_boot, seed=seed),
        "icc_repetitions": {"conditions": icc, "pooled": pooled_icc(icc, n_boot=n_boot, seed=seed)},
        "prompt_sensitivity": sensitivity,
        "option_order_symmetry": symmetry,
        "robustness_summary": robustness_summary(scores, sensitivity, symmetry, n_boot=n_boot, seed=seed),
        "invalid_rates": rates,
    }
    if inventory.scoring == "dichotomy" and inventory.dichotomies:
        types = mbti_types(scores, inventory)
        out["mbti"] = {
            "dichotomies": [d.id for d in inventory.dichotomies],
            "accuracy": mbti_accuracy(types, clusters=clusters_of(types)),
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
    position = position_bias(responses, scores, inventory, seed=seed, n_boot=n_boot)
    if position is not None:
        out["position_bias"] = position
    out["paper_tables"] = paper_tables(scores, inventory)
    out = jsonable(annotate(out, responses, inventory))
    out["warnings"] += drop_outside(out)  # an estimate outside its own interval: the interval goes, a warning stays
    return out
