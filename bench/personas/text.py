"""Personas built from a person's writing, without training (conf/persona/rag.yaml, profile.yaml).

rag: for each inventory item, the system turn holds the person's passages most relevant to that
item (BM25), so the model answers "as the person who wrote these".
profile: one system text summarised from the corpus, deterministically and extractively (no model
call): their measured style (sentence length, exclamation, capitals), their most used content words,
and their most characteristic passages (best BM25 match to those words).
Only the training split is used when `corpus.held_out` > 0, so held-out text stays unseen. With an
author column and no `corpus.author`, there is one persona per author (id = author id; addressed by
`corpus.label_column` when given), `corpus.authors` picking some and `corpus.min_documents` skipping
authors with too little writing.
"""

from __future__ import annotations

import logging
from collections import Counter

from bench.instruments import Inventory, Item
from bench.templates import fill, fill_text
from bench.personas.model import Persona
from bench.writing.corpus import Corpus, CorpusError, select_corpora, skipped_text, split_corpus
from bench.writing.retrieval import BM25Retriever, tokenize
from bench.writing.stylometry import style_features

KINDS = ("rag", "profile")
log = logging.getLogger(__name__)
MAX_PASSAGE_CHARS = 400


def _passage(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_PASSAGE_CHARS else text[: MAX_PASSAGE_CHARS - 3] + "..."


def item_query(inventory: Inventory, item: Item) -> str:
    """The question as retrieval reads it: the item's statement as shown, or both poles of a bipolar item."""
    if inventory.kind == "likert":
        return fill_text(inventory.stem, "{text}", item.text)
    return f"{item.left} {item.right}"


def source_corpus(corpus: Corpus, held_out: float, seed: int) -> Corpus:
    """The part of a corpus personas may quote: the training split when a held-out part is kept for checking,
    else all of it."""
    return split_corpus(corpus, held_out, seed)[0] if held_out and held_out > 0 else corpus


def top_words(corpus: Corpus, n: int) -> list[str]:
    """The person's most frequent words (longer than two letters, not numbers), ties broken alphabetically so the
    profile is stable."""
    counts = Counter(w for t in corpus.texts for w in tokenize(t) if len(w) > 2 and not w.isdigit())
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def characteristic_passages(corpus: Corpus, n: int, retriever: BM25Retriever | None = None) -> list[str]:
    """Passages that best match the person's own frequent words: what a persona quotes when no question steers
    it."""
    retriever = retriever or BM25Retriever(corpus.documents)
    return [_passage(d.text) for d in retriever.top(" ".join(top_words(corpus, 20)), n)]


def rag_text(name: str, passages: list[str], header: str) -> str:
    """A persona text quoting passages under its header (the person's name filled in)."""
    quoted = "\n".join(f"- {p}" for p in passages)
    return f"{fill(header, {'name': name}, 'persona header')}\n{quoted}"


def profile_text(name: str, corpus: Corpus, n_passages: int, header: str) -> str:
    """A persona text describing how the person writes (sentence length, punctuation, capitals, frequent words)
    with a few characteristic passages."""
    f = style_features(corpus.texts)
    style = (f"You write sentences of about {f['mean_sentence_length']:.0f} words, "
             f"use {100 * f['exclamation_rate']:.1f} exclamation marks and {100 * f['question_rate']:.1f} "
             f"question marks per 100 words, and write {100 * f['uppercase_word_rate']:.1f}% of your words "
             "in capitals.")
    words = ", ".join(top_words(corpus, 15))
    passages = "\n".join(f"- {p}" for p in characteristic_passages(corpus, n_passages))
    return (f"{fill(header, {'name': name}, 'persona header')}\n{style}\nWords you use most: {words}.\n"
            f"Things you have written:\n{passages}")


def corpus_personas(cfg: dict, inventory: Inventory) -> tuple[Persona, ...]:
    """One persona per author of the corpus: a profile, or (rag) the passages retrieved for each item; authors
    too short for a held-out split are skipped, logged."""
    kind = cfg.get("kind")
    if kind not in KINDS:
        raise CorpusError(f"persona set '{cfg.get('set')}': field 'kind': '{kind}' is not one of {', '.join(KINDS)}")
    corpus_cfg = cfg.get("corpus") or {}
    held_out, seed = float(corpus_cfg.get("held_out") or 0), int(corpus_cfg.get("split_seed") or 0)
    k = int(cfg.get("k", 4))
    personas = []
    if held_out > 0:  # a held-out split needs two documents: an author with one is skipped, never fatal
        corpus_cfg = {**corpus_cfg, "min_documents": max(2, int(corpus_cfg.get("min_documents") or 0))}
    corpora, skipped = select_corpora(corpus_cfg)
    if skipped:
        log.warning("persona set %s: %s", cfg.get("set"), skipped_text(skipped, corpus_cfg.get("min_documents")))
    for author, corpus in corpora.items():
        name = cfg.get("name") or corpus.name
        source = source_corpus(corpus, held_out, seed)
        if kind == "profile":
            personas.append(Persona(str(author), "", profile_text(name, source, k, cfg["header"])))
            continue
        retriever = BM25Retriever(source.documents)
        per_item = tuple(
            (item.id, rag_text(name, [_passage(d.text) for d in retriever.top(item_query(inventory, item), k)],
                               cfg["header"]))
            for item in inventory.items
        )
        default = rag_text(name, characteristic_passages(source, k, retriever), cfg["header"])
        personas.append(Persona(str(author), "", default, per_item))
    return tuple(personas)
