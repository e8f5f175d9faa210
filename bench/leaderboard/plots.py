"""Per-run charts as SVG (matplotlib, Agg): trait profile, answer distribution, temperature curves.

The human answer distribution comes from the run's optional fidelity.csv (issue #3): either one
column per option named `human_<k>` / `human_p<k>` (rows are questions; shares averaged over
rows), or long rows with columns `option` and `human`. Without it the model's distribution is
plotted alone.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.results.store import atomic_write_bytes  # noqa: E402

plt.rcParams.update({"svg.hashsalt": "persona-bench", "font.size": 9})
_HUMAN_WIDE = re.compile(r"^human_p?(\d+)$")


def _save(fig, path: Path) -> Path:
    """The chart as an SVG file that appears whole or not at all."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def trait_profile(metrics: dict, path: Path) -> Path | None:
    """Mean trait score per trait with +-1 SD over participants (metrics.json trait_summary)."""
    rows = [r for r in metrics.get("trait_summary") or [] if r.get("mean") is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(5, 2.8))
    x = np.arange(len(rows))
    ax.bar(x, [r["mean"] for r in rows], yerr=[r.get("sd") or 0 for r in rows], capsize=4, color="#4c72b0")
    ax.set_xticks(x, [str(r["trait"]) for r in rows])
    ax.set_ylabel("trait score (mean +- SD)")
    ax.set_title("Trait profile")
    return _save(fig, path)


def human_distribution(fidelity: pd.DataFrame | None) -> pd.Series | None:
    """Human answer shares by option from fidelity.csv, or None when it holds none we can read."""
    if fidelity is None or fidelity.empty:
        return None
    wide = {int(m.group(1)): c for c in fidelity.columns if (m := _HUMAN_WIDE.match(str(c)))}
    if wide:
        shares = pd.Series({k: pd.to_numeric(fidelity[c], errors="coerce").mean() for k, c in sorted(wide.items())})
    elif {"option", "human"} <= set(fidelity.columns):
        shares = pd.to_numeric(fidelity["human"], errors="coerce").groupby(
            pd.to_numeric(fidelity["option"], errors="coerce")).mean()
    else:
        return None
    shares = shares.dropna()
    return shares / shares.sum() if len(shares) and shares.sum() > 0 else None


def model_distribution(answers: pd.DataFrame | None) -> pd.Series | None:
    """Share of valid answers on each option (the option as shown on the original scale)."""
    if answers is None or answers.empty:
        return None
    valid = answers.loc[~answers["invalid"].fillna(False).astype(bool), "answer"].dropna()
    if valid.empty:
        return None
    return valid.round().astype(int).value_counts(normalize=True).sort_index()


def answer_distribution(answers: pd.DataFrame | None, fidelity: pd.DataFrame | None, path: Path) -> Path | None:
    model, human = model_distribution(answers), human_distribution(fidelity)
    if model is None:
        return None
    options = sorted(set(model.index) | set(human.index if human is not None else []))
    x = np.arange(len(options))
    width = 0.4 if human is not None else 0.6
    fig, ax = plt.subplots(figsize=(5, 2.8))
    ax.bar(x - (width / 2 if human is not None else 0), model.reindex(options, fill_value=0), width,
           label="model", color="#4c72b0")
    if human is not None:
        ax.bar(x + width / 2, human.reindex(options, fill_value=0), width, label="humans", color="#dd8452")
    ax.set_xticks(x, [str(o) for o in options])
    ax.set_xlabel("answer option")
    ax.set_ylabel("share of answers")
    ax.set_title("Answer distribution" + (" vs humans" if human is not None else " (no human reference)"))
    ax.legend()
    return _save(fig, path)


def temperature_curves(scores: pd.DataFrame | None, metrics: dict, path: Path) -> Path | None:
    """Trait score (mean +- SD over participants) and invalid rate against sampling temperature."""
    if scores is None or scores.empty or "temperature" not in scores:
        return None
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8, 2.8), gridspec_kw={"width_ratios": [3, 2]})
    stats = scores.dropna(subset=["score"]).groupby(["trait", "temperature"], sort=False)["score"].agg(["mean", "std"])
    for trait, sub in stats.groupby(level=0, sort=False):
        t = sub.index.get_level_values(1).to_numpy(float)
        order = np.argsort(t)
        mean, sd = sub["mean"].to_numpy()[order], sub["std"].fillna(0).to_numpy()[order]
        ax.plot(t[order], mean, marker="o", label=str(trait))
        ax.fill_between(t[order], mean - sd, mean + sd, alpha=0.15)
    ax.set_xlabel("temperature")
    ax.set_ylabel("trait score")
    ax.set_title("Trait scores by temperature")
    ax.legend(fontsize=7, ncols=2)
    by_t = (metrics.get("invalid_rates") or {}).get("by_temperature") or {}
    temps = sorted(by_t, key=float)
    ax2.plot([float(t) for t in temps], [by_t[t].get("invalid_rate") or 0 for t in temps], marker="o", color="#c44e52")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_xlabel("temperature")
    ax2.set_title("Invalid rate")
    return _save(fig, path)


_P_COL = re.compile(r"^(model|human)_p(\d+)$")
MAX_QUESTIONS_DRAWN = 8


def question_shares(fidelity: pd.DataFrame | None, metrics: dict) -> list[tuple[str, list[str], list, list | None]]:
    """Per survey question: (item id, option labels, model shares, human shares or None), from fidelity.csv
    (model_p<k>/human_p<k> per question) or, without a human reference, metrics.json question_distributions."""
    out = []
    if fidelity is not None and not fidelity.empty and "item_id" in fidelity:
        cols = {}
        for c in fidelity.columns:
            if m := _P_COL.match(str(c)):
                cols.setdefault(int(m.group(2)), {})[m.group(1)] = c
        ks = sorted(k for k, v in cols.items() if "model" in v)
        if ks:
            for _, r in fidelity.iterrows():
                n = pd.to_numeric(r.get("n_options"), errors="coerce")
                use = [k for k in ks if pd.isna(n) or k <= n] or ks
                model = [float(pd.to_numeric(r[cols[k]["model"]], errors="coerce")) for k in use]
                human = ([float(pd.to_numeric(r[cols[k]["human"]], errors="coerce")) for k in use]
                         if all("human" in cols[k] for k in use) else None)
                out.append((str(r["item_id"]), [str(k) for k in use], model, human))
            return out
    rows = [r for r in metrics.get("question_distributions") or [] if isinstance(r, dict)]
    by_item: dict[str, list] = {}
    for r in rows:
        share = pd.to_numeric(r.get("share"), errors="coerce")
        by_item.setdefault(str(r.get("item_id")), []).append((str(r.get("option")), float(share)))
    return [(item, [o for o, _ in v], [s for _, s in v], None) for item, v in by_item.items()]


def question_distributions(fidelity: pd.DataFrame | None, metrics: dict, path: Path) -> Path | None:
    """A survey's answer shares per question, model beside humans when the run has a reference (the
    first MAX_QUESTIONS_DRAWN questions; the page's tables hold them all)."""
    shown = question_shares(fidelity, metrics)[:MAX_QUESTIONS_DRAWN]
    if not shown:
        return None
    ncols = min(len(shown), 2)
    nrows = (len(shown) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 2.4 * nrows), squeeze=False)
    for ax, (item, options, model, human) in zip(axes.flat, shown):
        x = np.arange(len(options))
        width = 0.4 if human is not None else 0.6
        ax.bar(x - (width / 2 if human is not None else 0), np.nan_to_num(model), width, label="model",
               color="#4c72b0")
        if human is not None:
            ax.bar(x + width / 2, np.nan_to_num(human), width, label="humans", color="#dd8452")
        ax.set_xticks(x, [o[:12] for o in options], fontsize=7)
        ax.set_ylim(0, 1.02)
        ax.set_title(item[:40], fontsize=8)
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    return _save(fig, path)
