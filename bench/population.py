"""Persona populations that stand in for a human sample, and their fidelity to the real one.

Three ways to condition a population (Anthology's baselines and method):
- `demographic` personas: one per sampled human respondent, described by that person's demographics
  as question/answer pairs (qa), first-person sentences (bio) or "answer as if you were" (portray);
- `backstory` personas: the model writes N life stories from an open-ended prompt (stored with their
  generation config); the population's demographic questions are put to every backstory, and
  backstories are matched to human respondents by the likelihood of their demographics, greedily
  (a backstory may serve many people) and one-to-one by maximum weight (`linear_sum_assignment`);
- no persona at all.
A population's answers are then compared with the humans' (`bench.fidelity`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import linear_sum_assignment

from bench.inventory import Inventory, load_inventory
from bench.plan import Persona, stable_int

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
AUTO_REFERENCE = {"ipip25": "psych_bfi"}  # instruments whose human reference ships with the package
STYLES = ("qa", "bio", "portray")


class PopulationError(ValueError):
    pass


def resolve_population(cfg: dict) -> dict | None:
    """The run's population config, with `auto` resolved by instrument; None when there is none."""
    pop = cfg.get("population") or {"name": "none"}
    name = pop.get("name", "none")
    if name == "auto":
        inv = cfg["inventory"]
        ref = AUTO_REFERENCE.get(inv.get("name")) if not inv.get("path") else None
        if ref is None:
            return None
        pop = yaml.safe_load((CONF_DIR / "population" / f"{ref}.yaml").read_text())
    if pop.get("name", "none") == "none":
        return None
    return pop


def load_human(pop: dict):
    from bench.human import load_reference

    ref = dict(pop["reference"])
    if ref.get("kind") in ("sav", "csv"):
        ref.setdefault("survey" if ref["kind"] == "sav" else "instrument", pop.get("instrument"))
    return load_reference(ref)


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
            lab = raw.map(lambda v: mapping.get(_code_str(v)))
        else:  # the column holds the survey's own codes (Pew .sav)
            by_code = {_code_str(c): lab for c, lab in zip(item.scale.codes, labels)}
            lab = raw.map(lambda v: by_code.get(_code_str(v), v if v in labels else None))
        unknown = sorted({str(v) for v in lab.dropna() if v not in labels})
        if unknown:
            raise PopulationError(f"population {pop['name']}: attribute {qid}: labels {unknown} are not options "
                                  f"of {survey.id} question {qid} ({list(labels)})")
        out[qid] = lab
    return pd.DataFrame(out, index=human.demographics.index)


def _code_str(v) -> str:
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


# -- demographic personas ---------------------------------------------------------------------

def demographic_text(profile: pd.Series, pop: dict, survey: Inventory, style: str) -> str:
    attrs = pop.get("attributes") or {}
    if style == "qa":
        return "\n".join(f"Question: {survey.item(q).text}\nAnswer: {profile[q]}" for q in attrs)
    if style == "bio":
        return " ".join(attrs[q].get("bio", "{label}").format(label=profile[q]) for q in attrs)
    if style == "portray":
        parts = ", ".join(attrs[q].get("portray", "{label}").format(label=profile[q]) for q in attrs)
        return f"Answer the following questions as if you were a person {parts}."
    raise PopulationError(f"persona.style: {style!r} is not one of {', '.join(STYLES)}")


def demographic_personas(cfg: dict, pop: dict) -> tuple[Persona, ...]:
    style = cfg["persona"].get("style", "bio")
    if style not in STYLES:
        raise PopulationError(f"persona.style: {style!r} is not one of {', '.join(STYLES)}")
    survey = load_inventory(pop["demographics"])
    sample = sample_respondents(human_profiles(load_human(pop), pop, survey), pop.get("sample", 40),
                                pop.get("seed", 0))
    return tuple(Persona(f"{style}:{rid}", "", demographic_text(row, pop, survey, style))
                 for rid, row in sample.iterrows())


# -- backstories ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Backstory:
    id: str
    text: str
    seed: int


def backstory_config(cfg: dict) -> dict:
    """What a backstory set depends on: the model, adapter, generation settings and seed."""
    p = cfg["persona"]
    return {"model": cfg["model"], "adapter": cfg.get("adapter"), "engine": cfg["engine"]["name"],
            "n": int(p["n"]), "prompt": p["prompt"], "temperature": float(p["temperature"]),
            "max_new_tokens": int(p["max_new_tokens"]), "seed": int(cfg["seed"])}


def backstory_dir(cfg: dict) -> Path:
    digest = hashlib.sha256(json.dumps(backstory_config(cfg), sort_keys=True, default=str).encode()).hexdigest()
    return Path(cfg["results_dir"]) / f"backstories-{cfg['model']['id']}-{digest[:10]}"


def generate_backstories(cfg: dict, progress: bool = False) -> list[Backstory]:
    """Write (or resume) the backstory set: backstories.jsonl, one line per story, plus its config.

    Each story is generated alone under its own seed, so a resumed set matches an uninterrupted one.
    """
    from bench.engines.transformers_engine import TransformersEngine  # noqa: F401 (registry import below)
    from bench.models import resolve_model
    from bench.run import open_engine
    from bench.store import atomic_write_text

    gen = backstory_config(cfg)
    folder = backstory_dir(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "generation.yaml", yaml.safe_dump(gen, sort_keys=False))
    path = folder / "backstories.jsonl"
    stories = [Backstory(**json.loads(line)) for line in path.read_text().splitlines()] if path.exists() else []
    if len(stories) < gen["n"]:
        spec = resolve_model(cfg["model"], cfg.get("adapter"))
        engine = open_engine(cfg, spec)
        try:
            tok = engine.tokenizer
            text = tok.apply_chat_template([{"role": "user", "content": gen["prompt"]}], add_generation_prompt=True,
                                           tokenize=False, date_string="01 Jan 2025")
            ids = tok(text, add_special_tokens=False).input_ids
            with path.open("a") as fh:
                for k in range(len(stories), gen["n"]):
                    seed = stable_int(gen["seed"], "backstory", k)
                    out = engine.generate([ids], gen["temperature"], gen["max_new_tokens"], [seed])[0].strip()
                    story = Backstory(f"backstory-{k:04d}", out, seed)
                    fh.write(json.dumps(story.__dict__) + "\n")
                    fh.flush()
                    stories.append(story)
        finally:
            engine.close()
    return stories[: gen["n"]]


def backstory_personas(cfg: dict) -> tuple[Persona, ...]:
    return tuple(Persona(s.id, "", s.text) for s in generate_backstories(cfg))


def backstory_demographics(cfg: dict, pop: dict) -> dict[str, dict[str, np.ndarray]]:
    """Each backstory's answer distribution over each demographic question (exact, logprob mode).

    The distribution is what Anthology estimates from several samples per question; here it comes
    from one forward pass, at temperature 1, over the original option order and every template.
    """
    from bench.run import run

    sub = copy.deepcopy(cfg)
    sub["inventory"] = {"name": pop["demographics"], "path": None}
    sub["population"] = {"name": "none"}
    sub.update(scoring="logprob", administration="single", temperatures=[1.0], repetitions=1,
               option_orders=["original"], max_items=None, run_name=None, templates=None)
    folder = run(sub, progress=False, print_summary=False)
    responses = pd.read_parquet(folder / "responses.parquet", columns=["persona_id", "item_id", "option_probs"])
    out: dict[str, dict[str, np.ndarray]] = {}
    for (pid, qid), g in responses.groupby(["persona_id", "item_id"], sort=False):
        out.setdefault(pid, {})[qid] = np.mean(np.stack([np.asarray(p, float) for p in g["option_probs"]]), axis=0)
    return out


def match_likelihood(persona_probs: dict[str, dict[str, np.ndarray]], profiles: pd.DataFrame,
                     survey: Inventory) -> pd.DataFrame:
    """log P(persona gives the respondent's demographic answers), humans x personas (Anthology's weight)."""
    personas = list(persona_probs)
    index = {q: {lab: k for k, lab in enumerate(survey.item(q).scale.labels)} for q in profiles.columns}
    ll = np.zeros((len(profiles), len(personas)))
    for j, pid in enumerate(personas):
        for q in profiles.columns:
            p = np.clip(persona_probs[pid][q], 1e-12, 1.0)
            ll[:, j] += np.log(p[[index[q][lab] for lab in profiles[q]]])
    return pd.DataFrame(ll, index=profiles.index, columns=personas)


def match_greedy(ll: pd.DataFrame) -> pd.Series:
    """Each respondent gets their most likely persona; a persona may serve many respondents."""
    return pd.Series(ll.columns[np.argmax(ll.to_numpy(), axis=1)], index=ll.index, name="persona_id")


def match_max_weight(ll: pd.DataFrame) -> pd.Series:
    """One-to-one matching maximising the total log-likelihood (min(#respondents, #personas) pairs)."""
    rows, cols = linear_sum_assignment(ll.to_numpy(), maximize=True)
    return pd.Series(ll.columns[cols], index=ll.index[rows], name="persona_id")


def persona_weights(matching: pd.Series) -> pd.Series:
    return matching.value_counts().rename("weight")


# -- personas for a run ---------------------------------------------------------------------------

def personas_for(cfg: dict) -> tuple[Persona, ...] | None:
    """Population personas for `persona=demographic|backstory`; None for every other persona set."""
    kind = cfg["persona"].get("set")
    if kind not in ("demographic", "backstory"):
        return None
    if kind == "backstory":
        return backstory_personas(cfg)
    pop = resolve_population(cfg)
    if pop is None or not pop.get("attributes"):
        raise PopulationError("persona=demographic needs a population with individual respondents and "
                              "demographic attributes (e.g. population=psych_bfi)")
    return demographic_personas(cfg, pop)


def matchings(cfg: dict, pop: dict) -> dict[str, pd.Series]:
    """For a backstory run: {"backstory_greedy": ..., "backstory_maxweight": ...} respondent -> persona."""
    survey = load_inventory(pop["demographics"])
    sample = sample_respondents(human_profiles(load_human(pop), pop, survey), pop.get("sample", 40),
                                pop.get("seed", 0))
    ll = match_likelihood(backstory_demographics(cfg, pop), sample, survey)
    return {"backstory_greedy": match_greedy(ll), "backstory_maxweight": match_max_weight(ll)}


def method_name(cfg: dict) -> str:
    kind = cfg["persona"].get("set")
    if kind == "demographic":
        return str(cfg["persona"].get("style", "bio"))
    return "none" if kind in (None, "none") else str(kind)


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


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
    out = {}
    for item in inventory.items:
        g = r[r["item_id"] == item.id]
        n = len(inventory.scale_of(item).values)
        total = np.zeros(n)
        for pid, probs, answer, invalid in zip(g["participant_id"], g["option_probs"], g["answer"], g["invalid"]):
            w = float(weights.get(pid, 0.0))
            if probs is not None and len(probs):
                total += w * np.asarray(probs, float)
            elif not invalid and _finite(answer):
                total[int(answer) - 1] += w
        if total.sum() > 0:
            out[item.id] = total / total.sum()
    return out


def model_answers(r: pd.DataFrame) -> pd.DataFrame:
    """Participant x question answers (option values; invalid -> NaN): the population's 'respondents'."""
    valid = r[~r["invalid"].astype(bool)]
    return valid.pivot_table(index="participant_id", columns="item_id", values="answer", aggfunc="first")


def _with_distributions(table: pd.DataFrame, dists: dict, human, scales: dict) -> pd.DataFrame:
    """The per-question table with its question id and both distributions (model_p1.., human_p1..)."""
    from bench import fidelity as fid
    from bench.human import GroupCounts

    table = table.rename_axis("item_id").reset_index() if "item_id" not in table.columns else table.copy()
    rows = []
    for q in table["item_id"]:
        n = len(scales[q].values)
        if isinstance(human, GroupCounts):
            c = fid.aligned_counts(human, q, scales[q])
            h = c / c.sum()
        else:
            h = fid.answer_distribution(human.answers[q], n, human.weights)
        row = {f"model_p{k + 1}": float(dists[q][k]) for k in range(n)}
        row.update({f"human_p{k + 1}": float(h[k]) for k in range(n)})
        rows.append(row)
    return pd.concat([table.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def fidelity_for_run(cfg: dict, responses: pd.DataFrame, inventory: Inventory):
    """{method: fidelity section}, per-question table, human label; None when the run has no population."""
    pop = resolve_population(cfg)
    if pop is None:
        return None
    from bench import fidelity as fid
    from bench.human import GroupCounts

    if pop.get("instrument") and pop["instrument"] != inventory.id:
        raise PopulationError(f"population {pop['name']} lines up with instrument {pop['instrument']!r}, not "
                              f"{inventory.id!r}; choose inventory={pop['instrument']} or another population")
    temps = sorted(float(t) for t in responses["temperature"].unique())
    temp = float(pop.get("temperature", temps[-1]))
    if temp not in temps:
        temp = temps[-1]
    r = responses[responses["temperature"] == temp]
    human = load_human(pop)
    scales = {it.id: inventory.scale_of(it) for it in inventory.items}
    method = method_name(cfg)
    weightings = ({name: persona_weights(m) for name, m in matchings(cfg, pop).items()}
                  if cfg["persona"].get("set") == "backstory" else {method: None})
    sections, tables = {}, []
    for name, persona_weight in weightings.items():
        w = _participant_weights(r, persona_weight)
        dists = model_distributions(r, inventory, w)
        if isinstance(human, GroupCounts):
            section, table, groups = fid.group_fidelity(model_answers(r), human, inventory, model_weights=w,
                                                        n_splits=int(pop.get("split_half", 100)),
                                                        seed=int(pop.get("seed", 0)), model_distributions=dists)
            section["representativeness_by_group"] = {f"{a}:{g}": v for a, g, v in
                                                      zip(groups["attribute"], groups["group"],
                                                          groups["representativeness"])}
        else:
            section, table = fid.population_fidelity(model_answers(r), human, inventory, model_weights=w,
                                                     n_splits=int(pop.get("split_half", 100)),
                                                     seed=int(pop.get("seed", 0)), model_distributions=dists)
        table = _with_distributions(table, dists, human, scales)
        section = {"reference": human.source, "population": pop["name"], "method": name,
                   "temperature": temp, "n_questions": int(len(table)), **section}
        sections[name] = section
        tables.append(table.assign(method=name))
    return sections, pd.concat(tables, ignore_index=True)
