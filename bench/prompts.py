"""Render one question (persona, template, item, option order) to chat messages and token ids.

The assistant turn is prefilled (e.g. "Answer: ") so the option number is the very next token:
that is where the label distribution is read in logprob mode and where sampling starts.
"""

from __future__ import annotations

import hashlib

from bench.inventory import Inventory, Item
from bench.plan import Participant


def option_lines(inventory: Inventory, item: Item, permutation: tuple[int, ...]) -> str:
    labels = inventory.scale.labels
    return "\n".join(
        f"{pos + 1} = {labels[canon].format(left=item.left, right=item.right)}"
        for pos, canon in enumerate(permutation)
    )


def question_text(inventory: Inventory, participant: Participant, item: Item,
                  permutation: tuple[int, ...]) -> str:
    statement = inventory.stem.format(text=item.text) if inventory.kind == "likert" else ""
    return participant.template.text.format(
        item=statement,
        left=item.left,
        right=item.right,
        options=option_lines(inventory, item, permutation),
        n=len(permutation),
    )


def messages_for(participant: Participant, questions: list[str], answers: list[str],
                 answer_prefix: str) -> list[dict]:
    """System persona (if any), then question/answer turns; `answers` has one fewer entry."""
    msgs = [{"role": "system", "content": participant.persona.text}] if participant.persona.text else []
    for i, q in enumerate(questions):
        msgs.append({"role": "user", "content": q})
        if i < len(answers):
            msgs.append({"role": "assistant", "content": f"{answer_prefix}{answers[i]}"})
    return msgs


class PromptRenderer:
    """Applies the model's chat template once, in one place, for every engine."""

    def __init__(self, tokenizer, answer_prefix: str):
        self.tokenizer = tokenizer
        self.answer_prefix = answer_prefix
        n_labels = 9
        self.label_ids = []
        for d in range(1, n_labels + 1):
            ids = tokenizer(str(d), add_special_tokens=False).input_ids
            self.label_ids.append(ids[0] if len(ids) == 1 else None)

    def labels_for(self, n_options: int) -> list[int]:
        ids = self.label_ids[:n_options]
        if n_options > len(self.label_ids) or any(i is None for i in ids):
            raise ValueError(f"option labels 1..{n_options} are not single tokens for this tokenizer")
        return ids

    def render(self, messages: list[dict]) -> tuple[str, list[int]]:
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        text += self.answer_prefix
        return text, self.tokenizer(text, add_special_tokens=False).input_ids


def prompt_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
