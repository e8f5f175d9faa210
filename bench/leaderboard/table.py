"""One leaderboard row per run: its key, headline metrics and every extra numeric section.

The key is (model [+adapter], inventory, persona method, scoring mode, engine). Runs that share a
key are never merged: each stays its own row, and `variant` names the config values that set it
apart from the others with that key (or the run it repeats, when the configs are identical).

Every kind of run has a row, and `kind` says which: an inventory (trait scores, reliability), a type
inventory (also MBTI accuracy), a survey (no traits: its question distributions and, with a human
reference, the fidelity section: distances to the human answers), a clone report (its "clone" section).
Each kind requires what its run always writes, so a truncated metrics.json is still refused by name.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.leaderboard.collect import RunRecord, Skipped
from bench.mappings import flatten
from bench.results.provenance import NON_RESULT_KEYS, config_hash
from bench.results.run_folder import model_label

KEY = ["model", "inventory", "persona", "scoring", "engine"]
# Sections of metrics.json that bench.pipelines.run writes; any other top-level mapping (e.g. "fidelity" from
# #3, "clone" from #4) is an extra section whose numeric scalars become columns, flattened with dots.
BASE_SECTIONS = {"inventory", "scoring", "n_participants", "n_responses", "trait_summary", "reliability",
                 "icc_repetitions", "prompt_sensitivity", "option_order_symmetry", "invalid_rates", "mbti",
                 "trait_target_shift", "question_distributions", "reliability_summary", "robustness_summary",
                 "warnings", "spread"}
CI_SUFFIXES = ("_ci_low", "_ci_high")  # a column's 95% interval: "<column>_ci_low", "<column>_ci_high"
KINDS = ("inventory", "type inventory", "survey", "clone report", "behaviour")
SUMMARY_COLUMNS = ["alpha_mean", "icc2_mean", "prompt_sensitivity_eta2_mean", "option_order_abs_shift_mean",
                   "invalid_rate", "refusal_rate", "normalised_fidelity_tv", "spread_ratio"]
LABELS = {
    "alpha_mean": "alpha (mean)", "icc2_mean": "ICC reps", "prompt_sensitivity_eta2_mean": "prompt sens. eta2_H",
    "option_order_abs_shift_mean": "|order shift|", "invalid_rate": "invalid", "refusal_rate": "refusal",
    "mbti.exact": "MBTI exact", "n_participants": "participants", "n_questions": "questions",
    "n_warnings": "warnings",
    # the TV rung of the `fidelity` section's ladder (TV: every reference has it, group counts included)
    "normalised_fidelity_tv": "fidelity (TV, normalised)", "spread_ratio": "spread ratio (personas / people)",
}
_WITHHELD_KEY = re.compile(r"corpus", re.I)


class RowError(BenchError):
    """A run whose metrics.json or config lacks what its kind always writes: the run is skipped with why, not put
    on the board wrongly."""


def _number(x) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _mean(values) -> float | None:
    finite = [v for v in (_number(x) for x in values) if v is not None]
    return float(np.mean(finite)) if finite else None


def flatten_numbers(obj, prefix: str) -> dict[str, float | None]:
    """Numeric scalars (and nulls) of a nested mapping, keys joined with dots; text and lists are left out."""
    out: dict[str, float | None] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten_numbers(v, f"{prefix}.{k}"))
    elif obj is None or (_number(obj) is not None):
        out[prefix] = _number(obj)
    return out


def safe_config(cfg):
    """The config as shown on pages: a long or multi-line string under a key naming a corpus is withheld
    (a person's corpus text must never reach a page; a path to it is fine)."""
    if isinstance(cfg, dict):
        return {k: ("[withheld]" if _WITHHELD_KEY.search(str(k)) and isinstance(v, str)
                    and (len(v) > 300 or "\n" in v) else safe_config(v)) for k, v in cfg.items()}
    if isinstance(cfg, list):
        return [safe_config(v) for v in cfg]
    return cfg


def _by_trait(rows, value: str) -> dict[str, float | None]:
    if not isinstance(rows, list):
        raise RowError(f"expected a list of per-trait rows, got {type(rows).__name__}")
    return {str(r["trait"]): _number(r.get(value)) for r in rows}


def run_kind(m: dict) -> str:
    """Which kind of run wrote this metrics.json (see KINDS)."""
    if isinstance(m.get("clone"), dict):
        return "clone report"
    if isinstance(m.get("behaviour"), dict):  # persona-bench behaviour: its section's numbers are the row
        return "behaviour"
    if "question_distributions" in m or m.get("scoring") == "none":
        return "survey"
    return "type inventory" if isinstance(m.get("mbti"), dict) else "inventory"


def _questions(rows) -> int:
    """Questions answered (a question the run did not ask has null shares)."""
    if not isinstance(rows, list):
        raise RowError(f"question_distributions: expected a list of rows, got {type(rows).__name__}")
    return len({str(r.get("item_id")) for r in rows if isinstance(r, dict) and _number(r.get("share")) is not None})


def run_row(rec: RunRecord) -> dict:
    """The row of one run; RowError when metrics.json lacks what every run of its kind writes."""
    cfg, m, prov = rec.config, rec.metrics, rec.provenance
    try:
        kind = run_kind(m)
        inv = prov.get("inventory") or {}
        row: dict = {
            "model": model_label(cfg, prov, adapter_name=True),
            "inventory": str(inv.get("id") or m.get("inventory") or cfg["inventory"]["name"]),
            "persona": str((cfg.get("persona") or {}).get("set", "")),
            "scoring": str(cfg.get("scoring", "")),
            "engine": str(prov.get("engine") or cfg["engine"]["name"]),
            "run": rec.path.name,
            "config_hash": config_hash(cfg)[:10],
            "n_participants": _number(m.get("n_participants")),
            "n_responses": _number(m.get("n_responses")),
            "temperatures": ", ".join(f"{float(t):g}" for t in cfg.get("temperatures") or []),
            "repetitions": _number(cfg.get("repetitions")),
            "seed": _number(cfg.get("seed")),
            "kind": kind,
        }
        if kind == "survey":
            row["n_questions"] = _questions(m["question_distributions"])
        summary = m["trait_summary"] if kind not in ("survey", "behaviour") else m.get("trait_summary") or []
        traits = _by_trait(summary, "mean")
        row.update({f"score.{t}": v for t, v in traits.items()})
        for end in CI_SUFFIXES:  # written since the intervals were added; older runs have none
            row.update({f"score.{t}{end}": v for t, v in _by_trait(summary, end[1:]).items() if v is not None})
        alpha = _by_trait(m.get("reliability") or [], "alpha")
        row.update({f"alpha.{t}": v for t, v in alpha.items()})
        row["alpha_mean"] = _mean(alpha.values())
        pooled = (m.get("icc_repetitions") or {}).get("pooled") or {}
        row["icc2_mean"] = _number(pooled.get("icc2_mean"))
        rates = m.get("invalid_rates") or {"invalid_rate": None} if kind == "behaviour" else m["invalid_rates"]
        intervals = {"alpha_mean": (m.get("reliability_summary"), "alpha_mean"), "icc2_mean": (pooled, "icc2_mean"),
                     "invalid_rate": (rates, "invalid_rate"), "refusal_rate": (rates, "refusal_rate")}
        eta = _by_trait(m.get("prompt_sensitivity") or [], "eta2_h")
        row.update({f"prompt_sensitivity_eta2.{t}": v for t, v in eta.items()})
        robust = m.get("robustness_summary")  # written since these means got intervals; older runs: plain means
        robust = robust if isinstance(robust, dict) else {}
        row["prompt_sensitivity_eta2_mean"] = (_number(robust["prompt_sensitivity_eta2_mean"])
                                               if "prompt_sensitivity_eta2_mean" in robust else _mean(eta.values()))
        shift = _by_trait(m.get("option_order_symmetry") or [], "mean_shift")
        row.update({f"option_order_shift.{t}": v for t, v in shift.items()})
        row["option_order_abs_shift_mean"] = (_number(robust["option_order_abs_shift_mean"])
                                              if "option_order_abs_shift_mean" in robust else
                                              _mean(abs(v) for v in shift.values() if v is not None))
        intervals.update({c: (robust, c) for c in ("prompt_sensitivity_eta2_mean", "option_order_abs_shift_mean")})
        row["invalid_rate"], row["refusal_rate"] = _number(rates["invalid_rate"]), _number(rates.get("refusal_rate"))
        if isinstance(m.get("mbti"), dict):
            row["mbti.exact"] = _number((m["mbti"].get("accuracy") or {}).get("exact"))
            intervals["mbti.exact"] = (m["mbti"].get("accuracy"), "exact")
        for col, (source, key) in intervals.items():
            for end in CI_SUFFIXES:
                value = _number(source.get(f"{key}{end}")) if isinstance(source, dict) else None
                if value is not None:
                    row[f"{col}{end}"] = value
        row.update(ladder_and_spread(m))
        if isinstance(m.get("warnings"), list):
            row["n_warnings"] = len(m["warnings"])
        for section, value in m.items():
            if section not in BASE_SECTIONS and isinstance(value, dict):
                row.update(flatten_numbers(value, section))
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise RowError(f"metrics.json or config.yaml lacks an expected field: {type(err).__name__}: {err}") from err
    return row


def ladder_and_spread(m: dict) -> dict:
    """The #25 columns of a run, with their intervals, where its metrics.json has them (older runs: none):
    the normalised fidelity of the `fidelity` section's TV rung, and the spread ratio (mean over traits,
    and per trait as `spread_ratio.<trait>`)."""
    row = {}
    norm = (((m.get("fidelity") or {}).get("ladder") or {}).get("mean_tv") or {}).get("normalised")
    if isinstance(norm, dict):
        row["normalised_fidelity_tv"] = _number(norm.get("value"))
        row.update({f"normalised_fidelity_tv{end}": _number(norm.get(end[1:])) for end in CI_SUFFIXES})
    spread = m.get("spread")
    if isinstance(spread, dict):
        for col, rec in (("spread_ratio", spread.get("mean") or {}),
                         *((f"spread_ratio.{r.get('trait')}", r) for r in spread.get("rows") or [])):
            row[col] = _number(rec.get("ratio"))
            row.update({f"{col}{end}": _number(rec.get(f"ratio{end}")) for end in CI_SUFFIXES})
    return {k: v for k, v in row.items() if v is not None or not k.endswith(CI_SUFFIXES)}


def _variants(records: list[RunRecord], table: pd.DataFrame) -> list[str]:
    """For each run, what distinguishes it from the other runs with the same key."""
    out = [""] * len(records)
    configs = [{k: v for k, v in flatten(r.config).items() if k.split(".")[0] not in NON_RESULT_KEYS}
               for r in records]
    for _, idx in table.groupby(KEY, sort=False).groups.items():
        idx = list(idx)
        if len(idx) < 2:
            continue
        keys = sorted({k for i in idx for k in configs[i]} )
        differing = [k for k in keys if len({repr(configs[i].get(k)) for i in idx}) > 1]
        for i in idx:
            if differing:
                out[i] = "; ".join(f"{k}={configs[i].get(k)}" for k in differing)
            twins = [table.at[j, "run"] for j in idx if j != i and table.at[j, "config_hash"] == table.at[i, "config_hash"]]
            if twins:
                out[i] = (out[i] + "; " if out[i] else "") + "same config as " + ", ".join(twins)
    return out


def leaderboard_table(records: list[RunRecord]) -> tuple[pd.DataFrame, list[RunRecord], list[Skipped]]:
    """(table, the records it holds in row order, runs skipped because their metrics were unusable)."""
    rows, kept, skipped = [], [], []
    for rec in records:
        try:
            rows.append(run_row(rec))
            kept.append(rec)
        except RowError as err:
            skipped.append(Skipped(rec.path, str(err)))
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=[*KEY, "run", "variant"]), kept, skipped
    table.insert(len(KEY) + 1, "variant", _variants(kept, table))
    order = table.sort_values([*KEY, "run"], kind="stable").index
    table = table.loc[order].reset_index(drop=True)
    kept = [kept[i] for i in order]
    return table, kept, skipped


def headline_columns(table: pd.DataFrame) -> list[str]:
    """Columns shown in index.html and leaderboard.md; leaderboard.csv/json hold all of them.

    Trait scores, the summary reliability columns, MBTI accuracy, the direct scalars of each extra
    section (e.g. fidelity.mean_wd, clone.trait_mae) and the human lower bound means.
    """
    cols = [*KEY, "run", "variant", *[c for c in ("kind", "n_questions") if c in table.columns]]
    cols += [c for c in table.columns if c.startswith("score.")]
    cols += [c for c in SUMMARY_COLUMNS if c in table.columns]
    cols += [c for c in table.columns if c in ("mbti.exact", "n_warnings")]
    cols = [c for c in cols if not c.endswith(CI_SUFFIXES)]
    known = set(cols) | {"config_hash", "n_participants", "n_responses", "temperatures", "repetitions", "seed"}
    for c in table.columns:
        if c in known or c.endswith(CI_SUFFIXES) or re.match(r"(alpha|prompt_sensitivity_eta2|option_order_shift|spread_ratio)\.", c):
            continue
        parts = c.split(".")
        if len(parts) == 2 or (len(parts) == 4 and parts[1] == "human_lower_bound" and parts[3] == "mean"):
            cols.append(c)
    return cols


def interval_of(row: dict, column: str) -> tuple[float, float] | None:
    """The 95% interval shown beside `column` in this row, when the run wrote one."""
    lo, hi = (_number(row.get(f"{column}{end}")) for end in CI_SUFFIXES)
    return (lo, hi) if lo is not None and hi is not None else None


def label(column: str) -> str:
    """A column's header on the board: its label if it has one, else a short form of the metric path."""
    if column in LABELS:
        return LABELS[column]
    if column.startswith("score."):
        return column[len("score."):]
    if ".human_lower_bound." in column:
        parts = column.split(".")
        return f"{parts[0]}.{parts[2]} human LB"
    return column
