"""Item responses -> trait scores (the instrument's own rule) and their range, types, and persona trait shifts."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pingouin as pg

from bench.instruments import Inventory
from bench.metrics.tables import (
    CONDITION_COLS,
    condition_means,
    PARTICIPANT_COLS,
    POLE_TARGET,
    SCORE_COLS,
    nan_if_not_finite,
    participants,
    trait_order,
    valid_scores,
)
from bench.metrics.uncertainty import effective_n, welch_interval, wilson_interval


# --------------------------------------------------------------------------------------------
# scoring


def score_participants(responses: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """Score each participant on each trait with the inventory's own rule (long form).

    scoring == "mean": the mean of `score` (reverse keying already undone) over the trait's valid
    items; NaN with n_valid 0 when none is valid. letter is None.

    scoring == "sum" (PsychoBench's SUM scales): the trait's item count times that mean, i.e. the plain sum
    when every item is valid, prorated over the valid items otherwise (and under max_items), so the score
    stays on the scale of the published norms.

    scoring == "dichotomy": score = constant + sum(keyed * answer) over the dichotomy's items, with
    `answer` in canonical scale order; letter = `high` when score > cutoff, else `low`. The formula
    needs every item, so an invalid or missing answer is imputed with the scale midpoint
    ((low + high) / 2), which pulls the score toward the neutral point instead of dropping a term;
    n_valid says how many answers were real. With no valid item the score is NaN, letter None.

    n_items counts the inventory's items for the trait; n_valid the valid answers among them.
    """
    parts = participants(responses)
    if inventory.scoring == "none":  # surveys: answers are compared as distributions, not summed to traits
        return pd.DataFrame(columns=SCORE_COLS)
    traits = [d.id for d in inventory.dichotomies] if inventory.scoring == "dichotomy" else trait_order(inventory)
    item_trait = {it.id: it.trait for it in inventory.items}
    item_keyed = {it.id: float(it.keyed) for it in inventory.items}
    n_items = pd.Series([it.trait for it in inventory.items]).value_counts()

    r = responses[responses["item_id"].isin(item_trait)]
    value_col = "answer" if inventory.scoring == "dichotomy" else "score"
    long = pd.DataFrame(
        {
            "participant_id": r["participant_id"].to_numpy(),
            "trait": r["item_id"].map(item_trait).to_numpy(),
            "keyed": r["item_id"].map(item_keyed).to_numpy(),
            "value": valid_scores(r, value_col).to_numpy(),
        }
    ).dropna(subset=["value"])

    grid = pd.MultiIndex.from_product([parts["participant_id"], traits], names=["participant_id", "trait"])
    if inventory.scoring in ("mean", "sum"):
        agg = long.groupby(["participant_id", "trait"])["value"].agg(["mean", "count"]).reindex(grid)
        score = agg["mean"].to_numpy(float)
        if inventory.scoring == "sum":
            score = score * agg.index.get_level_values("trait").map(n_items).to_numpy(float)
        out = pd.DataFrame({"score": score, "n_valid": agg["count"].fillna(0).to_numpy(int)}, index=grid)
        out["letter"] = None
    elif inventory.scoring == "dichotomy":
        mid = (inventory.scale.low + inventory.scale.high) / 2.0
        long["kv"] = long["keyed"] * long["value"]
        agg = (
            long.groupby(["participant_id", "trait"])
            .agg(s_valid=("kv", "sum"), k_valid=("keyed", "sum"), n_valid=("value", "count"))
            .reindex(grid)
        )
        agg["n_valid"] = agg["n_valid"].fillna(0).astype(int)
        dich = {d.id: d for d in inventory.dichotomies}
        keyed_total = {d: sum(it.keyed for it in inventory.items if it.trait == d) for d in dich}
        trait_idx = agg.index.get_level_values("trait")
        constant = np.array([dich[t].constant for t in trait_idx], float)
        k_total = np.array([keyed_total[t] for t in trait_idx], float)
        # valid terms + the missing items' terms at the midpoint: sum over missing of keyed * mid
        score = constant + agg["s_valid"].to_numpy(float) + mid * (k_total - agg["k_valid"].to_numpy(float))
        score[agg["n_valid"].to_numpy() == 0] = np.nan
        letters = [
            None if not math.isfinite(s) else (dich[t].high if s > dich[t].cutoff else dich[t].low)
            for s, t in zip(score, trait_idx)
        ]
        out = pd.DataFrame({"score": score, "n_valid": agg["n_valid"].to_numpy(int), "letter": letters}, index=grid)
    else:
        raise ValueError(f"unknown scoring rule {inventory.scoring!r} in inventory {inventory.id!r}")

    out = out.reset_index()
    out["n_items"] = out["trait"].map(n_items).fillna(0).astype(int)
    out = out.merge(parts, on="participant_id", how="left")
    out["letter"] = out["letter"].astype(object).where(out["letter"].notna(), None)
    return out[SCORE_COLS].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# type inventories (MBTI-like)


def _normalise_type_target(target: Any, dichotomies: Sequence) -> str | None:
    """A type target rewritten in the inventory's dichotomy order, or None if it is not one.

    "INTJ" for IE,SN,FT,JP stays "INTJ"; the same letters are accepted in any order, so a target
    always lines up letter by letter with the participant's type.
    """
    if not isinstance(target, str):
        return None
    t = target.strip().upper()
    if len(t) != len(dichotomies) or not t.isalpha():
        return None
    letters = []
    for d in dichotomies:
        hits = [c for c in t if c in (d.low.upper(), d.high.upper())]
        if len(hits) != 1:
            return None
        letters.append(hits[0])
    return "".join(letters)


def mbti_types(scores: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """One row per participant: its type letters and its persona's type target, if any.

    `type` joins the letters in the order of `inventory.dichotomies` (e.g. "ENTJ" for IE,SN,FT,JP);
    a dichotomy with no valid item gives "X" at its position, which never matches a target.
    `target` is persona_target when it is a full type (reordered to the same dichotomy order),
    else None. The dichotomy ids are kept in `attrs["dichotomies"]` for `mbti_accuracy`.
    """
    dich = list(inventory.dichotomies)
    ids = [d.id for d in dich]
    parts = scores[PARTICIPANT_COLS].drop_duplicates("participant_id").reset_index(drop=True)
    letters = scores[scores["trait"].isin(ids)].pivot_table(
        index="participant_id", columns="trait", values="letter", aggfunc="first"
    )
    letters = letters.reindex(index=parts["participant_id"], columns=ids)
    types = ["".join(c if isinstance(c, str) and c else "X" for c in row) for row in letters.itertuples(index=False)]
    out = parts.copy()
    out["type"] = types
    out["target"] = pd.Series([_normalise_type_target(t, dich) for t in out["persona_target"]], dtype=object)
    out.attrs["dichotomies"] = ids
    return out


def mbti_accuracy(types: pd.DataFrame, dichotomies: Sequence[str] | None = None, clusters=None) -> dict:
    """How often the participant's type matches its persona's full-type target.

    Over participants whose `target` is a full type (as many letters as dichotomies): `exact` is
    the share with type == target, `per_dichotomy[id]` the share whose letter at that dichotomy's
    position matches. Positions follow the inventory's dichotomy order (the order `mbti_types`
    writes both `type` and `target` in); their ids come from `dichotomies`, else
    `types.attrs["dichotomies"]` (set by `mbti_types`). An unscored letter ("X") counts as
    a miss. Values are NaN when n == 0. Each share has a 95% Wilson interval (`exact_ci_low`,
    `exact_ci_high`, `per_dichotomy_ci[id]` = [low, high]) on an effective n, not the participants:
    repetitions of one cluster (`clusters`, one label per row of `types`; by default its condition,
    persona x template x order x temperature) count once as far as they agree (bench.metrics.
    uncertainty.effective_n: at T near 0, n is the number of conditions). `n` counts participants,
    `n_effective` (and `per_dichotomy_n_effective`) what the intervals rest on.
    """
    ids = list(dichotomies) if dichotomies is not None else list(types.attrs.get("dichotomies") or [])
    if not ids:
        raise ValueError("mbti_accuracy: pass `dichotomies` (or a table made by mbti_types)")
    tgt = types["target"].where(types["target"].map(lambda t: isinstance(t, str) and t.isalpha()))
    keep = (tgt.notna() & (tgt.str.len() == len(ids))).to_numpy(bool)
    t = tgt[keep].str.upper().to_numpy()
    y = types.loc[keep, "type"].fillna("").astype(str).str.upper().to_numpy()
    n = int(keep.sum())
    if n == 0:
        return {"n": 0, "n_effective": 0.0, "exact": float("nan"), "exact_ci_low": float("nan"),
                "exact_ci_high": float("nan"), "per_dichotomy": {d: float("nan") for d in ids},
                "per_dichotomy_ci": {d: [float("nan"), float("nan")] for d in ids},
                "per_dichotomy_n_effective": {d: 0.0 for d in ids}}
    labels = np.asarray(condition_labels(types) if clusters is None else clusters, dtype=object)[keep]
    hits = np.array([a == b for a, b in zip(y, t)], float)
    per_hits = {d: np.array([len(a) > i and a[i] == b[i] for a, b in zip(y, t)], float) for i, d in enumerate(ids)}

    def share(h: np.ndarray) -> tuple[float, float, float, float]:
        n_eff = effective_n(h, labels)
        return (float(h.mean()), n_eff, *wilson_interval(h.mean() * n_eff, n_eff))

    exact, n_eff, lo, hi = share(hits)
    per = {d: share(h) for d, h in per_hits.items()}
    return {"n": n, "n_effective": n_eff, "exact": exact, "exact_ci_low": lo, "exact_ci_high": hi,
            "per_dichotomy": {d: v[0] for d, v in per.items()},
            "per_dichotomy_ci": {d: [v[2], v[3]] for d, v in per.items()},
            "per_dichotomy_n_effective": {d: v[1] for d, v in per.items()}}


def condition_labels(table: pd.DataFrame) -> pd.Series:
    """Each row's condition (persona|template|order|temperature; its repetitions share one), or its
    participant where the table lacks those columns: the cluster whose repetitions count once."""
    cols = [c for c in CONDITION_COLS if c in table.columns]
    if len(cols) < len(CONDITION_COLS):
        return table["participant_id"].astype(str) if "participant_id" in table.columns else \
            pd.Series(np.arange(len(table)).astype(str), index=table.index)
    return table[cols].astype(str).agg("|".join, axis=1)


# --------------------------------------------------------------------------------------------
# persona conditioning on trait poles


def trait_target_shift(scores: pd.DataFrame) -> pd.DataFrame:
    """Does conditioning move the intended trait? Scores of "T+" vs "T-" personas on trait T.

    For each trait T with pole targets, over condition-level scores (repetitions averaged first, as
    in `prompt_sensitivity`; pooled over templates, orders and temperatures): mean score of the
    "T+" personas, of the "T-" personas, diff = plus - minus with its 95% Welch interval
    (scipy ttest_ind, equal_var=False), and Cohen's d (pingouin.compute_effsize, pooled SD; NaN when
    it is not finite, e.g. zero spread).
    """
    scores = condition_means(scores)
    cols = ["trait", "mean_plus", "mean_minus", "diff", "diff_ci_low", "diff_ci_high", "cohen_d", "n_plus", "n_minus"]
    target = scores["persona_target"].fillna("").astype(str).str.strip()
    m = target.str.extract(POLE_TARGET)
    pole_traits = list(dict.fromkeys(m[0].dropna()))
    rows = []
    for trait in [t for t in dict.fromkeys(scores["trait"]) if t in pole_traits]:
        on_trait = (scores["trait"] == trait) & (m[0] == trait)
        plus = scores.loc[on_trait & (m[1] == "+"), "score"].dropna().to_numpy(float)
        minus = scores.loc[on_trait & (m[1] == "-"), "score"].dropna().to_numpy(float)
        mp = float(plus.mean()) if plus.size else float("nan")
        mm = float(minus.mean()) if minus.size else float("nan")
        d = float("nan")
        if plus.size >= 2 and minus.size >= 2:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                d = nan_if_not_finite(pg.compute_effsize(plus, minus, paired=False, eftype="cohen"))
        rows.append([trait, mp, mm, mp - mm, *welch_interval(plus, minus), d, int(plus.size), int(minus.size)])
    return pd.DataFrame(rows, columns=cols)
