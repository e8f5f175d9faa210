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
    if "human_norms" in metrics:
        out += ["", *norms_text(metrics["human_norms"], metrics["n_participants"], len(scores["persona_id"].unique()))]
    return "\n".join(out) + "\n"


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
        notes.append(f"model n counts {n_participants} participants from {n_personas} persona(s): templates, orders, "
                     "temperatures and repetitions of one persona are not independent people, so p is optimistic")
    if section.get("source"):
        notes.append("norms: " + "; ".join(section["source"]))
    return lines + [f"- {n}" for n in notes]


def fidelity_text(metrics: dict) -> str:
    """The fidelity sections of metrics.json as a Markdown table, model rows over the human floor."""
    sections = {k: v for k, v in metrics.items() if k == "fidelity" or k.startswith("fidelity_")}
    if not sections:
        return ""
    cols = ["mean_wd", "mean_wd_normalized", "mean_tv", "frobenius", "frobenius_normalized"]
    rows = [{"population": s.get("method"), **{c: s.get(c) for c in cols}} for s in sections.values()]
    bound = next(iter(sections.values())).get("human_lower_bound") or {}
    rows.append({"population": "human split-half (mean)", **{c: (bound.get(c) or {}).get("mean") for c in cols}})
    first = next(iter(sections.values()))
    return "\n".join(["", f"## Fidelity to {first.get('reference')} (temperature {first.get('temperature')})",
                      markdown_table(pd.DataFrame(rows)), ""])
