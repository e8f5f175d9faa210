"""Render one question (persona, template, item, option order) to messages; bench.engines.rendering
turns them into the model's prompt.

The answer is cued (e.g. "Answer: ") so the option number is the very next token:
that is where the label distribution is read in logprob mode and where sampling starts.
"""

from __future__ import annotations

from bench.instruments import Inventory, Item
from bench.administration.plan import Participant
from bench.templates import fill, fill_text


def option_lines(inventory: Inventory, item: Item, permutation: tuple[int, ...]) -> str:
    """"1 = <label>" lines in the shown order; a label is the file's text, shown as written."""
    labels = inventory.scale_of(item).labels
    return "\n".join(f"{pos + 1} = {labels[canon]}" for pos, canon in enumerate(permutation))


def statement(inventory: Inventory, item: Item) -> str:
    """The item's text through the instrument's stem (only its `{text}` is filled; other braces are text)."""
    return fill_text(inventory.stem, "{text}", item.text) if inventory.kind in ("likert", "survey") else ""


def question_text(inventory: Inventory, participant: Participant, item: Item,
                  permutation: tuple[int, ...]) -> str:
    """The config's template filled with the item's texts as values: user text is never a template."""
    return fill(participant.template.text, {
        "item": statement(inventory, item),
        "left": item.left,
        "right": item.right,
        "options": option_lines(inventory, item, permutation),
        "n": len(permutation),
    }, f"prompt template '{participant.template.id}'")


def messages_for(participant: Participant, questions: list[str], answers: list[str],
                 answer_prefix: str, item_id: str | None = None) -> list[dict]:
    """System persona (if any; its text for `item_id`, the item asked last), then question/answer
    turns; `answers` has one fewer entry."""
    persona_text = participant.persona.text_for(item_id)
    msgs = [{"role": "system", "content": persona_text}] if persona_text else []
    for i, q in enumerate(questions):
        msgs.append({"role": "user", "content": q})
        if i < len(answers):
            msgs.append({"role": "assistant", "content": f"{answer_prefix}{answers[i]}"})
    return msgs


