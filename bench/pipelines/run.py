"""One run, end to end: config -> plan -> engine -> responses (+ prompt texts) -> scores -> metrics -> summary
-> results.json.

`run(cfg)` takes the resolved config as a plain dict, so Hydra, tests and other tools call the
same function. The run folder is named by a hash of the config: the same command resumes.

A run splits over processes with `workers=N`: `worker=i` computes worker i's share of the units into the one
run folder (the split keys are not in the hash), and the worker that finds every unit done finalises, exactly
as a run in one process does; `workers=N` alone starts the N workers here, then finalises; `finalize`
(`persona-bench sweep finalize`) only finalises, refusing while units are missing.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.administration import Administrator, Plan, PromptRenderer, build_plan, select_templates
from bench.config import freeze, thaw, validate
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
from bench.results.atomic import (FolderBusy, atomic_write_json, atomic_write_parquet, atomic_write_text, folder_lock,
                                  shared_folder_lock, worker_lock_name)
from bench.results.layout import CONFIG, FIDELITY, METRICS, PROVENANCE, RESPONSES, SCORES, SUMMARY
from bench.results.provenance import LEGACY_TOOL_KEYS, SPLIT_KEYS, collect, row_columns
from bench.results.results_json import run_files, write_results
from bench.results.run_folder import RunFolderError, claim_run_dir, make_run_dir, run_dir_for, saved_config
from bench.results.schema import RESPONSE_SCHEMA
from bench.results.store import RunStore
from bench.results.figures import RunData, write_figures
from bench.results.paper_tables import paper_tables_text
from bench.results.summary import figures_text, fidelity_text, spread_text, summary_text
from bench.results.workers import UnitsMissing, merged_facts, read_records, write_record


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


def run(cfg: dict, progress: bool | None = None, print_summary: bool = True, compute: bool = True,
        finalise: bool = True) -> Path:
    """Run a resolved run config; every value is checked first, as on the command line. compute=False only
    finalises (every unit must be done); a worker (`worker=i`) finalises only when it finds every unit done,
    and not at all with finalise=False (the workers `workers=N` starts here: it finalises itself)."""
    called = time.time()
    cfg = validate("config", cfg)  # frozen from here on: nothing below changes it
    given, workers, worker = cfg, cfg.get("workers"), cfg.get("worker")
    if any(k in cfg for k in SPLIT_KEYS):  # how many processes compute it is not part of the run
        cfg = freeze({k: v for k, v in thaw(cfg).items() if k not in SPLIT_KEYS}, "config")
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
    args = (cfg, run_dir, inventory, plan, spec, admin, prov, progress, print_summary)
    if worker is not None:
        return work_share(*args, workers, worker, finalise)
    if compute and (workers or 1) > 1:
        return start_workers(given, workers, *args)
    # One process per folder: a second one stops at once, naming the holder, rather than waiting hours
    # on a GPU allocation to redo (or sit through) the same model work; rerunning afterwards reuses its parts.
    with folder_lock(run_dir, wait_s=0):
        return administer_and_score(*args, compute=compute)


def work_share(cfg: dict, run_dir: Path, inventory: Inventory, plan: Plan, spec: ModelSpec, admin: Administrator,
               prov: dict, progress: bool | None, print_summary: bool, workers: int, worker: int,
               finalise: bool) -> Path:
    """Worker `worker` of `workers`: its share of the units into the run folder, holding its own lock and the run
    lock shared (no whole-run process meanwhile), then its record; it finalises when, holding the run lock alone,
    it finds every unit done (whichever worker ends last does)."""
    share = admin.share(workers, worker)
    mine, before = {u.index for u in share}, dict(prov)  # the finaliser takes every worker's facts from the records
    with folder_lock(run_dir, wait_s=0, name=worker_lock_name(worker)), shared_folder_lock(run_dir):
        claim(cfg, run_dir, inventory, spec, prov)
        store = RunStore(run_dir)
        store.recover({u.index: admin.unit_keys(u) for u in share}, RESPONSE_SCHEMA, units=mine)
        todo = [u for u in share if u.index not in store.done_units()]
        started = time.time()
        if todo:
            administer(cfg, spec, admin, store, prov, progress, share)
        write_record(run_dir, worker, workers, {
            "units": len(share), "computed": len(todo), "administration_seconds": round(time.time() - started, 2),
            **{k: prov[k] for k in ("first_batch_at", "model_seconds", *ENGINE_FACTS) if k in prov}})
    left = len(admin.units()) - len(RunStore(run_dir).done_units() & {u.index for u in admin.units()})
    if finalise and not left:
        try:
            with folder_lock(run_dir, wait_s=0):  # alone: every worker has let go of the run lock
                return administer_and_score(cfg, run_dir, inventory, plan, spec, admin, before, progress,
                                            print_summary, compute=False)
        except (FolderBusy, UnitsMissing):
            pass  # another worker holds it, and finalises when it lets go
    print(f"{run_dir}: worker {worker} of {workers}: its {len(share)} units done ({len(todo)} computed now); "
          f"{left} of the run's {len(admin.units())} units are not done yet", file=sys.stderr)
    return run_dir


def worker_process(cfg: dict) -> None:
    """One of the workers `workers=N` starts as a local process: its share, no finalising, an error as one line.
    Each computes on its share of the machine's cores (unless OMP_NUM_THREADS says otherwise): N processes each
    using every core run ~3x slower than N on their own share."""
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // int(cfg["workers"])))
    try:
        run(cfg, progress=False, print_summary=False, finalise=False)
    except BenchError as err:
        print(f"error: worker {cfg['worker']}: {err}", file=sys.stderr)
        sys.exit(2)


def start_workers(given: dict, workers: int, cfg: dict, run_dir: Path, inventory: Inventory, plan: Plan,
                  spec: ModelSpec, admin: Administrator, prov: dict, progress: bool | None,
                  print_summary: bool) -> Path:
    """`workers=N` without `worker`: the N workers as local processes, each given the config as the user gave it
    (each loads its own engine), then the finaliser, which refuses, naming the units, when a worker failed."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter each: no forked torch or engine state
    procs = [ctx.Process(target=worker_process, args=({**thaw(given), "workers": workers, "worker": i},))
             for i in range(workers)]
    print(f"{run_dir}: {workers} workers as local processes", file=sys.stderr)
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join()
    with folder_lock(run_dir, wait_s=0):
        return administer_and_score(cfg, run_dir, inventory, plan, spec, admin, prov, progress, print_summary,
                                    compute=False)


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


def claim(cfg: dict, run_dir: Path, inventory: Inventory, spec: ModelSpec, prov: dict) -> None:
    """The run folder claimed for this config and fingerprint (weights, instrument, packages, personas)."""
    claim_run_dir(run_dir, cfg, {"model_sha256": spec.sha256, "adapter_sha256": spec.adapter_sha256,
                                  "dtype": spec.dtype,  # model.dtype=auto differs between machines
                                  "inventory_sha256": inventory.sha256, "env_hash": prov["env_hash"],
                                  "personas_sha256": prov["personas_sha256"]})


def administer(cfg: dict, spec: ModelSpec, admin: Administrator, store: RunStore, prov: dict,
               progress: bool | None, units=None) -> None:
    """The model work: the units (of `units`, a worker's share, or of the plan) the store has no part for."""
    with engine_for(cfg, spec) as engine:
        first = time.time()  # start-up cost: this less run_started_at (docs/performance.md)
        prov["first_batch_at"] = round(first, 3)
        adopt_engine_scoring(admin, engine, prov)
        admin.run(engine, store, progress=cfg.get("progress", True) if progress is None else progress, units=units)
        prov["model_seconds"] = round(time.time() - first, 2)  # the batches themselves


def administer_and_score(cfg: dict, run_dir: Path, inventory: Inventory, plan: Plan, spec: ModelSpec,
                         admin: Administrator, prov: dict, progress: bool | None, print_summary: bool,
                         compute: bool = True) -> Path:
    """Everything that writes into the run folder; called with its lock held. compute=False: the finaliser,
    which computes no unit and refuses (UnitsMissing) while any is not done."""
    claim(cfg, run_dir, inventory, spec, prov)
    store = RunStore(run_dir)
    store.recover({u.index: admin.unit_keys(u) for u in admin.units()}, RESPONSE_SCHEMA)
    done = store.done_units()
    todo = [u for u in admin.units() if u.index not in done]
    if todo and not compute:
        raise UnitsMissing(run_dir, [u.index for u in todo], len(admin.units()))
    started = time.time()
    if todo:
        administer(cfg, spec, admin, store, prov, progress)
    if not todo and (run_dir / PROVENANCE).is_file():  # a finished run: what its engine said then
        old = json.loads((run_dir / PROVENANCE).read_text())
        prov.update({k: v for k, v in old.items() if k in ENGINE_FACTS})
    records = read_records(run_dir)
    if records:  # a split run: what its workers' engines said, and their timings
        prov.update({k: v for k, v in merged_facts(records, ENGINE_FACTS).items() if k == "workers" or k not in prov})
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


def saved_run(run_dir: Path | str, progress: bool) -> dict:
    """A run folder's saved config, checked, pointing back at that folder (same hash, same folder)."""
    run_dir = Path(run_dir).resolve()
    saved = run_dir / CONFIG
    if not saved.is_file():
        raise RunFolderError(f"{run_dir}: no config.yaml, not a run folder")
    cfg = saved_config(run_dir)
    for key in LEGACY_TOOL_KEYS:  # saved by runs made before the tools had their own configs
        cfg.pop(key, None)
    cfg.update(results_dir=str(run_dir.parent), run_name=run_dir.name, progress=progress)
    return validate("config", cfg, source=saved)


def rerun(run_dir: Path | str, progress: bool = False) -> Path:
    """Run one job again from its saved config: same hash, same folder, so only missing parts are computed."""
    return run(saved_run(run_dir, progress), print_summary=False)


def finalize(run_dir: Path | str) -> Path:
    """Finalise a run whose units its workers computed: the tables, metrics and summary a run in one process
    writes, with no model work; UnitsMissing names the units not done."""
    return run(saved_run(run_dir, False), print_summary=False, compute=False)
