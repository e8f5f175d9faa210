"""Individual-level fidelity of demographic persona runs: each persona, built from one respondent's
demographics, predicts that respondent's answers, scored beside baselines cross-validated on the other
respondents (`bench.metrics.individual`).

Why here: the run pipeline scores populations; only the fidelity table holds every conditioning method
of one reference at once, and the persona ids (`<style>:<respondent>`) say whose answers each predicts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.instruments import Inventory
from bench.metrics.individual import (PREDICTION_COLUMNS, check_individual_inputs, cross_validated_baselines,
                                      individual_scores, individual_summary)
from bench.populations.fidelity import participant_distributions

K_FOLDS = 5
K_NEIGHBOURS = 25
DEMOGRAPHIC_METHODS = ("qa", "bio", "portray")  # persona=demographic styles: one persona per respondent


def wants_individual(human, methods) -> bool:
    """The individual level applies: a respondent-level reference, and a demographic persona method asked."""
    return hasattr(human, "answers") and any(m in DEMOGRAPHIC_METHODS for m in methods)


def check_individual(human, items, k_folds: int = K_FOLDS) -> None:
    """Bad input named before any model work (NoDemographics, TooFewRespondents, ConstantDemographic)."""
    check_individual_inputs(human.answers[[q for q in items if q in human.answers.columns]],
                            human.demographics, k_folds)


def persona_predictions(method: str, responses: pd.DataFrame, inventory: Inventory, temperature: float) -> pd.DataFrame:
    """A demographic run's predictions (method, respondent, item, option, p): per persona `<style>:<id>`, the
    mean over its participants of their option distributions (exact for logprob rows, one-hot when sampled)."""
    temps = sorted(float(t) for t in responses["temperature"].unique())
    r = responses[responses["temperature"] == (temperature if temperature in temps else temps[-1])]
    parts, mats = participant_distributions(r, inventory)
    respondent = parts["persona_id"].astype(str).str.split(":", n=1).str[-1].to_numpy()
    frames = []
    for q, m in mats.items():
        for rid in dict.fromkeys(respondent):
            p = m[respondent == rid].mean(axis=0)
            frames.append(pd.DataFrame({"method": method, "respondent": rid, "item": q,
                                        "option": np.arange(1, len(p) + 1), "p": p}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PREDICTION_COLUMNS)


def individual_level(human, inventory: Inventory, runs: dict[str, pd.DataFrame], temperature: float,
                     k_folds: int = K_FOLDS, seed: int = 0, k_neighbours: int = K_NEIGHBOURS
                     ) -> tuple[pd.DataFrame, dict]:
    """(summary table: method x accuracy, MAE, log-loss with intervals and the paired difference from the
    marginal; provenance: folds, seed, k, the held-out respondents). `runs`: method -> a demographic run's
    responses. Every persona's respondent is held out; the baselines are fitted on the other folds."""
    preds = pd.concat([persona_predictions(m, r, inventory, temperature) for m, r in runs.items()],
                      ignore_index=True)
    items = [it.id for it in inventory.items if it.id in set(preds["item"]) and it.id in human.answers.columns]
    scales = {q: inventory.scale_of(inventory.item(q)) for q in items}
    held_out = [rid for rid in dict.fromkeys(preds["respondent"]) if rid in set(human.answers.index.astype(str))]
    preds = preds[preds["respondent"].isin(held_out) & preds["item"].isin(items)]
    answers = human.answers[items].set_axis(human.answers.index.astype(str))
    baselines, provenance = cross_validated_baselines(answers, human.demographics.set_axis(
        human.demographics.index.astype(str)), scales, evaluate=held_out, k_folds=k_folds, seed=seed,
        k_neighbours=k_neighbours)
    scores = individual_scores(pd.concat([preds, baselines], ignore_index=True), answers, scales)
    provenance |= {"items": items, "held_out": held_out, "methods_scored": [*runs, *provenance["methods"]]}
    return individual_summary(scores), provenance
