"""A rater model rates each text with the observer-report form of the inventory, on the logprob path.

One forward pass per (text, rating option order, item), as the administration scores an item: the
option labels' next-token log-probs, renormalised over the labels (the mass on them is recorded), give
the rating distribution; its expected value on the scale, keyed as the self-report item is, is the
rating's score. Rating in both option orders and averaging cancels a rater's position preference.
The text is a value put into the config's rating template, never a template itself.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from bench.administration.distributions import label_mass, tempered
from bench.administration.prompts import option_lines, statement
from bench.engines.rendering import PromptRenderer
from bench.results.schema import prompt_hash
from bench.behaviour.texts import write_missing_units
from bench.engines.base import Engine
from bench.errors import ConfigError
from bench.instruments import Inventory
from bench.results.store import RunStore
from bench.templates import check_template, fill

RATING_ORDERS = ("original", "reversed")
PLACEHOLDERS = {"likert": ("text", "item", "options", "n"), "bipolar": ("text", "left", "right", "options", "n")}
RATING_SCHEMA = pa.schema([
    ("participant_id", pa.string()), ("persona_id", pa.string()), ("persona_target", pa.string()),
    ("template_id", pa.string()), ("option_order", pa.string()), ("temperature", pa.float64()),
    ("repetition", pa.int64()),
    ("rater", pa.string()), ("rater_model_sha256", pa.string()), ("text_id", pa.string()),
    ("text_sha256", pa.string()), ("rating_order", pa.string()),
    ("item_id", pa.string()), ("item_index", pa.int64()), ("trait", pa.string()), ("keyed", pa.int64()),
    ("prompt_hash", pa.string()), ("option_permutation", pa.list_(pa.int64())),
    ("option_probs", pa.list_(pa.float64())), ("label_mass", pa.float64()), ("top_answer", pa.float64()),
    ("answer", pa.float64()), ("score", pa.float64()), ("invalid", pa.bool_()),
])
RATING_KEY = ("participant_id", "text_id", "rating_order", "item_id")
TEXT_ROW = ("participant_id", "persona_id", "persona_target", "template_id", "option_order", "temperature",
            "repetition", "text_id", "text_sha256", "text")


def rating_template(templates: dict, kind: str, field: str = "behaviour.rating_templates") -> str:
    """The rating template for an inventory kind, checked: only its kind's placeholders."""
    text = templates.get(kind) if isinstance(templates, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{field}.{kind}={text!r}: a rating template for {kind} items is needed")
    problem = check_template(text, PLACEHOLDERS[kind], f"{field}.{kind}")
    if problem:
        raise ConfigError(problem)
    if "{text}" not in text:
        raise ConfigError(f"{field}.{kind}: the template never shows the text ({{text}}) it asks to rate")
    return text


class Rater:
    """Rates `texts` (one dict per valid text) with `form` (the observer form), unit by unit, into a RunStore."""

    def __init__(self, name: str, model_sha256: str, form: Inventory, items, texts: list[dict], orders,
                 template: str, renderer: PromptRenderer, batch_size: int):
        self.name, self.model_sha256, self.form, self.items = name, model_sha256, form, tuple(items)
        self.texts, self.orders, self.template, self.renderer = texts, tuple(orders), template, renderer
        self.batch_size = batch_size
        self.jobs = [(t, o, i) for t in range(len(texts)) for o in self.orders for i in range(len(self.items))]
        n = len(form.scale.values)
        self.labels = renderer.labels_for(n)

    def units(self) -> list[list[int]]:
        """The rating jobs split into batches of `batch_size`: a store's parts, fixed for resumes."""
        b = self.batch_size
        return [list(range(s, min(s + b, len(self.jobs)))) for s in range(0, len(self.jobs), b)]

    def key(self, j: int) -> tuple:
        """The row identity of a rating job (participant, text, order, item), by which a part's rows are checked."""
        t, o, i = self.jobs[j]
        return (self.texts[t]["participant_id"], self.texts[t]["text_id"], o, self.items[i].id)

    def unit_keys(self) -> dict[int, set[tuple]]:
        """The row identities each unit's part must hold: how a resumed rating tells its parts from stray ones."""
        return {u: {self.key(j) for j in idx} for u, idx in enumerate(self.units())}

    def permutation(self, order: str) -> tuple[int, ...]:
        """The option order a rating job shows: original, or reversed to counterbalance position bias."""
        n = len(self.form.scale.values)
        return tuple(range(n)) if order == "original" else tuple(reversed(range(n)))

    def render(self, j: int) -> tuple[tuple[int, ...], str, list[int]]:
        """The rating prompt for one job (the text, the observer item, its options): (option permutation, text,
        token ids)."""
        t, o, i = self.jobs[j]
        item, perm = self.items[i], self.permutation(o)
        question = fill(self.template, {
            "text": self.texts[t]["text"], "item": statement(self.form, item), "left": item.left,
            "right": item.right, "options": option_lines(self.form, item, perm), "n": len(perm),
        }, "rating template")
        text, ids = self.renderer.render([{"role": "user", "content": question}])
        return perm, text, ids

    def longest_prompt(self) -> int:
        """Prompt tokens of the longest text with the longest item (what the model length must hold)."""
        longest_text = max(range(len(self.texts)), key=lambda t: len(self.texts[t]["text"]))
        return max(len(self.render(j)[2]) for j, (t, _, _) in enumerate(self.jobs) if t == longest_text)

    def run(self, engine: Engine, store: RunStore, progress: bool = False) -> None:
        """Rate every unit the store has no part for yet (resumable), with `engine` (the rater model's)."""
        write_missing_units(store, self.units(), lambda idx: self.run_unit(engine, idx), f"rating ({self.name})",
                            progress)

    def run_unit(self, engine: Engine, idx: list[int]) -> pa.Table:
        """One unit's rating rows from the label log-probs: each text's expected and most likely rating per item
        and order."""
        rendered = [self.render(j) for j in idx]
        logp = engine.label_logprobs([r[2] for r in rendered], self.labels)
        scale = self.form.scale
        values = np.asarray(scale.values, dtype=float)
        rows = []
        for j, (perm, text, _), lp in zip(idx, rendered, logp):
            t, o, i = self.jobs[j]
            item, row = self.items[i], self.texts[t]
            probs = tempered(np.asarray(lp, float), 1.0)
            canon = np.empty(len(values))
            canon[list(perm)] = probs
            expected = float(canon @ values)
            top = float(values[int(np.argmax(canon))])
            rows.append({
                **{k: row[k] for k in TEXT_ROW if k != "text"},
                "rater": self.name, "rater_model_sha256": self.model_sha256, "rating_order": o,
                "item_id": item.id, "item_index": i, "trait": item.trait, "keyed": item.keyed,
                "prompt_hash": prompt_hash(text), "option_permutation": [int(k) for k in perm],
                "option_probs": [float(x) for x in canon], "label_mass": float(label_mass(np.asarray(lp, float))),
                "top_answer": top, "answer": expected,
                "score": expected if item.keyed > 0 else scale.reverse(expected), "invalid": False,
            })
        return pa.Table.from_pylist(rows, schema=RATING_SCHEMA)
