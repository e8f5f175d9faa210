"""`persona-bench humans population=<name or path>`: a human reference's own figures, without a model.

Alpha (Feldt 95% interval) and omega (respondents bootstrapped) per trait, norms (mean, SD, n, scored
with the instrument's keys) and the split-half estimates with their 95% intervals (respondents and splits),
printed and written to results/humans-<population>/ (humans.json, humans.md). Nothing here opens an engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.instruments import load_inventory
from bench.metrics.distances import alpha_with_ci, answer_table_distances, count_split_half_bounds, keyed_scores
from bench.metrics.reliability import omega_with_ci
from bench.metrics.tables import jsonable
from bench.populations.human import GroupCounts
from bench.populations.reference import (PopulationError, human_norms, load_human, norms_group, read_population_file,
                                         usable_respondents_problem)
from bench.populations.reference_fidelity import SPLIT_HALF_FIGURES, aligned_counts, split_half_bounds
from bench.resources import CONF_DIR
from bench.results.atomic import atomic_write_json, atomic_write_text
from bench.results.run_folder import make_run_dir
from bench.results.summary import markdown_table, with_ci
from bench.userfiles import load_yaml


def population_of(spec: str) -> dict:
    """A population by shipped name (bench/conf/population/<name>.yaml) or by the path of a population file."""
    shipped = sorted(p.stem for p in (CONF_DIR / "population").glob("*.yaml") if p.stem not in ("auto", "none"))
    if spec in shipped:
        pop = load_yaml(CONF_DIR / "population" / f"{spec}.yaml")
        pop.pop("defaults", None)
        return pop
    if Path(spec).expanduser().is_file():
        return read_population_file(spec)
    raise PopulationError(f"population={spec}: neither a shipped population ({', '.join(shipped)}) nor a "
                          "population file")


def reference_figures(pop: dict, seed: int = 0, n_boot: int | None = None) -> dict:
    """The reference's figures as one JSON-ready dict; a reference too small to split is refused first."""
    human = load_human(pop)
    problem = usable_respondents_problem(human, pop)
    if problem:
        raise PopulationError(f"population {pop['name']}: field 'reference': {problem}")
    if not pop.get("instrument"):
        raise PopulationError(f"population {pop['name']}: field 'instrument': none; name the inventory its "
                              "columns line up with")
    inv = load_inventory(pop["instrument"])
    n_splits, seed = int(pop.get("split_half", 100)), int(pop.get("seed", seed))
    out = {"population": pop["name"], "reference": human.source, "instrument": inv.id}
    if isinstance(human, GroupCounts):  # answer counts: no respondents, so no alpha, omega or norms
        qs = [it.id for it in inv.items if it.id in human.options]
        scales = {q: inv.scale_of(inv.item(q)) for q in qs}
        counts = {q: aligned_counts(human, q, scales[q]) for q in qs}
        out.update(n_questions=len(qs), reliability=[], norms=[],
                   split_half=count_split_half_bounds(counts, scales, n_splits, seed, n_boot))
        return out
    qs = [it.id for it in inv.items if it.id in human.answers.columns]
    scales = {q: inv.scale_of(inv.item(q)) for q in qs}
    rows = []
    if inv.kind == "likert" and inv.traits:
        keyed = keyed_scores(human.answers[qs], inv)
        traits = {q: inv.item(q).trait for q in qs}
        for t, (a, lo, hi) in alpha_with_ci(keyed, traits).items():
            wide = keyed[[q for q in qs if traits[q] == t]].dropna(how="all").astype(float)
            om, olo, ohi = omega_with_ci(wide, np.arange(len(wide)), n_boot=n_boot, seed=seed)
            rows.append({"trait": t, "n_items": wide.shape[1], "n_respondents": len(wide), "alpha": a,
                         "alpha_ci_low": lo, "alpha_ci_high": hi, "omega": om, "omega_ci_low": olo,
                         "omega_ci_high": ohi})

    def between_halves(a, b) -> dict[str, float]:
        return answer_table_distances(a.answers, a.weights, b.answers, b.weights, qs, scales)[0]

    norms = [{"trait": n.trait, "group": n.group, "mean": n.mean, "sd": n.sd, "n": n.n}
             for n in human_norms(human, inv, group=norms_group(human, pop))]
    out.update(n_respondents=int(human.n), n_questions=len(qs), reliability=rows, norms=norms,
               split_half=split_half_bounds(human, between_halves, n_splits, seed, n_boot))
    return out


def figures_text(fig: dict) -> str:
    """The reference's figures as Markdown."""
    head = f"# {fig['reference']}: population {fig['population']}, instrument {fig['instrument']}"
    n = f"{fig['n_respondents']:,} respondents, " if "n_respondents" in fig else ""
    out = [head, "", f"{n}{fig['n_questions']} questions; no model was loaded.", ""]
    if fig["reliability"]:
        rel = pd.DataFrame([{"trait": r["trait"], "items": r["n_items"], "respondents": r["n_respondents"],
                             "alpha [95% CI]": with_ci(r["alpha"], r["alpha_ci_low"], r["alpha_ci_high"]),
                             "omega [95% CI]": with_ci(r["omega"], r["omega_ci_low"], r["omega_ci_high"])}
                            for r in fig["reliability"]])
        out += ["Internal consistency (alpha: Feldt interval; omega: respondents bootstrapped):",
                markdown_table(rel), ""]
    if fig["norms"]:
        out += ["Norms (trait scores with the instrument's keys):",
                markdown_table(pd.DataFrame(fig["norms"])), ""]
    sh = fig["split_half"]
    rows = [{"figure": k, "estimate [95% CI]": with_ci(v["mean"], v["ci_low"], v["ci_high"]), "sd over splits": v["sd"],
             "splits": v["n"]} for k, v in sh.items() if k in SPLIT_HALF_FIGURES]
    out += ["Human split-half estimates: two random halves of the respondents compared (an estimate with its own "
            "noise, not a floor); a model's distance within the interval cannot be told from the humans' own:",
            markdown_table(pd.DataFrame(rows)), ""]
    return "\n".join(out)


def humans(spec: str, results_dir: str = "results", seed: int = 0, n_boot: int | None = None) -> Path:
    """Compute, print and write a human reference's figures; returns the folder written."""
    pop = population_of(spec)
    fig = reference_figures(pop, seed=seed, n_boot=n_boot)
    out = Path(results_dir).expanduser() / f"humans-{pop['name']}"
    make_run_dir(out)
    text = figures_text(fig)
    atomic_write_json(out / "humans.json", jsonable(fig))
    atomic_write_text(out / "humans.md", text + "\n")
    print(text)
    print(f"written to {out}")
    return out

