"""Individual-level fidelity: does a persona built from one respondent predict that respondent's own
answers, and does it do better than models that know only demographics? Scores (accuracy of the most
likely option, ordinal error, log-loss) and cross-validated baselines (population marginal, ordinal
regression on demographics, nearest respondents by demographics).

Why: population distances can be matched by a population that gets every individual wrong. A
demographics-only regression or nearest neighbours predicts individual answers about as well as LLM
personas in published work; a persona method earns its cost only above those baselines.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype
from scipy.special import expit
from statsmodels.discrete.discrete_model import MNLogit
from statsmodels.miscmodels.ordinal_model import OrderedModel
from statsmodels.tools import add_constant

from bench.instruments import Scale
from bench.metrics.baselines import BaselineError, ConstantDemographic, NoDemographics, TooFewRespondents
from bench.metrics.uncertainty import LEVEL, t_interval

# Count-based predictions (marginal, neighbours) add half a respondent to every option (Jeffreys'
# prior): an option none of k neighbours chose would otherwise get probability 0, and one person who
# chose it would make the log-loss infinite.
PSEUDOCOUNT = 0.5
# Log-loss takes probabilities no lower than this: a model's exact 0 for an answer someone gave is
# scored as very wrong (-log 1e-6 = 13.8 nats), not as infinitely wrong.
PROB_FLOOR = 1e-6
METHODS = ("marginal", "regression", "knn")
MISSING = "(missing)"  # a respondent's unknown demographic value: a category of its own
PREDICTION_COLUMNS = ["method", "respondent", "item", "option", "p"]
# A label column whose values all read as numbers and take more than this many values (psych::bfi's
# age, stored as labels) is a number: one standardised column, not dozens of one-hot columns of a few
# people each, which a regression would overfit and neighbours would never match.
NUMERIC_LEVELS = 10


def as_numbers(column: pd.Series) -> pd.Series | None:
    """The column as numbers when it is numeric or numeric-looking with many values; else None (labels)."""
    if is_numeric_dtype(column):
        return column.astype(float)
    values = pd.to_numeric(column, errors="coerce")
    if values[column.notna()].notna().all() and values.nunique() > NUMERIC_LEVELS:
        return values.astype(float)
    return None


def check_individual_inputs(answers: pd.DataFrame, demographics: pd.DataFrame, k_folds: int) -> pd.DataFrame:
    """The demographics of the respondents in `answers`, refused with a named error before any model
    work: none at all, fewer respondents than folds, or a column with one value."""
    if demographics is None or demographics.shape[1] == 0 or demographics.reindex(answers.index).isna().all().all():
        raise NoDemographics("individual level: the reference has no demographics for its respondents "
                             "(a table with demographic columns, or psych::bfi's gender/education/age)")
    if int(k_folds) < 2:
        raise BaselineError(f"individual level: k_folds={k_folds}; cross-validation needs at least 2 folds")
    if len(answers) < int(k_folds):
        raise TooFewRespondents(f"individual level: {len(answers)} respondents for {k_folds} folds; "
                                f"give more respondents or fewer folds")
    demo = demographics.reindex(answers.index)
    for col in demo.columns:
        values = demo[col].dropna().unique()
        if len(values) < 2:
            raise ConstantDemographic(f"individual level: demographic {col!r} has the single value "
                                      f"{values[0] if len(values) else 'none'!r}; drop it or use another reference")
    return demo


def assign_folds(ids: Sequence, k_folds: int, seed: int = 0) -> list[list[str]]:
    """Respondent ids in k_folds folds of near-equal size, by a seeded permutation (the same ids, the same folds)."""
    perm = np.random.default_rng(seed).permutation(np.asarray(list(ids), dtype=object))
    return [[str(i) for i in fold] for fold in np.array_split(perm, int(k_folds))]


def demographic_design(train: pd.DataFrame, test: pd.DataFrame, drop_first: bool) -> tuple[np.ndarray, np.ndarray]:
    """Demographics as numbers, fitted on the training respondents only: numeric columns (`as_numbers`)
    standardised (missing -> the training mean), label columns one-hot over the training categories (missing is a
    category; a category unseen in training is all zeros, i.e. the reference category). drop_first for
    a regression (no constant column; OrderedModel allows none)."""
    tr_parts, te_parts = [], []
    for col in train.columns:
        numbers = as_numbers(pd.concat([train[col], test[col]]))
        if numbers is not None:
            tr_num, te_num = numbers.iloc[:len(train)], numbers.iloc[len(train):]
            mu, sd = float(tr_num.mean()), float(tr_num.std(ddof=0))
            sd = sd if sd > 0 else 1.0
            tr_parts.append(((tr_num.fillna(mu) - mu) / sd).to_numpy(float)[:, None])
            te_parts.append(((te_num.fillna(mu) - mu) / sd).to_numpy(float)[:, None])
            continue
        tr, te = (s.astype(object).where(s.notna(), MISSING).astype(str).to_numpy() for s in (train[col], test[col]))
        levels = np.array(sorted(set(tr)))[1 if drop_first else 0:]
        tr_parts.append((tr[:, None] == levels[None, :]).astype(float))
        te_parts.append((te[:, None] == levels[None, :]).astype(float))
    x_tr = np.hstack(tr_parts) if tr_parts else np.zeros((len(train), 0))
    x_te = np.hstack(te_parts) if te_parts else np.zeros((len(test), 0))
    return x_tr, x_te


def _counts(values: np.ndarray, k: int) -> np.ndarray:
    v = values[np.isfinite(values)].astype(int)
    return np.bincount(v - 1, minlength=k).astype(float)


def _marginal(y: np.ndarray, k: int, m: int) -> np.ndarray:
    c = _counts(y, k) + PSEUDOCOUNT
    return np.tile(c / c.sum(), (m, 1))


class OrderedLogit(OrderedModel):
    """statsmodels' OrderedModel (distr="logit") with the logistic cdf, pdf and the score in closed form:
    the same model and maximum, but the numerical gradient over scipy.stats' generic distribution made
    a fit with tens of demographic columns take minutes."""

    def cdf(self, x):
        return expit(x)

    def pdf(self, x):
        p = expit(x)
        return p * (1 - p)

    def score_obs(self, params):
        """d log P(y_i) / d params: the exog coefficients, then the first threshold and the logs of the
        increments between thresholds (OrderedModel's parameterisation)."""
        low, upp = self._bounds(params)
        prob = np.maximum(self.prob(low, upp), 1e-20)
        f_low, f_upp = self.pdf(low), self.pdf(upp)
        k = self.k_levels - 1
        y = np.asarray(self.endog, int)
        d_thresh = np.zeros((len(y), k + 2))  # d log p / d t_j for t_-1 .. t_k, the ends unused
        rows = np.arange(len(y))
        d_thresh[rows, y + 1] += f_upp / prob
        d_thresh[rows, y] -= f_low / prob
        d_thresh = d_thresh[:, 1:k + 1]
        inc = np.exp(params[-k:][1:])
        jac = np.tril(np.ones((k, k)))  # t_j = th_0 + sum_{i <= j} exp(delta_i)
        jac[:, 1:] *= inc[None, :]
        d_beta = -((f_upp - f_low) / prob)[:, None] * self.exog
        return np.column_stack([d_beta, d_thresh @ jac])

    def score(self, params):
        return self.score_obs(params).sum(axis=0)


def _regression(y: np.ndarray, x_tr: np.ndarray, x_te: np.ndarray, k: int) -> tuple[np.ndarray, str]:
    """Ordinal logit (statsmodels OrderedModel) of one item on the demographics; multinomial logit
    (MNLogit) where it fails to fit; the marginal where both do. Returns (probabilities, what was used)."""
    ok = np.isfinite(y)
    y, x_tr = y[ok].astype(int), x_tr[ok]
    x_tr_keep = x_tr.std(axis=0) > 0  # a category absent from this fold's training rows
    x_tr, x_te = x_tr[:, x_tr_keep], x_te[:, x_tr_keep]
    observed = np.unique(y)
    if len(observed) < 2 or x_tr.shape[1] == 0:
        return _marginal(y.astype(float), k, len(x_te)), "marginal"
    out = np.zeros((len(x_te), k))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            endog = pd.Series(pd.Categorical(y, categories=observed, ordered=True))
            res = OrderedLogit(endog, x_tr, distr="logit").fit(method="bfgs", disp=False, maxiter=500)
            p = np.asarray(res.predict(x_te), float)
            if res.mle_retvals.get("converged", True) and np.isfinite(p).all():
                out[:, observed - 1] = p
                return out, "ordinal"
        except (ValueError, np.linalg.LinAlgError):
            pass
        try:
            codes = np.searchsorted(observed, y)
            res = MNLogit(codes, add_constant(x_tr, has_constant="add")).fit(disp=False, maxiter=200)
            p = np.asarray(res.predict(add_constant(x_te, has_constant="add")), float)
            if np.isfinite(p).all():
                out[:, observed - 1] = p
                return out, "multinomial"
        except (ValueError, np.linalg.LinAlgError):
            pass
    return _marginal(y.astype(float), k, len(x_te)), "marginal"


def _neighbours(x_tr: np.ndarray, x_te: np.ndarray, k_neighbours: int) -> np.ndarray:
    """Per test respondent, a mask of its k nearest training respondents (Euclidean), every one tied at
    the k-th distance included: with label demographics many people share a profile, and which of them
    would count must not depend on row order."""
    d = (np.einsum("ij,ij->i", x_te, x_te)[:, None] + np.einsum("ij,ij->i", x_tr, x_tr)[None, :]
         - 2 * np.einsum("ik,jk->ij", x_te, x_tr))
    kk = min(int(k_neighbours), x_tr.shape[0]) - 1
    kth = np.partition(d, kk, axis=1)[:, kk]
    return d <= kth[:, None] + 1e-9


def _knn(y: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    onehot = np.zeros((len(y), k))
    ok = np.isfinite(y)
    onehot[np.flatnonzero(ok), y[ok].astype(int) - 1] = 1.0
    c = mask.astype(float) @ onehot + PSEUDOCOUNT
    return c / c.sum(axis=1, keepdims=True)


def cross_validated_baselines(answers: pd.DataFrame, demographics: pd.DataFrame, scales: dict[str, Scale],
                              evaluate: Sequence | None = None, k_folds: int = 5, seed: int = 0,
                              k_neighbours: int = 25, methods: Sequence[str] = METHODS
                              ) -> tuple[pd.DataFrame, dict]:
    """Each baseline's predicted option distribution for every evaluated respondent and item, fitted on
    the respondents outside that respondent's fold.

    answers: respondent x item option values 1..k (NaN: not answered); demographics: indexed by
    respondent. evaluate: the respondents to predict (the persona run's held-out ones; default all);
    every respondent still belongs to a fold, so none is predicted by a model that saw them. Returns
    (long table method, respondent, item, option, p; provenance: folds, seed, k, the evaluated ids and
    each fold x item where the regression fell back from the ordinal model). Unweighted: the unit is
    the person, not the population.
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise BaselineError(f"individual level: unknown baseline(s) {unknown}; expected some of {list(METHODS)}")
    demo = check_individual_inputs(answers, demographics, k_folds)
    ids = [str(i) for i in answers.index]
    answers = answers.set_axis(ids)
    demo = demo.set_axis(ids)
    targets = set(ids if evaluate is None else (str(i) for i in evaluate))
    missing = sorted(targets - set(ids))
    if missing:
        raise BaselineError(f"individual level: respondents to evaluate not in the reference: {missing[:5]}")
    items = [q for q in answers.columns if q in scales]
    folds = assign_folds(ids, k_folds, seed)
    frames, fallbacks = [], []
    for f, fold in enumerate(folds):
        test = [i for i in fold if i in targets]
        if not test:
            continue
        train = sorted(set(ids) - set(fold), key=ids.index)
        x_reg = demographic_design(demo.loc[train], demo.loc[test], drop_first=True)
        x_knn = demographic_design(demo.loc[train], demo.loc[test], drop_first=False)
        mask = _neighbours(*x_knn, k_neighbours) if "knn" in methods else None
        for q in items:
            k = len(scales[q].values)
            y = answers.loc[train, q].to_numpy(float)
            preds = {}
            if "marginal" in methods:
                preds["marginal"] = _marginal(y, k, len(test))
            if "regression" in methods:
                preds["regression"], used = _regression(y, *x_reg, k)
                if used != "ordinal":
                    fallbacks.append({"fold": f, "item": q, "used": used})
            if "knn" in methods:
                preds["knn"] = _knn(y, mask, k)
            for name, p in preds.items():
                frames.append(pd.DataFrame({"method": name, "respondent": np.repeat(test, k), "item": q,
                                            "option": np.tile(np.arange(1, k + 1), len(test)), "p": p.ravel()}))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PREDICTION_COLUMNS)
    provenance = {"k_folds": int(k_folds), "seed": int(seed), "k_neighbours": int(k_neighbours),
                  "methods": list(methods), "folds": folds, "evaluated": sorted(targets, key=ids.index),
                  "demographics": list(demo.columns), "regression_fallbacks": fallbacks,
                  "pseudocount": PSEUDOCOUNT}
    return table, provenance


def individual_scores(predictions: pd.DataFrame, answers: pd.DataFrame, scales: dict[str, Scale]) -> pd.DataFrame:
    """One row per method x respondent x answered item: hit, abs_error, log_loss.

    predictions: long (method, respondent, item, option, p), any method (a persona's distributions,
    a baseline's). hit: 1 when the answer is the most likely option (1/t for a t-way tie, so a
    uniform prediction scores 1/k, not 1 or 0 by tie-break). abs_error: |position of the most likely
    option - position of the answer| on the scale's ordinal positions (argmax, not the expected value,
    so it scores the same single prediction as hit; ties averaged; NaN for a refusal). log_loss:
    -ln p(answer), p at least PROB_FLOOR.
    """
    answers = answers.set_axis([str(i) for i in answers.index])
    rows = []
    for (method, q), sub in predictions.groupby(["method", "item"], sort=False):
        scale = scales[q]
        k = len(scale.values)
        wide = sub.pivot_table(index="respondent", columns="option", values="p", aggfunc="sum")
        wide = wide.reindex(columns=range(1, k + 1), fill_value=0.0).fillna(0.0)
        wide.index = wide.index.astype(str)
        y = answers[q].reindex(wide.index).to_numpy(float) if q in answers.columns else np.full(len(wide), np.nan)
        p = wide.to_numpy(float)
        total = p.sum(axis=1)
        ok = np.isfinite(y) & (total > 0)
        if ((y[ok] < 1) | (y[ok] > k)).any():
            raise ValueError(f"item {q!r}: answers outside the option values 1..{k}")
        p, y, who = p[ok] / total[ok, None], y[ok].astype(int) - 1, wide.index[ok]
        top = p >= p.max(axis=1, keepdims=True) - 1e-12
        n_top = top.sum(axis=1)
        pos = np.array([np.nan if o is None else float(o) for o in scale.ordinal_values])
        with np.errstate(invalid="ignore"):
            err = np.abs(pos[None, :] - pos[y][:, None])
            top_ord = top & np.isfinite(pos)[None, :]
            abs_error = np.where(top_ord.any(axis=1), np.nansum(np.where(top_ord, err, 0), axis=1)
                                 / top_ord.sum(axis=1).clip(min=1), np.nan)
        abs_error[~np.isfinite(pos[y])] = np.nan
        rows.append(pd.DataFrame({"method": method, "respondent": who, "item": q,
                                  "hit": top[np.arange(len(y)), y] / n_top, "abs_error": abs_error,
                                  "log_loss": -np.log(np.maximum(p[np.arange(len(y)), y], PROB_FLOOR))}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["method", "respondent", "item", "hit", "abs_error", "log_loss"])


SCORE_NAMES = {"hit": "accuracy", "abs_error": "mae", "log_loss": "log_loss"}


def individual_summary(scores: pd.DataFrame, versus: str | None = "marginal", level: float = LEVEL) -> pd.DataFrame:
    """Per method: accuracy, MAE and log-loss, each the mean over respondents of the respondent's mean
    over items (every person weighs the same), with a Student t interval over respondents, the
    independent unit (a person's items share the person). With `versus`, each method's paired
    difference from that method on the respondents both scored (method - versus), with its interval."""
    per = scores.groupby(["method", "respondent"], sort=False)[list(SCORE_NAMES)].mean()
    rows = []
    for method, sub in per.groupby(level="method", sort=False):
        sub = sub.droplevel("method")
        row = {"method": method, "n_respondents": len(sub)}
        base = per.loc[versus] if versus is not None and versus in per.index.get_level_values("method") else None
        for col, name in SCORE_NAMES.items():
            v = sub[col].dropna()
            row[name] = float(v.mean()) if len(v) else float("nan")
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = t_interval(v.to_numpy(), level)
            if base is not None and method != versus:
                d = (sub[col] - base[col].reindex(sub.index)).dropna()
                row[f"{name}_vs_{versus}"] = float(d.mean()) if len(d) else float("nan")
                row[f"{name}_vs_{versus}_ci_low"], row[f"{name}_vs_{versus}_ci_high"] = t_interval(d.to_numpy(), level)
        rows.append(row)
    out = pd.DataFrame(rows)
    out["ci_method"] = "t over respondents"
    return out
