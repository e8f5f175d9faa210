"""Fidelity of a persona population to real people: pure functions of answer tables.

Distances between answer distributions follow OpinionQA (Santurkar et al. 2023) and Anthology
(Moon et al. 2024): a 1-D Wasserstein distance over each question's ordinal positions, raw
(Anthology) and divided by its maximum, max - min position (OpinionQA); refusals ("Refused",
"Not sure", ...) have no ordinal position, so their mass is reported apart and the distribution
renormalised over the ordinal options. Structure is compared through the inter-question
correlation matrices (Frobenius norm of the difference) and Cronbach's alpha. Human split halves
give the lower bound a perfect simulator of the population could reach.
"""

from __future__ import annotations

import warnings
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

from bench.populations.human import GroupCounts, HumanResponses
from bench.instruments import Inventory, Scale

# ---------------------------------------------------------------------------------------------
# distributions and distances


def answer_distribution(values, n_options: int, weights=None) -> np.ndarray:
    """Weighted share of each option 1..n_options; NaN answers skipped; all NaN when none is left."""
    v = np.asarray(values, dtype=float)
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != v.shape:
        raise ValueError(f"{len(w)} weights for {len(v)} answers")
    keep = ~np.isnan(v)
    v, w = v[keep], w[keep]
    bad = v[(v < 1) | (v > n_options) | (v != np.round(v))]
    if len(bad):
        raise ValueError(f"answer {bad[0]:g} is not an option value 1..{n_options}")
    counts = np.bincount(v.astype(int) - 1, weights=w, minlength=n_options).astype(float)
    total = counts.sum()
    return counts / total if total > 0 else np.full(n_options, np.nan)


def split_refusal(p, refusals: Sequence[bool]) -> tuple[np.ndarray, float]:
    """(distribution renormalised over the non-refusal options, refusal mass), as OpinionQA does."""
    p = np.asarray(p, dtype=float)
    ref = np.asarray(refusals, dtype=bool)
    if p.shape != ref.shape:
        raise ValueError(f"{len(p)} probabilities for {len(ref)} refusal flags")
    mass = float(p[ref].sum())
    rest = p[~ref]
    total = rest.sum()
    return (rest / total if total > 0 else np.full(len(rest), np.nan)), mass


def wasserstein(p, q, positions) -> float:
    """1-D Wasserstein (earth mover's) distance between p and q placed at `positions`."""
    p, q, x = (np.asarray(a, dtype=float) for a in (p, q, positions))
    if not (p.shape == q.shape == x.shape):
        raise ValueError(f"shapes differ: p {p.shape}, q {q.shape}, positions {x.shape}")
    if np.isnan(p).any() or np.isnan(q).any() or p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    return float(wasserstein_distance(x, x, p, q))


def max_wasserstein(positions) -> float:
    """The largest possible WD over these positions (all mass at one end vs the other): max - min."""
    x = np.asarray(positions, dtype=float)
    return float(x.max() - x.min())


def total_variation(p, q) -> float:
    """Half the L1 distance: the largest difference in probability any set of options can show."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.shape != q.shape:
        raise ValueError(f"shapes differ: {p.shape} vs {q.shape}")
    return float(0.5 * np.abs(p - q).sum())


QUESTION_COLUMNS = ["wd", "wd_normalized", "tv", "model_refusal", "human_refusal", "n_options"]


def question_distances(model: Mapping[str, np.ndarray], human: Mapping[str, np.ndarray],
                       scales: Mapping[str, Scale]) -> pd.DataFrame:
    """Per question (in `model`'s order, those also in `human`): distances after dropping refusals.

    wd over the scale's ordinal positions; wd_normalized = wd / (max - min position); tv on the
    renormalised ordinal distributions; *_refusal the refusal mass; n_options the ordinal options.
    """
    rows = {}
    for q, p in model.items():
        if q not in human:
            continue
        scale = scales[q]
        if len(p) != len(scale.values) or len(human[q]) != len(scale.values):
            raise ValueError(f"question {q!r}: {len(p)} model / {len(human[q])} human probabilities "
                             f"for {len(scale.values)} options")
        ref = scale.refusals
        positions = [o for o in scale.ordinal_values if o is not None]
        pm, mref = split_refusal(p, ref)
        ph, href = split_refusal(human[q], ref)
        wd = wasserstein(pm, ph, positions)
        top = max_wasserstein(positions)
        rows[q] = [wd, wd / top if top > 0 else float("nan"), total_variation(pm, ph), mref, href, len(positions)]
    out = pd.DataFrame.from_dict(rows, orient="index", columns=QUESTION_COLUMNS)
    out.index.name = "question"
    return out.astype({"n_options": int}) if len(out) else out


def representativeness(model: Mapping[str, np.ndarray], groups: Mapping[str, Mapping[str, np.ndarray]],
                       scales: Mapping[str, Scale]) -> pd.Series:
    """OpinionQA's representativeness per group: 1 - mean over questions of the normalised WD."""
    out = {g: 1.0 - float(np.nanmean(question_distances(model, dists, scales)["wd_normalized"]))
           for g, dists in groups.items()}
    return pd.Series(out, name="representativeness", dtype=float)


# ---------------------------------------------------------------------------------------------
# structure: correlations, alpha


def weighted_correlation(wide: pd.DataFrame, weights=None) -> pd.DataFrame:
    """Weighted Pearson correlation of every pair of columns over the rows where both are present.

    Vectorised over pairs: each column is first centred on its own weighted mean (for numerical
    stability), then per pair the weighted means, variances and covariance are taken over the
    pairwise-complete rows. NaN where a pair has fewer than 2 rows or no variance.
    """
    x = wide.to_numpy(dtype=float)
    w = np.ones(len(x)) if weights is None else np.asarray(
        weights.reindex(wide.index) if isinstance(weights, pd.Series) else weights, dtype=float)
    if w.shape != (len(x),) or np.isnan(w).any() or (w < 0).any():
        raise ValueError("weights must be one non-negative number per row")
    m = (~np.isnan(x)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.nansum(x * w[:, None], axis=0) / (m * w[:, None]).sum(axis=0)
        xc = np.where(m > 0, x - centre, 0.0)
        wm = m * w[:, None]
        # einsum rather than `@`: small products, and BLAS threads spin badly on a busy 2-core box
        s = np.einsum("ki,kj->ij", wm, m)  # s[i, j] = sum of weights where i and j are both present
        sx = np.einsum("ki,kj->ij", wm * xc, m)  # weighted sum of column i over rows where j is present
        sxx = np.einsum("ki,kj->ij", wm * xc**2, m)
        sxy = np.einsum("ki,kj->ij", wm * xc, m * xc)
        mx, my = sx / s, sx.T / s
        cov = sxy / s - mx * my
        vx, vy = sxx / s - mx**2, sxx.T / s - my**2
        r = cov / np.sqrt(vx * vy)
    npair = np.einsum("ki,kj->ij", m, m)
    r[(npair < 2) | ~(vx > 1e-12) | ~(vy > 1e-12)] = np.nan
    r = np.clip(r, -1.0, 1.0)
    return pd.DataFrame(r, index=wide.columns, columns=wide.columns)


def frobenius(a: pd.DataFrame, b: pd.DataFrame) -> dict:
    """||A - B||_F on the questions both matrices hold (A's order), and a size-normalised variant.

    frobenius_normalized = ||A - B||_F / sqrt(n (n - 1)): the root mean square difference of the
    off-diagonal correlations (the diagonals are both 1), comparable across question counts and in
    correlation units (0 .. 2). Entries NaN in either matrix (a constant column) are left out and
    the normaliser counts only the off-diagonal entries kept.
    """
    common = [q for q in a.index if q in b.index]
    d = a.loc[common, common].to_numpy(float) - b.loc[common, common].to_numpy(float)
    off = ~np.eye(len(common), dtype=bool) & ~np.isnan(d)
    n_off = int(off.sum())
    sq = float(np.nansum(d**2))
    return {"frobenius": float(np.sqrt(sq)) if n_off else float("nan"),
            "frobenius_normalized": float(np.sqrt(np.sum(d[off] ** 2) / n_off)) if n_off else float("nan"),
            "n_questions": len(common)}


def alpha_by_trait(wide_scores: pd.DataFrame, traits: Mapping[str, str]) -> dict[str, float]:
    """Cronbach's alpha per trait (pingouin, pairwise-complete) over already reverse-keyed scores."""
    return {t: a for t, (a, _, _) in alpha_with_ci(wide_scores, traits).items()}


def alpha_with_ci(wide_scores: pd.DataFrame, traits: Mapping[str, str]) -> dict[str, tuple[float, float, float]]:
    """Per trait: (alpha, 95% CI low, high) from pingouin.cronbach_alpha; NaN where it is not computable."""
    import pingouin as pg

    nan = float("nan")
    out: dict[str, tuple[float, float, float]] = {}
    for trait in dict.fromkeys(traits.values()):
        items = [i for i, t in traits.items() if t == trait and i in wide_scores.columns]
        data = wide_scores[items].dropna(how="all").astype(float)
        a, lo, hi = nan, nan, nan
        if len(items) >= 2 and len(data) >= 2:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                a, ci = pg.cronbach_alpha(data=data)
                a, lo, hi = float(a), float(ci[0]), float(ci[1])
        out[trait] = tuple(v if np.isfinite(v) else nan for v in (a, lo, hi))
    return out


# ---------------------------------------------------------------------------------------------
# human lower bounds and the whole comparison


def split_half_bounds(human: HumanResponses, metric: Callable[[HumanResponses, HumanResponses], Mapping[str, float]],
                      n_splits: int = 100, seed: int = 0) -> dict[str, dict[str, float]]:
    """Each metric between two random halves of the human respondents, over n_splits splits.

    What the metric reaches between two samples of the same population: a model population can do
    no better except by chance. sd is the spread over splits (ddof 1).
    """
    rng = np.random.default_rng(seed)
    ids = np.asarray(human.answers.index)
    half = len(ids) // 2
    if half < 1:
        raise ValueError(f"{human.source}: {len(ids)} respondents cannot be split in halves")
    values: dict[str, list[float]] = {}
    for _ in range(n_splits):
        perm = rng.permutation(len(ids))
        res = metric(human.subset(ids[perm[:half]]), human.subset(ids[perm[half:2 * half]]))
        for k, v in res.items():
            values.setdefault(k, []).append(float(v))
    out = {}
    for k, vs in values.items():
        arr = np.asarray(vs, dtype=float)
        arr = arr[np.isfinite(arr)]
        out[k] = {"mean": float(arr.mean()) if len(arr) else float("nan"),
                  "sd": float(arr.std(ddof=1)) if len(arr) > 1 else float("nan"), "n": int(len(arr))}
    return out


def _distributions(answers: pd.DataFrame, questions: Sequence[str], scales: Mapping[str, Scale],
                   weights: pd.Series | None) -> dict[str, np.ndarray]:
    w = None if weights is None else weights.reindex(answers.index).to_numpy(float)
    out = {}
    for q in questions:
        try:
            out[q] = answer_distribution(answers[q].to_numpy(float), len(scales[q].values), w)
        except ValueError as exc:
            raise ValueError(f"question {q!r}: {exc}") from None
    return out


def ordinal_frame(answers: pd.DataFrame, scales: Mapping[str, Scale]) -> pd.DataFrame:
    """Option values 1..k -> ordinal positions (refusals -> NaN), for correlations across questions."""
    out = np.full(answers.shape, np.nan)
    for j, q in enumerate(answers.columns):
        table = np.array([np.nan if o is None else float(o) for o in scales[q].ordinal_values])
        v = answers[q].to_numpy(float)
        ok = ~np.isnan(v) & (v >= 1) & (v <= len(table))
        out[ok, j] = table[v[ok].astype(int) - 1]
    return pd.DataFrame(out, index=answers.index, columns=answers.columns)


def _distances(model_answers: pd.DataFrame, model_weights, human_answers: pd.DataFrame, human_weights,
               questions: Sequence[str], scales: Mapping[str, Scale],
               model_distributions: Mapping[str, np.ndarray] | None = None) -> tuple[dict, pd.DataFrame]:
    """The population-level distances between two answer tables (model vs humans, or two halves).

    model_distributions, when given, replaces the distributions counted from model_answers (a
    logprob run knows each participant's exact answer distribution, not just one draw from it)."""
    qs = list(questions)
    per_q = question_distances(model_distributions or _distributions(model_answers, qs, scales, model_weights),
                               _distributions(human_answers, qs, scales, human_weights), scales)
    corr_m = weighted_correlation(ordinal_frame(model_answers[qs], scales), model_weights)
    corr_h = weighted_correlation(ordinal_frame(human_answers[qs], scales), human_weights)
    fro = frobenius(corr_m, corr_h)
    summary = {"mean_wd": float(np.nanmean(per_q["wd"])), "mean_wd_normalized": float(np.nanmean(per_q["wd_normalized"])),
               "mean_tv": float(np.nanmean(per_q["tv"])),
               "frobenius": fro["frobenius"], "frobenius_normalized": fro["frobenius_normalized"]}
    return summary, per_q


def keyed_scores(answers: pd.DataFrame, instrument: Inventory) -> pd.DataFrame:
    """Answers with reverse-keyed items reversed (Scale.reverse), for alpha."""
    out = answers.copy()
    for it in instrument.items:
        if it.id in out.columns and it.keyed == -1:
            out[it.id] = instrument.scale_of(it).reverse(out[it.id])
    return out


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
    summary, per_q = _distances(model_answers, model_weights, human.answers, human.weights, questions, scales,
                                model_distributions)

    def between_halves(a: HumanResponses, b: HumanResponses) -> dict[str, float]:
        return _distances(a.answers, a.weights, b.answers, b.weights, questions, scales)[0]

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
        "human_lower_bound": {k: {"mean": v["mean"], "sd": v["sd"]} for k, v in bounds.items()},
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
        raise ValueError(f"question {question!r}: the reference's option codes {[_fmt_code(c) for c in source]} "
                         f"differ from the instrument's {[_fmt_code(c) for c in mine]}")
    by_code = dict(zip(source, raw))
    return np.array([by_code[c] for c in mine], dtype=float)


def _fmt_code(c: float) -> float | int:
    return int(c) if float(c).is_integer() else c


def count_split_half_bounds(human: Mapping[str, np.ndarray], scales: Mapping[str, Scale], n_splits: int = 100,
                            seed: int = 0) -> dict[str, dict[str, float]]:
    """Split-half bounds when only counts exist: each question's respondents halved at random.

    Each split draws half of every question's respondents without replacement (a multivariate
    hypergeometric draw, which is exactly a random halving of the people behind the counts) and
    compares the halves' distributions. No correlations: aggregates hold no joint answers.
    """
    rng = np.random.default_rng(seed)
    ints = {}
    for q, c in human.items():
        c = np.asarray(c, dtype=float)
        if not np.allclose(c, np.round(c)):
            raise ValueError(f"question {q!r}: counts {c.tolist()} are not whole respondents (weighted?)")
        ints[q] = np.round(c).astype(np.int64)
    values: dict[str, list[float]] = {"mean_wd": [], "mean_wd_normalized": [], "mean_tv": []}
    for _ in range(n_splits):
        a, b = {}, {}
        for q, c in ints.items():
            half = rng.multivariate_hypergeometric(c, int(c.sum()) // 2)
            a[q], b[q] = half / half.sum(), (c - half) / (c - half).sum()
        d = question_distances(a, b, scales)
        values["mean_wd"].append(float(np.nanmean(d["wd"])))
        values["mean_wd_normalized"].append(float(np.nanmean(d["wd_normalized"])))
        values["mean_tv"].append(float(np.nanmean(d["tv"])))
    return {k: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else float("nan"),
                "n": len(v)} for k, v in values.items()}


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
             else _distributions(model_answers, questions, scales, model_weights))
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
        "human_lower_bound": {k: {"mean": v["mean"], "sd": v["sd"]} for k, v in bounds.items()},
    }
    return section, per_q, groups


def _has(counts: GroupCounts, question: str, attribute: str, group: str) -> bool:
    c = counts.counts
    return bool(((c["question"] == question) & (c["attribute"] == attribute) & (c["group"] == group)).any())
