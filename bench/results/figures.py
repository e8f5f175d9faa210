"""A run's figures as PNG and SVG, each with its 95% interval: the run writes them into
`results/<run>/figures/` and the leaderboard draws the same ones onto its run pages.

Every figure is drawn from what a run folder holds (metrics.json, scores.parquet, responses.parquet,
fidelity.csv), so a run and a leaderboard built later from its folder show the same thing. A figure with
no data in this run (no type inventory: no type figure; one temperature: no temperature figure) is not
drawn and its reason is returned instead, for summary.md and the run page to say.

Output is deterministic: matplotlib's object API (no pyplot state), a fixed SVG hash salt, no date in
the SVG and no software stamp in the PNG, so the same run gives the same bytes.

The human answer distribution comes from the run's optional fidelity.csv (issue #3): either one column
per option named `human_<k>` / `human_p<k>` (rows are questions; shares averaged over rows), or long
rows with columns `option` and `human`. Without it the model's distribution is drawn alone.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from bench.metrics.paper_tables import trait_scores
from bench.metrics.tables import finite
from bench.metrics.uncertainty import MIN_CLUSTERS, cluster_bootstrap, clusters_of, wilson_interval
from bench.results.atomic import atomic_write_bytes

FOLDER = "figures"  # results/<run>/figures/
FORMATS = ("png", "svg")
STYLE = {"svg.hashsalt": "persona-bench", "font.size": 9}
SAVE_METADATA = {"svg": {"Date": None}, "png": {"Software": None}}
PNG_DPI = 150
MAX_PERSONAS_DRAWN = 16  # a figure with more would be unreadable; the tables hold them all
MAX_QUESTIONS_DRAWN = 8
COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
# a persona's colour and marker (persona_style): 10 colours x 8 markers, distinct pairs for 40 personas
PERSONA_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                  "#bcbd22", "#17becf")
PERSONA_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")
TARGET_COLOR = COLORS[2]  # the type figure's target type
RANGE_MARGIN = 0.05  # the profile's y axis: the score range and this share of it either side
ARROW_UP, ARROW_DOWN = r"$\uparrow$", r"$\downarrow$"  # an interval running past the axis (not a persona's marker)
FEW_CLUSTERS = f"fewer than {MIN_CLUSTERS} personas (one persona: templates) to resample"  # why no bootstrap interval
OLD_METRICS = "metrics.json was written before this figure's data was (`persona-bench sweep rerun <run>` adds it)"
_HUMAN_WIDE = re.compile(r"^human_p?(\d+)$")
_P_COL = re.compile(r"^(model|human)_p(\d+)$")


@dataclass(frozen=True)
class RunData:
    """What the figures are drawn from: a run folder's tables (None where the folder lacks one)."""
    metrics: dict
    scores: pd.DataFrame | None = None
    answers: pd.DataFrame | None = None  # responses: persona_id, temperature, answer, invalid
    fidelity: pd.DataFrame | None = None


@dataclass
class Drawn:
    """The figures drawn (name -> {format: bytes}) and those not drawn (name -> why)."""
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _is_survey(data: RunData) -> bool:
    return bool(data.metrics.get("question_distributions")) and not data.metrics.get("trait_summary")


def _errors(mean, lo, hi) -> list[list[float]]:
    """matplotlib's yerr (2 x n) from interval ends; NaN (no bar, no cap) where the interval is missing.
    Lists, not an array: matplotlib converts a (2, 1) array's rows to scalars, which numpy deprecates."""
    mean, lo, hi = (np.asarray(pd.to_numeric(pd.Series(v), errors="coerce"), float) for v in (mean, lo, hi))
    with np.errstate(invalid="ignore"):
        return np.maximum(np.vstack([mean - lo, hi - mean]), 0.0).tolist()


def _no_interval_note(ax, yerr, why: str) -> None:
    """Say on the axes when no interval could be drawn, so a bare bar is not read as an exact one."""
    if np.isnan(np.asarray(yerr, float)).all():
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.15 * (high - low))  # room above the bars for the note
        ax.text(0.99, 0.97, f"no interval: {why}", transform=ax.transAxes, ha="right", va="top", fontsize=7,
                color="#555555")


def _legend(ax, n: int) -> None:
    if n > 1:
        ax.legend(fontsize=7, ncols=2 if n > 4 else 1)


# -- the figures: each returns a Figure, or the reason it is not drawn ---------------------------------

def persona_style(k: int) -> tuple[str, str]:
    """The k-th persona's (colour, marker): the two cycles' least common multiple, 40, is above
    MAX_PERSONAS_DRAWN, so no two drawn personas look alike."""
    return PERSONA_COLORS[k % len(PERSONA_COLORS)], PERSONA_MARKERS[k % len(PERSONA_MARKERS)]


def _target_end(target, row: dict) -> float | None:
    """Where a persona's target sits on a trait's range: the end whose pole it names ("E+" the top of E;
    type "ISTJ" the I end of IE), or None when it names neither."""
    t = str(target or "").strip()
    if not t or t.lower() in ("nan", "none"):
        return None
    for end in ("min", "max"):
        pole = str(row.get(f"{end}_pole") or "")
        if pole and (t == pole or (len(pole) == 1 and t.isalpha() and pole.upper() in t.upper())):
            return float(row[end])
    return None


def _panels(traits: list[str], ranges: dict[str, dict]) -> list[tuple[list[str], tuple[float, float] | None]]:
    """Runs of traits that share one score range, each drawn on its own axes (a sum scale's traits or a
    type inventory's dichotomies can differ); one panel without a range when metrics.json has none."""
    if not all(t in ranges for t in traits):
        return [(traits, None)]
    out: list[tuple[list[str], tuple[float, float] | None]] = []
    for t in traits:
        span = (float(ranges[t]["min"]), float(ranges[t]["max"]))
        if out and out[-1][1] == span:
            out[-1][0].append(t)
        else:
            out.append(([t], span))
    return out


def trait_profile(data: RunData) -> Figure | str:
    """Mean trait score per persona (a dot) with its 95% t interval over the persona's conditions, on the
    scale's range (metrics.json score_range, a small margin either side; the interval is bounded by it,
    bench.metrics.paper_tables.trait_scores). Without a score range (an older metrics.json), an interval
    running past the axis is drawn to its edge with an arrow there, never stretching the axis. Each persona has its own colour
    and marker; a hollow marker at a range end is the persona's target pole."""
    if _is_survey(data):
        return "a survey has no trait scores (see the question distributions)"
    if data.scores is None or data.scores.dropna(subset=["score"]).empty:
        return "the run holds no trait scores"
    ranges = {str(r.get("trait")): r for r in data.metrics.get("score_range") or [] if isinstance(r, dict)}
    bounds = {t: (float(r["min"]), float(r["max"])) for t, r in ranges.items() if finite(r.get("min"))
              and finite(r.get("max"))}
    table = trait_scores(data.scores, by=["persona_id"], bounds=bounds or None)  # intervals on the scale
    personas = list(dict.fromkeys(table["persona_id"]))
    shown = personas[:MAX_PERSONAS_DRAWN]
    traits = list(dict.fromkeys(table["trait"]))
    panels = _panels(traits, ranges)
    targets = (data.scores.drop_duplicates("persona_id").set_index("persona_id")["persona_target"]
               if "persona_target" in data.scores else pd.Series(dtype=object))
    legend_out = len(shown) > 1
    fig = Figure(figsize=(max(4.5, 0.13 * len(traits) * len(shown) + 1.2 * len(panels)) + 1.6 * legend_out, 3.4),
                 layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, width_ratios=[len(p[0]) for p in panels])[0]
    width = 0.8 / len(shown)
    clipped = targeted = False
    intervals = []
    for ax, (names, span) in zip(axes, panels):
        sub_table = table[table["trait"].isin(names)]
        known = span is not None
        if not known:  # metrics.json from before score_range: the means' own range
            means = pd.to_numeric(sub_table["mean"], errors="coerce").dropna()
            span = (float(means.min()), float(means.max()))
        pad = RANGE_MARGIN * (span[1] - span[0]) or 0.5
        low, high = span[0] - pad, span[1] + pad
        x = np.arange(len(names))
        for k, persona in enumerate(shown):
            color, marker = persona_style(k)
            sub = sub_table[sub_table["persona_id"] == persona].set_index("trait").reindex(names)
            mean = pd.to_numeric(sub["mean"], errors="coerce").to_numpy(float)
            lo = pd.to_numeric(sub["ci_low"], errors="coerce").to_numpy(float)
            hi = pd.to_numeric(sub["ci_high"], errors="coerce").to_numpy(float)
            xs = x - 0.4 + width * (k + 0.5)
            ax.plot(xs, mean, marker, ls="none", color=color, ms=4, label=str(persona) if ax is axes[0] else None)
            has = np.isfinite(lo) & np.isfinite(hi)
            intervals.append(has)
            ax.vlines(xs[has], np.clip(lo, low, high)[has], np.clip(hi, low, high)[has], color=color, lw=0.9)
            for end, edge, arrow in ((lo, low, ARROW_DOWN), (hi, high, ARROW_UP)):
                past = has & ((end < low) if edge == low else (end > high))
                ax.plot(xs[has & ~past], end[has & ~past], "_", color=color, ms=4)  # a cap where the interval ends
                if past.any():  # no cap: an arrow at the axis, the interval goes on
                    clipped = True
                    ax.plot(xs[past], np.full(past.sum(), edge), marker=arrow, ls="none", color=color, ms=9,
                            clip_on=False)
            ends = [_target_end(targets.get(persona), ranges[t]) if t in ranges else None for t in names]
            at = np.array([e is not None for e in ends])
            if at.any():
                targeted = True
                ax.plot(xs[at], [e for e in ends if e is not None], marker, ms=7, mfc="none", color=color, mew=1.0,
                        ls="none", clip_on=False)
        if known:
            for bound in span:
                ax.axhline(bound, color="#bbbbbb", lw=0.6, ls=":", zorder=0)
        ax.set_ylim(low, high)
        ax.set_xlim(-0.5, len(names) - 0.5)
        ax.set_xticks(x, [str(t) for t in names])
    axes[0].set_ylabel("trait score (mean, 95% t interval)")
    notes = [text for flag, text in ((not np.hstack(intervals).any(), "no interval: fewer than 3 conditions per persona, or no spread"),
                                     (clipped, "arrow: the interval runs past the axis (drawn to its edge)"),
                                     (targeted, "hollow: the persona's target pole")) if flag]
    if panels[0][1] is None:
        notes.append("score range not in metrics.json: the axis spans the means")
    more = f" (first {len(shown)} of {len(personas)} personas)" if len(personas) > len(shown) else ""
    fig.suptitle("Trait profile by persona" + (", on the score range" if panels[0][1] else "") + more, fontsize=9)
    if notes:
        fig.supxlabel("; ".join(notes), fontsize=7, color="#555555")
    if legend_out:
        fig.legend(loc="outside right upper", fontsize=7, ncols=1 if len(shown) <= 12 else 2)
    return fig


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


def model_distribution(answers: pd.DataFrame | None) -> pd.DataFrame | None:
    """Share of valid answers on each option (original scale), with a cluster-bootstrap interval over
    personas (bench.metrics.uncertainty; none with too few personas): columns share, ci_low, ci_high."""
    if answers is None or answers.empty:
        return None
    valid = answers.loc[~answers["invalid"].fillna(False).astype(bool)].dropna(subset=["answer"])
    if valid.empty:
        return None
    value = valid["answer"].round().astype(int).to_numpy()
    options = np.unique(value)
    code = np.searchsorted(options, value)

    def shares(ix):
        return np.bincount(code[ix], minlength=len(options)) / max(len(ix), 1)

    lo, hi = cluster_bootstrap(clusters_of(valid), shares)
    return pd.DataFrame({"share": shares(np.arange(len(value))), "ci_low": lo, "ci_high": hi}, index=options)


def answer_distribution(data: RunData) -> Figure | str:
    """The figure of how the run's answers spread over the options (beside the humans' where the run has a
    population), or why it is not drawn."""
    if _is_survey(data):
        return "a survey's answers are drawn per question"
    model, human = model_distribution(data.answers), human_distribution(data.fidelity)
    if model is None:
        return "the run holds no valid answers"
    options = sorted(set(model.index) | set(human.index if human is not None else []))
    model = model.reindex(options).fillna({"share": 0})
    x = np.arange(len(options))
    width = 0.4 if human is not None else 0.6
    fig = Figure(figsize=(5, 2.8))
    ax = fig.subplots()
    yerr = _errors(model["share"], model["ci_low"], model["ci_high"])
    ax.bar(x - (width / 2 if human is not None else 0), model["share"], width, label="model", color=COLORS[0],
           yerr=yerr, capsize=3)
    _no_interval_note(ax, yerr, FEW_CLUSTERS)
    if human is not None:
        ax.bar(x + width / 2, human.reindex(options, fill_value=0), width, label="humans", color=COLORS[1])
    ax.set_xticks(x, [str(o) for o in options])
    ax.set_xlabel("answer option (original scale)")
    ax.set_ylabel("share of answers (95% CI)")
    ax.set_title("Answer distribution" + (" vs humans" if human is not None else " (no human reference)"))
    ax.legend()
    return fig


def question_shares(fidelity: pd.DataFrame | None, metrics: dict) -> list[tuple[str, list[str], list, list | None]]:
    """Per survey question: (item id, option labels, model shares, human shares or None), from fidelity.csv
    (model_p<k>/human_p<k> per question) or, without a human reference, metrics.json question_distributions."""
    out = []
    if fidelity is not None and not fidelity.empty and "item_id" in fidelity:
        cols: dict[int, dict[str, str]] = {}
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


def question_distributions(data: RunData) -> Figure | str:
    """A survey's answer shares per question, model beside humans when the run has a reference (the
    first MAX_QUESTIONS_DRAWN questions; the tables hold them all), with the metrics' intervals."""
    if not _is_survey(data):
        return "not a survey: the answers are drawn over the shared scale"
    # a question with no share at all was not asked (max_items) or never answered: nothing to draw
    shown = [q for q in question_shares(data.fidelity, data.metrics)
             if np.isfinite(np.asarray(q[2], float)).any()][:MAX_QUESTIONS_DRAWN]
    if not shown:
        return "the run holds no answer shares per question"
    ci = {(str(r.get("item_id")), str(r.get("option"))): (r.get("share"), r.get("share_ci_low"), r.get("share_ci_high"))
          for r in data.metrics.get("question_distributions") or [] if isinstance(r, dict)}
    ncols = min(len(shown), 2)
    nrows = (len(shown) + ncols - 1) // ncols
    fig = Figure(figsize=(4 * ncols, 2.4 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, (item, options, model, human) in zip(axes.flat, shown):
        x = np.arange(len(options))
        width = 0.4 if human is not None else 0.6
        ends = [ci.get((item, o), (None, None, None)) for o in options]
        yerr = _errors(model, [e[1] if e[1] is not None else np.nan for e in ends],
                       [e[2] if e[2] is not None else np.nan for e in ends])
        ax.bar(x - (width / 2 if human is not None else 0), np.nan_to_num(model), width, label="model",
               color=COLORS[0], yerr=yerr, capsize=2)
        if human is not None:
            ax.bar(x + width / 2, np.nan_to_num(human), width, label="humans", color=COLORS[1])
        ax.set_xticks(x, [o[:12] for o in options], fontsize=7)
        ax.set_ylim(0, 1.02)
        ax.set_title(item[:40], fontsize=8)
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    return fig


def type_distribution(data: RunData) -> Figure | str:
    """Per persona (rows) and temperature (columns), the share of participants of each type found,
    with Wilson intervals (metrics.json paper_tables.type_distribution); the persona's target type
    (paper_tables.type_accuracy) is shaded and its bar coloured, whether or not it was found."""
    tables = data.metrics.get("paper_tables") or {}
    rows = tables.get("type_distribution")
    if not rows:
        return (OLD_METRICS if "mbti" in data.metrics and "paper_tables" not in data.metrics
                else "not a type inventory: no MBTI types to count")
    table = pd.DataFrame(rows)
    targets = {str(r.get("persona_id")): str(r.get("target")) for r in tables.get("type_accuracy") or []
               if isinstance(r, dict) and r.get("target")}
    personas = list(dict.fromkeys(table["persona_id"]))
    shown = personas[:MAX_PERSONAS_DRAWN]
    temps = sorted(table["temperature"].unique())
    types = sorted(set(table["type"]) | {targets[str(p)] for p in shown if str(p) in targets})
    fig = Figure(figsize=(max(0.2 * len(types) * len(temps) + 1.2, 4.0), 0.95 * len(shown) + 1.6),
                 layout="constrained")
    # the same limits and ticks on every axes, set on each: sharing them across 32 axes costs seconds
    axes = fig.subplots(len(shown), len(temps), squeeze=False)
    x = np.arange(len(types))
    for i, persona in enumerate(shown):
        target = targets.get(str(persona))
        for j, temp in enumerate(temps):
            ax = axes[i, j]
            sub = table[(table["persona_id"] == persona) & (table["temperature"] == temp)].set_index("type")
            sub = sub.reindex(types)
            colors = [TARGET_COLOR if t == target else COLORS[0] for t in types]
            if target in types:
                ax.axvspan(types.index(target) - 0.5, types.index(target) + 0.5, color=TARGET_COLOR, alpha=0.15, lw=0)
            ax.bar(x, sub["share"].fillna(0), 0.7, color=colors,
                   yerr=_errors(sub["share"], sub["share_ci_low"], sub["share_ci_high"]), capsize=2)
            ax.set(xlim=(-0.5, len(types) - 0.5), ylim=(0, 1.05), yticks=[0, 0.5, 1])
            ax.set_xticks(x, types if i == len(shown) - 1 else [], rotation=90, fontsize=7)
            ax.tick_params(labelsize=7, labelleft=j == 0)
            if i == 0:
                ax.set_title(f"T={temp:g}", fontsize=8)
            if j == 0:
                n = int(sub["n"].max()) if sub["n"].notna().any() else 0
                aim = f", target {target}" if target and target != str(persona) else ""
                ax.set_ylabel(f"{persona}\n(n={n}{aim})", fontsize=7)
    more = f" (first {len(shown)} of {len(personas)} personas)" if len(personas) > len(shown) else ""
    fig.suptitle("Type found per persona and temperature (share of participants, Wilson 95% CI)" + more, fontsize=9)
    if targets:
        fig.legend(handles=[Patch(color=TARGET_COLOR, alpha=0.6, label="the persona's target type"),
                            Patch(color=COLORS[0], label="another type")],
                   loc="outside lower center", ncols=2, fontsize=7)
    return fig


def temperature_effect(data: RunData) -> Figure | str:
    """Trait score against sampling temperature (mean over personas' conditions, 95% t interval), and the
    invalid rate (Wilson interval over item responses)."""
    if _is_survey(data):
        return "a survey has no trait scores"
    if data.scores is None or data.scores.dropna(subset=["score"]).empty:
        return "the run holds no trait scores"
    temps = sorted(data.scores["temperature"].dropna().unique())
    if len(temps) < 2:
        return f"one temperature only (T={temps[0]:g}): nothing to compare" if temps else "no temperature"
    table = trait_scores(data.scores, by=["temperature"])
    fig = Figure(figsize=(8, 2.8))
    ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    for k, (trait, sub) in enumerate(table.groupby("trait", sort=False)):
        sub = sub.sort_values("temperature")
        color = COLORS[k % len(COLORS)]
        ax.plot(sub["temperature"], sub["mean"], marker="o", label=str(trait), color=color)
        ax.fill_between(sub["temperature"].to_numpy(float), sub["ci_low"].to_numpy(float),
                        sub["ci_high"].to_numpy(float), alpha=0.15, color=color)
    _no_interval_note(ax, table[["ci_low", "ci_high"]].to_numpy(float), "one condition per temperature")
    ax.set_xlabel("temperature")
    ax.set_ylabel("trait score (95% t interval)")
    ax.set_title("Trait scores by temperature")
    _legend(ax, table["trait"].nunique())
    by_t = (data.metrics.get("invalid_rates") or {}).get("by_temperature") or {}
    ts = sorted(by_t, key=float)
    rate = np.array([by_t[t].get("invalid_rate") or 0.0 for t in ts], float)
    ends = np.array([wilson_interval(round(r * (by_t[t].get("n") or 0)), by_t[t].get("n") or 0)
                     for r, t in zip(rate, ts)], float).reshape(-1, 2)
    ax2.errorbar([float(t) for t in ts], rate, yerr=_errors(rate, ends[:, 0], ends[:, 1]), marker="o",
                 color=COLORS[3], capsize=3)
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_xlabel("temperature")
    ax2.set_title("Invalid rate (Wilson 95% CI)")
    return fig


def shown_positions(data: RunData) -> Figure | str:
    """Share of answers at each shown position, one bar per option order (metrics.json
    position_bias.shown_shares, cluster-bootstrap intervals over personas)."""
    if _is_survey(data):
        return "a survey's options have no shared positions"
    rows = (data.metrics.get("position_bias") or {}).get("shown_shares")
    if not rows:
        return (OLD_METRICS if data.metrics.get("position_bias") else "the responses carry no shown option order")
    table = pd.DataFrame(rows)
    orders = list(dict.fromkeys(table["option_order"]))
    positions = sorted(table["position"].unique())
    x = np.arange(len(positions))
    width = 0.8 / len(orders)
    fig = Figure(figsize=(5, 2.8))
    ax = fig.subplots()
    yerrs = []
    for k, order in enumerate(orders):
        sub = table[table["option_order"] == order].set_index("position").reindex(positions)
        yerrs.append(_errors(sub["share"], sub["share_ci_low"], sub["share_ci_high"]))
        ax.bar(x - 0.4 + width * (k + 0.5), sub["share"], width, label=str(order), color=COLORS[k % len(COLORS)],
               yerr=yerrs[-1], capsize=3)
    _no_interval_note(ax, np.hstack(yerrs), f"fewer than {MIN_CLUSTERS} personas to resample")
    ax.axhline(1 / len(positions), color="#888888", lw=0.8, ls="--")
    ax.set_xticks(x, [str(p) for p in positions])
    ax.set_xlabel("shown option position")
    ax.set_ylabel("share of answers (95% CI)")
    ax.set_title("Answers by shown option position")
    ax.legend(fontsize=7, title="option order", title_fontsize=7)
    return fig


# name -> (title, drawer); the name is the file's stem
FIGURES: dict[str, tuple[str, Callable[[RunData], Figure | str]]] = {
    "profile": ("trait profile by persona", trait_profile),
    "answers": ("answer distribution", answer_distribution),
    "questions": ("answer distribution per question", question_distributions),
    "types": ("type distribution per persona and temperature", type_distribution),
    "temperature": ("temperature effect on scores", temperature_effect),
    "positions": ("answers by shown option position", shown_positions),
}


def render(fig: Figure, fmt: str) -> bytes:
    """A figure as bytes in one format, its date and software stamps removed so the same run draws the same
    files."""
    with mpl.rc_context(STYLE):
        if fig.get_layout_engine() is None:  # a figure laid out as it was built (constrained) keeps that
            fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata=SAVE_METADATA[fmt], dpi=PNG_DPI)
    return buf.getvalue()


def draw_figures(data: RunData, formats=FORMATS) -> Drawn:
    """Every figure that applies to the run, in every format, as bytes; the rest with their reasons."""
    out = Drawn()
    for name, (_, drawer) in FIGURES.items():
        with mpl.rc_context(STYLE):
            fig = drawer(data)
        if isinstance(fig, str):
            out.skipped[name] = fig
        else:
            out.files[name] = {fmt: render(fig, fmt) for fmt in formats}
    return out


def write_figures(run_dir: Path, data: RunData) -> Drawn:
    """Draw the run's figures into run_dir/figures/<name>.png|svg, each file whole or not at all."""
    drawn = draw_figures(data)
    for name, files in drawn.files.items():
        for fmt, blob in files.items():
            atomic_write_bytes(Path(run_dir) / FOLDER / f"{name}.{fmt}", blob)
    return drawn
