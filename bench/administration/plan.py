"""The administration plan: persona x prompt variant x option order x temperature x repetition.

Each combination is one simulated participant with a stable id and seed (PsyBORGS-style), so a
result row can be traced back to exactly the conditions that produced it, and reruns agree.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass

import numpy as np

from bench.errors import BenchError
from bench.hashing import stable_int
from bench.instruments import Inventory, Item, substantive_permutation
from bench.personas import Persona
from bench.templates import check_template

ORDERS = ("original", "reversed", "shuffled")
MODES = ("single", "conversation")


class PlanError(BenchError):
    """A design the plan cannot be built from (unknown order or mode, repeated ids, bad template): a user's fix."""


# Response rows (participants x items) a plan may hold unless PERSONA_BENCH_MAX_PROMPTS says more: a plan past
# it is a typo (repetitions=1000000) more often than a study, and would build, render and store for hours.
MAX_PROMPTS = 1_000_000
MAX_PROMPTS_ENV = "PERSONA_BENCH_MAX_PROMPTS"


def max_prompts() -> int:
    """The plan size limit: PERSONA_BENCH_MAX_PROMPTS when set (a whole number), else MAX_PROMPTS."""
    raw = os.environ.get(MAX_PROMPTS_ENV, "").strip().replace("_", "").replace(",", "")
    if not raw:
        return MAX_PROMPTS
    if not raw.isdigit():
        raise PlanError(f"{MAX_PROMPTS_ENV}={os.environ[MAX_PROMPTS_ENV]}: must be a whole number of prompts")
    return int(raw)


def plan_size_problem(factors: dict[str, int], at_least: bool = False) -> str | None:
    """Why a plan of these factors (personas, templates, ..., items: counts) is too large to run, or None.

    `at_least`: the counts are lower bounds (a config checked before its personas are built)."""
    size, limit = math.prod(factors.values()), max_prompts()
    if size <= limit:
        return None
    return (f"the plan is {'at least ' if at_least else ''}{size:,} prompts "
            f"({' x '.join(f'{n:,} {k}' for k, n in factors.items())}), over the limit of {limit:,}: lower "
            f"repetitions, max_items or another factor, or raise the limit with the environment variable "
            f"{MAX_PROMPTS_ENV}=<prompts>")


@dataclass(frozen=True)
class Template:
    """A prompt template (one prompt variant) by id: the questions are asked through each chosen one."""
    id: str
    text: str


@dataclass(frozen=True)
class Participant:
    """One simulated respondent: one persona x template x option order x temperature x repetition of the design,
    with its own seed."""
    id: str
    persona: Persona
    template: Template
    option_order: str
    temperature: float
    repetition: int
    seed: int

    @property
    def condition(self) -> tuple[str, str, str]:
        """What a single-item prompt depends on: its temperatures and repetitions share one forward pass.

        (In conversation mode the prompt also holds the participant's own earlier answers.)"""
        return (self.persona.id, self.template.id, self.option_order)


@dataclass(frozen=True)
class Plan:
    """Everything a run will ask, fixed before any model work: the inventory, its chosen items and every
    participant, so runs and resumes agree on the work."""
    inventory: Inventory
    items: tuple[Item, ...]
    participants: tuple[Participant, ...]
    administration: str
    seed: int

    def personas_sha256(self) -> str:
        """What the personas say, item by item: a corpus persona changes when the person writes more,
        and a run folder must not mix answers given to two versions of it."""
        personas = {p.persona.id: p.persona for p in self.participants}
        return hashlib.sha256(json.dumps([[p.id, p.target, p.text, [list(t) for t in p.item_texts]]
                                          + ([[list(a) for a in p.attributes]] if p.attributes else [])
                                          for p in personas.values()]).encode()).hexdigest()

    def option_permutation(self, participant: Participant, item: Item) -> tuple[int, ...]:
        """Canonical option indices in the order they are shown (same for all temperatures/reps)."""
        if item.scale is not None:
            rng = np.random.default_rng(stable_int(self.seed, "shuffle", *participant.condition, item.id))
            return substantive_permutation(item.scale, participant.option_order, item.randomize,
                                           lambda k: [int(i) for i in rng.permutation(k)])
        n = len(self.inventory.scale.values)
        if participant.option_order == "original":
            return tuple(range(n))
        if participant.option_order == "reversed":
            return tuple(reversed(range(n)))
        rng = np.random.default_rng(stable_int(self.seed, "shuffle", *participant.condition, item.id))
        return tuple(int(i) for i in rng.permutation(n))


PLACEHOLDERS = ("item", "left", "right", "options", "n")  # what a prompt template may name


def select_templates(prompt_cfg, kind: str, wanted) -> tuple[Template, ...]:
    """The prompt templates a run asks through, checked (known placeholders only) and in the order asked, or all
    of the kind when none are named."""
    if not prompt_cfg.get(kind):
        raise PlanError(f"prompt config: no '{kind}' templates for a {kind} inventory")
    available = [Template(str(t["id"]), str(t["text"])) for t in prompt_cfg[kind]]
    for t in available:
        problem = check_template(t.text, PLACEHOLDERS, f"prompt template '{t.id}' ({kind})")
        if problem:
            raise PlanError(problem)
    if wanted is None:
        return tuple(available)
    by_id = {t.id: t for t in available}
    unknown = [w for w in wanted if w not in by_id]
    if unknown:
        raise PlanError(f"templates: unknown id(s) {unknown} for {kind} items; available: {sorted(by_id)}")
    return tuple(by_id[w] for w in wanted)


def build_plan(inventory: Inventory, personas, templates, option_orders, temperatures, repetitions: int,
               seed: int, administration: str = "single", max_items: int | None = None) -> Plan:
    """The run's plan (persona x template x option order x temperature x repetition), its design checked first so
    a bad value fails before any model work."""
    for order in option_orders:
        if order not in ORDERS:
            raise PlanError(f"option_orders: '{order}' is not one of {', '.join(ORDERS)}")
    if administration not in MODES:
        raise PlanError(f"administration: '{administration}' is not one of {', '.join(MODES)}")
    if repetitions < 1:
        raise PlanError(f"repetitions: {repetitions} must be >= 1")
    for t in temperatures:
        if float(t) < 0:
            raise PlanError(f"temperatures: {t} must be >= 0")
    for field, values in (("temperatures", [float(t) for t in temperatures]), ("option_orders", list(option_orders)),
                          ("persona ids", [p.id for p in personas]), ("templates", [t.id for t in templates])):
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise PlanError(f"{field}: {', '.join(repeated)} listed more than once (participant ids must be unique)")
    items = inventory.items if max_items is None else inventory.items[: int(max_items)]
    problem = plan_size_problem({"personas": len(personas), "templates": len(templates), "option orders":
                                 len(option_orders), "temperatures": len(temperatures), "repetitions": repetitions,
                                 "items": len(items)})
    if problem:
        raise PlanError(problem)
    participants = []
    for persona, template, order, temp, rep in itertools.product(
        personas, templates, option_orders, temperatures, range(repetitions)
    ):
        pid = f"{persona.id}|{template.id}|{order}|T{float(temp)!r}|r{rep}"
        participants.append(Participant(pid, persona, template, order, float(temp), rep, stable_int(seed, pid)))
    return Plan(inventory, tuple(items), tuple(participants), administration, seed)
