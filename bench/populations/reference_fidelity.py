"""A persona population's answers against a human reference: the distances of `bench.metrics.distances`
applied to both, Cronbach's alpha per trait, and the human split halves: an estimate, with its 95%
interval, of how far two samples of the population lie apart. `fidelity.py` calls these for a run.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from bench.instruments import Inventory, Scale
from bench.metrics.distances import (BOOT_SPLITS, alpha_with_ci, answer_distributions, answer_table_distances,
                                     count_split_half_bounds, keyed_scores, question_distances, representativeness,
                                     split_half_summary)
from bench.populations.human import GroupCounts, HumanResponses
from bench.populations.human.model import plain_value


# ---------------------------------------------------------------------------------------------
# respondent-level references


def split_half_bounds(human: HumanResponses, metric: Callable[[HumanResponses, HumanResponses], Mapping[str, float]],
                      n_splits: int = 100, seed: int = 0, n_boot: int | None = None) -> dict[str, dict[str, float]]:
    """Each metric between two random halves of the human respondents, over n_splits splits: an estimate
    of what two samples of the population differ by at half its size, with the noise of one.

    mean over splits, sd the spread over splits (ddof 1), n the finite splits; ci_low/ci_high its 95%
    interval over the splits and the respondents (`split_half_interval`): the respondents resampled
    min(n_boot, n_splits) times (n_boot default `n_boot_default()`), each resample split BOOT_SPLITS
    times, from a generator apart from the splits' own (their figures stay as they were).
    """
    from bench.metrics.uncertainty import n_boot_default

    rng = np.random.default_rng(seed)
    ids = np.asarray(human.answers.index)
    half = len(ids) // 2
    if half < 1:
        raise ValueError(f"{human.source}: {len(ids)} respondents cannot be split in halves")

    def one_split(sample: HumanResponses, draw: np.random.Generator) -> dict[str, float]:
        perm = draw.permutation(len(ids))
        where = np.asarray(sample.answers.index)
        return metric(sample.subset(where[perm[:half]]), sample.subset(where[perm[half:2 * half]]))

    splits = [one_split(human, rng) for _ in range(n_splits)]
    names = list(dict.fromkeys(k for res in splits for k in res))
    boot_rng = np.random.default_rng([seed, 1])
    boots = []
    for _ in range(min(n_boot_default() if n_boot is None else n_boot, n_splits)):
        sample = human.resample(boot_rng.integers(0, len(ids), len(ids)))
        boots.append([one_split(sample, boot_rng) for _ in range(BOOT_SPLITS)])
    as_array = lambda rows: np.array([[float(r.get(k, np.nan)) for k in names] for r in rows], dtype=float)
    return split_half_summary(names, as_array(splits).reshape(-1, len(names)),
                              np.array([as_array(b) for b in boots]).reshape(-1, BOOT_SPLITS, len(names)))


def population_fidelity(model_answers: pd.DataFrame, human: HumanResponses, instrument: Inventory,
                        model_weights: pd.Series | None = None, n_splits: int = 100,
                        seed: int = 0, model_distributions: Mapping[str, np.ndarray] | None = None
                        ) -> tuple[dict, pd.DataFrame]:
    """How well a persona population (respondent x question option values) matches real respondents.

    Returns the "fidelity" section of metrics.json (minus "method", which the caller knows) and the
    per-question table. Questions: the instrument's items present in both tables. Human weights
    (if any) weight the human distributions and correlations; alpha is unweighted (pingouin) and
    only for likert inventories with traits. human_lower_bound: the same metrics between random
    halves of the humans (split_half_bounds).
    """
    questions = [it.id for it in instrument.items if it.id in model_answers.columns and it.id in human.answers.columns]
    if not questions:
        raise ValueError(f"no question of {instrument.id!r} in both the model answers and {human.source}")
    scales = {q: instrument.scale_of(instrument.item(q)) for q in questions}
    if model_distributions is not None:
        model_distributions = {q: model_distributions[q] for q in questions}
    summary, per_q = answer_table_distances(model_answers, model_weights, human.answers, human.weights, questions,
                                            scales, model_distributions)

    def between_halves(a: HumanResponses, b: HumanResponses) -> dict[str, float]:
        return answer_table_distances(a.answers, a.weights, b.answers, b.weights, questions, scales)[0]

    bounds = split_half_bounds(human, between_halves, n_splits=n_splits, seed=seed)
    alphas: dict[str, dict[str, tuple[float, float, float]]] = {"model": {}, "human": {}, "human_full": {}}
    items_full = [it.id for it in instrument.items if it.id in human.answers.columns]
    if instrument.kind == "likert" and instrument.traits:
        traits = {q: instrument.item(q).trait for q in questions}
        alphas["model"] = alpha_with_ci(keyed_scores(model_answers[questions], instrument), traits)
        alphas["human"] = alpha_with_ci(keyed_scores(human.answers[questions], instrument), traits)
        # the human alpha of the whole instrument: with max_items the compared items are fewer, and alpha
        # falls with the number of items, so both are reported, each labelled by its item count
        alphas["human_full"] = alpha_with_ci(keyed_scores(human.answers[items_full], instrument),
                                             {q: instrument.item(q).trait for q in items_full})
    alpha_model, alpha_human, alpha_human_full = ({t: v[0] for t, v in alphas[k].items()} for k in alphas)
    section = {
        "reference": human.source, "n_questions": len(questions),
        "n_model": int(len(model_answers)), "n_human": int(human.n),
        **summary,
        "mean_model_refusal": float(np.nanmean(per_q["model_refusal"])),
        "mean_human_refusal": float(np.nanmean(per_q["human_refusal"])),
        "alpha_model": alpha_model, "alpha_human": alpha_human, "alpha_human_full": alpha_human_full,
        **{f"alpha_{k}_ci95": {t: [v[1], v[2]] for t, v in a.items()} for k, a in alphas.items()},
        "alpha_n_items": {t: sum(1 for q in questions if instrument.item(q).trait == t) for t in alpha_model},
        "alpha_n_items_full": {t: sum(1 for q in items_full if instrument.item(q).trait == t) for t in alpha_human_full},
        "human_lower_bound": split_half_section(bounds),
    }
    return section, per_q


# ---------------------------------------------------------------------------------------------
# aggregate references (OpinionQA group counts)


def aligned_counts(counts: GroupCounts, question: str, scale: Scale, attribute: str | None = None,
                   group: str | None = None) -> np.ndarray:
    """A question's human counts in the instrument's option order, matched by source code (Pew's 1, 2, 99).

    Matching by code, not by label, survives rewording ("Refused" vs "No answer"); a question whose
    codes differ from the instrument's is an error rather than a silent misalignment.
    """
    raw = counts.counts_of(question, attribute, group)
    source = counts.codes.get(question) or tuple(float(v) for v in range(1, len(raw) + 1))
    mine = scale.codes or tuple(float(v) for v in scale.values)
    if sorted(source) != sorted(mine):
        raise ValueError(f"question {question!r}: the reference's option codes {[plain_value(c) for c in source]} "
                         f"differ from the instrument's {[plain_value(c) for c in mine]}")
    by_code = dict(zip(source, raw))
    return np.array([by_code[c] for c in mine], dtype=float)


def group_fidelity(model_answers: pd.DataFrame, counts: GroupCounts, instrument: Inventory,
                   model_weights: pd.Series | None = None, attributes: Sequence[str] | None = None,
                   n_splits: int = 100, seed: int = 0, model_distributions: Mapping[str, np.ndarray] | None = None
                   ) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """A persona population against an aggregate reference (OpinionQA): distances to everyone, and
    OpinionQA's representativeness of each demographic group.

    Returns (section, per-question table vs the overall distribution, groups table with columns
    attribute, group, representativeness, n_questions). frobenius/alpha are NaN/empty: counts hold
    no joint answers. human_lower_bound halves each question's respondents (count_split_half_bounds).
    """
    questions = [it.id for it in instrument.items if it.id in model_answers.columns and it.id in counts.options]
    if not questions:
        raise ValueError(f"no question of {instrument.id!r} in both the model answers and {counts.source}")
    scales = {q: instrument.scale_of(instrument.item(q)) for q in questions}
    model = ({q: model_distributions[q] for q in questions} if model_distributions is not None
             else answer_distributions(model_answers, questions, scales, model_weights))
    overall = {q: aligned_counts(counts, q, scales[q]) for q in questions}
    per_q = question_distances(model, {q: c / c.sum() for q, c in overall.items()}, scales)
    rows = []
    for attr in attributes if attributes is not None else counts.attributes:
        for g in counts.groups(attr):
            dists = {}
            for q in questions:
                c = aligned_counts(counts, q, scales[q], attr, g) if _has(counts, q, attr, g) else None
                if c is not None and c.sum() > 0:
                    dists[q] = c / c.sum()
            r = representativeness(model, {g: dists}, scales)[g] if dists else float("nan")
            rows.append((attr, g, r, len(dists)))
    groups = pd.DataFrame(rows, columns=["attribute", "group", "representativeness", "n_questions"])
    bounds = count_split_half_bounds(overall, scales, n_splits=n_splits, seed=seed)
    section = {
        "reference": counts.source, "n_questions": len(questions), "n_model": int(len(model_answers)),
        "mean_wd": float(np.nanmean(per_q["wd"])), "mean_wd_normalized": float(np.nanmean(per_q["wd_normalized"])),
        "mean_tv": float(np.nanmean(per_q["tv"])), "representativeness": 1.0 - float(np.nanmean(per_q["wd_normalized"])),
        "frobenius": float("nan"), "frobenius_normalized": float("nan"),
        "mean_model_refusal": float(np.nanmean(per_q["model_refusal"])),
        "mean_human_refusal": float(np.nanmean(per_q["human_refusal"])),
        "alpha_model": {}, "alpha_human": {},
        "human_lower_bound": split_half_section(bounds),
    }
    return section, per_q, groups


def _has(counts: GroupCounts, question: str, attribute: str, group: str) -> bool:
    c = counts.counts
    return bool(((c["question"] == question) & (c["attribute"] == attribute) & (c["group"] == group)).any())


def split_half_section(bounds: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """The fidelity section's human split-half estimates (kept under `human_lower_bound`, the name results
    were first written with): mean and sd over the splits, and the 95% interval."""
    return {k: {"mean": v["mean"], "sd": v["sd"], "ci_low": v["ci_low"], "ci_high": v["ci_high"]}
            for k, v in bounds.items()}


SPLIT_HALF_FIGURES = ("mean_wd", "mean_wd_normalized", "mean_tv", "frobenius", "frobenius_normalized")


def split_half_warnings(section: dict) -> list[dict]:
    """A warning for each distance of a fidelity section that lies inside the human split-half estimate's
    95% interval: at this human sample size the reference cannot tell the model from two halves of itself
    (the interval is wider than the difference it is meant to judge)."""
    bound, found = section.get("human_lower_bound") or {}, []
    n = f"{section['n_human']} respondents" if section.get("n_human") else "the reference's respondents"
    for figure in SPLIT_HALF_FIGURES:
        b, v = bound.get(figure) or {}, section.get(figure)
        lo, hi = b.get("ci_low"), b.get("ci_high")
        if all(isinstance(x, (int, float)) and np.isfinite(x) for x in (v, lo, hi)) and lo <= v <= hi:
            found.append({"figure": f"fidelity[{section.get('method')}].{figure}",
                          "reason": f"{v:.3f} lies inside the human split-half estimate's 95% interval "
                                    f"[{lo:.3f}, {hi:.3f}] from {n}: too few people to tell the model from two "
                                    "halves of themselves; more respondents narrow it"})
    return found
