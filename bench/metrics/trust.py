"""Figures that cannot be trusted, marked where they stand instead of shown as bare numbers.

`annotate` adds a `warning` (the reasons, joined with "; ", or None) beside each trait mean, alpha/omega
row and the type accuracy, and lists every one under the metrics' top-level "warnings" as
{"figure", "reason"}; the run prints them and summary.md marks the figures. What is checked, from the
data alone:

- a trait mean whose interval rests on a single cluster (one persona, one template), on fewer than 3
  clusters or on clusters that all agree: none is given;
- alpha/omega from fewer than 3 items or fewer than 3 participants (MIN_ITEMS, MIN_PARTICIPANTS): with
  2 items alpha is a single correlation stepped up, with 2 participants each covariance is one product;
- type letters from a truncated type inventory (fewer of a dichotomy's items answered than it has):
  its published cut-offs assume the whole sum;
- a collapsed answer distribution: COLLAPSED_SHARE of a trait's valid answers on one shown position or
  one option value, so the trait score reflects that habit, not the persona;
- low label mass (logprob scoring): the mean probability on the option labels under LOW_LABEL_MASS, so
  the distribution the scores come from is a small, renormalised remainder of what the model wanted.
"""

from __future__ import annotations

import pandas as pd

from bench.instruments import Inventory
from bench.metrics.tables import valid_scores

MIN_ITEMS = 3
MIN_PARTICIPANTS = 3
COLLAPSED_SHARE = 0.95
LOW_LABEL_MASS = 0.5


def _modal_share(values: pd.Series) -> tuple[object, float]:
    counts = values.dropna().value_counts()
    return (counts.index[0], float(counts.iloc[0] / counts.sum())) if len(counts) else (None, float("nan"))


def trait_warnings(responses: pd.DataFrame, inventory: Inventory) -> dict[str, list[str]]:
    """Per trait, the reasons its answers cannot be trusted: collapsed answers, low label mass."""
    trait_of = {it.id: it.trait for it in inventory.items}
    out: dict[str, list[str]] = {}
    valid = responses[valid_scores(responses, "answer").notna()] if "answer" in responses.columns else responses
    for trait, sub in valid.groupby(valid["item_id"].map(trait_of), sort=False):
        reasons = []
        if len(sub) >= 2:
            if "parsed_option" in sub.columns:
                pos, share = _modal_share(sub["parsed_option"].where(sub["parsed_option"] > 0))
                if share >= COLLAPSED_SHARE:
                    reasons.append(f"collapsed answers: {share:.0%} on shown option {int(pos)}")
            value, share = _modal_share(sub["answer"])
            if share >= COLLAPSED_SHARE and not any(r.startswith("collapsed") for r in reasons):
                reasons.append(f"collapsed answers: {share:.0%} on option value {value:g}")
        if "label_mass" in sub.columns:
            mass = pd.to_numeric(sub["label_mass"], errors="coerce").dropna()
            if len(mass) and mass.mean() < LOW_LABEL_MASS:
                reasons.append(f"low label mass: mean {mass.mean():.2f} of the probability on the option labels")
        if reasons:
            out[str(trait)] = reasons
    return out


def interval_reasons(row: dict) -> list[str]:
    """Why a trait_summary row has no interval: one persona and one template leave nothing to resample;
    fewer than 3 clusters, or clusters that all agree, are named in its `no_interval`."""
    if row.get("n", 0) > 0 and row.get("n_clusters", 2) < 2:
        return ["no interval: one persona and one template, nothing to resample between"]
    return [row["no_interval"]] if isinstance(row.get("no_interval"), str) and row["no_interval"] else []


def reliability_reasons(row: dict) -> list[str]:
    """Why an alpha/omega row cannot be trusted; none for a trait the run did not ask (no figure at all)."""
    reasons = []
    if row.get("n_items", 0) == 0:
        return reasons
    if row.get("n_items", 0) < MIN_ITEMS:
        reasons.append(f"alpha/omega from {row.get('n_items')} items")
    if row.get("n_participants", 0) < MIN_PARTICIPANTS:
        reasons.append(f"alpha/omega from {row.get('n_participants')} participants")
    return reasons


def truncated_dichotomies(responses: pd.DataFrame, inventory: Inventory) -> dict[str, tuple[int, int]]:
    """Dichotomies whose items were not all asked: {id: (asked, total)}."""
    asked = set(responses["item_id"])
    out = {}
    for d in inventory.dichotomies:
        items = [it.id for it in inventory.items if it.trait == d.id]
        n = sum(i in asked for i in items)
        if n < len(items):
            out[d.id] = (n, len(items))
    return out


def _mark(rows: list[dict], key: str, reasons_of, figure: str, found: list[dict]) -> list[dict]:
    marked = []
    for row in rows:
        reasons = list(reasons_of(row))
        row = {**row, "warning": "; ".join(reasons) if reasons else None}
        found += [{"figure": f"{figure}[{row[key]}]", "reason": r} for r in reasons]
        marked.append(row)
    return marked


def annotate(metrics: dict, responses: pd.DataFrame, inventory: Inventory) -> dict:
    """The metrics dict with a `warning` beside each untrustworthy figure and a "warnings" list."""
    found: list[dict] = []
    by_trait = trait_warnings(responses, inventory)
    out = dict(metrics)
    if isinstance(out.get("trait_summary"), pd.DataFrame):
        rows = out["trait_summary"].to_dict(orient="records")
        out["trait_summary"] = pd.DataFrame(_mark(rows, "trait", lambda r: [*by_trait.get(str(r["trait"]), []),
                                                                          *interval_reasons(r)],
                                                  "trait_summary", found))
    if isinstance(out.get("reliability"), pd.DataFrame):
        rows = out["reliability"].to_dict(orient="records")
        out["reliability"] = pd.DataFrame(_mark(rows, "trait", lambda r: [*reliability_reasons(r),
                                                                         *by_trait.get(str(r["trait"]), [])],
                                                "reliability", found),
                                          columns=[*out["reliability"].columns, "warning"])
    if isinstance(out.get("mbti"), dict):
        cut = truncated_dichotomies(responses, inventory)
        reasons = [f"type letters from a truncated inventory: {d} from {n} of {k} items, and its cut-off "
                   "assumes all of them" for d, (n, k) in cut.items()]
        reasons += [f"{t}: {r}" for t, rs in by_trait.items() for r in rs
                    if t in {d.id for d in inventory.dichotomies}]
        out["mbti"] = {**out["mbti"], "warning": "; ".join(reasons) if reasons else None}
        found += [{"figure": "mbti.accuracy", "reason": r} for r in reasons]
    position = out.get("position_bias")
    if isinstance(position, dict) and position.get("collapsed"):
        found.append({"figure": "position_bias", "reason": position["message"]})
    out["warnings"] = found
    return out
