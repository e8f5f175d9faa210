"""`persona-bench behaviour`: does a persona act its personality? (PersonaLLM, Jiang et al. 2024)

For the participants of a run's plan: each writes texts from the writing prompts (seeded per
participant, stored resumably in `texts/parts/`), each rater model rates every text with the
observer-report form of the inventory on the logprob path (`ratings/<rater>/parts/`), and the
expressed trait scores are compared with the same participants' self-report (a run of the same plan,
run here or read from its folder, matched on participant_id), with the personas' target poles and
between two raters. Everything goes into the behaviour run's own folder, beside the run folder it
belongs to: `<run folder name>-behaviour-<hash>/`.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pandas as pd

from bench.engines.rendering import PromptRenderer
from bench.behaviour import RATING_SCHEMA, TEXT_SCHEMA, Rater, Writer, rating_template, writing_prompts
from bench.behaviour.rating import RATING_KEY
from bench.behaviour.texts import TEXT_KEY
from bench.config import freeze, validate
from bench.config.tool_checks import behaviour_run_part
from bench.engines import ModelSpec, load_tokenizer, resolve_model
from bench.engines.pool import command_pool, engine_options
from bench.errors import ConfigError
from bench.instruments.observer import observer_form
from bench.metrics import jsonable
from bench.metrics.behaviour import (expressed_scores, pole_effects, rater_agreement, self_vs_expressed,
                                     style_by_persona)
from bench.pipelines.run import RunError, prepare, run
from bench.results.atomic import atomic_write_json, atomic_write_parquet, atomic_write_text, folder_lock
from bench.results.provenance import collect, config_hash
from bench.results.run_folder import claim_run_dir, make_run_dir, run_dir_for
from bench.results.store import RunStore
from bench.writing.stylometry import STYLE_FEATURES, style_features

OUTPUTS = ("texts.parquet", "ratings.parquet", "expressed_scores.parquet", "metrics.json", "summary.md",
           "provenance.json")


def rater_specs(cfg: dict, spec: ModelSpec) -> list[tuple[str, ModelSpec]]:
    """(name, weights) of each rater: `rater` (else the run's model), then `rater2` when given."""
    first = resolve_model(cfg["rater"]) if cfg.get("rater") else spec
    specs = [first] + ([resolve_model(cfg["rater2"])] if cfg.get("rater2") else [])
    names: list[str] = []
    for s in specs:
        name = re.sub(r"[^A-Za-z0-9_.+-]+", "_", s.id + ("+adapter" if s.adapter else ""))
        names.append(name if name not in names else f"{name}-2")
    return list(zip(names, specs))


def self_report_scores(cfg: dict, plan) -> tuple[pd.DataFrame, Path | None]:
    """The self-report trait scores of the plan's participants: a run folder given by path (checked to
    share participants with this plan before any model work), or None to run it here later."""
    path = cfg["behaviour"]["self_report"]
    if path == "run":
        return pd.DataFrame(), None
    folder = Path(path).expanduser().resolve()
    scores = pd.read_parquet(folder / "scores.parquet")
    missing = {"participant_id", "trait", "score"} - set(scores.columns)
    if missing:
        raise ConfigError(f"behaviour.self_report={path}: {folder / 'scores.parquet'} lacks columns {sorted(missing)}")
    ids = {p.id for p in plan.participants}
    if not ids & set(scores["participant_id"]):
        raise ConfigError(f"behaviour.self_report={path}: none of its participants is in this plan (ids such as "
                          f"{next(iter(ids))!r}); give the run folder of the same plan (inventory, personas, "
                          "templates, orders, temperatures, repetitions, seed)")
    return scores, folder


def behaviour(cfg: dict, progress: bool | None = None, print_summary: bool = True) -> Path:
    """Run the behaviour config; every value is checked first, as on the command line."""
    cfg = validate("behaviour", cfg)  # frozen from here on
    opts = cfg["behaviour"]
    run_cfg = freeze(behaviour_run_part(cfg), "config")  # checked with the behaviour config (check_behaviour)
    inventory, plan, spec = prepare(run_cfg)
    form = observer_form(inventory)
    template = rating_template(opts["rating_templates"], inventory.kind)
    prompts = writing_prompts(opts["prompts"])
    self_scores, self_dir = self_report_scores(cfg, plan)
    raters = rater_specs(cfg, spec)
    show = cfg.get("progress", True) if progress is None else progress
    writer = Writer(plan, prompts, int(opts["copies"]),
                    PromptRenderer.from_config(tokenizer_for(spec), cfg["prompt"], answer_prefix=""),
                    int(opts["max_new_tokens"]), opts["temperature"], int(cfg["batch_size"]),
                    {"id": spec.id, "sha256": spec.sha256})
    if writer.longest_prompt() + int(opts["max_new_tokens"]) > spec.max_model_len:
        raise RunError(f"model '{spec.id}': the longest writing prompt plus behaviour.max_new_tokens is over "
                       f"model.max_model_len={spec.max_model_len}")
    if self_dir is None:  # the plan's own self-report run: its own folder, resumable like any run
        self_dir = run(run_cfg, progress=show, print_summary=False)
        self_scores = pd.read_parquet(self_dir / "scores.parquet")
    base = run_dir_for(run_cfg, plan.personas_sha256())
    folder_cfg = texts_and_ratings_config(cfg)
    out = base.with_name(f"{base.name}-behaviour-{config_hash(folder_cfg)[:10]}")
    make_run_dir(out)
    with folder_lock(out, wait_s=0):
        return write_behaviour(cfg, folder_cfg, out, inventory, form, template, plan, spec, raters, writer,
                               self_scores, self_dir, show, print_summary)


REPORT_ONLY = ("self_report", "min_n", "publish_texts")  # change the report, not the texts or ratings


def texts_and_ratings_config(cfg: dict) -> dict:
    """The config the folder is named by and claimed with: what its texts and ratings depend on. Another
    self-report folder, min_n or publish_texts reuses every part and only recomputes the report
    (provenance.json and metrics.json say which were used)."""
    return {**cfg, "behaviour": {k: v for k, v in cfg["behaviour"].items() if k not in REPORT_ONLY}}


def write_behaviour(cfg, folder_cfg, out: Path, inventory, form, template, plan, spec, raters, writer, self_scores,
                    self_dir, show, print_summary) -> Path:
    """Everything that writes into the behaviour folder; called with its lock held."""
    opts = cfg["behaviour"]
    claim_run_dir(out, folder_cfg, {"model_sha256": spec.sha256, "inventory_sha256": inventory.sha256,
                             "raters": {n: s.sha256 for n, s in raters}, "personas_sha256": plan.personas_sha256()})
    prov = collect(behaviour_run_part(cfg), spec, inventory, cfg["engine"]["name"], writer.renderer.format)
    prov.update(kind="behaviour", personas_sha256=plan.personas_sha256(), self_report_run=str(self_dir),
                report={k: opts[k] for k in REPORT_ONLY},
                raters={n: {"id": s.id, "path": s.path, "sha256": s.sha256, "dtype": s.dtype} for n, s in raters},
                generation={"prompts": opts["prompts"], "copies": opts["copies"],
                            "max_new_tokens": opts["max_new_tokens"],
                            "temperature": opts["temperature"] if opts["temperature"] is not None
                            else "each participant's own (plan)",
                            "seeds": "stable_int(participant seed, 'behaviour-text', prompt id, copy)",
                            "sampling": "the engine's generate: plain temperature sampling (top_k 0, top_p 1, "
                                        "repetition_penalty 1), greedy at temperature 0"})
    started = time.time()
    with command_pool() as pool:  # the writer and the raters: one engine per model, however often asked

        def engine_of(s: ModelSpec):
            return pool.get(cfg["engine"]["name"], s, int(cfg["seed"]), **engine_options(cfg))

        store = RunStore(out / "texts")
        store.recover(writer.unit_keys(), TEXT_SCHEMA, key=TEXT_KEY)
        if len(store.done_units()) < len(writer.units()):
            writer.run(engine_of(spec), store, progress=show)
        texts = store.read_parts()
        prov["writing_seconds"] = round(time.time() - started, 2)
        style = pd.DataFrame([style_features([t]) for t in texts["text"]], columns=list(STYLE_FEATURES))
        texts = pd.concat([texts.reset_index(drop=True), style], axis=1)
        atomic_write_parquet(out / "texts.parquet", texts)
        valid = texts[~texts["invalid"]].to_dict("records")
        frames = []
        for name, rspec in raters:
            rater = Rater(name, rspec.sha256, form, plan.items, valid, opts["rating_orders"], template,
                          PromptRenderer.from_config(tokenizer_for(rspec), cfg["prompt"]),
                          int(cfg["batch_size"]))
            rstore = RunStore(out / "ratings" / name)
            rstore.recover(rater.unit_keys(), RATING_SCHEMA, key=RATING_KEY)
            if valid and len(rstore.done_units()) < len(rater.units()):
                if rater.longest_prompt() > rspec.max_model_len:
                    raise RunError(f"rater '{name}': the longest rating prompt is over its max_model_len="
                                   f"{rspec.max_model_len}; lower behaviour.max_new_tokens")
                rater.run(engine_of(rspec), rstore, progress=show)
            frames.append(rstore.read_parts() if valid else RATING_SCHEMA.empty_table().to_pandas())
    prov["behaviour_seconds"] = round(time.time() - started, 2)
    ratings = pd.concat(frames, ignore_index=True)
    atomic_write_parquet(out / "ratings.parquet", ratings)
    expressed = expressed_scores(ratings, form)
    atomic_write_parquet(out / "expressed_scores.parquet", expressed)
    metrics = behaviour_metrics(cfg, texts, expressed, self_scores, inventory)
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_json(out / "provenance.json", prov)
    text = summary(cfg, inventory, raters, texts, metrics, out, self_dir)
    atomic_write_text(out / "summary.md", text)
    if print_summary:
        print(text)
    return out


def tokenizer_for(s: ModelSpec):
    """The model's tokenizer, to render prompts before any engine opens (the engine decodes with the same one)."""
    return load_tokenizer(s.path)


def behaviour_metrics(cfg: dict, texts: pd.DataFrame, expressed: pd.DataFrame, self_scores: pd.DataFrame,
                      inventory) -> dict:
    """metrics.json's behaviour section: every figure with its n and interval (see bench.metrics.behaviour)."""
    opts, min_n = cfg["behaviour"], int(cfg["behaviour"]["min_n"])
    names = texts["participant_id"] + " " + texts["text_id"]
    vs_self, poles, agreement = (self_vs_expressed(expressed, self_scores, min_n), pole_effects(expressed, min_n),
                                 rater_agreement(expressed, min_n))
    section = {
        "by_trait": by_trait(vs_self, poles, agreement),
        "text_sha256": dict(zip(names, texts["text_sha256"])),  # what the leaderboard shows of the texts
    }
    if opts["publish_texts"]:
        section["texts"] = dict(zip(names, texts["text"]))
    trait_names = inventory.trait_names
    return {"behaviour": jsonable({**section,
        "inventory": inventory.id, "traits": trait_names, "min_n": min_n,
        "n_participants": int(texts["participant_id"].nunique()), "n_texts": len(texts),
        "n_invalid_texts": int(texts["invalid"].sum()),
        "self_vs_expressed": vs_self, "pole_effects": poles, "rater_agreement": agreement,
        "expressed_means": expressed.groupby(["rater", "trait"], sort=False)["score"].agg(["mean", "std", "count"])
        .reset_index().rename(columns={"count": "n"}),
        "style_by_persona": style_by_persona(texts, STYLE_FEATURES),
    })}


def by_trait(vs_self: pd.DataFrame, poles: pd.DataFrame, agreement: pd.DataFrame) -> dict:
    """The report's figures as nested numbers (rater -> trait -> figure, interval, n), which the
    leaderboard turns into columns; tables of rows stay beside them for the page and for tools."""
    out: dict = {}
    for r in vs_self.to_dict("records"):
        out.setdefault(r["rater"], {}).setdefault(r["trait"], {}).update(
            r_self=r["r"], r_self_ci_low=r["ci_low"], r_self_ci_high=r["ci_high"], r_self_n=r["n"])
    for r in poles.to_dict("records"):
        out.setdefault(r["rater"], {}).setdefault(r["trait"], {}).update(
            pole_g=r["g"], pole_g_ci_low=r["ci_low"], pole_g_ci_high=r["ci_high"], pole_n_high=r["n_high"],
            pole_n_low=r["n_low"])
    for r in agreement.to_dict("records"):
        out.setdefault(f"{r['rater_a']}~{r['rater_b']}", {}).setdefault(r["trait"], {}).update(
            agreement_r=r["r"], agreement_ci_low=r["ci_low"], agreement_ci_high=r["ci_high"], agreement_n=r["n"])
    return out


def fmt(x, digits: int = 2) -> str:
    """A figure as the report prints it: "-" where there is none (None or NaN)."""
    return "-" if x is None or x != x else f"{x:.{digits}f}"


def table(rows: list[dict], columns: list[tuple[str, str]]) -> list[str]:
    """A markdown table; figures marked * are not trustworthy (too few participants, see the note)."""
    if not rows:
        return ["(none)"]
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = []
        for _, key in columns:
            v = r.get(key)
            cells.append(fmt(v) if isinstance(v, float) or v is None else str(v))
        if "trustworthy" in r and not r["trustworthy"]:
            cells[-1] = (cells[-1] + " *").strip()
        lines.append("| " + " | ".join(cells) + " |")
    return lines


FLAT_SD = 0.05  # scale points: below this across participants, a rater hardly tells the texts apart


def spread_notes(metrics: dict) -> list[str]:
    """One line per rater whose expressed scores barely vary across participants: correlations and
    effect sizes computed on them say little, whatever their intervals."""
    lines = []
    for r in metrics["behaviour"]["expressed_means"]:
        if r["std"] is not None and r["std"] < FLAT_SD:
            lines.append(f"- warning: rater {r['rater']} gives {r['trait']} almost the same score for every text (SD "
                         f"{r['std']:.3f} across {r['n']} participants, mean {r['mean']:.2f}): it hardly tells the "
                         "texts apart, so its correlations and effect sizes for this trait mean little")
    return lines


def summary(cfg, inventory, raters, texts, metrics, out: Path, self_dir) -> str:
    """summary.md: the settings, the three figure tables (vs self-report, by pole, between raters) and style per
    persona; figures on too few participants are marked *."""
    m, opts = metrics["behaviour"], cfg["behaviour"]
    lines = [f"# Behavioural personality: {cfg['model']['id']} on {inventory.name} (observer form)", "",
             f"- participants: {m['n_participants']}; texts: {m['n_texts']} ({m['n_invalid_texts']} empty, kept "
             f"as invalid); prompts: {', '.join(p['id'] for p in opts['prompts'])}; copies: {opts['copies']}; "
             f"max_new_tokens: {opts['max_new_tokens']}; mean words per text: {texts['n_words'].mean():.0f}",
             f"- raters: {', '.join(f'{n} ({s.sha256[:12]})' for n, s in raters)}; rating orders: "
             f"{', '.join(opts['rating_orders'])} (averaged)",
             f"- self-report: {self_dir}", f"- folder: {out}", "",
             *spread_notes(metrics), "",
             f"Figures marked * rest on fewer than {m['min_n']} participants (per pole for g), or on none at "
             "all: not trustworthy. Intervals are 95%.", "",
             "## Expressed vs self-reported (Pearson r across participants)", ""]
    rows = [dict(r, ci=f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]") for r in m["self_vs_expressed"]]
    lines += table(rows, [("rater", "rater"), ("trait", "trait"), ("self mean", "mean_self"),
                          ("expressed mean", "mean_expressed"), ("n", "n"), ("r", "r"), ("95% CI", "ci"),
                          ("note", "note")])
    lines += ["", "## Expressed score by persona target pole (Hedges' g, high minus low)", ""]
    rows = [dict(r, ci=f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]") for r in m["pole_effects"]]
    lines += table(rows, [("rater", "rater"), ("trait", "trait"), ("n high", "n_high"), ("n low", "n_low"),
                          ("mean high", "mean_high"), ("mean low", "mean_low"), ("g", "g"), ("95% CI", "ci"),
                          ("note", "note")]) if rows else ["(no persona targets a trait pole: persona=traits "
                                                           "or role_trait has them)"]
    if len(raters) > 1:
        lines += ["", "## Agreement between raters (Pearson r across participants)", ""]
        rows = [dict(r, ci=f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]") for r in m["rater_agreement"]]
        lines += table(rows, [("rater a", "rater_a"), ("rater b", "rater_b"), ("trait", "trait"),
                              ("mean a - b", "mean_difference"), ("n", "n"), ("r", "r"), ("95% CI", "ci"),
                              ("note", "note")])
    lines += ["", "## Style of the texts (mean per persona)", ""]
    feats = ["mean_word_length", "mean_sentence_length", "type_token_ratio", "function_word_rate"]
    lines += table(m["style_by_persona"], [("persona", "persona_id"), ("n texts", "n_texts")]
                   + [(f, f"{f}_mean") for f in feats])
    lines += ["", "Files: texts.parquet (texts, sha256, generation seed and config, stylometry), ratings.parquet "
              "(one row per rating), expressed_scores.parquet, metrics.json, provenance.json."
              + ("" if opts["publish_texts"] else " The texts stay in this folder; metrics.json (what the "
                 "leaderboard reads) carries only their sha256 (behaviour.publish_texts=true to publish them)."), ""]
    return "\n".join(lines)
