"""A readable summary of one run for the terminal (and summary.md): the headline numbers only."""

from __future__ import annotations

import math

import pandas as pd


def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def markdown_table(df: pd.DataFrame) -> str:
    return df.astype(object).where(df.notna(), None).to_markdown(index=False, floatfmt=".3f", missingval="-")


def _in_trait_order(df: pd.DataFrame, names: dict) -> pd.DataFrame:
    order = {t: k for k, t in enumerate(names)}
    return df.sort_values("trait", key=lambda s: s.map(order)).reset_index(drop=True)


def summary_text(cfg, prov, inventory, responses: pd.DataFrame, scores: pd.DataFrame, metrics: dict,
                 run_dir) -> str:
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
        dist = pd.DataFrame(metrics["question_distributions"])
        rates = metrics["invalid_rates"]
        out += ["## Answer distribution per question (all participants)", markdown_table(dist), "",
                f"invalid rate {_fmt(rates['invalid_rate'])}, refusal rate {_fmt(rates['refusal_rate'])}"]
        return "\n".join(out) + "\n"
    out.append("## Trait scores by persona (mean over templates, orders, temperatures, repetitions)")
    wide = scores.pivot_table(index="persona_id", columns="trait", values="score", aggfunc="mean")
    wide = wide[[t for t in names if t in wide.columns]].reset_index()
    out += [markdown_table(wide), ""]

    rel = _in_trait_order(pd.DataFrame(metrics["reliability"]), names)
    if len(rel):
        cols = [c for c in ("trait", "alpha", "omega", "n_participants", "n_items") if c in rel.columns]
        out += ["## Internal consistency across participants", markdown_table(rel[cols]), ""]
    sens = pd.DataFrame(metrics["prompt_sensitivity"])
    sym = pd.DataFrame(metrics["option_order_symmetry"])
    if len(sens) and len(sym):
        both = sens[["trait", "H", "p", "eta2_h"]].merge(sym[["trait", "mean_shift", "n_pairs"]], on="trait",
                                                        how="outer")
        both = _in_trait_order(both, names)
        both.columns = ["trait", "KW H (templates)", "p", "eta2_H", "order shift (rev - orig)", "pairs"]
        out += ["## Reliability across prompt variants and option orders", markdown_table(both), ""]
    icc = metrics["icc_repetitions"]["pooled"]
    rates = metrics["invalid_rates"]
    out.append(f"ICC across repetitions (ICC2, mean over conditions): {_fmt(icc.get('icc2_mean'))} "
               f"({icc.get('n_computable')} of {icc.get('n_conditions')} conditions computable)")
    out.append(f"invalid rate {_fmt(rates['invalid_rate'])}, "
               f"refusal rate {_fmt(rates['refusal_rate'])}")
    if cfg["scoring"] == "logprob":
        mass = responses.drop_duplicates("prompt_hash")["label_mass"]
        out.append(f"probability mass on the option labels: mean {_fmt(float(mass.mean()))}, "
                   f"min {_fmt(float(mass.min()))} (low mass: the model wanted to say something else)")
    if "mbti" in metrics:
        acc = metrics["mbti"]["accuracy"]
        out.append(f"MBTI type accuracy vs persona target: {_fmt(acc.get('exact'))} "
                   f"(per dichotomy {', '.join(f'{k} {_fmt(v)}' for k, v in (acc.get('per_dichotomy') or {}).items())}; "
                   f"n {acc.get('n')})")
    if "trait_target_shift" in metrics:
        shift = pd.DataFrame(metrics["trait_target_shift"])
        out += ["", "## Does the persona move its target trait? (high-pole minus low-pole personas)", markdown_table(shift)]
    return "\n".join(out) + "\n"


def fidelity_text(metrics: dict) -> str:
    """The fidelity sections of metrics.json: distances (model rows over the human split-half floor, with
    its spread), then human vs model reliability, and what the human data's reading did (blanked codes,
    columns paired by wording)."""
    sections = {k: v for k, v in metrics.items() if k == "fidelity" or k.startswith("fidelity_")}
    if not sections:
        return ""
    cols = ["mean_wd", "mean_wd_normalized", "mean_tv", "frobenius", "frobenius_normalized"]
    rows = [{"population": s.get("method"), **{c: s.get(c) for c in cols}} for s in sections.values()]
    bound = next(iter(sections.values())).get("human_lower_bound") or {}
    rows.append({"population": "human split-half (mean)", **{c: (bound.get(c) or {}).get("mean") for c in cols}})
    rows.append({"population": "human split-half (sd)", **{c: (bound.get(c) or {}).get("sd") for c in cols}})
    first = next(iter(sections.values()))
    out = ["", f"## Fidelity to {first.get('reference')} (population {first.get('population')}, temperature "
               f"{first.get('temperature')})", markdown_table(pd.DataFrame(rows))]
    out += alpha_lines(sections)
    if first.get("missing_codes"):
        out += ["", f"missing-answer codes {first['missing_codes']}: {first.get('human_missing_cells', 0):,} human cells "
                    "blanked (read as no answer)"]
    if first.get("human_columns"):
        pairs = "; ".join(f"{p['item']} <- {p['column']!r} ({p['similarity']:.2f})" for p in first["human_columns"])
        out += ["", f"human columns paired with items by wording (match: text), check them: {pairs}"]
    return "\n".join(out + [""])


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
