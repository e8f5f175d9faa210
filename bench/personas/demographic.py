"""Demographic personas (Anthology's baselines): one per sampled human respondent, described by that
person's demographics as question/answer pairs (qa), first-person sentences (bio) or "answer as if you
were" (portray)."""

from __future__ import annotations

import pandas as pd

from bench.instruments import Inventory, load_inventory
from bench.personas.model import Persona
from bench.templates import fill
from bench.populations import (
    PopulationError,
    human_profiles,
    load_human,
    resolve_population,
    sample_respondents,
)

STYLES = ("qa", "bio", "portray")


def demographic_text(profile: pd.Series, pop: dict, survey: Inventory, style: str) -> str:
    """One respondent described by their demographic answers, in one of Anthology's styles (qa, bio, portray)."""
    attrs = pop.get("attributes") or {}
    if style == "qa":
        return "\n".join(f"Question: {survey.item(q).text}\nAnswer: {profile[q]}" for q in attrs)
    if style == "bio":
        return " ".join(fill(attrs[q].get("bio", "{label}"), {"label": profile[q]}, f"population attribute {q}: bio")
                        for q in attrs)
    if style == "portray":
        parts = ", ".join(fill(attrs[q].get("portray", "{label}"), {"label": profile[q]},
                               f"population attribute {q}: portray") for q in attrs)
        return f"Answer the following questions as if you were a person {parts}."
    raise PopulationError(f"persona.style: {style!r} is not one of {', '.join(STYLES)}")


def demographic_personas(cfg: dict) -> tuple[Persona, ...]:
    """One persona per sampled respondent of the run's population, described by their demographics, so the
    model's answers can be matched to theirs."""
    pop = resolve_population(cfg)
    if pop is None or not pop.get("attributes"):
        raise PopulationError("persona=demographic needs a population with individual respondents and "
                              "demographic attributes (e.g. population=psych_bfi)")
    style = cfg["persona"].get("style", "bio")
    if style not in STYLES:
        raise PopulationError(f"persona.style: {style!r} is not one of {', '.join(STYLES)}")
    survey = load_inventory(pop["demographics"])
    sample = sample_respondents(human_profiles(load_human(pop), pop, survey), pop.get("sample", 40),
                                pop.get("seed", 0))
    return tuple(Persona(f"{style}:{rid}", "", demographic_text(row, pop, survey, style))
                 for rid, row in sample.iterrows())
