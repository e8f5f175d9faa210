"""Position bias apart from preference: with options shown in more than one order, how much of an
answer is the item's content and how much the option's place on screen.

The model (a multinomial logit, the log-linear model with the item x order margins fixed):

    P(option k | item, order) ∝ exp(a(item, k) + b(position the order shows k at))

`a` is the item's preference over its canonical options, `b` the model's preference for shown positions
(position 1 is the reference, b_1 = 0), shared by every item. It is identified only when some item is
shown in two or more orders (counterbalancing); otherwise no effect is reported. With mirror orders only
(original and reversed), a position preference symmetric about the middle (b_j = b_(k+1-j)) looks
exactly like a content preference, so b is then fitted as its antisymmetric part (b_j = -b_(k+1-j)) and
the symmetric part stays in the preference; shuffled orders identify all of b. Counts are the answer
distributions of all participants (a logprob row adds its exact option distribution, a sampled row its
one answer); a weak normal prior (sd PRIOR_SD) keeps the estimates finite when an item's answers all
fall on one option. Position-corrected scores: for each persona and item, the preference that explains
its answers in every order once `b` is divided out (maximum likelihood given b, by the MM iteration for
this Luce-type model), scored with the item's keying; a trait's corrected score is the mean over its items.

A collapsed run (at some temperature, nearly every answer on the same shown position in every order) is
named in `message`, in one line: its answers follow position, not content, so no preference can be read
from them (the fit still runs, and its effect is near its largest).
"""

from __future__ import annotations


import numpy as np
import pandas as pd
from scipy import optimize, stats

from bench.instruments import Inventory
from bench.metrics.tables import finite
from bench.metrics.uncertainty import LEVEL, MIN_UNITS, cluster_bootstrap, inside

PRIOR_SD = 5.0  # weak prior on every log-linear parameter: finite estimates for one-option items
COLLAPSED_SHARE = 0.95  # share of answers on one shown position, in every order, that counts as collapsed
N_DRAWS = 2000  # parametric draws from the GLM's covariance for the effect's interval


def choice_table(responses: pd.DataFrame, inventory: Inventory) -> pd.DataFrame | None:
    """Long table of answer mass: persona_id, item_id, order, option (canonical index), position (shown,
    0-based), n. None when the rows carry no shown permutation or the inventory has no shared scale."""
    if inventory.kind == "survey" or "option_permutation" not in responses.columns:
        return None
    k = len(inventory.scale.values)
    items = {it.id for it in inventory.items if it.scale is None}
    rows = responses[responses["item_id"].isin(items)]
    if rows.empty:
        return None
    perms = [np.asarray(p, int) for p in rows["option_permutation"]]
    if any(p.size != k for p in perms):
        return None
    mass = np.zeros((len(rows), k))
    probs = rows["option_probs"] if "option_probs" in rows.columns else [None] * len(rows)
    for i, (p, perm, invalid, shown) in enumerate(zip(probs, perms, rows["invalid"].fillna(False),
                                                      rows.get("parsed_option", pd.Series(-1, index=rows.index)))):
        if p is not None and len(p) == k:
            mass[i] = np.asarray(p, float)
        elif not invalid and finite(shown) and 1 <= int(shown) <= k:
            mass[i, perm[int(shown) - 1]] = 1.0
    position = np.stack([np.argsort(p) for p in perms])  # position[i, option] = where option was shown
    return pd.DataFrame({
        "persona_id": np.repeat(rows["persona_id"].astype(str).to_numpy(), k),
        "item_id": np.repeat(rows["item_id"].to_numpy(), k),
        "order": np.repeat([",".join(map(str, p)) for p in perms], k),
        "option_order": np.repeat(rows["option_order"].astype(str).to_numpy(), k),
        "temperature": np.repeat(rows["temperature"].astype(float).to_numpy(), k),
        "option": np.tile(np.arange(k), len(rows)),
        "position": position.ravel(),
        "n": mass.ravel(),
    })


def collapse(table: pd.DataFrame) -> dict:
    """Per temperature and option order, the shown position holding most of the answer mass and its
    share; collapsed at a temperature when one position holds COLLAPSED_SHARE in every order there."""
    lines, top = [], {}
    for temp, at in table.groupby("temperature", sort=True):
        shares = {}
        for order, g in at.groupby("option_order", sort=True):
            by_pos = g.groupby("position")["n"].sum()
            if by_pos.sum() > 0:
                shares[order] = (int(by_pos.idxmax()) + 1, float(by_pos.max() / by_pos.sum()))
        top[f"{temp:g}"] = {o: s for o, (_, s) in shares.items()}
        positions = {p for p, _ in shares.values()}
        if shares and len(positions) == 1 and all(s >= COLLAPSED_SHARE for _, s in shares.values()):
            where = ", ".join(f"{o} {s:.0%}" for o, (_, s) in shares.items())
            orders = {1: "its one option order", 2: "both option orders"}.get(len(shares), "every option order")
            lines.append((float(temp), positions.pop(), f"at T={temp:g} every answer lands on shown option "
                          f"{next(iter(shares.values()))[0]} in {orders} ({where})"))
    message = None
    if lines:
        message = "; ".join(t for _, _, t in lines) + ": the answers follow position, not content"
    return {"collapsed": bool(lines), "collapsed_temperatures": [t for t, _, _ in lines],
            "collapsed_position": lines[0][1] if len({p for _, p, _ in lines}) == 1 else None,
            "top_position_share": top, "message": message}


def shown_position_shares(table: pd.DataFrame, k: int, seed: int = 0, n_boot: int | None = None) -> pd.DataFrame:
    """Per option order, the share of answer mass on each shown position (1-based), with a cluster
    bootstrap interval over personas (none with fewer than MIN_CLUSTERS personas)."""
    rows = []
    for order, g in table.groupby("option_order", sort=True):
        pos, n = g["position"].to_numpy(int), g["n"].to_numpy(float)

        def shares(ix, pos=pos, n=n):
            mass = np.bincount(pos[ix], weights=n[ix], minlength=k)
            return mass / mass.sum() if mass.sum() > 0 else np.full(k, np.nan)

        share = shares(np.arange(len(g)))
        lo, hi = cluster_bootstrap(g["persona_id"].to_numpy(), shares, n_boot=n_boot, seed=seed)
        rows += [{"option_order": order, "position": j + 1, "share": float(share[j]), "share_ci_low": float(lo[j]),
                  "share_ci_high": float(hi[j])} for j in range(k)]
    return pd.DataFrame(rows, columns=["option_order", "position", "share", "share_ci_low", "share_ci_high"])


def _position_basis(k: int, mirror_only: bool) -> np.ndarray:
    """b = basis @ theta: b_1 = 0 and the rest free, or (mirror orders) b_j = -b_(k+1-j)."""
    if not mirror_only:
        return np.vstack([np.zeros(k - 1), np.eye(k - 1)])
    basis = np.zeros((k, k // 2))
    for j in range(k // 2):
        basis[j, j], basis[k - 1 - j, j] = 1.0, -1.0
    return basis


def fit_position_model(table: pd.DataFrame, k: int) -> dict:
    """Maximum-likelihood fit of the multinomial logit P(option k | item, order) ∝ exp(a_ik + b_pos(k))
    to the answer mass pooled over participants (see the module docstring), by scipy's L-BFGS with the
    analytic gradient; a weak N(0, PRIOR_SD^2) prior on every parameter keeps estimates finite when an
    item's answers all fall on one option. Wald intervals from the inverse information (plus prior).

    Returns b (position log-weights), log_odds_vs_1 = b_j - b_1 with 95% intervals (b_ci), the position
    shares softmax(b), the item preferences softmax(a) per item, mirror_only, and `effect`: the total
    variation distance between the position shares and uniform (0: no position preference; 1 - 1/k:
    one position takes everything), with a percentile interval from draws of theta ~ N(theta_hat, cov).

    `cov` is cluster-robust (a sandwich over personas, `persona_id`): one persona's answers share its own
    preferences and its repetitions are near copies, so the inverse information alone, which counts every
    answer as independent, gives intervals far too narrow (48% coverage in tests/test_coverage.py). With
    fewer than MIN_UNITS personas there is no interval (`no_interval` says why)."""
    cells = table.groupby(["item_id", "order", "option"], sort=True).agg(n=("n", "sum"), position=("position", "first"))
    wide_n = cells["n"].unstack("option").reindex(columns=range(k)).fillna(0.0)
    wide_pos = cells["position"].unstack("option").reindex(columns=range(k))
    n = wide_n.to_numpy(float)
    pos = wide_pos.to_numpy(int)
    item = pd.Categorical(wide_n.index.get_level_values("item_id"))
    codes, n_items = item.codes, len(item.categories)
    mirror = {",".join(map(str, range(k))), ",".join(map(str, reversed(range(k))))}
    mirror_only = set(wide_n.index.get_level_values("order")) <= mirror
    basis = _position_basis(k, mirror_only)
    m = basis.shape[1]
    onehot = np.eye(k)[pos]  # rows x options x positions
    b_design = onehot @ basis  # rows x options x m
    n_a = n_items * (k - 1)
    total = n.sum(axis=1)
    precision = 1.0 / PRIOR_SD**2

    def unpack(params):
        a = np.hstack([np.zeros((n_items, 1)), params[:n_a].reshape(n_items, k - 1)])
        return a, params[n_a:]

    def probs(params):
        a, theta = unpack(params)
        eta = a[codes] + b_design @ theta
        eta -= eta.max(axis=1, keepdims=True)
        p = np.exp(eta)
        return p / p.sum(axis=1, keepdims=True), eta

    def objective(params):
        p, eta = probs(params)
        logp = eta - np.log(np.exp(eta).sum(axis=1, keepdims=True))
        resid = n - total[:, None] * p
        grad_a = np.zeros((n_items, k))
        np.add.at(grad_a, codes, resid)
        grad = np.concatenate([grad_a[:, 1:].ravel(), np.einsum("rk,rkm->m", resid, b_design)])
        value = -(n * logp).sum() + 0.5 * precision * (params @ params)
        return value, -grad + precision * params

    res = optimize.minimize(objective, np.zeros(n_a + m), jac=True, method="L-BFGS-B",
                            options={"maxiter": 5000, "gtol": 1e-10})
    params = res.x
    p, _ = probs(params)
    # Fisher information: sum over cells of J' N (diag p - p p') J, J the cell's Jacobian d eta / d params.
    w = total[:, None, None] * (np.einsum("rk,kl->rkl", p, np.eye(k)) - np.einsum("rk,rl->rkl", p, p))
    wb = np.einsum("rkl,rlm->rkm", w, b_design)
    aa = np.zeros((n_items, k - 1, k - 1))
    np.add.at(aa, codes, w[:, 1:, 1:])
    ab = np.zeros((n_items, k - 1, m))
    np.add.at(ab, codes, wb[:, 1:, :])
    info = np.zeros((n_a + m, n_a + m))
    for i in range(n_items):
        block = slice(i * (k - 1), (i + 1) * (k - 1))
        info[block, block] = aa[i]
        info[block, n_a:] = ab[i]
        info[n_a:, block] = ab[i].T
    info[n_a:, n_a:] = np.einsum("rkm,rkn->mn", b_design, wb)
    info += precision * np.eye(n_a + m)
    scores, n_clusters = cluster_scores(table, wide_n.index, p, codes, b_design, n_items, k)
    bread = np.linalg.pinv(info)
    no_interval = None
    if n_clusters < MIN_UNITS:
        no_interval = f"no interval: {n_clusters} persona{'s' if n_clusters != 1 else ''} (needs {MIN_UNITS})"
        cov = np.full((m, m), np.nan)
    else:
        meat = scores.T @ scores * n_clusters / (n_clusters - 1)  # small-sample factor G / (G - 1)
        # and t quantiles with G - 1 degrees of freedom for the normal ones: few personas, wider intervals
        widen = (stats.t.ppf((1 + LEVEL) / 2, n_clusters - 1) / stats.norm.ppf((1 + LEVEL) / 2)) ** 2
        cov = widen * (bread @ meat @ bread)[n_a:, n_a:]
    a, theta = unpack(params)
    b = basis @ theta
    contrast = basis - basis[0]  # b_j - b_1
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", contrast, cov, contrast), 0.0))
    z = stats.norm.ppf((1 + LEVEL) / 2)
    vs_first = contrast @ theta
    b_ci = np.column_stack([vs_first - z * se, vs_first + z * se])
    b_ci[0] = np.nan
    share = np.exp(b - b.max())
    share /= share.sum()
    effect = float(0.5 * np.abs(share - 1.0 / k).sum())
    effect_ci = np.full(2, np.nan)
    if no_interval is None:
        draws = np.random.default_rng(0).multivariate_normal(theta, cov, size=N_DRAWS, method="eigh") @ basis.T
        ds = np.exp(draws - draws.max(axis=1, keepdims=True))
        ds /= ds.sum(axis=1, keepdims=True)
        tv = 0.5 * np.abs(ds - 1.0 / k).sum(axis=1)
        q = [(1 - LEVEL) / 2 * 100, (1 + LEVEL) / 2 * 100]
        low, high, outside = inside(effect, *np.percentile(tv, q))
        effect_ci = np.array([low, high])
        no_interval = outside
    pref = np.exp(a - a.max(axis=1, keepdims=True))
    pref /= pref.sum(axis=1, keepdims=True)
    return {
        "b": b, "log_odds_vs_1": vs_first, "b_ci": b_ci, "share": share, "mirror_only": bool(mirror_only),
        "effect": effect, "effect_ci": effect_ci, "no_interval": no_interval, "n_personas": n_clusters,
        "preference": pd.DataFrame(pref, index=list(item.categories)), "converged": bool(res.success),
    }


def cluster_scores(table: pd.DataFrame, cells: pd.MultiIndex, p: np.ndarray, codes: np.ndarray,
                   b_design: np.ndarray, n_items: int, k: int) -> tuple[np.ndarray, int]:
    """Each persona's score vector (the log-likelihood's gradient over its own answers) at the fit, one
    row per persona, and their number: the meat of the cluster-robust covariance. `cells` are the fit's
    (item, order) rows, `p` its probabilities there."""
    persona = table["persona_id"].astype(str) if "persona_id" in table.columns else pd.Series("all", index=table.index)
    g = table.assign(persona_id=persona).groupby(["persona_id", "item_id", "order", "option"], sort=True)["n"].sum()
    wide = g.unstack("option").reindex(columns=range(k)).fillna(0.0)
    where = pd.Series(np.arange(len(cells)), index=cells)
    row = where.loc[pd.MultiIndex.from_arrays([wide.index.get_level_values("item_id"),
                                               wide.index.get_level_values("order")])].to_numpy()
    n = wide.to_numpy(float)
    resid = n - n.sum(axis=1, keepdims=True) * p[row]
    who = pd.Categorical(wide.index.get_level_values("persona_id"))
    n_clusters = len(who.categories)
    by_item = np.zeros((n_clusters, n_items, k - 1))
    np.add.at(by_item, (who.codes, codes[row]), resid[:, 1:])
    by_theta = np.zeros((n_clusters, b_design.shape[2]))
    np.add.at(by_theta, who.codes, np.einsum("jk,jkm->jm", resid, b_design[row]))
    return np.hstack([by_item.reshape(n_clusters, -1), by_theta]), n_clusters


def corrected_preferences(table: pd.DataFrame, b: np.ndarray, n_iter: int = 200) -> pd.DataFrame:
    """Per (persona, item), the option preference p maximising the likelihood of its answers in every
    order given the position effect b: p_k <- sum_o n_ok / sum_o N_o w_o(k) / Z_o, w_o(k) = exp b(pos_o(k))."""
    k = len(b)
    g = table.groupby(["persona_id", "item_id", "order", "option"], sort=True).agg(n=("n", "sum"),
                                                                                  position=("position", "first"))
    g = g.reset_index()
    groups = pd.Categorical(g["persona_id"] + "\x1f" + g["item_id"])
    orders = pd.Categorical(g["order"])
    n = np.zeros((len(groups.categories), len(orders.categories), k))
    w = np.zeros_like(n)
    n[groups.codes, orders.codes, g["option"].to_numpy()] = g["n"].to_numpy(float)
    w[groups.codes, orders.codes, g["option"].to_numpy()] = np.exp(b[g["position"].to_numpy()] - b.max())
    total_o = n.sum(axis=2, keepdims=True)
    seen = n.sum(axis=(1, 2)) > 0
    p = np.full((n.shape[0], k), 1.0 / k)
    num = n.sum(axis=1)
    with np.errstate(all="ignore"):
        for _ in range(n_iter):
            z = (w * p[:, None, :]).sum(axis=2, keepdims=True)
            den = (np.where(total_o > 0, total_o / z, 0.0) * w).sum(axis=1)
            p = np.where(den > 0, num / den, 0.0)
            p = p / p.sum(axis=1, keepdims=True)
    keys = [c.split("\x1f") for c in groups.categories]
    out = pd.DataFrame(p, columns=range(k))
    out.insert(0, "item_id", [kk[1] for kk in keys])
    out.insert(0, "persona_id", [kk[0] for kk in keys])
    return out[seen].reset_index(drop=True)


def _keyed_axis(inventory: Inventory, item_id: str) -> np.ndarray:
    item = inventory.item(item_id)
    scale = inventory.scale_of(item)
    axis = np.array(scale.ordinal_values, float)
    return axis if item.keyed > 0 else np.array([scale.reverse(v) for v in axis], float)


def position_bias(responses: pd.DataFrame, scores: pd.DataFrame, inventory: Inventory, seed: int = 0,
                  n_boot: int | None = None) -> dict | None:
    """The position_bias section of metrics.json; None when the run holds no shown permutations.
    `shown_shares` (the answers' shown positions per order) is given whatever the design."""
    table = choice_table(responses, inventory)
    if table is None or table["n"].sum() == 0:
        return None
    k = len(inventory.scale.values)
    out: dict = {"n_items": int(table["item_id"].nunique()),
                 "option_orders": sorted(table["option_order"].unique()), **collapse(table),
                 "shown_shares": shown_position_shares(table, k, seed, n_boot)}
    counterbalanced = bool((table.groupby("item_id")["order"].nunique() >= 2).any())
    out["identified"] = counterbalanced
    if not counterbalanced:
        out["note"] = "every item was shown in one order only: position and preference cannot be told apart"
        return out
    fit = fit_position_model(table, k)
    out["mirror_only"] = fit["mirror_only"]
    out["effect"] = fit["effect"]
    out["effect_ci_low"], out["effect_ci_high"] = (float(v) for v in fit["effect_ci"])
    out["n_personas"] = fit["n_personas"]
    if fit["no_interval"]:
        out["effect_warning"] = fit["no_interval"]
    out["positions"] = [{"position": j + 1, "log_odds_vs_1": float(fit["log_odds_vs_1"][j]), "ci_low": float(fit["b_ci"][j, 0]),
                         "ci_high": float(fit["b_ci"][j, 1]), "share": float(fit["share"][j])} for j in range(k)]
    if inventory.scoring != "mean":
        out["note"] = "corrected trait scores are given for mean-scored inventories only"
        return out
    pref = corrected_preferences(table, fit["b"])
    trait = {it.id: it.trait for it in inventory.items}
    pref["corrected"] = [float(row[list(range(k))].to_numpy(float) @ _keyed_axis(inventory, i))
                         for i, (_, row) in zip(pref["item_id"], pref.iterrows())]
    pref["trait"] = pref["item_id"].map(trait)
    corrected = pref.groupby(["persona_id", "trait"], sort=False)["corrected"].mean()
    raw = scores.assign(persona_id=scores["persona_id"].astype(str)).groupby(["persona_id", "trait"])["score"].mean()
    both = pd.DataFrame({"raw": raw, "corrected": corrected}).dropna(how="all").reset_index()
    out["corrected_scores"] = both[["persona_id", "trait", "raw", "corrected"]]
    out["trait_summary"] = (both.groupby("trait", sort=False)[["raw", "corrected"]].mean()
                            .rename(columns={"raw": "raw_mean", "corrected": "corrected_mean"}).reset_index())
    return out
