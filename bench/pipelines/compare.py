"""`persona-bench compare`: runs of different models on one design, side by side.

Each entry of `compare.models` is one ordinary run of the run config with that model (bench.pipelines.run:
its own resumable, provenanced folder, with the hash it has when run alone), and each folder of
`compare.runs` is a finished run made before. Runs whose designs differ (inventory, personas, templates,
orders, temperatures, repetitions, seed, scoring, ...) are refused, naming the field and both values:
only the model (and its engine, adapter, batch size and output place) may differ. The comparison
(bench.metrics.comparison; each model against the first) goes to results_dir/compare-<hash>, named by
the compared runs' config hashes, and is recomputed from the runs each time.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import yaml

from bench.config import validate
from bench.config.tool_checks import compare_models, run_part
from bench.errors import BenchError, cli_value
from bench.hashing import digest, without_defaults
from bench.instruments import inventory_from_config
from bench.mappings import flatten
from bench.metrics import comparison as cmp
from bench.metrics import jsonable
from bench.pipelines.run import run
from bench.populations.reference import expand_population
from bench.metrics.paper_tables import stack_runs
from bench.results.outdir import OwnedFolder
from bench.results.paper_tables import TablesError, paper_tables_text, run_tables
from bench.results.provenance import ADDED_DEFAULTS, LEGACY_TOOL_KEYS, NON_RESULT_KEYS, config_hash, git_commit
from bench.results.run_folder import saved_config
from bench.results.summary import markdown_table, warnings_text, with_ci

# What may differ between compared runs: the model and how or where it ran (output folder, progress, worker
# split: what the config hash leaves out too), not what it was asked.
NOT_DESIGN = ("model", "adapter", "engine", "batch_size", *NON_RESULT_KEYS, *LEGACY_TOOL_KEYS)
MANIFEST = "compare_manifest.json"
FILES = ("compare.json", "summary.md", "comparison.csv", "compare_config.yaml")


class CompareError(BenchError):
    """Runs that cannot be compared: different designs, a damaged or unfinished run folder."""


def design(cfg: dict) -> dict:
    """The flat design of a run config: everything but the model and where or how it ran."""
    kept = {k: v for k, v in cfg.items() if k not in NOT_DESIGN}
    return flatten(without_defaults(kept, ADDED_DEFAULTS))


def design_difference(a: dict, b: dict) -> tuple[str, object, object] | None:
    """The first design field on which two run configs differ, with both values; None when alike."""
    da, db = design(a), design(b)
    for key in sorted(da.keys() | db.keys()):
        if da.get(key, "(absent)") != db.get(key, "(absent)"):
            return key, da.get(key, "(absent)"), db.get(key, "(absent)")
    return None


def read_run(folder: Path) -> dict:
    """A finished run folder's config, metrics, scores and responses, damage named."""
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
        scores = pd.read_parquet(folder / "scores.parquet")
        responses = pd.read_parquet(folder / "responses.parquet")
    except Exception as err:  # json and pyarrow raise several kinds for a damaged file
        raise CompareError(f"{folder}: cannot read the run's results ({type(err).__name__}: "
                           f"{str(err).splitlines()[0][:200] if str(err) else ''})") from None
    if not isinstance(metrics, dict) or "trait_summary" not in metrics:
        raise CompareError(f"{folder}: metrics.json has no trait scores (a survey run has none to compare)")
    return {"folder": folder, "config": saved_config(folder), "metrics": metrics, "scores": scores,
            "responses": responses}


def run_label(cfg: dict, folder: Path, taken: set[str]) -> str:
    """A run folder's model id (+adapter), or its folder name when another compared run has that id."""
    label = str(cfg.get("model", {}).get("id")) + ("+adapter" if cfg.get("adapter") else "")
    return folder.name if label in taken else label


def check_designs(reference: tuple[str, dict], others: list[tuple[str, dict]]) -> None:
    """Refuse runs whose design differs from the reference's in anything but the model: their differences
    would not be the model's."""
    for label, cfg in others:
        found = design_difference(reference[1], cfg)
        if found:
            key, a, b = found
            raise CompareError(f"{label} and {reference[0]} have different designs: {key}={cli_value(a)} in "
                               f"{reference[0]}, {key}={cli_value(b)} in {label}; compare runs of one design "
                               "(only the model may differ)")


def analyse(runs: dict[str, dict], inventory, seed: int) -> dict:
    """Every comparison table of bench.metrics.comparison, from the runs' tables (first = reference)."""
    scores = {m: r["scores"] for m, r in runs.items()}
    responses = {m: r["responses"] for m, r in runs.items()}
    metrics = {m: r["metrics"] for m, r in runs.items()}
    labels = list(runs)
    out = {"traits": cmp.trait_comparison(scores), "profiles": cmp.persona_profiles(scores),
           "label_mass": cmp.label_mass_comparison(responses),
           "reliability": cmp.side_by_side(metrics, "reliability", ("alpha", "omega"), keys=("trait",)),
           "human_norms": cmp.side_by_side(metrics, "human_norms.rows", ("diff_sd",), keys=("trait", "group")),
           "alpha_difference": pd.concat([cmp.alpha_difference(responses[m], responses[labels[0]], inventory, seed=seed)
                                          .assign(model=m) for m in labels[1:]], ignore_index=True),
           "fidelity": pd.concat([cmp.side_by_side(metrics, k, cmp.FIDELITY_FIGURES) for k in
                                  dict.fromkeys(k for m in metrics.values() for k in m
                                                if k == "fidelity" or k.startswith("fidelity_"))]
                                 or [pd.DataFrame()], ignore_index=True),
           "position_effect": cmp.side_by_side(metrics, "position_bias", ("effect",))}
    shares = {m: cmp.position_shares(r, inventory, seed=seed) for m, r in responses.items()}
    out["position_shares"] = pd.concat([s.assign(model=m) for m, s in shares.items()], ignore_index=True)
    out["position_test"] = cmp.position_test(shares)
    if all(isinstance(m.get("mbti"), dict) for m in metrics.values()):
        counts = {m: (round((x["mbti"]["accuracy"].get("exact") or 0) * x["mbti"]["accuracy"]["n"]),
                      int(x["mbti"]["accuracy"]["n"])) for m, x in metrics.items()}
        out["type_accuracy"] = cmp.accuracy_comparison(counts)
    n_personas = {m: int(s["persona_id"].nunique()) for m, s in scores.items()}
    out["warnings"] = cmp.comparison_warnings(metrics, n_personas, out["label_mass"])
    return out


def cell(row: dict, value: str = "mean", prefix: str = "") -> str:
    """A figure (`prefix` + `value` in the row) with its 95% interval, as the report's tables print it."""
    return with_ci(row.get(f"{prefix}{value}"), row.get(f"{prefix}ci_low"), row.get(f"{prefix}ci_high"))


def diff_cell(row: dict) -> str:
    """A difference from the reference with its interval and p; "reference" on the reference's own row."""
    if row.get("reference"):
        return "reference"
    p = row.get("p")
    return with_ci(row["diff"], row["diff_ci_low"], row["diff_ci_high"]) + ("" if pd.isna(p) else f", p={p:.3g}")


def wide(table: pd.DataFrame, index: list[str], render) -> pd.DataFrame:
    """One column per model (its cells rendered), one row per `index` value."""
    if table.empty:
        return table
    shown_ = table.assign(cell=[render(r) for r in table.to_dict(orient="records")])
    return shown_.pivot_table(index=index, columns="model", values="cell", aggfunc="first", sort=False) \
        .reindex(columns=list(dict.fromkeys(table["model"]))).reset_index()


def summary(result: dict, runs: dict[str, dict], out: Path, alpha: float) -> str:
    """summary.md of a comparison: each table of `analyse`, one column per model, differences against the
    first run (the reference) tested at level `alpha`."""
    labels = list(runs)
    ref = labels[0]
    result = {k: v.assign(reference=v["model"] == ref) if isinstance(v, pd.DataFrame) and "model" in v else v
              for k, v in result.items()}
    t = result["traits"]
    lines = [f"# persona-bench compare: {' vs '.join(labels)}", "",
             f"{result['design']}; results: {out}", "",
             "Runs: " + "; ".join(f"{m}: {r['folder']}" for m, r in runs.items()), "",
             f"Each figure with its 95% interval; differences are each model minus {ref} (the first), with a 95% "
             f"interval and p (tests at level {alpha:g}).", "",
             "## Trait means (over personas; difference: Welch over persona means)",
             markdown_table(wide(t, ["trait"], lambda r: cell(r) + ("" if r["reference"] else
                                                                    f"; diff {diff_cell(r)}")))]
    sig = t[t["p"] < alpha]
    lines.append("")
    lines.append(f"traits that differ at level {alpha:g}: " + (", ".join(f"{r.trait} ({r.model})" for r in sig.itertuples())
                                                               if len(sig) else "none"))
    lines += ["", "## Trait profile per persona (mean over conditions; difference: Welch over conditions)",
              markdown_table(wide(result["profiles"], ["persona_id", "trait"],
                                  lambda r: cell(r) + ("" if r["reference"] else f"; diff {diff_cell(r)}")))]
    if "type_accuracy" in result:
        acc = result["type_accuracy"]
        lines += ["", "## Type accuracy (Wilson; difference: Newcombe interval, two-proportion z-test)",
                  markdown_table(pd.DataFrame({"model": acc["model"], "n": acc["n"],
                                               "accuracy": [cell(r, "accuracy") for r in acc.to_dict("records")],
                                               "difference": [diff_cell(r) for r in acc.to_dict("records")]}))]
    rel = result["reliability"]
    if not rel.empty:
        rel_wide = wide(rel, ["trait", "figure"], lambda r: with_ci(r["value"], r["ci_low"], r["ci_high"], r["warning"]))
        lines += ["", "## Reliability (alpha: Feldt interval; omega: cluster bootstrap)", markdown_table(rel_wide)]
        ad = result["alpha_difference"]
        if not ad.empty:
            lines += ["", f"alpha difference from {ref} (cluster bootstrap over the shared personas):",
                      markdown_table(pd.DataFrame({"model": ad["model"], "trait": ad["trait"],
                                                   "difference": [diff_cell({**r, "p": None, "reference": False}) for r in
                                                                  ad.to_dict("records")]}))]
    norms = result["human_norms"]
    if not norms.empty:
        lines += ["", "## Against human norms (model minus human mean, in human SDs; Welch interval)",
                  markdown_table(wide(norms, ["trait", "group"], lambda r: with_ci(r["value"], r["ci_low"], r["ci_high"])))]
    if not result["fidelity"].empty:
        lines += ["", "## Human fidelity (distance to the human reference; lower is closer)",
                  markdown_table(wide(result["fidelity"], ["figure"],
                                      lambda r: with_ci(r["value"], r["ci_low"], r["ci_high"])))]
    shares = result["position_shares"]
    if not shares.empty:
        lines += ["", "## Position bias: answer share by shown option position (cluster bootstrap over personas)",
                  markdown_table(wide(shares, ["option_order", "position"], lambda r: cell(r, "share")))]
        test = result["position_test"]
        for r in test.to_dict("records"):
            if pd.isna(r["p"]):
                lines.append(f"- {r['model']} vs {ref}, {r['option_order']} order: no test, every answer of both "
                             "lands on one shown position")
                continue
            lines.append(f"- {r['model']} vs {ref}, {r['option_order']} order: chi-square {r['chi2']:.2f} on "
                         f"{r['dof']} df, p={r['p']:.3g} (answers counted as independent: a screening figure)")
        eff = result["position_effect"]
        if not eff.empty:
            lines.append("- position effect (log-linear model over orders; 0: none): " + "; ".join(
                f"{r['model']} {with_ci(r['value'], r['ci_low'], r['ci_high'])}" for r in eff.to_dict("records")))
    mass = result["label_mass"]
    if not mass.empty:
        lines += ["", "## Label mass (probability on the option labels; mean over personas, Welch difference)",
                  markdown_table(pd.DataFrame({"model": mass["model"], "label mass": [cell(r) for r in mass.to_dict("records")],
                                               "difference": [diff_cell(r) for r in mass.to_dict("records")]}))]
    lines += warnings_text(result["warnings"])
    lines += ["", "Every number: compare.json; one long table: comparison.csv"]
    return "\n".join(lines) + "\n"


def long_table(result: dict) -> pd.DataFrame:
    """All comparison tables as one, a `section` column naming each."""
    parts = [df.assign(section=name) for name, df in result.items() if isinstance(df, pd.DataFrame) and not df.empty]
    table = pd.concat(parts, ignore_index=True)
    return table[["section", *[c for c in table.columns if c != "section"]]]


def stacked_paper_tables(runs: dict[str, dict]) -> dict[str, pd.DataFrame]:
    """The runs' paper tables (trait scores, type accuracy... per persona x temperature) stacked under a
    `model` column; none when a compared run was made before runs wrote them."""
    try:
        return stack_runs({label: run_tables(r["folder"]) for label, r in runs.items()})
    except TablesError:
        return {}


def compare(cfg: dict, progress: bool | None = None) -> Path:
    """Run each model of the design (or reuse its run), read the given run folders, compare them all."""
    cfg = validate("compare", cfg)  # frozen from here on
    opts = cfg["compare"]
    base = run_part(cfg, "compare")
    models = compare_models(cfg)
    given = [Path(f).expanduser() for f in opts["runs"] or []]
    planned = [(label, {**copy.deepcopy(base), "model": node, "run_name": None}) for label, node in models]
    taken = {label for label, _ in planned}
    folders = []
    for folder in given:
        label = run_label(saved_config(folder), folder, taken)
        if label in taken:
            raise CompareError(f"compare.runs: {folder} and another compared run are both {label}; compare each once")
        taken.add(label)
        folders.append((label, folder))
    configs = [(label, expand_population(c)) for label, c in planned] + \
              [(label, saved_config(f)) for label, f in folders]
    check_designs(configs[0], configs[1:])  # before any model work

    runs: dict[str, dict] = {}
    for label, sub in planned:
        runs[label] = read_run(run(sub, progress=progress, print_summary=False))
    for label, folder in folders:
        runs[label] = read_run(folder)
    labels = list(runs)
    first = runs[labels[0]]["config"]
    inventory = inventory_from_config(first["inventory"])
    seed = int(first.get("seed") or 0)
    result = analyse(runs, inventory, seed)
    result["paper_tables"] = stacked_paper_tables(runs)
    hashes = {m: config_hash(r["config"]) for m, r in runs.items()}
    key = digest({"runs": list(hashes.items()), "alpha": float(opts["alpha"])})
    result["design"] = (f"{inventory.id}, persona set {first['persona'].get('set', 'persona')} "
                        f"({int(runs[labels[0]]['scores']['persona_id'].nunique())} personas), option orders "
                        f"{', '.join(first['option_orders'])}, temperatures {', '.join(map(str, first['temperatures']))}")

    out = Path(base["results_dir"]) / f"compare-{key[:10]}"
    owned = OwnedFolder(out, "persona-bench compare", MANIFEST, inputs=[r["folder"] for r in runs.values()])
    owned.check(FILES)
    owned.claim(FILES)
    text = summary(result, runs, out, float(opts["alpha"])) + \
        paper_tables_text(jsonable({"paper_tables": result["paper_tables"]}))
    owned.write_text("comparison.csv", long_table(result).to_csv(index=False))
    owned.write_text("compare.json", json.dumps(jsonable({
        **result, "models": labels,
        "provenance": {"compare_hash": key, "git": git_commit(), "alpha": float(opts["alpha"]),
                       "runs": {m: {"folder": str(r["folder"]), "config_hash": hashes[m],
                                    "model": r["config"].get("model")} for m, r in runs.items()}},
    }), indent=1) + "\n")
    owned.write_text("compare_config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    owned.write_text("summary.md", text)
    owned.finish()
    print(text)
    return out
