"""`persona-bench fidelity-table inventory=ipip25 population=psych_bfi`: Anthology's comparison table.

Runs the instrument once per conditioning method (no persona; demographic personas in the qa, bio
and portray styles; backstories, matched greedily and one-to-one) against one human population, and
writes one row per method with the human split-half estimate (and its 95% interval) beneath, and one
ladder per figure (uniform floor, each method, split-half ceiling, normalised fidelity), as CSV and Markdown, to
results/fidelity-<instrument>-<population>-<hash>/. Each method's own run folder keeps its responses,
so a rerun resumes instead of starting over.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pandas as pd

from bench.instruments import inventory_from_config
from bench.personas import CONDITIONING_METHODS
from bench.populations import PopulationError, resolve_population
from bench.populations.individual_fidelity import (DEMOGRAPHIC_METHODS, check_individual, individual_level,
                                                   wants_individual)
from bench.populations.reference import load_human
from bench.results.layout import RESPONSES
from bench.results.summary import with_ci
from bench.resources import CONF_DIR
from bench.results.atomic import atomic_write_text
from bench.userfiles import load_yaml

SPLIT_HALF_ROW = "human split-half estimate"
COLUMNS = ["mean_wd", "mean_wd_normalized", "mean_tv", "frobenius", "frobenius_normalized"]


def method_configs(cfg: dict, methods) -> dict[str, dict]:
    """One run config per conditioning method (each name checked): the tool's config with that method's
    persona config in place, keeping the user's backstory settings when the config is a backstory run."""
    out = {}
    for m in methods:
        if m not in CONDITIONING_METHODS:
            raise PopulationError(f"fidelity_table.methods: {m!r} is not one of {', '.join(CONDITIONING_METHODS)}")
        name, overrides = CONDITIONING_METHODS[m]
        sub = copy.deepcopy(cfg)
        persona = load_yaml(CONF_DIR / "persona" / f"{name}.yaml")
        if name == "backstory":
            persona.update({k: v for k, v in cfg["persona"].items() if k in persona and cfg["persona"].get("set") == "backstory"})
        persona.update(overrides)
        sub["persona"] = persona
        out[m] = sub
    return out


def _alpha_mean(x) -> float:
    vals = [v for v in (x or {}).values() if v is not None]
    return sum(vals) / len(vals) if vals else float("nan")


def table_rows(sections: dict[str, dict]) -> pd.DataFrame:
    """One row per method, then the human split-half estimate (mean over split-halves, their sd, and the
    estimate's 95% interval over respondents and splits)."""
    rows, bound = [], None
    for name, s in sections.items():
        rows.append({"method": name, **{c: s.get(c) for c in COLUMNS},
                     "alpha_model": _alpha_mean(s.get("alpha_model")), "alpha_human": _alpha_mean(s.get("alpha_human"))})
        if s.get("alpha_n_items_full", s.get("alpha_n_items")) != s.get("alpha_n_items"):  # max_items: fewer items asked
            rows[-1]["alpha_human_all_items"] = _alpha_mean(s.get("alpha_human_full"))
        bound = bound or s.get("human_lower_bound")
    frame = pd.DataFrame(rows)
    if bound:
        row = {"method": SPLIT_HALF_ROW}
        for c in COLUMNS:
            b = bound.get(c) or {}
            row[c] = b.get("mean")
            row[c + "_sd"] = b.get("sd")
            row[c + "_ci_low"], row[c + "_ci_high"] = b.get("ci_low"), b.get("ci_high")
        frame = pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
    return frame


def ladder_rows(sections: dict[str, dict]) -> pd.DataFrame:
    """One ladder per figure (metrics.json `fidelity.ladder`): the uniform floor, each conditioning method
    (with its interval and normalised fidelity [interval]), then the human split-half ceiling."""
    rows = []
    figures = list(dict.fromkeys(f for s in sections.values() for f in (s.get("ladder") or {})))
    for fig in figures:
        rungs = {m: (s.get("ladder") or {}).get(fig) for m, s in sections.items()}
        rungs = {m: r for m, r in rungs.items() if r}
        first = next(iter(rungs.values()))
        rows.append({"figure": fig, "rung": "floor (uniform)", "value": first.get("floor")})
        for m, r in rungs.items():
            norm = r.get("normalised") or {}
            rows.append({"figure": fig, "rung": m, "value": r.get("model"), "ci_low": r.get("model_ci_low"),
                         "ci_high": r.get("model_ci_high"), "normalised": norm.get("value"),
                         "normalised_ci_low": norm.get("ci_low"), "normalised_ci_high": norm.get("ci_high"),
                         "note": norm.get("reason")})
        c = first.get("ceiling") or {}
        rows.append({"figure": fig, "rung": "ceiling (human split-half)", "value": c.get("estimate"),
                     "ci_low": c.get("ci_low"), "ci_high": c.get("ci_high")})
    columns = ["figure", "rung", "value", "ci_low", "ci_high", "normalised", "normalised_ci_low",
               "normalised_ci_high", "note"]
    return pd.DataFrame(rows, columns=columns)


def individual_text(out: Path, human, cfg: dict, pop: dict, runs: dict[str, Path]) -> list[str]:
    """The individual level of the demographic runs (`individual_level`): individual_table.csv, the folds,
    seed and held-out respondents in individual_provenance.json, and its Markdown lines."""
    inventory = inventory_from_config(cfg["inventory"])
    responses = {m: pd.read_parquet(f / RESPONSES) for m, f in runs.items()}
    table, prov = individual_level(human, inventory, responses, float(pop.get("temperature", 1.0)),
                                   seed=int(pop.get("seed", 0)))
    atomic_write_text(out / "individual_table.csv", table.to_csv(index=False))
    atomic_write_text(out / "individual_provenance.json", json.dumps(prov, indent=2))
    shown = table[["method", "n_respondents"]].copy()
    for name in ("accuracy", "mae", "log_loss"):
        shown[name] = [with_ci(v, lo, hi) for v, lo, hi in
                       zip(table[name], table[f"{name}_ci_low"], table[f"{name}_ci_high"])]
    return [f"Individual level: each demographic persona predicts its own respondent's answers ({len(prov['held_out'])} "
            f"held out), beside baselines fitted on the other respondents ({prov['k_folds']} folds, seed "
            f"{prov['seed']}; marginal, ordinal regression on {', '.join(prov['demographics'])}, "
            f"{prov['k_neighbours']} nearest respondents); 95% intervals over respondents. Folds and held-out "
            "respondents: individual_provenance.json.", "", shown.to_markdown(index=False), ""]


def fidelity_table(cfg: dict, progress: bool = False) -> Path:
    """`cfg` is the fidelity_table config: the run config plus its `fidelity_table` section, which is
    split off so that each method's run sees (and hashes) the run config only."""
    from bench.config import freeze, validate
    from bench.config.tool_checks import run_part
    from bench.pipelines.run import run

    cfg = validate("fidelity_table", cfg)  # frozen from here on
    opts, cfg = cfg["fidelity_table"], freeze(run_part(cfg, "fidelity_table"), "config")  # checked with the tool's
    pop = resolve_population(cfg)
    if pop is None:
        raise PopulationError("fidelity_table needs a human population (population=psych_bfi, ...)")
    methods = opts.get("methods") or list(CONDITIONING_METHODS)
    human = load_human(pop)
    individual = wants_individual(human, methods)
    if individual:  # bad input named before any model work
        check_individual(human, [it.id for it in inventory_from_config(cfg["inventory"]).items])
    sections: dict[str, dict] = {}
    folders, demographic_runs = {}, {}
    for m, sub in method_configs(cfg, methods).items():
        folder = run(sub, progress=progress, print_summary=False)
        folders[m] = str(folder)
        if individual and m in DEMOGRAPHIC_METHODS:
            demographic_runs[m] = folder
        metrics = json.loads((folder / "metrics.json").read_text())
        for key, section in metrics.items():
            if key == "fidelity" or key.startswith("fidelity_"):
                sections[section.get("method", m)] = section
    order = ["none", "qa", "bio", "portray", "backstory_greedy", "backstory_maxweight"]
    sections = dict(sorted(sections.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))
    frame = table_rows(sections)
    digest = hashlib.sha256(json.dumps(folders, sort_keys=True).encode()).hexdigest()[:10]
    inv = cfg["inventory"].get("name") or Path(str(cfg["inventory"]["path"])).stem
    out = Path(cfg["results_dir"]) / f"fidelity-{inv}-{pop['name']}-{digest}"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "fidelity_table.csv", frame.to_csv(index=False))
    ref = next(iter(sections.values()), {}).get("reference", pop["name"])
    md = [f"# Fidelity to {ref}: {inv}, model {cfg['model']['id']}", "",
          "Lower is closer for WD, TV and Frobenius; alpha is the mean over traits (alpha_human on the items the "
          "model answered; alpha_human_all_items, when fewer were asked, on the whole instrument). The last row is "
          "the human split-half estimate: two random halves of the human sample compared with each other (its sd "
          "over splits, and its 95% interval over respondents and splits). It is an estimate, not a floor: each "
          "half holds half the people, and the model is compared with all of them.", "",
          frame.to_markdown(index=False, floatfmt=".4f"), "", "Run folders:", ""]
    ladder = ladder_rows(sections)
    if len(ladder):
        atomic_write_text(out / "fidelity_ladder.csv", ladder.to_csv(index=False))
        md[-2:-2] = ["Population ladder per figure (lower is closer): the floor is a population answering uniformly "
                     "(identity correlations), the ceiling the human split-half estimate; normalised fidelity "
                     "(floor - model) / (floor - ceiling) is 0 at the floor and 1 at the ceiling "
                     "(docs/fidelity-baselines.md).", "",
                     ladder.drop(columns="note" if ladder["note"].isna().all() else []).to_markdown(
                         index=False, floatfmt=".4f"), ""]
    if demographic_runs:
        md[-2:-2] = individual_text(out, human, cfg, pop, demographic_runs)
    md += [f"- {m}: `{f}`" for m, f in folders.items()]
    atomic_write_text(out / "fidelity_table.md", "\n".join(md) + "\n")
    atomic_write_text(out / "runs.json", json.dumps(folders, indent=2))
    print("\n".join(md))
    return out
