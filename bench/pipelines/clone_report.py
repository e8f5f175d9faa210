"""`persona-bench clone report corpus.path=... [report.adapter=...]`: how much of the person a clone keeps.

Four arms side by side: base (no persona), profile persona, RAG persona, LoRA clone, on three axes:
language-model fit on the person's held-out text (perplexity, KL clone||base), style (stylometric
similarity of text generated from the same prompts to the person's held-out text, PCA plot) and
trait recovery (inventory scores vs the person's self-report). Each arm is a normal harness run;
the clone arm's run folder gets `clone_report.md`, `style_pca.png` and the "clone" metrics section.
With an author column and no `corpus.author`, the population report gives per-trait correlations
between recovered and self-reported scores across authors (text personas, one per author).
Nothing here writes the person's text: only hashes, sizes and numbers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench.clone.examples import build_examples, instruction_messages, writing_renderer
from bench.config import validate
from bench.config.load import compose
from bench.clone.train import CARD, clone_data, output_dir_for, training_hash
from bench.metrics.clone import mbti_letter_agreement, perplexity, trait_correlations, trait_recovery
from bench.writing.stylometry import pca_2d, style_matrix, style_similarity
from bench.writing.corpus import CorpusError, fingerprint_json, load_self_reports, select_corpora, skipped_text
from bench.results.provenance import CORPUS_ADDED
from bench.instruments import load_inventory
from bench.metrics import jsonable
from bench.engines.models import ModelError, resolve_model
from bench.hashing import digest
from bench.results.summary import markdown_table
from bench.writing.retrieval import BM25Retriever
from bench.results.results_json import update_metrics
from bench.results.atomic import atomic_write_text

PERSON, PERSON_TRAIN = "person (held-out)", "person (train)"


def harness_config(overrides: list[str]) -> dict:
    """The harness config as `python -m bench <overrides>` resolves it (inside or outside a Hydra app)."""
    return compose("config", overrides)


def persona_corpus(cfg: dict, kind: str, persona: dict) -> dict:
    """A text persona given the clone's corpus and split (held-out text is never shown to it)."""
    c, r = cfg["corpus"], cfg["report"]
    persona = dict(persona, k=int(r["rag_k"] if kind == "rag" else r["profile_passages"]))
    persona["corpus"] = dict(persona["corpus"], held_out=c["held_out"], split_seed=int(cfg["seed"]),
                             **{k: c.get(k) for k in ("path", "text_column", "date_column", "prompt_column",
                                                      "author_column", "id_column", "author", "max_documents",
                                                      *CORPUS_ADDED)})
    return persona


def arm_config(cfg: dict, arm: str, inventory: str, run_name: str, adapter: Path | None) -> dict:
    """The harness run config of one arm: the report's harness overrides on the clone's model; profile and
    RAG personas read the clone's corpus and split, the clone arm runs with its adapter."""
    r = cfg["report"]
    overrides = [f"inventory={inventory}", f"engine={r['engine']}", *r["harness"], f"results_dir={cfg['results_dir']}",
                 f"run_name={run_name}", "progress=false"]
    if arm in ("profile", "rag"):
        overrides.append(f"persona={arm}")
    h = harness_config(overrides)
    if arm in ("profile", "rag"):
        h["persona"] = persona_corpus(cfg, arm, h["persona"])
    h["model"] = dict(cfg["model"])
    if arm == "clone":
        h["model"].update(id="clone_lora", requires_adapter=True)
        h["adapter"] = str(adapter)
    return h


def trait_means(run_dir: Path, inventory, by_persona: bool = False):
    """Mean trait score of a run (or per persona). For mean-scored inventories in logprob mode this
    is the mean expected score (option probabilities x values, keying undone): finer than the drawn
    answers at temperature 0, which all sit on one option. Type inventories use their own scores."""
    keys = ["persona_id", "trait"] if by_persona else ["trait"]
    responses = pd.read_parquet(run_dir / "responses.parquet")
    if inventory.scoring == "mean" and np.isfinite(responses["expected_score"]).all():
        means = responses.groupby(keys)["expected_score"].mean()
    else:
        means = pd.read_parquet(run_dir / "scores.parquet").groupby(keys)["score"].mean()
    if by_persona:
        return means.unstack("trait")
    return {t: float(v) for t, v in means.items()}


def type_letters(means: dict[str, float], inventory) -> str:
    """The type (e.g. INTJ) a run's trait means give: per dichotomy the high letter above its cutoff, else the
    low one (a trait without a mean counts as low)."""
    return "".join((d.high if means.get(d.id, math.nan) > d.cutoff else d.low) for d in inventory.dichotomies)


def check_adapter_card(adapter: Path, spec) -> dict:
    """The adapter's training card, refused before any run when missing or trained on another base model
    (a clone measured against the wrong base would mean nothing)."""
    card_path = adapter / CARD
    if not card_path.is_file():
        raise ModelError(f"report.adapter '{adapter}': no {CARD}; train it with `persona-bench clone train`")
    card = json.loads(card_path.read_text())
    if card["base_model"]["sha256"] != spec.sha256:
        raise ModelError(f"{card_path}: field 'base_model.sha256': the clone was trained on another base model "
                         f"({card['base_model']['sha256'][:12]}, here {spec.sha256[:12]})")
    return card


# ---------------------------------------------------------------------------------------------
# the language-model axis


def lm_fit(cfg: dict, spec, adapter: Path, held_out) -> dict:
    """The language-model axis: base and clone perplexity on the person's held-out documents and mean
    KL(clone || base) per token; loads the base model with the adapter (peft)."""
    from peft import PeftModel

    from bench.clone.scoring import score_tokens
    from bench.clone.train import base_model

    model, tokenizer, pad = base_model(spec)
    model = PeftModel.from_pretrained(model, str(adapter))
    docs = held_out.documents[: int(cfg["report"]["max_lm_documents"])]
    ex = build_examples(tokenizer, docs, cfg["format"], cfg["instruction"], int(cfg["max_length"]))
    s = score_tokens(model, ex, pad)
    del model
    return {"perplexity_base": perplexity(s["nll_base"]), "perplexity_clone": perplexity(s["nll_clone"]),
            "kl_clone_base": float(np.mean(s["kl_clone_base"])) if len(s["kl_clone_base"]) else math.nan,
            "n_tokens": int(len(s["nll_base"])), "n_documents": len(docs)}


# ---------------------------------------------------------------------------------------------
# the style axis


def style_prompts(cfg: dict, held_out) -> list[str]:
    """Opening words of held-out documents: every arm continues the same openings."""
    n, k = int(cfg["report"]["style_prompts"]), int(cfg["report"]["style_prefix_words"])
    out = []
    for d in held_out.documents:
        w = d.text.split()
        if len(w) > k:
            out.append(" ".join(w[:k]))
        if len(out) == n:
            break
    return out


def system_texts(cfg: dict, arm: str, train, prefixes: list[str]) -> list[str | None]:
    """The system prompt of an arm, one per style prefix: the profile persona (the same for all), the RAG
    persona (passages retrieved per prefix from the training text only), or none (base, clone)."""
    from bench.personas.text import characteristic_passages, profile_text, rag_text

    r = cfg["report"]
    name = train.name
    if arm == "profile":
        header = harness_config(["persona=profile"])["persona"]["header"]
        return [profile_text(name, train, int(r["profile_passages"]), header)] * len(prefixes)
    if arm == "rag":
        header = harness_config(["persona=rag"])["persona"]["header"]
        retriever = BM25Retriever(train.documents)
        out = []
        for p in prefixes:
            found = [d.text for d in retriever.top(p, int(r["rag_k"]))] or characteristic_passages(train, int(r["rag_k"]))
            out.append(rag_text(name, [" ".join(t.split())[:400] for t in found], header))
        return out
    return [None] * len(prefixes)


def generate_texts(cfg: dict, arm: str, spec, train, prefixes: list[str]) -> list[str]:
    """The arm's continuations of the held-out openings (opening included), seeded per prompt: the style
    axis compares these with the person's own text."""
    from bench.engines.pool import pooled_engine

    r = cfg["report"]
    with pooled_engine(r["engine"], spec, seed=int(cfg["seed"])) as engine:
        tok, renderer = engine.tokenizer, writing_renderer(engine.tokenizer)
        prompts = [tok(renderer.text(instruction_messages(cfg["instruction"], system)) + p,
                       add_special_tokens=False).input_ids
                   for system, p in zip(system_texts(cfg, arm, train, prefixes), prefixes)]
        seeds = [int(digest([cfg["seed"], "style", i])[:12], 16) for i in range(len(prompts))]
        out = engine.generate(prompts, float(r["style_temperature"]), int(r["style_max_new_tokens"]), seeds)
    return [p + t for p, t in zip(prefixes, out)]


def pca_plot(matrix: pd.DataFrame, path: Path) -> None:
    """style_pca.png: every text set's style vector on the first two principal components (the person's sets
    starred), so a reader sees which arm writes closest to the person."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    coords, var = pca_2d(matrix)
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, row in coords.iterrows():
        ax.scatter(row["pc1"], row["pc2"], s=60, marker="*" if name.startswith("person") else "o")
        ax.annotate(name, (row["pc1"], row["pc2"]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel(f"PC1 ({100 * var[0]:.0f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * var[1]:.0f}% of variance)")
    ax.set_title("Style vectors (standardised stylometric features)")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


# ---------------------------------------------------------------------------------------------


# Report fields added after report runs were made: left out of the run name while unset, so those runs resume.
REPORT_ADDED_DEFAULTS = ("self_report_sep", "self_report_encoding")


def report_run_name(cfg: dict, author: str, corpus_sha256: str) -> str:
    """Keyed by the clone, the report settings and the corpus text's hash: when the person writes
    more, the report's runs (its RAG and profile personas read the corpus) start afresh."""
    r = cfg["report"]
    if r.get("run_name"):
        return str(r["run_name"])
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(author))
    keyed = {k: v for k, v in r.items() if k not in ("results_dir", "run_name")
             and not (k in REPORT_ADDED_DEFAULTS and v is None)}  # added later: hashed only when set
    return f"clone-{safe}-{digest([training_hash(cfg), keyed, corpus_sha256])[:10]}"


def clone_report(cfg: dict) -> dict:
    """Run the arms, measure the three axes, write the report; returns what it wrote (numbers only)."""
    cfg = validate("clone", cfg)  # every value (the arms too) checked once, then frozen
    r = cfg["report"]
    if cfg["corpus"].get("author_column") and cfg["corpus"].get("author") is None:
        return population_report(cfg)
    data = clone_data(cfg)
    spec = resolve_model(cfg["model"])
    adapter = Path(str(r.get("adapter") or output_dir_for(cfg, data)))
    card = check_adapter_card(adapter, spec) if "clone" in r["arms"] else None
    inventory = load_inventory(r["inventory"])
    self_report = None
    if r.get("self_report"):
        reports = self_reports_for(r, inventory)
        self_report = reports.get(data.corpus.author) or (next(iter(reports.values())) if len(reports) == 1 else None)
        if self_report is None:
            raise CorpusError(f"{r['self_report']}: no report for author '{data.corpus.author}'")
    name = report_run_name(cfg, data.corpus.author, data.corpus.fingerprint()["sha256"])
    mbti_inv = load_inventory(r["mbti_inventory"]) if r.get("mbti_inventory") else None

    from bench.pipelines.run import run

    arms: dict[str, dict] = {}
    run_dirs: dict[str, Path] = {}
    for arm in r["arms"]:
        run_name = name if arm == "clone" or r["arms"] == [arm] else f"{name}-{arm}"
        h = arm_config(cfg, arm, r["inventory"], run_name, adapter)
        run_dirs[arm] = run(h, print_summary=False)
        arms[arm] = {"traits": trait_means(run_dirs[arm], inventory)}
        if mbti_inv is not None:
            m_dir = run(arm_config(cfg, arm, r["mbti_inventory"], f"{run_name}-mbti", adapter), print_summary=False)
            arms[arm]["mbti"] = type_letters(trait_means(m_dir, mbti_inv), mbti_inv)
    out_dir = run_dirs["clone"] if "clone" in run_dirs else run_dirs[r["arms"][0]]

    # language-model fit
    lm = lm_fit(cfg, spec, adapter, data.held_out) if "clone" in r["arms"] else {}

    # style
    prefixes = style_prompts(cfg, data.held_out)
    sets = {PERSON: [d.text for d in data.held_out.documents], PERSON_TRAIN: data.train.texts[-len(data.held_out.documents):]}
    for arm in r["arms"]:
        arm_spec = resolve_model(cfg["model"], str(adapter)) if arm == "clone" else spec
        sets[arm] = generate_texts(cfg, arm, arm_spec, data.train, prefixes)
    styles = style_matrix(sets)
    similarity = style_similarity(styles, PERSON)
    pca_plot(styles, out_dir / "style_pca.png")

    # traits
    for arm in r["arms"]:
        arms[arm]["style_similarity"] = similarity.get(arm, math.nan)
        if self_report is not None:
            rec = trait_recovery(arms[arm]["traits"], self_report.trait_scores)
            arms[arm].update(trait_mae=rec["trait_mae"], profile_r=rec["profile_r"], abs_error=rec["abs_error"])
            arms[arm]["mbti_letter_agreement"] = mbti_letter_agreement(arms[arm].get("mbti"), self_report.mbti)

    clone = arms.get("clone", {})
    section = {
        "perplexity_base": lm.get("perplexity_base", math.nan), "perplexity_clone": lm.get("perplexity_clone", math.nan),
        "kl_clone_base": lm.get("kl_clone_base", math.nan), "style_similarity": clone.get("style_similarity", math.nan),
        "trait_mae": clone.get("trait_mae", math.nan), "profile_r": clone.get("profile_r", math.nan),
        "mbti_letter_agreement": clone.get("mbti_letter_agreement", math.nan),
    }
    metrics = json.loads((out_dir / "metrics.json").read_text())
    metrics["clone"] = jsonable(section)
    update_metrics(out_dir, metrics)
    result = {"run_dir": str(out_dir), "arms": arms, "lm": lm, "style": styles, "style_similarity": similarity,
              "clone": section, "run_dirs": {a: str(d) for a, d in run_dirs.items()}}
    text = report_text(cfg, data, card, inventory, self_report, result)
    atomic_write_text(out_dir / "clone_report.md", text)
    return result


def report_text(cfg, data, card, inventory, self_report, result) -> str:
    """clone_report.md: the corpus by hashes and sizes only (never its text), style and traits per arm beside
    the self-report, the language-model fit and the stylometric features."""
    arms = result["arms"]
    fp = data.corpus.fingerprint()
    lines = [f"# Clone report: {data.corpus.author}", "",
             f"corpus {cfg['corpus']['path']}: {fp['n_documents']} documents, {fp['n_chars']} characters, "
             f"sha256 {fp['sha256'][:16]}; {data.split} split, {len(data.held_out.documents)} held out "
             f"(sha256 {data.held_out.fingerprint()['sha256'][:16]}). The text itself is not reproduced here.",
             f"inventory {inventory.name}; engine {cfg['report']['engine']}; base model {cfg['model']['id']}"]
    if card:
        lines.append(f"clone adapter sha256 {card['adapter_sha256'][:16]}, best step {card['best_step']} of "
                     f"{card['steps_run']} (validation loss {card['best_val_loss']:.3f})")
    rows = []
    for arm, a in arms.items():
        row = {"arm": arm, "style similarity": a.get("style_similarity")}
        row.update({t: a["traits"].get(t) for t in inventory.trait_names})
        if self_report is not None:
            row.update({"trait MAE": a.get("trait_mae"), "profile r": a.get("profile_r")})
            if a.get("mbti"):
                row.update({"type": a.get("mbti"), "MBTI letters": a.get("mbti_letter_agreement")})
        rows.append(row)
    if self_report is not None:
        row = {"arm": "self-report", **self_report.trait_scores}
        if self_report.mbti:
            row["type"] = self_report.mbti
        rows.append(row)
    lines += ["", "## Style and traits by arm", "",
              "Style similarity: cosine between standardised stylometric vectors of the arm's generated text "
              f"and the person's held-out text (sets compared: {', '.join(result['style'].index)}).", "",
              markdown_table(pd.DataFrame(rows)), "",
              f"For scale: the person's own training texts score "
              f"{result['style_similarity'].get(PERSON_TRAIN, math.nan):.3f} against their held-out texts."]
    lm = result["lm"]
    if lm:
        lines += ["", "## Predicting the person's held-out text", "",
                  f"perplexity base {lm['perplexity_base']:.2f}, clone {lm['perplexity_clone']:.2f}; "
                  f"mean KL(clone || base) {lm['kl_clone_base']:.4f} nats per token ({lm['n_tokens']} tokens, "
                  f"{lm['n_documents']} documents)"]
    lines += ["", "## Stylometric features", "", markdown_table(result["style"].reset_index(names="text set")),
              "", "![style PCA](style_pca.png)"]
    if self_report is None:
        lines += ["", "No self-report given (report.self_report): trait recovery is not computed."]
    return "\n".join(lines) + "\n"


def self_reports_for(report: dict, inventory) -> dict:
    """The self-reports (`report.self_report`, read with its `self_report_sep` / `self_report_encoding`)
    on the inventory's scale and traits, read before any model work: a typo in a trait code or a score
    off the scale fails now, named, not after the runs."""
    target = (inventory.scale.low, inventory.scale.high) if inventory.scale is not None else (1.0, 5.0)
    return load_self_reports(report["self_report"], target, tuple(inventory.trait_names),
                             sep=report.get("self_report_sep"), encoding=report.get("self_report_encoding"))


def population_report(cfg: dict) -> dict:
    """Many authors, each with a self-report: per-trait correlation of recovered vs reported scores."""
    r = cfg["report"]
    if not r.get("self_report"):
        raise CorpusError("report.self_report: a population report (author column, no corpus.author) needs the "
                          "authors' self-reports (YAML or CSV)")
    reports = self_reports_for(r, load_inventory(r["inventory"]))
    corpus_cfg = cfg["corpus"]
    if float(corpus_cfg.get("held_out") or 0) > 0:  # a held-out split needs two documents per author
        corpus_cfg = {**corpus_cfg, "min_documents": max(2, int(corpus_cfg.get("min_documents") or 0))}
    corpora, skipped = select_corpora(corpus_cfg)
    authors = list(corpora)
    missing = [a for a in authors if a not in reports]
    if missing:
        raise CorpusError(f"{r['self_report']}: no report for author(s) {missing}; add theirs, or pick the authors "
                          "that have one: corpus.authors=[...]")
    reported = pd.DataFrame({a: reports[a].trait_scores for a in authors}).T
    from bench.pipelines.run import run

    name = report_run_name(cfg, "population", digest(fingerprint_json(corpora)))
    out: dict = {"correlations": {}, "run_dirs": {}}
    section: dict = {}
    tables = []
    arms = [a for a in r["arms"] if a in ("profile", "rag")]
    if not arms:
        raise ValueError("report.arms: a population report runs the text personas (profile, rag)")
    for arm in arms:
        run_dir = run(arm_config(cfg, arm, r["inventory"], f"{name}-{arm}", None), print_summary=False)
        recovered = trait_means(run_dir, load_inventory(r["inventory"]), by_persona=True)
        corr = trait_correlations(recovered, reported)
        out["correlations"][arm] = corr
        out["run_dirs"][arm] = str(run_dir)
        section[f"trait_r_{arm}"] = dict(zip(corr["trait"], corr["r"]))
        tables += [f"### {arm} persona", "", markdown_table(corr), ""]
    out_dir = Path(out["run_dirs"][arms[-1]])
    section["n_authors"], section["n_authors_skipped"] = len(authors), len(skipped)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    metrics["clone"] = jsonable(section)
    update_metrics(out_dir, metrics)
    text = "\n".join([f"# Clone population report: {len(authors)} authors", "",
                      f"corpus {cfg['corpus']['path']} (column {cfg['corpus']['author_column']}); self-reports "
                      f"{r['self_report']}. Pearson r across authors between the persona's recovered trait score "
                      "and the author's self-report.", "",
                      *([skipped_text(skipped, corpus_cfg.get("min_documents")), ""] if skipped else []), *tables])
    atomic_write_text(out_dir / "clone_report.md", text)
    out["run_dir"] = str(out_dir)
    out["clone"] = section
    return out
