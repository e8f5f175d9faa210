"""`persona-bench plan ... --pilot results/<run> [--target-halfwidth H]`: how many personas and repetitions the
planned design needs for every trait mean's 95% interval to reach half-width H, from the variance components
of a finished pilot run's trait scores (bench.metrics.planning). No model or tokenizer is loaded.

The pilot must be a run of the same design as the plan: the same inventory, model, scoring, administration
and max_items (its trait scores are the same kind of number); the plan may change the personas, templates,
option orders, temperatures and repetitions, which is what it is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.administration import build_plan, select_templates
from bench.config.rules import ABSENT, lookup
from bench.errors import BenchError
from bench.instruments import inventory_from_config
from bench.metrics.planning import (
    Components,
    Design,
    PilotDesignError,
    expected_halfwidth,
    halfwidth_floor,
    recommend,
    variance_components,
)
from bench.metrics.tables import PARTICIPANT_COLS
from bench.personas import build_personas
from bench.pipelines.dry_run import plan_personas
from bench.results.layout import CONFIG, FINISHED, SCORES
from bench.results.sweep import read_config

# What makes a trait score the same kind of number in the pilot and the plan.
DESIGN_KEYS = ("inventory.name", "inventory.path", "model.id", "scoring", "administration", "max_items")


class PilotError(BenchError):
    """A pilot that cannot plan this design: a missing or unfinished run folder, or a run of another design."""


@dataclass(frozen=True)
class PlanDesign:
    """The planned run's fixed factors, and the persona and repetition counts it is configured with."""

    personas: int
    repetitions: int
    templates: int
    orders: int
    temperatures: int
    items: int
    scoring: str
    administration: str

    @property
    def conditions(self) -> int:
        """Conditions of one persona: template x option order x temperature."""
        return self.templates * self.orders * self.temperatures

    def rows(self, personas: int, repetitions: int) -> int:
        """Response rows (participant x item) of the design with these counts."""
        return personas * self.conditions * repetitions * self.items

    def model_calls(self, personas: int, repetitions: int) -> int:
        """Forward passes or generations: in logprob single mode one pass per (persona, template, order,
        item), shared by every temperature and repetition; else (at most) one per response row."""
        if self.scoring == "logprob" and self.administration == "single":
            return personas * self.templates * self.orders * self.items
        return self.rows(personas, repetitions)

    def cost(self, personas: int, repetitions: int) -> tuple[int, int]:
        """What a design costs, compared in order: the engine's work, then the response rows."""
        return self.model_calls(personas, repetitions), self.rows(personas, repetitions)

    def calls_word(self) -> str:
        """What a model call is in this mode."""
        if self.scoring == "logprob" and self.administration == "single":
            return "forward passes (one per persona x template x order x item; repetitions and temperatures share it)"
        if self.scoring == "logprob":
            return "forward passes at most (one per participant and item, shared where earlier answers agree)"
        return "generations (one per participant and item)"


def check_pilot(path: str | Path) -> Path:
    """The pilot's run folder, if it is a finished one; PilotError naming what is missing otherwise."""
    run_dir = Path(path)
    if not run_dir.exists():
        raise PilotError(f"--pilot {path}: no such folder (give a finished run folder, results/<run>)")
    if not run_dir.is_dir():
        raise PilotError(f"--pilot {path}: not a folder (give a finished run folder, results/<run>)")
    missing = [f for f in FINISHED if not (run_dir / f).is_file()]
    if missing:
        raise PilotError(f"--pilot {path}: not a finished run folder (missing {', '.join(missing)}); finish it "
                         f"with `persona-bench sweep rerun {path}` or give another")
    return run_dir


def check_design(pilot_dir: Path, pilot_cfg: dict, cfg: dict) -> None:
    """PilotError naming each design field where the pilot's config.yaml and the plan differ."""
    def shown(value) -> str:
        return "(absent)" if value is ABSENT else repr(value)

    differ = [f"{k}: pilot {shown(lookup(pilot_cfg, k))}, plan {shown(lookup(cfg, k))}" for k in DESIGN_KEYS
              if lookup(pilot_cfg, k) != lookup(cfg, k)]
    if differ:
        raise PilotError(f"--pilot {pilot_dir}: a run of another design ({'; '.join(differ)}); its variance "
                         "components describe other scores: give a pilot of this design, or plan that one")


def pilot_scores(pilot_dir: Path) -> pd.DataFrame:
    """The pilot's trait scores (scores.parquet), read and checked for the columns planning needs."""
    path = pilot_dir / SCORES
    try:
        scores = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several kinds for a damaged file: all of them named here
        raise PilotError(f"--pilot {pilot_dir}: {SCORES} cannot be read ({type(err).__name__}: "
                         f"{str(err)[:200]})") from None
    missing = [c for c in (*PARTICIPANT_COLS, "trait", "score") if c not in scores.columns]
    if missing:
        raise PilotError(f"--pilot {pilot_dir}: {SCORES} lacks column(s) {', '.join(missing)}")
    if scores["score"].notna().sum() == 0:
        raise PilotError(f"--pilot {pilot_dir}: {SCORES} holds no trait score (a survey, or no valid answer): "
                         "nothing to plan for")
    return scores


def pilot_components(pilot_dir: Path) -> list[Components]:
    """Each trait's variance components from the pilot; PilotError naming the pilot when it cannot give them."""
    try:
        return variance_components(pilot_scores(pilot_dir))
    except PilotDesignError as err:
        raise PilotError(f"--pilot {pilot_dir}: {err}") from None


def design_of(cfg: dict) -> PlanDesign:
    """The planned run's factors as the run would build them (personas, templates, items), without a model."""
    inventory = inventory_from_config(cfg["inventory"])
    if inventory.kind == "survey":
        raise PilotError(f"inventory={inventory.id}: a survey has no trait means; --pilot plans trait figures")
    personas = plan_personas(cfg)[0] or build_personas(cfg, inventory)
    templates = select_templates(cfg["prompt"], inventory.kind, cfg.get("templates"))
    plan = build_plan(inventory, personas, templates, cfg["option_orders"], cfg["temperatures"],
                      int(cfg["repetitions"]), int(cfg["seed"]), cfg["administration"], cfg.get("max_items"))
    return PlanDesign(len(personas), int(cfg["repetitions"]), len(templates), len(cfg["option_orders"]),
                      len(cfg["temperatures"]), len(plan.items), cfg["scoring"], cfg["administration"])


def prepare_pilot(cfg: dict, pilot: str | Path) -> tuple[Path, PlanDesign, list[Components]]:
    """Every check of the pilot against one planned config, before anything is printed."""
    pilot_dir = check_pilot(pilot)
    check_design(pilot_dir, read_config(pilot_dir), cfg)
    design = design_of(cfg)
    return pilot_dir, design, pilot_components(pilot_dir)


def planning_text(pilot_dir: Path, design: PlanDesign, comps: list[Components], target: float | None) -> str:
    """The table `plan --pilot` prints: each trait's components, the configured design's expected half-width and,
    with a target, the cheapest design reaching it on every trait, its counts, and where repetitions cannot."""
    c, p0, r0 = design.conditions, design.personas, design.repetitions
    first = comps[0]
    lines = [f"plan from pilot {pilot_dir} ({first.personas} personas x {first.conditions:g} conditions x "
             f"{first.repetitions:g} repetitions; variance components of {SCORES}, score units squared)"]
    best = None
    if target is not None:
        lines.append(f"target: 95% interval half-width <= {target:g} on every trait mean")
        best = recommend(comps, c, target, design.cost)
    head = ["trait", "mean", "between", "condition", "within", f"configured {p0}x{r0}"]
    if target is not None:
        head += ["alone PxR", "recommended"]
    rows, notes = [], []
    for comp in comps:
        row = [comp.trait, f"{comp.mean:.3f}", f"{comp.between:.4f}", f"{comp.condition:.4f}", f"{comp.within:.4f}"]
        row.append(f"{expected_halfwidth(comp, p0, c, r0):.3f}" if p0 >= 2 else "-")
        if target is not None:
            alone = recommend([comp], c, target, design.cost)
            row.append(f"{alone.personas}x{alone.repetitions}" if alone else "none")
            row.append(f"{expected_halfwidth(comp, best.personas, c, best.repetitions):.3f}" if best else "-")
            if p0 >= 2 and halfwidth_floor(comp, p0, c) > target:
                notes.append(f"{comp.trait}: unreachable by repetitions alone with {p0} personas (half-width "
                             f"{halfwidth_floor(comp, p0, c):.3f} at any number of repetitions: between-persona "
                             "variance dominates); more personas are needed")
        rows.append(row)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    for row in [head, *rows]:
        lines.append("  " + "  ".join(str(x).ljust(w) if k == 0 else str(x).rjust(w)
                                      for k, (x, w) in enumerate(zip(row, widths))))
    lines.append(f"  configured: {p0} personas x {c} conditions ({design.templates} templates x {design.orders} "
                 f"orders x {design.temperatures} temperatures) x {r0} repetitions x {design.items} items")
    if first.conditions <= 1:
        notes.append("the pilot has one condition per persona: condition variance is counted as between-persona "
                     "variance (conservative)")
    if target is not None:
        lines.append(recommendation_line(design, best, target))
    lines += [f"  note: {n}" for n in notes]
    return "\n".join(lines)


def recommendation_line(design: PlanDesign, best: Design | None, target: float) -> str:
    """The recommended design and its counts, or why there is none."""
    if best is None:
        return (f"  recommended: none: no design up to the limits (personas, 100 repetitions) reaches {target:g}; "
                "the target is too tight for these variance components")
    p, r = best.personas, best.repetitions
    return (f"  recommended: {p} personas x {r} repetition{'s' if r != 1 else ''} (persona.ids or a persona set of "
            f"{p}, repetitions={r}): {p * design.conditions * r:,} participants, {design.rows(p, r):,} response "
            f"rows, {design.model_calls(p, r):,} {design.calls_word()}")


def pilot_plan_command(configs: list[dict], pilot: str | Path, target: float | None) -> None:
    """Check the pilot against every job first, then print each job's planning table."""
    prepared = [prepare_pilot(cfg, pilot) for cfg in configs]
    for k, (pilot_dir, design, comps) in enumerate(prepared, 1):
        if len(configs) > 1:
            print(f"[job {k} of {len(configs)}]")
        print(planning_text(pilot_dir, design, comps, target), flush=True)


__all__ = ["PilotError", "PlanDesign", "check_pilot", "pilot_plan_command", "planning_text", "prepare_pilot"]
