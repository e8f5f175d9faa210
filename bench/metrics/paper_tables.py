"""The tables a paper reports, as pure functions of the score table: one row per persona x temperature
(x model when runs are stacked), each figure with its 95% interval.

- trait_scores: mean trait score per persona x temperature x trait, with a t interval over the persona's
  conditions (template x option order, repetitions averaged first: at low temperature the repetitions of
  one condition are near copies, and counting them would make the interval far too narrow), on the
  trait's score range (a logit-scale t) when the inventory is known; with fewer than 3 conditions, or
  conditions that all agree, no interval and a `warning` that says which;
- type_accuracy / dichotomy_accuracy (type inventories, personas with a full type target): the share of
  participants whose type (or letter at one dichotomy) matches the persona's, with a Wilson interval on
  the effective n (bench.metrics.scoring.mbti_accuracy: a condition's repetitions count once as far as
  they agree; `n` counts participants, `n_effective` what the interval rests on);
- type_distribution (type inventories): how many participants of a persona got each type at each
  temperature ("Open Models, Closed Minds" shows these), the share with a Wilson interval on the same
  effective n.

`stack_runs` puts several runs' tables under a leading `model` column, for a comparison.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from bench.instruments import Inventory
from bench.metrics.scoring import condition_labels, mbti_accuracy, mbti_types
from bench.metrics.tables import condition_means, score_bounds
from bench.metrics.uncertainty import effective_n, no_interval_reason, t_interval, wilson_interval

GROUP = ["persona_id", "temperature"]
# name -> (figure column, its interval's low and high columns, the column spread across a printed
# table or None, the count shown beside it)
TABLES = {
    "trait_scores": ("mean", "ci_low", "ci_high", "trait", "n_conditions"),
    "type_accuracy": ("accuracy", "accuracy_ci_low", "accuracy_ci_high", None, "n_effective"),
    "dichotomy_accuracy": ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "dichotomy", "n_effective"),
    "type_distribution": ("share", "share_ci_low", "share_ci_high", "type", "n_effective"),
}


def trait_scores(scores: pd.DataFrame, by: list[str] | None = None,
                 bounds: dict[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """Mean trait score per `by` (persona x temperature) and trait, with a 95% t interval over the
    conditions' means (repetitions averaged first), on the trait's score range where `bounds` gives it
    (bench.metrics.tables.score_bounds); n_conditions is what the interval rests on, `warning` why there
    is none."""
    by = list(GROUP if by is None else by)
    cols = [*by, "trait", "mean", "ci_low", "ci_high", "n_conditions", "warning"]
    if scores.empty:
        return pd.DataFrame(columns=cols)
    cond = condition_means(scores.dropna(subset=["score"]))
    rows = []
    for key, sub in cond.groupby([*by, "trait"], sort=False):
        lo, hi = t_interval(sub["score"], bounds=(bounds or {}).get(str(key[-1])))
        rows.append([*key, float(sub["score"].mean()), lo, hi, int(sub["score"].count()),
                     no_interval_reason(sub["score"], "conditions")])
    return _sorted(pd.DataFrame(rows, columns=cols), by)


def _sorted(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Rows in persona order of first appearance, then by temperature (numeric)."""
    if df.empty:
        return df.reset_index(drop=True)
    keys = [k for k in by if k in df.columns]
    order = {k: {v: i for i, v in enumerate(dict.fromkeys(df[k]))} for k in keys if k != "temperature"}
    return df.sort_values(keys, key=lambda s: s.map(order[s.name]) if s.name in order else s,
                          kind="stable").reset_index(drop=True)


def type_accuracy(scores: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """Exact type accuracy per persona x temperature (personas with a full type target only)."""
    cols = [*GROUP, "target", "n", "n_effective", "accuracy", "accuracy_ci_low", "accuracy_ci_high"]
    types = mbti_types(scores, inventory)
    ids = types.attrs["dichotomies"]
    rows = []
    for (persona, temp), sub in types[types["target"].notna()].groupby(GROUP, sort=False):
        acc = mbti_accuracy(sub, ids)
        rows.append([persona, temp, sub["target"].iloc[0], acc["n"], acc["n_effective"], acc["exact"],
                     acc["exact_ci_low"], acc["exact_ci_high"]])
    return _sorted(pd.DataFrame(rows, columns=cols), GROUP)


def dichotomy_name(d) -> str:
    """A dichotomy as papers write it, the letter of ESTJ first ("E/I", "S/N", "T/F", "J/P"); another
    inventory's letters as low/high."""
    first, second = (d.high, d.low) if d.high in "ESTJ" and d.low not in "ESTJ" else (d.low, d.high)
    return f"{first}/{second}"


def dichotomy_accuracy(scores: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """Per persona x temperature and dichotomy, the share of participants whose letter matches the target."""
    cols = [*GROUP, "target", "dichotomy", "n", "n_effective", "accuracy", "accuracy_ci_low", "accuracy_ci_high"]
    types = mbti_types(scores, inventory)
    ids = types.attrs["dichotomies"]
    names = {d.id: dichotomy_name(d) for d in inventory.dichotomies}
    rows = []
    for (persona, temp), sub in types[types["target"].notna()].groupby(GROUP, sort=False):
        acc = mbti_accuracy(sub, ids)
        for d in ids:
            lo, hi = acc["per_dichotomy_ci"][d]
            rows.append([persona, temp, sub["target"].iloc[0], names[d], acc["n"],
                         acc["per_dichotomy_n_effective"][d], acc["per_dichotomy"][d], lo, hi])
    return _sorted(pd.DataFrame(rows, columns=cols), GROUP)


def type_distribution(scores: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """Per persona x temperature, the number and share of participants of each type found (Wilson interval
    on the effective n: a condition's repetitions count once as far as they agree)."""
    cols = [*GROUP, "type", "count", "n", "n_effective", "share", "share_ci_low", "share_ci_high"]
    types = mbti_types(scores, inventory)
    rows = []
    for (persona, temp), sub in types.groupby(GROUP, sort=False):
        n, labels = len(sub), condition_labels(sub)
        for t, k in sub["type"].value_counts().sort_index().items():
            n_eff = effective_n((sub["type"] == t).to_numpy(float), labels)
            rows.append([persona, temp, t, int(k), n, n_eff, k / n, *wilson_interval(k / n * n_eff, n_eff)])
    return _sorted(pd.DataFrame(rows, columns=cols), GROUP)


def paper_tables(scores: pd.DataFrame, inventory: Inventory) -> dict[str, pd.DataFrame]:
    """Every table that applies to the run: type tables only for a type inventory, none for a survey."""
    if inventory.kind == "survey" or scores.empty:
        return {}
    out = {"trait_scores": trait_scores(scores, bounds=score_bounds(inventory))}
    if inventory.scoring == "dichotomy" and inventory.dichotomies:
        out["type_accuracy"] = type_accuracy(scores, inventory)
        out["dichotomy_accuracy"] = dichotomy_accuracy(scores, inventory)
        out["type_distribution"] = type_distribution(scores, inventory)
    return out


def stack_runs(tables: Mapping[str, Mapping[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Several runs' tables, keyed by model, as one table each with a leading `model` column; a table
    missing from a run (no type inventory there) is stacked from the runs that have it."""
    names = list(dict.fromkeys(name for run in tables.values() for name in run))
    out = {}
    for name in names:
        frames = {model: run[name] for model, run in tables.items() if name in run}
        out[name] = (pd.concat(frames, names=["model", None]).reset_index(level=0).reset_index(drop=True))
    return out
