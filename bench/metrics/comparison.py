"""Runs of different models on one design, side by side: each figure per model with its interval, and
each model's difference from the first (the reference) with an interval and a test.

Pure functions of the runs' tables, keyed by model label in the order given (the first is the
reference). Personas are the unit of every interval and test (see bench.metrics.uncertainty): a
persona's templates, orders and repetitions move together, so trait and label-mass differences are
Welch tests over persona means, and the alpha difference is a cluster bootstrap that resamples the
same personas for both models. The chi-square test of position shares counts answers as independent
draws, which they are not (a persona's answers move together): its p is a screening figure, said so
beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from bench.instruments import Inventory
from bench.metrics.position import choice_table
from bench.metrics.reliability import cronbach_alpha, trait_matrices
from bench.metrics.tables import condition_means, participants
from bench.metrics.trust import LOW_LABEL_MASS
from bench.metrics.uncertainty import LEVEL, MIN_CLUSTERS, cluster_bootstrap, inside, t_interval, \
    welch_interval, wilson_interval

NAN = float("nan")
FIDELITY_FIGURES = ("mean_wd", "mean_wd_normalized", "mean_tv", "frobenius", "frobenius_normalized")


def welch_test(a, b) -> tuple[float, float, float, float]:
    """mean(a) - mean(b), its 95% Welch interval and two-sided p (scipy ttest_ind, equal_var=False);
    NaN where either side has fewer than 2 values."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return NAN, NAN, NAN, NAN
    lo, hi = welch_interval(a, b)
    p = NAN
    if a.size >= 2 and b.size >= 2 and (np.ptp(a) > 0 or np.ptp(b) > 0):
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return float(a.mean() - b.mean()), lo, hi, p


def compare_means(values: dict[str, np.ndarray]) -> list[dict]:
    """Per model: mean of its values (one per persona or condition), 95% t interval, n; then its
    difference from the first model's mean with a Welch interval and p (none for the first)."""
    labels = list(values)
    ref = values[labels[0]] if labels else np.array([])
    rows = []
    for label in labels:
        v = np.asarray(values[label], float)
        v = v[np.isfinite(v)]
        lo, hi = t_interval(v)
        row = {"model": label, "mean": float(v.mean()) if v.size else NAN, "ci_low": lo, "ci_high": hi,
               "n": int(v.size), "diff": NAN, "diff_ci_low": NAN, "diff_ci_high": NAN, "p": NAN}
        if label != labels[0]:
            row["diff"], row["diff_ci_low"], row["diff_ci_high"], row["p"] = welch_test(v, ref)
        rows.append(row)
    return rows


def persona_means(table: pd.DataFrame, value: str, by: list[str]) -> pd.DataFrame:
    """Mean of `value` per persona (and `by`): the cluster-level values the tests rest on."""
    return table.groupby([*by, "persona_id"], sort=False)[value].mean().reset_index()


def asked_traits(scores: dict[str, pd.DataFrame]) -> list[str]:
    """Traits with a score in some run, in order (a truncated inventory leaves the others empty)."""
    return list(dict.fromkeys(t for s in scores.values() for t in s.loc[s["score"].notna(), "trait"]))


def trait_comparison(scores: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per trait and model: mean trait score over personas (each persona's mean over its conditions),
    t interval, n personas, and the difference from the reference model (Welch over persona means)."""
    means = {m: persona_means(s, "score", ["trait"]) for m, s in scores.items()}
    traits = asked_traits(scores)
    rows = []
    for trait in traits:
        vals = {m: t.loc[t["trait"] == trait, "score"].to_numpy(float) for m, t in means.items()}
        rows += [{"trait": trait, **r} for r in compare_means(vals)]
    return pd.DataFrame(rows)


def persona_profiles(scores: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per persona, trait and model: the trait profile (mean over the persona's conditions, repetitions
    averaged first), its t interval over conditions, and the difference from the reference model
    (Welch over the conditions)."""
    cond = {m: condition_means(s) for m, s in scores.items()}
    asked = set(asked_traits(scores))
    keys = list(dict.fromkeys((p, t) for s in scores.values() for p, t in zip(s["persona_id"], s["trait"])
                              if t in asked))
    rows = []
    for persona, trait in keys:
        vals = {m: c.loc[(c["persona_id"] == persona) & (c["trait"] == trait), "score"].to_numpy(float)
                for m, c in cond.items()}
        rows += [{"persona_id": persona, "trait": trait, **r} for r in compare_means(vals)]
    return pd.DataFrame(rows)


def label_mass_comparison(responses: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per model: mean probability on the option labels over personas (logprob scoring), t interval,
    and the difference from the reference (Welch over persona means); empty when no run has it."""
    vals = {}
    for m, r in responses.items():
        if "label_mass" not in r.columns or r["label_mass"].notna().sum() == 0:
            continue
        vals[m] = persona_means(r.assign(label_mass=pd.to_numeric(r["label_mass"], errors="coerce")),
                                "label_mass", [])["label_mass"].to_numpy(float)
    return pd.DataFrame(compare_means(vals)) if len(vals) else pd.DataFrame()


def accuracy_comparison(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """Per model: type accuracy k / n with its Wilson interval; the difference from the reference with
    Newcombe's interval and the two-proportion z-test (statsmodels)."""
    labels = list(counts)
    k0, n0 = counts[labels[0]]
    rows = []
    for label in labels:
        k, n = counts[label]
        lo, hi = wilson_interval(k, n)
        row = {"model": label, "accuracy": k / n if n else NAN, "ci_low": lo, "ci_high": hi, "n": int(n),
               "diff": NAN, "diff_ci_low": NAN, "diff_ci_high": NAN, "p": NAN}
        if label != labels[0] and n and n0:
            row["diff"] = k / n - k0 / n0
            row["diff_ci_low"], row["diff_ci_high"] = (float(x) for x in confint_proportions_2indep(
                k, n, k0, n0, method="newcomb", compare="diff", alpha=1 - LEVEL))
            if 0 < k + k0 < n + n0:  # all hits or all misses: the pooled z-test has no variance
                row["p"] = float(proportions_ztest([k, k0], [n, n0])[1])
        rows.append(row)
    return pd.DataFrame(rows)


def alpha_difference(responses: pd.DataFrame, reference: pd.DataFrame, inventory: Inventory,
                     n_boot: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Per trait: Cronbach's alpha of `responses` minus the reference's, with a 95% cluster-bootstrap
    (BCa) interval in which one resample of the shared personas serves both models (their sampling moves
    together); NaN with fewer than MIN_CLUSTERS shared personas, or (with a `warning`) when it excludes
    the difference itself."""
    mats, ref_mats = trait_matrices(responses, inventory), trait_matrices(reference, inventory)
    persona = {**dict(zip(*participants(reference)[["participant_id", "persona_id"]].astype(str).T.to_numpy())),
               **dict(zip(*participants(responses)[["participant_id", "persona_id"]].astype(str).T.to_numpy()))}
    rows = []
    for trait, wide in mats.items():
        ref = ref_mats.get(trait)
        if ref is None or wide.empty or ref.empty:  # a trait the runs did not ask (max_items)
            continue
        by_a = pd.Series(wide.index.map(persona)).groupby(wide.index.map(persona)).indices
        by_b = pd.Series(ref.index.map(persona)).groupby(ref.index.map(persona)).indices
        shared = sorted(set(by_a) & set(by_b))

        def alpha_of(w: pd.DataFrame) -> float:
            return cronbach_alpha(w)[0] if w.shape[0] >= 2 and w.shape[1] >= 2 else NAN

        def diff(ix: np.ndarray) -> float:
            picked = [shared[int(i)] for i in ix]
            a = wide.iloc[np.concatenate([by_a[p] for p in picked])] if picked else wide.iloc[:0]
            b = ref.iloc[np.concatenate([by_b[p] for p in picked])] if picked else ref.iloc[:0]
            return alpha_of(a) - alpha_of(b)

        value = alpha_of(wide) - alpha_of(ref)
        lo = hi = NAN
        if shared and np.isfinite(value):
            lo, hi = cluster_bootstrap(shared, diff, n_boot=n_boot, seed=seed, method="BCa")
        lo, hi, warning = inside(value, lo, hi)
        rows.append({"trait": trait, "diff": value, "diff_ci_low": lo, "diff_ci_high": hi,
                     "n_personas": len(shared), "warning": warning})
    return pd.DataFrame(rows, columns=["trait", "diff", "diff_ci_low", "diff_ci_high", "n_personas", "warning"])


def position_shares(responses: pd.DataFrame, inventory: Inventory, n_boot: int | None = None,
                    seed: int = 0) -> pd.DataFrame:
    """Share of the answer mass on each shown option position, per option order, with a 95%
    cluster-bootstrap interval over personas; `mass` is the answer mass (answers) behind each share."""
    table = choice_table(responses, inventory)
    cols = ["option_order", "position", "share", "ci_low", "ci_high", "mass"]
    if table is None or table["n"].sum() == 0:
        return pd.DataFrame(columns=cols)
    k = len(inventory.scale.values)
    rows = []
    for order, g in table.groupby("option_order", sort=True):
        g = g.reset_index(drop=True)
        n, pos = g["n"].to_numpy(float), g["position"].to_numpy(int)

        def shares(ix: np.ndarray) -> np.ndarray:
            by_pos = np.bincount(pos[ix], weights=n[ix], minlength=k)
            return by_pos / by_pos.sum() if by_pos.sum() > 0 else np.full(k, NAN)

        mass = np.bincount(pos, weights=n, minlength=k)
        lo, hi = cluster_bootstrap(g["persona_id"].to_numpy(), shares, n_boot=n_boot, seed=seed)
        rows += [{"option_order": order, "position": j + 1, "share": mass[j] / mass.sum(), "ci_low": float(lo[j]),
                  "ci_high": float(hi[j]), "mass": float(mass[j])} for j in range(k)]
    return pd.DataFrame(rows, columns=cols)


def position_test(shares: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per option order: do the models spread their answers over shown positions alike? Pearson's
    chi-square on the models x positions table of answer mass (scipy chi2_contingency), each model
    against the reference. Answers are counted as independent: a screening p, not a final one."""
    labels = list(shares)
    ref = shares[labels[0]]
    rows = []
    for label in labels[1:]:
        other = shares[label]
        for order in sorted(set(ref["option_order"]) & set(other["option_order"])):
            a = other.loc[other["option_order"] == order].set_index("position")["mass"]
            b = ref.loc[ref["option_order"] == order].set_index("position")["mass"]
            table = pd.concat([a, b], axis=1).fillna(0.0).to_numpy(float).T
            table = table[:, table.sum(axis=0) > 0]
            chi2 = p = NAN  # one position holds every answer of both: nothing to test
            dof = 0
            if table.shape[1] >= 2:
                res = stats.chi2_contingency(table, correction=False)
                chi2, p, dof = float(res.statistic), float(res.pvalue), int(res.dof)
            rows.append({"model": label, "option_order": order, "chi2": chi2, "dof": dof, "p": p,
                         "n_answers": float(table.sum())})
    return pd.DataFrame(rows, columns=["model", "option_order", "chi2", "dof", "p", "n_answers"])


def side_by_side(metrics: dict[str, dict], section: str, figures, keys: tuple[str, ...] = ()) -> pd.DataFrame:
    """Figures that each run's metrics.json already holds with their intervals, one row per model (and
    per `keys` values when the section, a dotted path, is a list of rows): value, ci_low, ci_high, warning."""
    rows = []
    for label, m in metrics.items():
        node = m
        for part in section.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        items = node if isinstance(node, list) else [node] if isinstance(node, dict) else []
        for item in items:
            for fig in figures:
                if not isinstance(item, dict) or item.get(fig) is None:
                    continue
                row = {"model": label, **{k: item.get(k) for k in keys}, "figure": fig,
                       "value": item.get(fig), "ci_low": item.get(f"{fig}_ci_low"),
                       "ci_high": item.get(f"{fig}_ci_high"), "warning": item.get("warning")}
                rows.append(row)
    return pd.DataFrame(rows)


def comparison_warnings(metrics: dict[str, dict], n_personas: dict[str, int], mass: pd.DataFrame) -> list[dict]:
    """Each run's own warnings (named by model), then what makes the comparison itself uncertain: too few
    personas for a Welch test or a bootstrap, low label mass, a collapsed run."""
    found = [{"figure": f"{label}: {w.get('figure')}", "reason": w.get("reason")}
             for label, m in metrics.items() for w in (m.get("warnings") or [])]
    for label, n in n_personas.items():
        if n < 2:
            found.append({"figure": f"{label}: differences", "reason": f"{n} persona: no Welch interval or test"})
        elif n < MIN_CLUSTERS:
            found.append({"figure": f"{label}: alpha difference, position shares",
                          "reason": f"{n} personas (under {MIN_CLUSTERS}): no bootstrap interval"})
    for r in mass.to_dict(orient="records") if len(mass) else []:
        if np.isfinite(r["mean"]) and r["mean"] < LOW_LABEL_MASS:
            found.append({"figure": f"{r['model']}: label mass", "reason": f"mean {r['mean']:.2f} of the "
                          "probability on the option labels: its answers are a renormalised remainder"})
    return found
