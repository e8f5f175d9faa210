"""Planning from a pilot: how many personas and repetitions a design needs for a trait mean's interval to
reach a chosen half-width, from the variance components of a pilot run's trait scores.

A trait score y of persona p, condition c (template x option order x temperature) and repetition r is
modelled as mu + b_p + c_pc + e_pcr, three independent random effects with variances `between`,
`condition` and `within` (method-of-moments estimates, the nested random-effects ANOVA; unweighted
means where cells are unequal, negative estimates set to 0). The trait mean's interval is a t interval
over persona means (bench.metrics.compute.trait_summary), so with P personas, C conditions each and R
repetitions of each its half-width is t_{.975,P-1} * s / sqrt(P), with s the SD of the persona means,
whose variance is V = between + condition / C + within / (C R). Its expected value is

    E[half-width] = t_{.975,P-1} * c4(P) * sqrt(V / P)

(c4: E[s] = c4 sigma for normal data). Repetitions shrink only the last term: when t c4 sqrt((between +
condition / C) / P) already exceeds the target, no number of repetitions reaches it with P personas.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
from scipy import special, stats

from bench.errors import BenchError
from bench.metrics.uncertainty import LEVEL

MIN_PERSONAS = 3  # fewer independent units than this get no interval (docs/uncertainty.md)
MAX_PERSONAS = 100_000
MAX_REPETITIONS = 100
CELL = ["persona_id", "template_id", "option_order", "temperature"]  # a condition of one persona


class PilotDesignError(BenchError):
    """A pilot whose scores cannot give the variance components: one persona, or no repeated condition."""


@dataclass(frozen=True)
class Components:
    """One trait's variance components from a pilot (score units squared), and the pilot's shape."""

    trait: str
    mean: float
    between: float  # between personas
    condition: float  # between conditions of one persona (templates, orders, temperatures)
    within: float  # between repetitions of one condition
    personas: int
    conditions: float  # mean conditions per persona in the pilot
    repetitions: float  # mean repetitions per condition in the pilot

    def persona_mean_variance(self, conditions: int, repetitions: int) -> float:
        """Variance of one persona's mean over `conditions` x `repetitions` scores."""
        return self.between + self.condition / conditions + self.within / (conditions * repetitions)


@dataclass(frozen=True)
class Design:
    """A design (personas x repetitions, the conditions fixed) and what it costs."""

    personas: int
    repetitions: int
    cost: tuple[int, ...]


def c4(n: int) -> float:
    """E[s] / sigma for n normal draws: the sample SD's bias, which the expected half-width carries."""
    return math.sqrt(2.0 / (n - 1)) * math.exp(special.gammaln(n / 2) - special.gammaln((n - 1) / 2))


def t_factor(personas: int, level: float = LEVEL) -> float:
    """t_{(1+level)/2, P-1} * c4(P): the expected half-width per unit of sqrt(V / P)."""
    return float(stats.t.ppf((1 + level) / 2, personas - 1)) * c4(personas)


def expected_halfwidth(comp: Components, personas: int, conditions: int, repetitions: int,
                       level: float = LEVEL) -> float:
    """The expected half-width of the trait mean's t interval over persona means."""
    return t_factor(personas, level) * math.sqrt(comp.persona_mean_variance(conditions, repetitions) / personas)


def halfwidth_floor(comp: Components, personas: int, conditions: int, level: float = LEVEL) -> float:
    """The half-width that infinitely many repetitions would approach with these personas and conditions."""
    return t_factor(personas, level) * math.sqrt((comp.between + comp.condition / conditions) / personas)


def variance_components(scores: pd.DataFrame) -> list[Components]:
    """Per trait, the between-persona, condition-within-persona and repetition-within-condition variances of
    a long score table (columns: trait, score and the participant columns of bench.metrics.tables).

    PilotDesignError when a trait has fewer than 2 personas, or no condition with 2 repetitions (those
    variances cannot be told apart then)."""
    out = []
    frame = scores.dropna(subset=["score"])
    for trait, sub in frame.groupby("trait", sort=False):
        cells = sub.groupby(CELL, sort=False, dropna=False)["score"].agg(["mean", "var", "count"]).reset_index()
        df_e = float((cells["count"] - 1).sum())
        n_personas = int(cells["persona_id"].nunique())
        if n_personas < 2:
            raise PilotDesignError(f"trait {trait}: scores of {n_personas} persona(s); the between-persona "
                                   "variance needs at least 2 (a pilot needs a persona set of 2 or more)")
        if df_e <= 0:
            raise PilotDesignError(f"trait {trait}: no condition has 2 or more repetitions; the within-persona "
                                   "variance over repetitions needs repetitions>=2 in the pilot")
        within = float(((cells["count"] - 1) * cells["var"].fillna(0.0)).sum() / df_e)
        cells["inv_n"] = 1.0 / cells["count"]
        by_persona = cells.groupby("persona_id", sort=False)
        m_p = by_persona["mean"].transform("mean")
        c_p = by_persona["mean"].transform("count")
        condition = 0.0
        if (c_p > 1).any():
            multi = c_p > 1
            s_c = float(((cells["mean"] - m_p)[multi] ** 2).sum() / (by_persona["mean"].count() - 1).sum())
            condition = max(0.0, s_c - within * float(cells.loc[multi, "inv_n"].mean()))
        persona = by_persona.agg(m=("mean", "mean"), c=("mean", "count"), h=("inv_n", "mean"))
        expected_noise = float(((condition + within * persona["h"]) / persona["c"]).mean())
        between = max(0.0, float(persona["m"].var(ddof=1)) - expected_noise)
        out.append(Components(str(trait), float(sub["score"].mean()), between, condition, within, n_personas,
                              float(persona["c"].mean()), float(cells["count"].mean())))
    return out


def repetitions_needed(comps: Sequence[Components], personas: int, conditions: int, target: float,
                       max_repetitions: int = MAX_REPETITIONS, level: float = LEVEL) -> int | None:
    """The fewest repetitions giving every trait an expected half-width <= target with `personas` personas;
    None when even max_repetitions do not."""
    k = t_factor(personas, level)
    need = 1
    for comp in comps:
        slack = personas * (target / k) ** 2 - comp.between - comp.condition / conditions
        if slack < 0 or (slack == 0 and comp.within > 0):
            return None
        if comp.within > 0:
            need = max(need, math.ceil(comp.within / (conditions * slack) - 1e-12))
    return need if need <= max_repetitions else None


def recommend(comps: Sequence[Components], conditions: int, target: float,
              cost: Callable[[int, int], tuple[int, ...]],
              max_personas: int = MAX_PERSONAS, max_repetitions: int = MAX_REPETITIONS,
              level: float = LEVEL) -> Design | None:
    """The cheapest design (by `cost(personas, repetitions)`, a tuple compared in order that grows with
    personas) whose expected half-width is at most `target` on every trait; ties go to fewer repetitions.
    None when no design up to max_personas personas and max_repetitions repetitions does."""
    def feasible(p: int) -> bool:
        return repetitions_needed(comps, p, conditions, target, max_repetitions, level) is not None

    lo, hi = MIN_PERSONAS, max_personas  # P / t_factor(P)^2 grows with P: feasibility is monotone, bisect it
    if not feasible(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if feasible(mid) else (mid + 1, hi)
    best: Design | None = None
    for p in range(lo, max_personas + 1):
        if best is not None and cost(p, 1) > best.cost:
            break
        r = repetitions_needed(comps, p, conditions, target, max_repetitions, level)
        if r is None:  # feasibility is monotone in P; only float rounding at the boundary lands here
            continue
        design = Design(p, r, tuple(cost(p, r)))
        if best is None or (design.cost, design.repetitions) < (best.cost, best.repetitions):
            best = design
    return best

