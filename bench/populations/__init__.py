"""Populations: human references (psych::bfi, OpinionQA, Pew .sav, CSV), matching personas to respondents,
a population's answers against a reference (the distances of `bench.metrics.distances`), and a run's fidelity
section."""

from bench.populations.human import GroupCounts, HumanDataError, HumanResponses, load_reference
from bench.populations.reference import (AUTO_REFERENCE, PopulationError, code_str, human_profiles, load_human,
                                         resolve_population, sample_respondents)

__all__ = ["AUTO_REFERENCE", "GroupCounts", "HumanDataError", "HumanResponses", "PopulationError", "code_str",
           "human_profiles", "load_human", "load_reference", "resolve_population", "sample_respondents"]
