"""`persona-bench validity`: do two instruments (and, optionally, behaviour) agree on the same participants?

Each inventory of `validity.inventories` is one ordinary run of the run config (bench.pipelines.run:
its own resumable, provenanced folder). Participants are the plan's persona|template|order|T|rep ids,
identical across inventories of the same item kind, so their trait scores join on participant_id,
after each inventory's traits are mapped to common names (`validity.trait_map`; the shipped Big Five
inventories already share E, A, C, N, O). `validity.behaviour` adds a behaviour run's
expressed_scores.parquet as a further method per rater. The MTMM analysis (bench.metrics.mtmm) is
written to its own folder, named by the config hash, next to the runs: recomputed from them each time.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pandas as pd
import yaml

from bench.config import validate
from bench.config.tool_checks import run_part
from bench.errors import BenchError
from bench.instruments import inventory_from_config, inventory_node
from bench.metrics import jsonable
from bench.metrics.mtmm import mtmm
from bench.pipelines.run import run
from bench.results.atomic import atomic_write_json, atomic_write_text, folder_lock
from bench.results.provenance import config_hash, git_commit
from bench.results.run_folder import make_run_dir
from bench.results.summary import MARK, markdown_table, with_ci

BEHAVIOUR_COLS = ("participant_id", "persona_id", "trait", "score", "rater")


class ValidityError(BenchError):
    """Scores that cannot be lined up across methods (no shared participants, a malformed behaviour file)."""


def mapped(scores: pd.DataFrame, method: str, mapping: dict) -> pd.DataFrame:
    """One method's scores in long form with its traits renamed to the common names, so methods join on
    (participant, trait)."""
    out = scores[["participant_id", "trait", "score"]].copy()
    out["trait"] = out["trait"].map(lambda t: mapping.get(t, t))
    return out.assign(method=method)


def read_behaviour(path: str) -> tuple[pd.DataFrame, str]:
    """A behaviour run's expressed_scores.parquet, checked (columns, numeric scores) before any model work."""
    p = Path(path).expanduser()
    try:
        table = pd.read_parquet(p)
    except Exception as err:  # pyarrow raises several kinds for a damaged or foreign file
        raise ValidityError(f"validity.behaviour={path}: not a readable parquet file ({type(err).__name__}: "
                            f"{str(err).splitlines()[0][:200] if str(err) else ''})") from None
    missing = [c for c in BEHAVIOUR_COLS if c not in table.columns]
    if missing:
        raise ValidityError(f"validity.behaviour={path}: missing column(s) {', '.join(missing)} (an "
                            f"expressed_scores.parquet has {', '.join(BEHAVIOUR_COLS)})")
    if not pd.api.types.is_numeric_dtype(table["score"]):
        raise ValidityError(f"validity.behaviour={path}: column 'score' is {table['score'].dtype}, not numbers")
    return table, hashlib.sha256(p.read_bytes()).hexdigest()


def behaviour_scores(path: str, participants: set, mapping: dict) -> tuple[pd.DataFrame, str]:
    """A behaviour run's expressed scores, one method per rater, on the runs' participants only."""
    table, sha = read_behaviour(path)
    table = table[table["participant_id"].isin(participants)]
    if table.empty:
        raise ValidityError(f"validity.behaviour={path}: no participant_id in common with the inventory runs; "
                            "the behaviour run must use the same personas, templates, orders, temperatures, "
                            "repetitions and seed")
    raters = list(dict.fromkeys(table["rater"].astype(str)))
    parts = [mapped(g, "behaviour" if len(raters) == 1 else f"behaviour:{rater}", mapping)
             for rater, g in table.groupby(table["rater"].astype(str), sort=False)]
    return pd.concat(parts, ignore_index=True), sha


def heatmap(matrix: pd.DataFrame, path: Path) -> None:
    """The MTMM matrix as a labelled heatmap (lower triangle; method blocks outlined)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [f"{m}:{t}" for m, t in matrix.columns]
    values = matrix.to_numpy(float)
    shown = np.where(np.tril(np.ones_like(values, bool)), values, np.nan)
    size = max(4.0, 0.45 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(shown, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(len(labels)):
        for j in range(i + 1):
            if np.isfinite(shown[i, j]):
                ax.text(j, i, f"{shown[i, j]:.2f}", ha="center", va="center", fontsize=6)
    edges = [k for k in range(1, len(labels)) if matrix.columns[k][0] != matrix.columns[k - 1][0]]
    for k in edges:
        ax.axhline(k - 0.5, color="black", lw=1)
        ax.axvline(k - 0.5, color="black", lw=1)
    fig.colorbar(im, ax=ax, fraction=0.046, label="Pearson r")
    ax.set_title("Multitrait-multimethod correlations")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    tmp.replace(path)


def summary(result: dict, runs: dict, out: Path) -> str:
    """summary.md of the validity analysis: convergent correlations, mean correlations by kind with their
    intervals, and the Campbell-Fiske checks."""
    cf = result["campbell_fiske"]
    means = result["mean_r"]
    conv = result["pairs"][result["pairs"]["kind"] == "convergent"]

    def f(x):
        return "-" if x is None else f"{x:.3f}"

    def ci(kind: str) -> str:
        return with_ci(means[kind], means.get(f"{kind}_ci_low"), means.get(f"{kind}_ci_high"),
                       means.get(f"{kind}_warning"))

    lines = [f"# persona-bench validity: {' x '.join(result['methods'])}", "",
             f"{result['n_participants']} participants, traits {', '.join(result['traits'])}; results: {out}", "",
             "Runs: " + "; ".join(f"{m}: {p}" for m, p in runs.items()), "",
             "![MTMM heatmap](mtmm.png)", "",
             "## Convergent correlations (same trait, other method; 95% interval from scipy)",
             markdown_table(conv[["trait_1", "method_1", "method_2", "r", "ci_low", "ci_high", "n", "p_greater"]]
                            .rename(columns={"trait_1": "trait", "p_greater": "p (r > 0)"})), "",
             f"mean convergent r {ci('convergent')}; mean discriminant r {ci('discriminant')} "
             f"(mean abs(r) {ci('discriminant_abs')}): heterotrait-monomethod {ci('heterotrait_monomethod')}, "
             f"heterotrait-heteromethod {ci('heterotrait_heteromethod')}. Means with a 95% cluster-bootstrap "
             "bias-corrected (BCa) interval (personas resampled, the matrix recomputed; none with fewer than 5 "
             "personas, or where it excludes its own estimate).", "",
             "## Campbell-Fiske checks", "",
             "| check | holds | passed |", "|---|---|---|"]
    names = {"convergent_significant": f"convergent r > 0 (one-sided p < {cf['convergent_significant']['alpha']})",
             "convergent_above_heterotrait_heteromethod": "convergent r > abs(heterotrait-heteromethod r)",
             "convergent_above_heterotrait_monomethod": "convergent r > abs(heterotrait-monomethod r)"}
    for key, name in names.items():
        c = cf[key]
        lines.append(f"| {name} | {'yes' if c['holds'] else 'no'} | {c['passed']} of {c['comparisons']} |")
    sp = cf["same_trait_pattern"]
    lines.append(f"| same pattern of trait intercorrelations in every triangle | {'yes' if sp['holds'] else 'no'} | "
                 f"min r {f(sp['min_r'])}, mean {f(sp['mean_r'])} over {len(sp['triangles'])} pairs of triangles |")
    if result["n_participants"] < 10:
        lines += ["", f"- only {result['n_participants']} participants: every correlation here is very uncertain"]
    if conv["r"].isna().any():
        lines += ["", "- some convergent r could not be computed (a trait with no spread across participants, or "
                      "fewer than 3 shared participants)"]
    lines += [f"- {MARK} {w['figure']}: {w['reason']}" for w in result.get("warnings") or []]
    lines += ["", "Full matrix: mtmm.csv; every pair with its interval: mtmm_pairs.csv; all numbers: validity.json"]
    return "\n".join(lines) + "\n"


def validity(cfg: dict, progress: bool | None = None) -> Path:
    """Run each inventory, join the scores, write the MTMM matrix, checks, heatmap and summary."""
    cfg = validate("validity", cfg)  # frozen from here on
    opts = cfg["validity"]
    base = run_part(cfg, "validity")
    trait_map = opts.get("trait_map") or {}
    if opts.get("behaviour"):
        read_behaviour(opts["behaviour"])  # a bad file stops here, before hours of model work
    runs, parts, invs = {}, [], {}
    for spec in opts["inventories"]:
        sub = copy.deepcopy(base)
        sub.update(inventory=inventory_node(spec), run_name=None)
        inventory = inventory_from_config(sub["inventory"])
        folder = run(sub, progress=progress, print_summary=False)
        runs[inventory.id] = str(folder)
        invs[inventory.id] = {"sha256": inventory.sha256, "version": inventory.version, "run": str(folder),
                              "config_hash": config_hash(sub)}
        scores = pd.read_parquet(folder / "scores.parquet")
        parts.append(mapped(scores, inventory.id, trait_map.get(inventory.id) or trait_map.get(spec) or {}))
    if len(runs) < 2:
        raise ValidityError(f"validity.inventories={opts['inventories']}: two different inventories are needed")
    long = pd.concat(parts, ignore_index=True)
    behaviour_sha = None
    if opts.get("behaviour"):
        extra, behaviour_sha = behaviour_scores(opts["behaviour"], set(long["participant_id"]),
                                                trait_map.get("behaviour") or {})
        long = pd.concat([long, extra], ignore_index=True)
    shared = long.groupby("participant_id")["method"].nunique()
    if not (shared >= 2).any():
        raise ValidityError(f"validity.inventories={opts['inventories']}: the runs share no participant "
                            "(inventories of different item kinds, likert and bipolar, have different templates)")
    result = mtmm(long, alpha=float(opts["alpha"]), seed=int(base.get("seed") or 0))
    if not result["traits"]:
        raise ValidityError(f"validity.inventories={opts['inventories']}: no trait is measured by two methods; map "
                            "their trait codes onto common names with validity.trait_map")

    name = f"validity-{base['model']['id']}-{'+'.join(runs)}-{base['persona'].get('set', 'persona')}-" \
           f"{config_hash(cfg)[:10]}"
    out = Path(base["results_dir"]) / name
    make_run_dir(out)
    with folder_lock(out, wait_s=0):
        matrix = result["matrix"]
        flat = matrix.copy()
        flat.index = flat.columns = [f"{m}:{t}" for m, t in matrix.columns]
        atomic_write_text(out / "mtmm.csv", flat.to_csv())
        atomic_write_text(out / "mtmm_pairs.csv", result["pairs"].to_csv(index=False))
        heatmap(matrix, out / "mtmm.png")
        atomic_write_json(out / "validity.json", jsonable({
            **{k: v for k, v in result.items() if k != "matrix"},
            "matrix": {"columns": list(flat.columns), "r": flat.to_numpy().tolist()},
            "provenance": {"config_hash": config_hash(cfg), "git": git_commit(), "inventories": invs,
                           "behaviour": {"path": opts.get("behaviour"), "sha256": behaviour_sha},
                           "trait_map": trait_map},
        }))
        # not config.yaml: the leaderboard takes a folder with one for a run folder
        atomic_write_text(out / "validity_config.yaml", yaml.safe_dump(cfg, sort_keys=False))
        text = summary(result, runs, out)
        atomic_write_text(out / "summary.md", text)
    print(text)
    return out
