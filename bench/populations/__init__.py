"""Populations: human references (psych::bfi, OpinionQA, Pew .sav, CSV), distances between answer
distributions (pure functions), matching personas to respondents, and a run's fidelity section."""

from bench.populations.human import GroupCounts, HumanDataError, HumanResponses, load_reference
from bench.populations.reference import (AUTO_REFERENCE, PopulationError, code_str, human_profiles, load_human,
                                         resolve_population, sample_respondents)

__all__ = ["AUTO_REFERENCE", "GroupCounts", "HumanDataError", "HumanResponses", "PopulationError", "code_str",
           "human_profiles", "load_human", "load_reference", "resolve_population", "sample_respondents"]
