"""Administration: the plan (persona x template x option order x temperature x repetition, as frozen
dataclasses), the prompts it renders, the engine calls that answer them, the answer parser, and the
label distributions at each temperature."""

from bench.administration.administer import Administrator
from bench.administration.parse import parse_answer
from bench.administration.plan import ORDERS, MODES, Participant, Plan, PlanError, Template, build_plan, select_templates
from bench.engines.rendering import PromptRenderer

__all__ = ["MODES", "ORDERS", "Administrator", "Participant", "Plan", "PlanError", "PromptRenderer", "Template",
           "build_plan", "parse_answer", "select_templates"]
