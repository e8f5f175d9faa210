"""A run's human reference: which population config applies (`auto` by instrument, or the user's own
file by `population.path`), its data, and its respondents' demographics as the option labels of the
population's demographic survey."""

from __future__ import annotations


from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.hashing import stable_int
from bench.instruments import Inventory, Norm, load_inventory
from bench.populations.human import load_reference
from bench.resources import CONF_DIR
from bench.userfiles import load_yaml

AUTO_REFERENCE = {"ipip25": "psych_bfi"}  # instruments whose human reference ships with the package


class PopulationError(BenchError):
    """A population config or human data that cannot serve as the run's reference."""


# what a population file may leave out, and what the run then uses (the shipped populations' values)
FILE_DEFAULTS = {"temperature": 1.0, "split_half": 100, "seed": 0}
RESPONDENT_DEFAULTS = {"demographics": None, "attributes": {}, "sample": 40}
RESPONDENT_KINDS = ("psych_bfi", "sav", "csv")


def read_population_file(path: str, missing=None) -> dict:
    """A user's population file (`population.path=...`), checked, with the fields it may leave out filled in.

    `missing` from the command line (population.missing=[0,99]) replaces the file's own."""
    from bench.populations.check import check_population

    data = load_yaml(Path(str(path)).expanduser(), what="population file")
    if not isinstance(data, dict):
        raise PopulationError(f"{path}: a population file is a mapping of fields (name, reference, instrument, "
                              "...); see README 'Your own data'")
    data.pop("defaults", None)
    problems, _ = check_population(data)
    if problems:
        raise PopulationError(f"{path}: " + f"\n{path}: ".join(problems))
    pop = {**FILE_DEFAULTS, **data}
    if (pop.get("reference") or {}).get("kind") in RESPONDENT_KINDS:
        pop = {**RESPONDENT_DEFAULTS, **pop}
    pop["path"] = str(path)
    pop["missing"] = list(missing) if missing is not None else data.get("missing")
    return pop


def expand_population(cfg: dict) -> dict:
    """The run config with `population.path` replaced by the file's population (kept in config.yaml, hashed
    with the run), so results carry the file's name and content; unchanged without a path."""
    pop = cfg.get("population") or {}
    if not pop.get("path"):
        return cfg
    expanded = read_population_file(pop["path"], pop.get("missing"))
    if "reference" in pop and pop.get("name") == expanded["name"]:
        return cfg  # already expanded: a saved config.yaml keeps the content it ran with
    if pop.get("name") not in ("auto", "none"):
        raise PopulationError(f"population.path={pop['path']} is a whole population; drop "
                              f"population={pop.get('name')} (the file names its own)")
    return {**cfg, "population": expanded}


def resolve_population(cfg: dict) -> dict | None:
    """The run's population config, with `auto` resolved by instrument and a file read; None when there is none."""
    pop = expand_population(cfg).get("population") or {"name": "none"}
    name = pop.get("name", "none")
    if name == "auto":
        inv = cfg["inventory"]
        ref = AUTO_REFERENCE.get(inv.get("name")) if not inv.get("path") else None
        if ref is None:
            return None
        pop = load_yaml(CONF_DIR / "population" / f"{ref}.yaml")
        pop.pop("defaults", None)  # the file's link to its schema, not a setting
    if pop.get("name", "none") == "none":
        return None
    return pop


def population_instrument(pop: dict) -> str | None:
    """The id of the inventory a population lines up with, its `instrument` named by id or by path (as the
    run loads it); None when it names none."""
    return load_inventory(pop["instrument"]).id if pop.get("instrument") else None


def norms_group(human, pop: dict) -> str:
    """The human group its norms are named by: the reference's own name (psych::bfi), or the population's
    name where the reference is a user's file, whose path says nothing about who answered."""
    return str(pop["name"]) if (pop.get("reference") or {}).get("kind") in ("csv", "sav") else human.source


def human_trait_scores(human, inventory: Inventory, items=None) -> pd.DataFrame:
    """Respondent x trait scores of a respondent-level reference, with the inventory's own keying (reverse
    items as low + high - answer, mean of a respondent's answered items); `items`: the item ids the model
    answered (max_items), so both sides are scored on the same items. Empty where it cannot be scored
    (weighted references, group counts, scoring other than the mean)."""
    if getattr(human, "weights", None) is not None or not hasattr(human, "answers") or inventory.scoring != "mean":
        return pd.DataFrame()
    answers = human.answers
    asked = None if items is None else set(items)
    out = {}
    for code, _ in inventory.traits:
        items_of = [it for it in inventory.items if it.trait == code and it.id in answers.columns
                    and (asked is None or it.id in asked)]
        if not items_of:
            continue
        scale = inventory.scale
        keyed = pd.DataFrame({it.id: answers[it.id] if it.keyed > 0 else scale.low + scale.high - answers[it.id]
                              for it in items_of})
        out[code] = keyed.mean(axis=1, skipna=True)
    return pd.DataFrame(out)


def human_norms(human, inventory: Inventory, items=None, group: str | None = None) -> tuple[Norm, ...]:
    """Each trait's mean, SD and n over the reference's respondents (`human_trait_scores`): norms for
    inventories whose human reference is individual answers (psych::bfi for ipip25). Unweighted references
    only. `group` names the human group (default: the reference's source)."""
    out = []
    for code, column in human_trait_scores(human, inventory, items).items():
        score = column.dropna()
        if len(score) >= 2:
            out.append(Norm(trait=code, group=group or human.source, mean=float(score.mean()),
                            sd=float(score.std(ddof=1)), n=int(len(score)),
                            source=f"{human.source}, scored with {inventory.id}'s keys"))
    return tuple(out)


def load_human(pop: dict, check_only: bool = False):
    """The population's human data; its `instrument` (an inventory id or path) lines the columns up and
    its `missing` codes are blanked. `check_only`: a table is checked in chunks and counted, not kept."""
    ref = dict(pop["reference"])
    for key in ("instrument", "survey", "missing"):
        if key in ref:
            raise PopulationError(f"population {pop.get('name')}: field 'reference.{key}': write it at the "
                                  f"population's top level ({key}: {ref[key]}), not inside 'reference'")
    if ref.get("kind") in ("sav", "csv"):
        ref["survey" if ref["kind"] == "sav" else "instrument"] = pop.get("instrument")
        if pop.get("missing"):
            ref["missing"] = pop["missing"]
        if pop.get("attributes") and not ref.get("demographic_columns"):
            # the columns `attributes` names are read with the answers (backstory matching, demographic personas)
            ref["demographic_columns"] = {col: col for col in
                                          (spec.get("column", qid) for qid, spec in pop["attributes"].items())}
    elif pop.get("missing"):
        raise PopulationError(f"population {pop.get('name')}: field 'missing': {pop['missing']} applies to csv and sav "
                              f"references, not kind {ref.get('kind')!r}")
    return load_reference(ref, check_only)


MIN_RESPONDENTS = 2  # the human lower bound splits the respondents in halves: one at least in each


def usable_respondents_problem(human, pop: dict) -> str | None:
    """Why a table of respondents cannot give the figures a run reports (None when it can, and for group
    counts): fewer than two respondents with an answer and a weight above 0, said before any model work
    rather than as a table of '-' after it. Names the file, and the weight column when weights are the cause.
    `human` is the table read whole, or `validate`'s count of it read in chunks (`TableCheck`)."""
    if not hasattr(human, "usable_counts"):  # group counts: no respondents to count
        return None
    answered, n = human.usable_counts()
    if human.n and not answered:
        codes = " or a missing-answer code" if human.blanked else ""
        return (f"{human.source}: no answers: every cell of the {human.n:,} respondents' "
                f"{human.n_items} item columns is empty{codes}")
    if answered and not n:
        column = (pop.get("reference") or {}).get("weight_column")
        return (f"{human.source}: weight column {column!r}: every answering respondent's weight is 0, so no "
                "answer counts; give weights above 0, or drop weight_column for equal weights")
    if n < MIN_RESPONDENTS:
        rows = f"{human.n:,} row{'s' if human.n != 1 else ''}"
        return (f"{human.source}: {n} usable respondent{'s' if n != 1 else ''} ({rows}): the figures a run reports "
                f"need at least {MIN_RESPONDENTS} (the human lower bound splits them in halves)")
    return None


# -- human demographics as option labels ----------------------------------------------------------

def human_profiles(human, pop: dict, survey: Inventory) -> pd.DataFrame:
    """Respondent x demographic question, values = option labels of the demographic survey."""
    out = {}
    for qid, spec in (pop.get("attributes") or {}).items():
        item = survey.item(qid)
        labels = item.scale.labels
        col = spec.get("column", qid)
        if col not in human.demographics.columns:
            raise PopulationError(f"population {pop['name']}: attribute {qid}: human data has no column {col!r} "
                                  f"(columns: {', '.join(map(str, human.demographics.columns))})")
        raw = human.demographics[col]
        if "bins" in spec:
            num = pd.to_numeric(raw, errors="coerce")
            lab = pd.Series(None, index=raw.index, dtype=object)
            for label, (lo, hi) in spec["bins"].items():
                lab[(num >= lo) & (num <= hi)] = label
        elif "values" in spec:
            mapping = {str(k): v for k, v in spec["values"].items()}
            lab = raw.map(lambda v: mapping.get(code_str(v)))
        else:  # the column holds the survey's own codes (Pew .sav)
            by_code = {code_str(c): lab for c, lab in zip(item.scale.codes, labels)}
            lab = raw.map(lambda v: by_code.get(code_str(v), v if v in labels else None))
        unknown = sorted({str(v) for v in lab.dropna() if v not in labels})
        if unknown:
            raise PopulationError(f"population {pop['name']}: attribute {qid}: labels {unknown} are not options "
                                  f"of {survey.id} question {qid} ({list(labels)})")
        out[qid] = lab
    return pd.DataFrame(out, index=human.demographics.index)


def code_str(v) -> str:
    """An answer code as text, so 1, 1.0 and "1" are one key (.sav files hold codes as floats)."""
    try:
        f = float(v)
        return str(int(f)) if f.is_integer() else str(f)
    except (TypeError, ValueError):
        return str(v)


def sample_respondents(profiles: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A seeded sample of respondents with every demographic known (the conditioning sample)."""
    complete = profiles.dropna()
    if len(complete) == 0:
        raise PopulationError("no human respondent has every demographic attribute")
    rng = np.random.default_rng(stable_int(seed, "respondents"))
    take = rng.choice(len(complete), size=min(int(n), len(complete)), replace=False)
    return complete.iloc[np.sort(take)]
