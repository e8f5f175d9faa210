"""Matching backstory personas to human respondents by the likelihood of their demographics."""

from __future__ import annotations


import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from bench.instruments import Inventory, load_inventory
from bench.populations.reference import human_profiles, load_human, sample_respondents


def match_likelihood(persona_probs: dict[str, dict[str, np.ndarray]], profiles: pd.DataFrame,
                     survey: Inventory) -> pd.DataFrame:
    """log P(persona gives the respondent's demographic answers), humans x personas (Anthology's weight)."""
    personas = list(persona_probs)
    index = {q: {lab: k for k, lab in enumerate(survey.item(q).scale.labels)} for q in profiles.columns}
    ll = np.zeros((len(profiles), len(personas)))
    for j, pid in enumerate(personas):
        for q in profiles.columns:
            p = np.clip(persona_probs[pid][q], 1e-12, 1.0)
            ll[:, j] += np.log(p[[index[q][lab] for lab in profiles[q]]])
    return pd.DataFrame(ll, index=profiles.index, columns=personas)


def match_greedy(ll: pd.DataFrame) -> pd.Series:
    """Each respondent gets their most likely persona; a persona may serve many respondents."""
    return pd.Series(ll.columns[np.argmax(ll.to_numpy(), axis=1)], index=ll.index, name="persona_id")


def match_max_weight(ll: pd.DataFrame) -> pd.Series:
    """One-to-one matching maximising the total log-likelihood (min(#respondents, #personas) pairs)."""
    rows, cols = linear_sum_assignment(ll.to_numpy(), maximize=True)
    return pd.Series(ll.columns[cols], index=ll.index[rows], name="persona_id")


def persona_weights(matching: pd.Series) -> pd.Series:
    """Each persona's weight: how many respondents a matching gave it, so the model population mirrors
    the sampled humans."""
    return matching.value_counts().rename("weight")


def matchings(pop: dict, persona_probs: dict[str, dict[str, np.ndarray]]) -> dict[str, pd.Series]:
    """For a backstory run: {"backstory_greedy": ..., "backstory_maxweight": ...} respondent -> persona."""
    survey = load_inventory(pop["demographics"])
    sample = sample_respondents(human_profiles(load_human(pop), pop, survey), pop.get("sample", 40),
                                pop.get("seed", 0))
    ll = match_likelihood(persona_probs, sample, survey)
    return {"backstory_greedy": match_greedy(ll), "backstory_maxweight": match_max_weight(ll)}
