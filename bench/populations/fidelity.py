"""The fidelity of a run's persona population to its human reference (the run's `fidelity` section).

The model population is the run's participants at the population's temperature; for a backstory run it
is weighted by the matching of backstories to respondents (greedy and one-to-one), from the backstories'
own answers to the demographic questions (`persona_probs`, which the run pipeline computes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.instruments import Inventory
from bench.metrics.baselines import fidelity_ladder, population_floor
from bench.metrics.spread import spread_section
from bench.metrics.distances import (answer_distribution, frobenius, ordinal_frame, question_distances,
                                     weighted_correlation)
from bench.metrics.tables import finite
from bench.metrics.uncertainty import cluster_bootstrap, clusters_of
from bench.populations.human import GroupCounts
from bench.populations.matching import matchings, persona_weights
from bench.populations.reference import (PopulationError, human_trait_scores, load_human, population_instrument,
                                        resolve_population)
from bench.populations.reference_fidelity import aligned_counts, group_fidelity, population_fidelity


def method_name(cfg: dict) -> str:
    """The conditioning method of a run config as the fidelity table names its rows: the demographic style
    (qa, bio, portray), else the persona set (none, backstory, ...)."""
    kind = cfg["persona"].get("set")
    if kind == "demographic":
        return str(cfg["persona"].get("style", "bio"))
    return "none" if kind in (None, "none") else str(kind)


# -- fidelity of a run's population ---------------------------------------------------------------

def _participant_weights(r: pd.DataFrame, persona_weight: pd.Series | None) -> pd.Series:
    """Weight per participant: its persona's weight shared equally among the persona's participants."""
    parts = r.drop_duplicates("participant_id").set_index("participant_id")["persona_id"]
    if persona_weight is None:
        return pd.Series(1.0, index=parts.index)
    per_persona = parts.value_counts()
    w = parts.map(persona_weight).fillna(0.0) / parts.map(per_persona)
    return w.astype(float)


def model_distributions(r: pd.DataFrame, inventory: Inventory, weights: pd.Series) -> dict[str, np.ndarray]:
    """Per question, the population's answer distribution: the weighted mean of each participant's
    exact option distribution (logprob rows) or of its one answer (sampled rows)."""
    parts, mats = participant_distributions(r, inventory)
    return _weighted(mats, parts["participant_id"].map(weights).fillna(0.0).to_numpy(float))


def _weighted(mats: dict[str, np.ndarray], w: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for q, m in mats.items():
        total = w @ m
        if total.sum() > 0:
            out[q] = total / total.sum()
    return out


def participant_distributions(r: pd.DataFrame, inventory: Inventory) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The participants (rows of `r` once each) and, per question, each one's answer distribution as a
    matrix (participant x option): exact for logprob rows, one-hot for sampled ones, zeros when invalid."""
    parts = r.drop_duplicates("participant_id").reset_index(drop=True)
    row_of = {pid: i for i, pid in enumerate(parts["participant_id"])}
    out = {}
    for item in inventory.items:
        g = r[r["item_id"] == item.id]
        m = np.zeros((len(parts), len(inventory.scale_of(item).values)))
        for pid, probs, answer, invalid in zip(g["participant_id"], g["option_probs"], g["answer"], g["invalid"]):
            if probs is not None and len(probs):
                m[row_of[pid]] += np.asarray(probs, float)
            elif not invalid and finite(answer):
                m[row_of[pid], int(answer) - 1] += 1.0
        out[item.id] = m
    return parts, out


def distance_intervals(r: pd.DataFrame, inventory: Inventory, weights: pd.Series, human: dict[str, np.ndarray],
                       scales: dict, n_boot: int | None = None, seed: int = 0,
                       human_corr: pd.DataFrame | None = None) -> dict:
    """95% cluster-bootstrap intervals, bias-corrected (BCa: a distance of a resampled population is biased
    upward), with personas resampled with their participants, of mean_wd,
    mean_wd_normalized and mean_tv, and, given the humans' question correlation matrix, of frobenius and
    frobenius_normalized: the model population is redrawn, the human reference held fixed (its own
    sampling spread is the human_lower_bound). A participant drawn k times weighs k times its weight."""
    parts, mats = participant_distributions(r, inventory)
    mats = {q: m for q, m in mats.items() if q in human}
    w = parts["participant_id"].map(weights).fillna(0.0).to_numpy(float)
    names = ["mean_wd", "mean_wd_normalized", "mean_tv"]
    ordinal = None
    if human_corr is not None:
        qs = [q for q in human_corr.index if q in mats]
        ordinal = ordinal_frame(model_answers(r).reindex(index=parts["participant_id"], columns=qs), scales)
        names += ["frobenius", "frobenius_normalized"]

    def means(ix: np.ndarray) -> np.ndarray:
        k = np.bincount(ix, minlength=len(w))
        per_q = question_distances(_weighted(mats, w * k), human, scales)
        out = np.full(len(names), np.nan)
        if not per_q.empty:
            out[:3] = [np.nanmean(per_q[c]) for c in ("wd", "wd_normalized", "tv")]
        if ordinal is not None:
            fro = frobenius(weighted_correlation(ordinal, w * k), human_corr)
            out[3:] = fro["frobenius"], fro["frobenius_normalized"]
        return out

    lo, hi = cluster_bootstrap(clusters_of(parts), means, n_boot=n_boot, seed=seed, method="BCa")
    return {f"{name}_ci_{end}": float(v[i]) for i, name in enumerate(names) for end, v in (("low", lo), ("high", hi))}


def model_answers(r: pd.DataFrame) -> pd.DataFrame:
    """Participant x question answers (option values; invalid -> NaN): the population's 'respondents'."""
    valid = r[~r["invalid"].astype(bool)]
    return valid.pivot_table(index="participant_id", columns="item_id", values="answer", aggfunc="first")


def _with_distributions(table: pd.DataFrame, dists: dict, human, scales: dict) -> pd.DataFrame:
    """The per-question table with its question id and both distributions (model_p1.., human_p1..)."""
    table = table.rename_axis("item_id").reset_index() if "item_id" not in table.columns else table.copy()
    rows = []
    for q in table["item_id"]:
        n = len(scales[q].values)
        if isinstance(human, GroupCounts):
            c = aligned_counts(human, q, scales[q])
            h = c / c.sum()
        else:
            h = answer_distribution(human.answers[q], n, human.weights)
        row = {f"model_p{k + 1}": float(dists[q][k]) for k in range(n)}
        row.update({f"human_p{k + 1}": float(h[k]) for k in range(n)})
        rows.append(row)
    return pd.concat([table.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def fidelity_for_run(cfg: dict, responses: pd.DataFrame, inventory: Inventory,
                     persona_probs: dict[str, dict[str, np.ndarray]] | None = None):
    """{method: fidelity section}, per-question table, human label; None when the run has no population."""
    pop = resolve_population(cfg)
    if pop is None:
        return None
    if pop.get("instrument"):
        wanted = population_instrument(pop)  # an inventory id or the path of one
        if wanted != inventory.id:
            choose = (f"inventory={pop['instrument']}" if wanted == pop["instrument"]
                      else f"inventory=custom inventory.path={pop['instrument']}")
            raise PopulationError(f"population {pop['name']} lines up with instrument {wanted!r}, not "
                                  f"{inventory.id!r}; choose {choose} or another population")
    temps = sorted(float(t) for t in responses["temperature"].unique())
    temp = float(pop.get("temperature", temps[-1]))
    if temp not in temps:
        temp = temps[-1]
    r = responses[responses["temperature"] == temp]
    human = load_human(pop)
    scales = {it.id: inventory.scale_of(it) for it in inventory.items}
    method = method_name(cfg)
    unmatched = None
    if cfg["persona"].get("set") == "backstory" and pop.get("demographics"):
        if persona_probs is None:
            raise PopulationError("a backstory run's fidelity needs the backstories' demographic answers")
        weightings = {name: persona_weights(m) for name, m in matchings(pop, persona_probs).items()}
    else:
        weightings = {method: None}
        if cfg["persona"].get("set") == "backstory":  # group counts: nobody to match a backstory to
            unmatched = (f"population {pop['name']} holds answer counts per group, not respondents with "
                         "demographics: the backstories are compared unweighted (no matching)")
    sections, tables = {}, []
    for name, persona_weight in weightings.items():
        w = _participant_weights(r, persona_weight)
        dists = model_distributions(r, inventory, w)
        if isinstance(human, GroupCounts):
            section, table, groups = group_fidelity(model_answers(r), human, inventory, model_weights=w,
                                                    n_splits=int(pop.get("split_half", 100)),
                                                    seed=int(pop.get("seed", 0)), model_distributions=dists)
            section["representativeness_by_group"] = {f"{a}:{g}": v for a, g, v in
                                                      zip(groups["attribute"], groups["group"],
                                                          groups["representativeness"])}
        else:
            section, table = population_fidelity(model_answers(r), human, inventory, model_weights=w,
                                                 n_splits=int(pop.get("split_half", 100)),
                                                 seed=int(pop.get("seed", 0)), model_distributions=dists)
        table = _with_distributions(table, dists, human, scales)
        human_dists = {q: table.loc[table["item_id"] == q, [f"human_p{k + 1}" for k in range(len(scales[q].values))]]
                       .to_numpy(float)[0] for q in table["item_id"]}
        human_corr = None  # group counts have no respondents, hence no correlations (frobenius is NaN)
        if not isinstance(human, GroupCounts):
            qs = list(table["item_id"])
            human_corr = weighted_correlation(ordinal_frame(human.answers[qs], scales), human.weights)
        section.update(distance_intervals(r, inventory, w, human_dists, scales, seed=int(cfg.get("seed", 0)),
                                          human_corr=human_corr))
        floor = population_floor(human_dists, scales, human_corr, section.get("alpha_human"))
        section["ladder"] = fidelity_ladder(section, floor, seed=int(cfg.get("seed", 0)))
        section = {"reference": human.source, "population": pop["name"], "method": name,
                   "temperature": temp, "n_questions": int(len(table)), **section}
        if unmatched:
            section["matching"] = unmatched
        if not isinstance(human, GroupCounts):
            section["human_missing_cells"] = int(human.blanked)  # cells the population's `missing` codes blanked
            section["missing_codes"] = list(pop.get("missing") or [])
            if human.pairing:  # columns matched by item wording: every pairing, for the user to check
                section["human_columns"] = [{"item": i, "column": c, "similarity": r} for i, c, r in human.pairing]
        sections[name] = section
        tables.append(table.assign(method=name))
    return sections, pd.concat(tables, ignore_index=True)


def spread_for_run(scores: pd.DataFrame, inventory: Inventory, human=None, items=None, temperature=None,
                   seed: int = 0, n_boot: int | None = None) -> dict | None:
    """The run's `spread` section (`spread_section`) when it has several personas and someone to compare
    them with: the reference's respondents scored like the model (`human_trait_scores`, on the asked
    `items`), else the inventory's norms (per trait, the group with the most people, its SD held fixed).
    One temperature: the given one (the population's), else the run's highest."""
    if scores.empty or "temperature" not in scores or scores["persona_id"].nunique() < 2:
        return None
    temps = sorted(float(t) for t in scores["temperature"].unique())
    temp = float(temperature) if temperature is not None and float(temperature) in temps else temps[-1]
    people = human_trait_scores(human, inventory, items) if human is not None else pd.DataFrame()
    if not people.empty:
        reference, source = people, f"{human.source}: {len(people)} respondents"
    elif inventory.norms:
        broadest = {}
        for n in inventory.norms:
            if n.trait not in broadest or n.n > broadest[n.trait].n:
                broadest[n.trait] = n
        reference = {t: n.sd for t, n in broadest.items()}
        source = "norms: " + ", ".join(sorted({f"{n.group} (n={n.n})" for n in broadest.values()}))
    else:
        return None
    section = spread_section(scores[scores["temperature"] == temp], reference, source, seed=seed, n_boot=n_boot)
    return {"temperature": temp, **section} if section["rows"] else None
