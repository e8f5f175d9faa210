"""One run, end to end: config -> plan -> engine -> responses (+ prompt texts) -> scores -> metrics -> summary
-> results.json.

`run(cfg)` takes the resolved config as a plain dict, so Hydra, tests and other tools call the
same function. The run folder is named by a hash of the config: the same command resumes.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.administration import Administrator, Plan, PromptRenderer, build_plan, select_templates
from bench.config import freeze, validate
from bench.engines import Engine, ModelSpec, engine_for, load_tokenizer, resolve_model
from bench.errors import BenchError
from bench.instruments import Inventory, inventory_from_config
from bench.metrics import compute_metrics, jsonable, score_participants
from bench.metrics.uncertainty import drop_outside
from bench.personas import build_personas
from bench.populations.fidelity import fidelity_for_run, spread_for_run
from bench.populations.reference_fidelity import split_half_warnings
from bench.populations.reference import expand_population, human_norms, load_human, norms_group, \
    population_instrument, resolve_population
from bench.results.atomic import atomic_write_json, atomic_write_parquet, atomic_write_text, folder_lock
from bench.results.layout import CONFIG, FIDELITY, METRICS, PROVENANCE, RESPONSES, SCORES, SUMMARY
from bench.results.provenance import LEGACY_TOOL_KEYS, collect, row_columns
from bench.results.results_json import run_files, write_results
from bench.results.run_folder import RunFolderError, claim_run_dir, make_run_dir, run_dir_for, saved_config
from bench.results.schema import RESPONSE_SCHEMA
from bench.results.store import RunStore
from bench.results.figures import RunData, write_figures
from bench.results.paper_tables import paper_tables_text
from bench.results.summary import figures_text, fidelity_text, spread_text, summary_text


class RunError(BenchError):
    """A run that cannot start as configured (e.g. prompts longer than the model allows)."""


def prepare(cfg: dict, personas=None) -> tuple[Inventory, Plan, ModelSpec]:
    """Everything a run needs before any model work; bad input fails here, early and named.

    `personas` replaces the configured set (a dry run must not write backstories to plan them)."""
    inventory = inventory_from_config(cfg["inventory"])
    if personas is None:
        personas = build_personas(cfg, inventory)
    templates = select_templates(cfg["prompt"], inventory.kind, cfg.get("templates"))
    plan = build_plan(inventory, personas, templates, cfg["option_orders"], cfg["temperatures"],
                      int(cfg["repetitions"]), int(cfg["seed"]), cfg["administration"], cfg.get("max_items"))
    return inventory, plan, resolve_model(cfg["model"], cfg.get("adapter"))


def backstory_demographics(cfg: dict, pop: dict) -> dict[str, dict[str, np.ndarray]]:
    """Each backstory's answer distribution over each demographic question (exact, logprob mode).

    A run of its own, in its own folder: the same backstory personas asked the population's demographic
    survey. The distribution is what Anthology estimates from several samples per question; here it comes
    from one forward pass, at temperature 1, over the original option order and every template.
    """
    sub = copy.deepcopy(cfg)
    sub["inventory"] = {"name": pop["demographics"], "path": None}
    sub["population"] = {"name": "none"}
    sub.update(scoring="logprob", administration="single", temperatures=[1.0], repetitions=1,
               option_orders=["original"], max_items=None, run_name=None, templates=None)
    folder = run(sub, progress=False, print_summary=False)
    responses = pd.read_parquet(folder / RESPONSES, columns=["persona_id", "item_id", "option_probs"])
    out: dict[str, dict[str, np.ndarray]] = {}
    for (pid, qid), g in responses.groupby(["persona_id", "item_id"], sort=False):
        out.setdefault(pid, {})[qid] = np.mean(np.stack([np.asarray(p, float) for p in g["option_probs"]]), axis=0)
    return out


def by_author(cfg: dict) -> bool:
    """Personas written from people's corpora: each batch holds one person's prompts (Administrator)."""
    from bench.personas.text import KINDS

    return (cfg.get("persona") or {}).get("kind") in KINDS


def run(cfg: dict, progress: bool | None = None, print_summary: bool = True) -> Path:
    """Run a resolved run config; every value is checked first, as on the command line."""
    called = time.time()
    cfg = validate("config", cfg)  # frozen from here on: nothing below changes it
    expanded = expand_population(cfg)  # a population file's content is part of the run: in config.yaml and its hash
    if expanded is not cfg:
        cfg = freeze(expanded, "config")  # derived from a validated config: valid as it stands
    inventory, plan, spec = prepare(cfg)

    renderer = PromptRenderer.from_config(load_tokenizer(spec.path), cfg["prompt"])
    prov = collect(cfg, spec, inventory, cfg["engine"]["name"], renderer.format)
    admin = Administrator(plan, renderer, cfg["scoring"], int(cfg["batch_size"]),
                          int(cfg["max_new_tokens"]), row_columns(prov, cfg), group_by_persona=by_author(cfg),
                          keep_prompt_texts=not by_author(cfg))
    longest = admin.longest_prompt()
    if longest + int(cfg["max_new_tokens"]) > spec.max_model_len:
        raise RunError(f"model '{spec.id}': the longest prompt of {inventory.id} ({cfg['administration']}) is "
                       f"{longest} tokens, over model.max_model_len={spec.max_model_len} less max_new_tokens; "
                       "raise model.max_model_len if the model allows it, or use administration=single")

    prov["personas_sha256"] = plan.personas_sha256()
    prov["run_started_at"] = round(called, 3)  # when run() was called, and (below) when the first batch went
    run_dir = run_dir_for(cfg, prov["personas_sha256"])
    make_run_dir(run_dir)
    # One process per folder: a second one stops at once, naming the holder, rather than waiting hours
    # on a GPU allocation to redo (or sit through) the same model work; rerunning afterwards reuses its parts.
    with folder_lock(run_dir, wait_s=0):
        return administer_and_score(cfg, run_dir, inventory, plan, spec, admin, prov, progress, print_summary)


ENGINE_FACTS = ("engine_scoring", "engine_server", "engine_model", "scoring")  # from Engine.provenance and the fallback


def adopt_engine_scoring(admin: Administrator, engine: Engine, prov: dict) -> None:
    """A server that gives no label log-probs (engine=openai): a logprob run samples and parses instead,
    and its provenance and rows say so."""
    facts = engine.provenance()
    if facts.get("engine_scoring") == "sample-fallback" and admin.scoring == "logprob":
        admin.scoring = "sample"
        admin.constants["scoring_mode"] = "sample"
        facts["scoring"] = "sample"
        print(f"warning: engine {prov['engine']}: no label log-probs from {facts.get('engine_server')}; "
              "sampling answers and parsing them (scoring=sample)", file=sys.stderr)
    prov.update(facts)


def administer_and_score(cfg: dict, run_dir: Path, inventory: Inventory, plan: Plan, spec: ModelSpec,
                         admin: Administrator, prov: dict, progress: bool | None, print_summary: bool) -> Path:
    """Everything that writes into the run folder; called with its lock held."""
    claim_run_dir(run_dir, cfg, {"model_sha256": spec.sha256, "adapter_sha256": spec.adapter_sha256,
                                  "dtype": spec.dtype,  # model.dtype=auto differs between machines
                                  "inventory_sha256": inventory.sha256, "env_hash": prov["env_hash"],
                                  "personas_sha256": prov["personas_sha256"]})
    store = RunStore(run_dir)
    store.recover({u.index: admin.unit_keys(u) for u in admin.units()}, RESPONSE_SCHEMA)
    done = store.done_units()
    todo = [u for u in admin.units() if u.index not in done]
    started = time.time()
    if todo:
        with engine_for(cfg, spec) as engine:
            first = time.time()  # start-up cost: this less run_started_at (docs/performance.md)
            prov["first_batch_at"] = round(first, 3)
            adopt_engine_scoring(admin, engine, prov)
            admin.run(engine, store, progress=cfg.get("progress", True) if progress is None else progress)
            prov["model_seconds"] = round(time.time() - first, 2)  # the batches themselves
    if not todo and (run_dir / PROVENANCE).is_file():  # a finished run: what its engine said then
        old = json.loads((run_dir / PROVENANCE).read_text())
        prov.update({k: v for k, v in old.items() if k in ENGINE_FACTS})
    prov["administration_seconds"] = round(time.time() - started, 2)
    prov["n_units"] = len(admin.units())
    atomic_write_json(run_dir / PROVENANCE, prov)

    if admin.keep_prompt_texts:
        keep_prompts(store, admin)
    store.finalize()
    if admin.keep_prompt_texts:
        store.finalize_prompts()
    responses = pd.read_parquet(run_dir / RESPONSES)
    if "scoring" in prov:  # the engine fell back to sampling: what follows reads the scoring that ran
        cfg = {**cfg, "scoring": prov["scoring"]}
    scores = score_participants(responses, inventory)
    atomic_write_parquet(run_dir / SCORES, scores)
    pop = resolve_population(cfg)
    human = None
    if pop and not inventory.norms and population_instrument(pop) == inventory.id:  # psych::bfi for ipip25
        human = load_human(pop)  # scored on the items the model answered (max_items), as the model is
        inventory = dataclasses.replace(inventory, norms=human_norms(human, inventory, [it.id for it in plan.items],
                                                                     norms_group(human, pop)))
    metrics = compute_metrics(responses, scores, inventory, seed=int(cfg["seed"]), n_boot=prov["n_boot"])
    spread = spread_for_run(scores, inventory, human, [it.id for it in plan.items], (pop or {}).get("temperature"),
                            seed=int(cfg["seed"]), n_boot=prov["n_boot"])
    if spread is not None:  # several personas beside the people (or the norms): persona collapse said aloud
        metrics["warnings"] = [*(metrics.get("warnings") or []), *spread.pop("warnings")]
        metrics["spread"] = jsonable(spread)
        metrics["warnings"] += drop_outside({"spread": metrics["spread"]})
    # backstories are matched to respondents through the population's demographic survey; group counts
    # (OpinionQA) have no respondents, and the backstory population is compared unweighted
    matched = pop and cfg["persona"].get("set") == "backstory" and pop.get("demographics")
    persona_probs = backstory_demographics(cfg, pop) if matched else None
    fidelity = fidelity_for_run(cfg, responses, inventory, persona_probs)
    if fidelity is not None:
        sections, table = fidelity
        for name, section in sections.items():
            metrics["fidelity" if len(sections) == 1 or name.endswith("maxweight") else f"fidelity_{name}"] = \
                jsonable(section)
            if split_half_warnings(section):
                metrics["warnings"] = [*(metrics.get("warnings") or []), *split_half_warnings(section)]
        atomic_write_text(run_dir / FIDELITY, table.to_csv(index=False))
        metrics["warnings"] = [*metrics.get("warnings", []), *drop_outside(metrics)]  # the fidelity sections' intervals
    atomic_write_json(run_dir / METRICS, metrics)
    drawn = write_figures(run_dir, RunData(metrics, scores, responses, fidelity[1] if fidelity else None))
    for w in metrics.get("warnings") or []:  # figures that cannot be trusted, said aloud, not only in the files
        print(f"warning: {w['figure']}: {w['reason']}", file=sys.stderr)
    text = (summary_text(cfg, prov, inventory, responses, scores, metrics, run_dir) + fidelity_text(metrics)
            + spread_text(metrics) + paper_tables_text(metrics) + figures_text(drawn))
    atomic_write_text(run_dir / SUMMARY, text)
    write_results(run_dir, "run", cfg, prov, metrics, run_files(run_dir))
    if print_summary:
        print(text)
    return run_dir


def keep_prompts(store: RunStore, admin: Administrator) -> None:
    """Render again (no model work) the prompt texts of done units that lack them: parts written before
    prompt texts were kept, or whose prompts file failed its check."""
    missing = store.check_prompts()
    if not missing:
        return
    units = {u.index: u for u in admin.units()}
    history = admin.history(store) if admin.plan.administration == "conversation" else {}
    for k in missing:
        store.write_vouched(store.prompts_path(k), k, admin.unit_prompts(units[k], history))


def rerun(run_dir: Path | str, progress: bool = False) -> Path:
    """Run one job again from its saved config: same hash, same folder, so only missing parts are computed."""
    run_dir = Path(run_dir).resolve()
    saved = run_dir / CONFIG
    if not saved.is_file():
        raise RunFolderError(f"{run_dir}: no config.yaml, not a run folder")
    cfg = saved_config(run_dir)
    for key in LEGACY_TOOL_KEYS:  # saved by runs made before the tools had their own configs
        cfg.pop(key, None)
    cfg.update(results_dir=str(run_dir.parent), run_name=run_dir.name, progress=progress)
    return run(validate("config", cfg, source=saved), print_summary=False)
