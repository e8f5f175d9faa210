"""Render one question (persona, template, item, option order) to chat messages and token ids.

The assistant turn is prefilled (e.g. "Answer: ") so the option number is the very next token:
that is where the label distribution is read in logprob mode and where sampling starts.
"""

from __future__ import annotations

from bench.instruments import MAX_OPTIONS, Inventory, Item
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


class PromptRenderer:
    """Applies the model's chat template once, in one place, for every engine."""

    # A fixed date for chat templates that print today's date (Llama 3.x): a resumed run, or a rerun
    # on another day, must show the same prompt.
    TEMPLATE_DATE = "01 Jan 2025"

    def __init__(self, tokenizer, answer_prefix: str):
        self.tokenizer = tokenizer
        self.answer_prefix = answer_prefix

    def labels_for(self, n_options: int) -> list[int]:
        """Token ids of the labels "1".."n" as they follow the answer prefix (not tokenized alone:
        SentencePiece tokenizers add a word-start piece to a lone "3")."""
        if not 2 <= n_options <= MAX_OPTIONS:
            raise ValueError(f"{n_options} options: option labels are the digits 1-{MAX_OPTIONS}, so 2 to "
                             f"{MAX_OPTIONS} options are supported")
        base = self.tokenizer(self.answer_prefix, add_special_tokens=False).input_ids
        ids = []
        for d in range(1, n_options + 1):
            full = self.tokenizer(self.answer_prefix + str(d), add_special_tokens=False).input_ids
            if full[:len(base)] != base or len(full) != len(base) + 1:
                raise ValueError(f"option label '{d}' after the answer prefix {self.answer_prefix!r} is not one "
                                 f"token for this tokenizer ({full[len(base) - 1:]}); change prompt.answer_prefix")
            ids.append(full[-1])
        return ids

    def render(self, messages: list[dict]) -> tuple[str, list[int]]:
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                                  date_string=self.TEMPLATE_DATE)
        text += self.answer_prefix
        return text, self.tokenizer(text, add_special_tokens=False).input_ids
