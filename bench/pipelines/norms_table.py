"""`persona-bench norms-table`: several instruments against their human norms, one table.

Each instrument of `norms_table.inventories` (shipped names or files with `norms`, e.g. bfi) and each
scale of `norms_table.scales` (read from PsychoBench's questionnaires.json at `norms_table.path`) is one
ordinary run of the run config (resumable, with provenance); their `human_norms` rows are gathered,
PsychoBench style, into results/norms-table-<model>-<config hash>/norms_table.csv and .md.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd

from bench.config import validate
from bench.config.tool_checks import run_part
from bench.instruments import inventory_node
from bench.pipelines.run import run
from bench.results.atomic import atomic_write_text
from bench.results.provenance import config_hash
from bench.results.run_folder import make_run_dir
from bench.results.summary import markdown_table

SHOWN = {"instrument": "instrument", "trait": "trait", "group": "human group", "model_mean": "model mean",
         "model_sd": "model SD", "model_n": "model n", "human_mean": "human mean", "human_sd": "human SD",
         "human_n": "human n", "diff_sd": "diff (human SDs)", "diff_sd_ci_low": "95% low",
         "diff_sd_ci_high": "95% high", "welch_t": "Welch t", "p": "p"}


def instrument_configs(cfg: dict) -> dict[str, dict]:
    """label -> the run config of that instrument."""
    opts, base = cfg["norms_table"], run_part(cfg, "norms_table")
    nodes = {spec: inventory_node(spec) for spec in opts.get("inventories") or []}
    nodes.update({f"psychobench:{s}": {"name": "psychobench", "path": opts["path"], "scale": s}
                  for s in opts.get("scales") or []})
    return {label: {**copy.deepcopy(base), "inventory": node, "run_name": None} for label, node in nodes.items()}


def norms_table(cfg: dict, progress: bool | None = None) -> Path:
    """Run each instrument (ordinary, resumable runs), gather their human_norms rows into norms_table.csv
    and .md, and return that folder."""
    cfg = validate("norms_table", cfg)  # frozen from here on
    rows, runs = [], {}
    for label, sub in instrument_configs(cfg).items():
        folder = run(sub, progress=progress, print_summary=False)
        runs[label] = str(folder)
        section = json.loads((folder / "metrics.json").read_text()).get("human_norms") or {"rows": []}
        rows += [{"instrument": label, **r, "run": str(folder)} for r in section["rows"]]
    table = pd.DataFrame(rows)
    base = run_part(cfg, "norms_table")
    out = Path(base["results_dir"]) / f"norms-table-{base['model']['id']}-{config_hash(cfg)[:10]}"
    make_run_dir(out)
    atomic_write_text(out / "norms_table.csv", table.to_csv(index=False))
    text = "\n".join([
        f"# persona-bench norms table: {base['model']['id']}, persona set {base['persona'].get('set')}", "",
        "Model minus humans in human SD units (95% interval from Welch's t interval of the mean difference); "
        "Welch's t on the summary statistics, as PsychoBench reports. Model n counts personas, each the mean of "
        "its participants: templates, orders, temperatures and repetitions of one persona are repeated measures, "
        "not independent people. Rows without a test (no p) had no spread or fewer than 3 personas.", "",
        markdown_table(table[list(SHOWN)].rename(columns=SHOWN)) if len(table) else "(no instrument had norms)", "",
        "Runs: " + "; ".join(f"{k}: {v}" for k, v in runs.items()), ""])
    atomic_write_text(out / "norms_table.md", text)
    print(text)
    print(f"written to {out}")
    return out
