"""One run, end to end: config -> plan -> engine -> responses -> scores -> metrics -> summary.

`run(cfg)` takes the resolved config as a plain dict, so Hydra, tests and other tools call the
same function. The run folder is named by a hash of the config: the same command resumes.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pandas as pd
import yaml

from bench.administer import Administrator
from bench.engines import make_engine
from bench.inventory import Inventory, load_inventory
from bench.metrics import _jsonable, compute_metrics, score_participants
from bench.models import ModelSpec, resolve_model
from bench.plan import Plan, build_plan, expand_personas, select_templates
from bench.population import fidelity_for_run, personas_for
from bench.prompts import PromptRenderer
from bench.provenance import collect, config_hash, row_columns
from bench.report import fidelity_text, summary_text
from bench.store import RunStore, atomic_write_json, atomic_write_parquet, atomic_write_text


class RunError(ValueError):
    pass


def default_run_name(cfg: dict) -> str:
    parts = [cfg["model"]["id"] + ("+adapter" if cfg.get("adapter") else ""), _inventory_label(cfg),
             cfg["persona"].get("set", "persona"), cfg["scoring"], config_hash(cfg)[:10]]
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", "-".join(parts))


def _inventory_label(cfg: dict) -> str:
    return Path(str(cfg["inventory"]["path"])).stem if cfg["inventory"].get("path") else cfg["inventory"]["name"]


def run_dir_for(cfg: dict, personas_sha256: str | None = None) -> Path:
    """results/<run name>; personas built from a corpus add their text's hash, so rerunning after the
    person wrote more starts a new run instead of resuming the old one."""
    name = cfg.get("run_name") or default_run_name(cfg)
    if not cfg.get("run_name") and cfg["persona"].get("kind") and personas_sha256:
        name += f"-{personas_sha256[:8]}"
    return Path(cfg["results_dir"]) / name


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _claim_run_dir(run_dir: Path, cfg: dict, fingerprint: dict) -> None:
    """Refuse to resume into a folder whose parts came from another config, weights, file or packages."""
    saved, stamp = run_dir / "config.yaml", run_dir / "fingerprint.json"
    if saved.exists():
        previous = yaml.safe_load(saved.read_text()) or {}
        if config_hash(previous) != config_hash(cfg):
            old, new = _flatten(previous), _flatten(cfg)
            keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            raise RunError(f"{run_dir} holds a run with a different config ({', '.join(keys)}); choose "
                           "another run_name or remove the folder")
    if stamp.exists():
        before = json.loads(stamp.read_text())
        changed = sorted(k for k in fingerprint if before.get(k) != fingerprint[k])
        if changed:
            raise RunError(f"{run_dir}: {', '.join(changed)} changed since its parts were written; resuming "
                           "would mix results. Choose another run_name or remove the folder")
    atomic_write_text(saved, yaml.safe_dump(cfg, sort_keys=False))
    atomic_write_json(stamp, fingerprint)


def prepare(cfg: dict) -> tuple[Inventory, Plan, ModelSpec]:
    """Everything a run needs before any model work; bad input fails here, early and named."""
    inventory = load_inventory(cfg["inventory"].get("path") or cfg["inventory"]["name"])
    personas = personas_for(cfg) or expand_personas(cfg["persona"], inventory)
    templates = select_templates(cfg["prompt"], inventory.kind, cfg.get("templates"))
    plan = build_plan(inventory, personas, templates, cfg["option_orders"], cfg["temperatures"],
                      int(cfg["repetitions"]), int(cfg["seed"]), cfg["administration"], cfg.get("max_items"))
    return inventory, plan, resolve_model(cfg["model"], cfg.get("adapter"))


def open_engine(cfg: dict, spec: ModelSpec):
    options = {k: v for k, v in cfg["engine"].items() if k != "name" and v is not None}
    return make_engine(cfg["engine"]["name"], spec, seed=int(cfg["seed"]), **options)


def run(cfg: dict, progress: bool | None = None, print_summary: bool = True) -> Path:
    inventory, plan, spec = prepare(cfg)

    from transformers import AutoTokenizer

    renderer = PromptRenderer(AutoTokenizer.from_pretrained(spec.path), cfg["prompt"]["answer_prefix"])
    prov = collect(cfg, spec, inventory, cfg["engine"]["name"])
    admin = Administrator(plan, None, renderer, cfg["scoring"], int(cfg["batch_size"]),
                          int(cfg["max_new_tokens"]), row_columns(prov, cfg))
    longest = admin.longest_prompt()
    if longest + int(cfg["max_new_tokens"]) > spec.max_model_len:
        raise RunError(f"model '{spec.id}': the longest prompt of {inventory.id} ({cfg['administration']}) is "
                       f"{longest} tokens, over model.max_model_len={spec.max_model_len} less max_new_tokens; "
                       "raise model.max_model_len if the model allows it, or use administration=single")

    prov["personas_sha256"] = plan.personas_sha256()
    run_dir = run_dir_for(cfg, prov["personas_sha256"])
    run_dir.mkdir(parents=True, exist_ok=True)
    _claim_run_dir(run_dir, cfg, {"model_sha256": spec.sha256, "adapter_sha256": spec.adapter_sha256,
                                  "dtype": spec.dtype,  # model.dtype=auto differs between machines
                                  "inventory_sha256": inventory.sha256, "env_hash": prov["env_hash"],
                                  "personas_sha256": prov["personas_sha256"]})
    store = RunStore(run_dir)
    done = store.done_units()
    todo = [u for u in admin.units() if u.index not in done]
    started = time.time()
    if todo:
        admin.engine = open_engine(cfg, spec)
        try:
            admin.run(store, progress=cfg.get("progress", True) if progress is None else progress)
        finally:
            admin.engine.close()
    prov["administration_seconds"] = round(time.time() - started, 2)
    prov["n_units"] = len(admin.units())
    atomic_write_json(run_dir / "provenance.json", prov)

    store.finalize()
    responses = pd.read_parquet(run_dir / "responses.parquet")
    scores = score_participants(responses, inventory)
    atomic_write_parquet(run_dir / "scores.parquet", scores)
    metrics = compute_metrics(responses, scores, inventory)
    fidelity = fidelity_for_run(cfg, responses, inventory)
    if fidelity is not None:
        sections, table = fidelity
        for name, section in sections.items():
            metrics["fidelity" if len(sections) == 1 or name.endswith("maxweight") else f"fidelity_{name}"] = \
                _jsonable(section)
        atomic_write_text(run_dir / "fidelity.csv", table.to_csv(index=False))
    atomic_write_json(run_dir / "metrics.json", metrics)
    text = summary_text(cfg, prov, inventory, responses, scores, metrics, run_dir) + fidelity_text(metrics)
    atomic_write_text(run_dir / "summary.md", text)
    if print_summary:
        print(text)
    return run_dir
