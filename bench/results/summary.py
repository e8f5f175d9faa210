"""A readable summary of one run for the terminal (and summary.md): the headline numbers only."""

from __future__ import annotations

import math

import pandas as pd

from bench.metrics.trust import LOW_LABEL_MASS
from bench.results.figures import FEW_CLUSTERS, FIGURES, FOLDER, Drawn


def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


MARK = "⚠"  # beside a figure that cannot be trusted; the reason is listed under "Warnings"


def _ci(lo, hi, digits: int = 3) -> str:
    """A 95% interval as "[lo, hi]", "-" when it could not be computed."""
    return "-" if _fmt(lo, digits) == "-" or _fmt(hi, digits) == "-" else f"[{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


def with_ci(value, lo, hi, warning=None, digits: int = 3) -> str:
    """A figure, its 95% interval and a mark when it cannot be trusted: "0.512 [0.401, 0.620] ⚠"."""
    text = _fmt(value, digits)
    if _ci(lo, hi, digits) != "-":
        text += f" {_ci(lo, hi, digits)}"
    return f"{text} {MARK}" if warning else text


def _rows_with_ci(rows: list[dict], spec: dict[str, tuple[str, str, str]], keep: list[str]) -> pd.DataFrame:
    """Rows as a table whose figure columns read "value [lo, hi]" (spec: header -> value, lo, hi keys)."""
    out = []
    for r in rows:
        row = {k: r.get(k) for k in keep}
        for header, (v, lo, hi) in spec.items():
            row[header] = with_ci(r.get(v), r.get(lo), r.get(hi), r.get("warning"))
        out.append(row)
    return pd.DataFrame(out)


def _rates_line(rates: dict) -> str:
    return (f"invalid rate {with_ci(*(rates.get(f'invalid_rate{e}') for e in ('', '_ci_low', '_ci_high')))}, "
            f"refusal rate {with_ci(*(rates.get(f'refusal_rate{e}') for e in ('', '_ci_low', '_ci_high')))}")


def markdown_table(df: pd.DataFrame) -> str:
    """A table as markdown with 3 decimals and missing values as "-"."""
    return df.astype(object).where(df.notna(), None).to_markdown(index=False, floatfmt=".3f", missingval="-")


def _in_trait_order(df: pd.DataFrame, names: dict) -> pd.DataFrame:
    order = {t: k for k, t in enumerate(names)}
    return df.sort_values("trait", key=lambda s: s.map(order)).reset_index(drop=True)


def summary_text(cfg, prov, inventory, responses: pd.DataFrame, scores: pd.DataFrame, metrics: dict,
                 run_dir) -> str:
    """summary.md: the headline numbers of a run (reliability, scores, or a survey's answer shares) with their
    intervals, for a reader at the terminal."""
    names = inventory.trait_names
    out = [
        f"# persona-bench: {prov['model']['id']} on {inventory.name} (v{inventory.version})",
        "",
        f"engine {prov['engine']}, scoring {cfg['scoring']}, administration {cfg['administration']}, "
        f"persona set {cfg['persona'].get('set')}, {metrics['n_participants']} participants, "
        f"{metrics['n_responses']} responses, seed {cfg['seed']}",
        f"results: {run_dir}",
        "",
    ]
    if inventory.kind == "survey":
        out += ["## Answer distribution per question (all participants)",
                *survey_table(metrics["question_distributions"], set(responses["item_id"])), "",
                _rates_line(metrics["invalid_rates"])]
        return "\n".join(out) + "\n"
    out.append("## Trait scores by persona (mean over templates, orders, temperatures, repetitions)")
    wide = scores.pivot_table(index="persona_id", columns="trait", values="score", aggfunc="mean")
    wide = wide[[t for t in names if t in wide.columns]].reset_index()
    out += [markdown_table(wide), ""]

    means = metrics.get("trait_summary") or []
    if means:
        table = _in_trait_order(_rows_with_ci(means, {"mean [95% CI]": ("mean", "ci_low", "ci_high")},
                                              ["trait", "sd", "n", "n_clusters"]), names)
        table = table[["trait", "mean [95% CI]", "sd", "n", "n_clusters"]]
        out += ["## Trait means over all participants (95% t interval over persona means)", markdown_table(table), ""]
    rel = metrics["reliability"]
    if rel:
        table = _rows_with_ci(rel, {"alpha [95% CI]": ("alpha", "alpha_ci_low", "alpha_ci_high"),
                                    "omega [95% CI]": ("omega", "omega_ci_low", "omega_ci_high")},
                              ["trait", "n_participants", "n_items"])
        out += ["## Internal consistency across participants (alpha: Feldt interval; omega: bootstrap over personas)",
                markdown_table(_in_trait_order(table, names)[["trait", "alpha [95% CI]", "omega [95% CI]",
                                                              "n_participants", "n_items"]]), ""]
    sens = _rows_with_ci(metrics["prompt_sensitivity"], {"eta2_H [95% CI]": ("eta2_h", "eta2_ci_low", "eta2_ci_high")},
                         ["trait", "H", "p"])
    sym = _rows_with_ci(metrics["option_order_symmetry"],
                        {"order shift (rev - orig) [95% CI]": ("mean_shift", "ci_low", "ci_high")}, ["trait", "n_pairs"])
    if len(sens) and len(sym):
        both = sens[["trait", "H", "p", "eta2_H [95% CI]"]].merge(
            sym[["trait", "order shift (rev - orig) [95% CI]", "n_pairs"]], on="trait", how="outer")
        both = _in_trait_order(both, names)
        both.columns = ["trait", "KW H (templates)", "p", "eta2_H [95% CI]", "order shift (rev - orig) [95% CI]",
                        "pairs"]
        out += ["## Reliability across prompt variants and option orders", markdown_table(both), ""]
        robust = metrics.get("robustness_summary") or {}
        if robust:
            eta, shift = "prompt_sensitivity_eta2_mean", "option_order_abs_shift_mean"
            out += [f"Mean over traits (bootstrap over personas): eta2_H "
                    f"{with_ci(robust.get(eta), robust.get(f'{eta}_ci_low'), robust.get(f'{eta}_ci_high'))}, "
                    f"|order shift| "
                    f"{with_ci(robust.get(shift), robust.get(f'{shift}_ci_low'), robust.get(f'{shift}_ci_high'))}", ""]
    icc = metrics["icc_repetitions"]["pooled"]
    rates = metrics["invalid_rates"]
    out.append(f"ICC across repetitions (ICC2, mean over conditions): "
               f"{with_ci(icc.get('icc2_mean'), icc.get('icc2_mean_ci_low'), icc.get('icc2_mean_ci_high'))} "
               f"({icc.get('n_computable')} of {icc.get('n_conditions')} conditions computable)")
    out.append(_rates_line(rates))
    if cfg["scoring"] == "logprob":
        out.append(label_mass_line(responses.drop_duplicates("prompt_hash")["label_mass"]))
    if "mbti" in metrics:
        mbti = metrics["mbti"]
        acc = mbti["accuracy"]
        per_ci = acc.get("per_dichotomy_ci") or {}
        per = ", ".join(f"{k} {with_ci(v, *(per_ci.get(k) or [None, None]))}"
                        for k, v in (acc.get("per_dichotomy") or {}).items())
        out.append(f"MBTI type accuracy vs persona target (Wilson 95% CI): "
                   f"{with_ci(acc.get('exact'), acc.get('exact_ci_low'), acc.get('exact_ci_high'), mbti.get('warning'))} "
                   f"(per dichotomy {per}; n {acc.get('n')})")
    if "trait_target_shift" in metrics:
        shift = pd.DataFrame(metrics["trait_target_shift"])
        out += ["", "## Does the persona move its target trait? (high-pole minus low-pole personas)", markdown_table(shift)]
    if "human_norms" in metrics:
        out += ["", *norms_text(metrics["human_norms"], metrics["n_participants"], len(scores["persona_id"].unique()))]
    out += position_text(metrics.get("position_bias"))
    out += warnings_text(metrics.get("warnings") or [])
    return "\n".join(out) + "\n"


def survey_table(rows: list[dict], asked: set) -> list[str]:
    """A survey's answer shares per question and option: only the questions the run asked (max_items leaves
    the rest without answers), and an interval column only when some share has an interval."""
    rows = [r for r in rows if r.get("item_id") in asked]
    has_ci = any(_ci(r.get("share_ci_low"), r.get("share_ci_high")) != "-" for r in rows)
    header = "share [95% CI]" if has_ci else "share"
    table = _rows_with_ci(rows, {header: ("share", "share_ci_low", "share_ci_high")}, ["item_id", "option"])
    note = [] if has_ci or not rows else [f"(no interval: {FEW_CLUSTERS})"]
    return [markdown_table(table), *note]


def label_mass_line(mass: pd.Series) -> str:
    """The probability on the option labels (logprob scoring), worded by its value: "low" only when the mean
    is under LOW_LABEL_MASS, the threshold at which the mean is flagged as a warning (bench.metrics.trust)."""
    mean = float(mass.mean())
    why = ("not recorded" if not math.isfinite(mean) else "low mass: the model wanted to say something else"
           if mean < LOW_LABEL_MASS else "most of the model's probability is on the option labels")
    return f"probability mass on the option labels: mean {_fmt(mean)}, min {_fmt(float(mass.min()))} ({why})"


def norms_text(section: dict, n_participants: int, n_personas: int) -> list[str]:
    """The human-norms table (PsychoBench's comparison) with what its n and p can and cannot say."""
    table = pd.DataFrame(section["rows"])
    shown = table[["trait", "group", "model_mean", "model_sd", "model_n", "human_mean", "human_sd", "human_n",
                   "diff_sd", "diff_sd_ci_low", "diff_sd_ci_high", "welch_t", "welch_df", "p"]].copy()
    shown.columns = ["trait", "human group", "model mean", "model SD", "model n", "human mean", "human SD",
                     "human n", "diff (human SDs)", "95% low", "95% high", "Welch t", "df", "p"]
    lines = ["## Against human norms (model minus humans, in human SD units; Welch's t)", markdown_table(shown), ""]
    notes = [f"{r['trait']} / {r['group']}: {r['note']}" for r in section["rows"] if r.get("note")]
    if n_participants > n_personas:
        notes.append(f"model n counts personas ({n_personas}), each the mean of its participants ({n_participants} in "
                     "all): templates, orders, temperatures and repetitions of one persona are repeated measures, not "
                     "independent people; with fewer than 3 personas no p is given")
    if section.get("source"):
        notes.append("norms: " + "; ".join(section["source"]))
    return lines + [f"- {n}" for n in notes]


def position_text(section: dict | None) -> list[str]:
    """Position bias apart from preference (bench.metrics.position): the collapse line first."""
    if not section:
        return []
    out = ["", "## Position bias apart from preference (log-linear model over option orders)"]
    if section.get("message"):
        out.append(f"{MARK} {section['message']}.")
    if not section.get("identified"):
        out.append(section.get("note", ""))
        return out
    out.append(f"position effect (total variation of the position shares from uniform): "
               f"{with_ci(section.get('effect'), section.get('effect_ci_low'), section.get('effect_ci_high'))}"
               + (" (mirror orders only: the part of a position preference that is symmetric about the middle "
                  "stays in the preference)" if section.get("mirror_only") else ""))
    pos = pd.DataFrame(section.get("positions") or [])
    if len(pos):
        pos["log-odds vs position 1 [95% CI]"] = [with_ci(v, lo, hi) for v, lo, hi in
                                                 zip(pos["log_odds_vs_1"], pos["ci_low"], pos["ci_high"])]
        out += [markdown_table(pos[["position", "log-odds vs position 1 [95% CI]", "share"]])]
    if section.get("trait_summary"):
        out += ["", "Trait scores, raw and position-corrected (mean over personas):",
                markdown_table(pd.DataFrame(section["trait_summary"]))]
    if section.get("note"):
        out.append(section["note"])
    return out


def warnings_text(found: list[dict]) -> list[str]:
    """The figures marked with MARK and why they cannot be trusted."""
    if not found:
        return []
    return ["", f"## Warnings ({MARK}: figures that cannot be trusted)",
            *(f"- {w['figure']}: {w['reason']}" for w in found)]


def fidelity_text(metrics: dict) -> str:
    """The fidelity sections of metrics.json: distances (model rows over the human split-half estimate, with
    its 95% interval and its spread over splits), then human vs model reliability, and what the human data's reading did (blanked codes,
    columns paired by wording)."""
    sections = {k: v for k, v in metrics.items() if k == "fidelity" or k.startswith("fidelity_")}
    if not sections:
        return ""
    cols = ["mean_wd", "mean_wd_normalized", "mean_tv", "frobenius", "frobenius_normalized"]
    rows = [{"population": s.get("method"), **{c: with_ci(s.get(c), s.get(f"{c}_ci_low"), s.get(f"{c}_ci_high"))
                                               for c in cols}} for s in sections.values()]
    bound = next(iter(sections.values())).get("human_lower_bound") or {}
    rows.append({"population": "human split-half estimate", **{c: with_ci(*((bound.get(c) or {}).get(k) for k in
                                                                             ("mean", "ci_low", "ci_high")))
                                                                for c in cols}})
    rows.append({"population": "human split-half (sd)", **{c: _fmt((bound.get(c) or {}).get("sd")) for c in cols}})
    first = next(iter(sections.values()))
    out = ["", f"## Fidelity to {first.get('reference')} (population {first.get('population')}, temperature "
               f"{first.get('temperature')})", markdown_table(pd.DataFrame(rows)), "", SPLIT_HALF_NOTE]
    out += ladder_lines(sections)
    out += alpha_lines(sections)
    if first.get("missing_codes"):
        out += ["", f"missing-answer codes {first['missing_codes']}: {first.get('human_missing_cells', 0):,} human cells "
                    "blanked (read as no answer)"]
    if first.get("matching"):
        out += ["", f"{first['matching']}"]
    if first.get("human_columns"):
        pairs = "; ".join(f"{p['item']} <- {p['column']!r} ({p['similarity']:.2f})" for p in first["human_columns"])
        out += ["", f"human columns paired with items by wording (match: text), check them: {pairs}"]
    return "\n".join(out + [""])


SPLIT_HALF_NOTE = ("The human split-half estimate [95% interval over respondents and splits] is how far two random "
                   "halves of the humans lie apart: an estimate with its own noise, not a floor (each half holds half "
                   "the people, while the model is compared with all of them).")
LADDER_NOTE = ("Ladder per figure (lower is closer): floor (a population answering uniformly, independent answers) "
               "-> model -> ceiling (the human split-half estimate); normalised fidelity (floor - model) / "
               "(floor - ceiling) is 0 at the floor and 1 at the ceiling, above 1 as good as people "
               "(docs/fidelity-baselines.md).")


def ladder_line(figure: str, rung: dict) -> str:
    """One figure's ladder: "mean_tv: floor 0.412 -> model 0.210 [0.190, 0.230] -> ceiling 0.050 [0.040, 0.060];
    normalised 0.55 [0.49, 0.61]" (and why, where it has no value or interval)."""
    ceiling, norm = rung.get("ceiling") or {}, rung.get("normalised") or {}
    text = (f"{figure}: floor {_fmt(rung.get('floor'))} -> model "
            f"{with_ci(rung.get('model'), rung.get('model_ci_low'), rung.get('model_ci_high'))} -> ceiling "
            f"{with_ci(ceiling.get('estimate'), ceiling.get('ci_low'), ceiling.get('ci_high'))}; normalised "
            f"{with_ci(norm.get('value'), norm.get('ci_low'), norm.get('ci_high'), digits=2)}")
    return text + (f" ({norm['reason']})" if norm.get("reason") else "")


def ladder_lines(sections: dict) -> list[str]:
    """The population ladder of each fidelity section (metrics.json `fidelity.ladder`), one line per figure."""
    out = []
    for s in sections.values():
        ladder = s.get("ladder") or {}
        if ladder:
            head = f" ({s.get('method')})" if len(sections) > 1 else ""
            out += ["", f"Population ladder{head}:", *(f"- {ladder_line(f, r)}" for f, r in ladder.items())]
    return out + ["", LADDER_NOTE] if out else []


def spread_text(metrics: dict) -> str:
    """metrics.json's `spread`: the personas' SD over the people's, one line (mean over traits, per trait)."""
    s = metrics.get("spread")
    if not s:
        return ""
    m = s.get("mean") or {}
    traits = ", ".join(f"{r['trait']} {with_ci(r.get('ratio'), r.get('ratio_ci_low'), r.get('ratio_ci_high'), digits=2)}"
                       for r in s.get("rows") or [])
    flag = f" {MARK} persona collapse (ratio under {s.get('collapse_ratio')})" if s.get("collapse") else ""
    return (f"\nSpread between personas (SD across {s.get('n_personas')} personas / SD across people, {s.get('human')}; "
            f"temperature {s.get('temperature')}): mean {with_ci(m.get('ratio'), m.get('ratio_ci_low'), m.get('ratio_ci_high'), digits=2)}"
            f"{flag}; {traits}\n")


MIN_ALPHA_PARTICIPANTS = 30  # below this an alpha's CI spans most of its range: said in the caption


def alpha_lines(sections: dict) -> list[str]:
    """Cronbach's alpha (95% CI) per trait: each model population, the humans on the same items, and the
    humans on the whole instrument when the run asked fewer items (max_items)."""
    first = next(iter(sections.values()))
    human, full = first.get("alpha_human") or {}, first.get("alpha_human_full") or {}
    if not human:
        return []
    n, n_full = first.get("alpha_n_items") or {}, first.get("alpha_n_items_full") or {}

    def cell(a, ci, t):
        lo, hi = (ci or {}).get(t) or (None, None)
        return f"{_fmt(a.get(t))} [{_fmt(lo)}, {_fmt(hi)}]"

    rows = []
    for t in dict.fromkeys([*human, *full]):
        row = {"trait": t, "items": n.get(t, 0)}
        for s in sections.values():
            row[f"model ({s.get('method')})"] = cell(s.get("alpha_model") or {}, s.get("alpha_model_ci95"), t)
        row["human, same items"] = cell(human, first.get("alpha_human_ci95"), t)
        if n_full != n:
            row["human, all items"] = f"{cell(full, first.get('alpha_human_full_ci95'), t)} ({n_full.get(t)} items)"
        rows.append(row)
    n_model, n_human = first.get("n_model") or 0, first.get("n_human")
    caveat = "; too few for a model alpha to be trusted (CI shown)" if n_model < MIN_ALPHA_PARTICIPANTS else ""
    return ["", f"Cronbach's alpha [95% CI] per trait, model population ({n_model} participants{caveat}) vs humans "
                f"({n_human} respondents):", markdown_table(pd.DataFrame(rows))]


def figures_text(drawn: Drawn) -> str:
    """Links to the run's figures (relative to summary.md), then those not drawn and why."""
    out = ["", "## Figures (95% intervals drawn)"]
    out += [f"- {FIGURES[name][0]}: " + ", ".join(f"[{fmt.upper()}]({FOLDER}/{name}.{fmt})" for fmt in files)
            for name, files in drawn.files.items()]
    if drawn.skipped:
        out += ["", "Not drawn:"] + [f"- {FIGURES[name][0]}: {why}" for name, why in drawn.skipped.items()]
    return "\n".join(out + [""])
