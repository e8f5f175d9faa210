"""Turn a person's documents into token examples with loss masks, the same way for training and scoring.

format "chat": each document is the assistant's reply to its prompt (a conversation column) or to a
fixed instruction, rendered by the harness's PromptRenderer (the chat template; for a base model without
one, plain text: the prompt, a blank line, the reply, EOS); only the reply's tokens carry loss, so
the clone is asked exactly as the harness asks it. format "text": plain text after an end-of-text
token, cut into windows of max_length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.engines.rendering import PromptRenderer
from bench.writing.corpus import Document

FORMATS = ("chat", "text")


@dataclass(frozen=True)
class Example:
    """One training or scoring example: its token ids, the leading ones context without loss."""
    input_ids: tuple[int, ...]
    n_context: int  # leading tokens that carry no loss


def writing_renderer(tokenizer) -> PromptRenderer:
    """The renderer a clone is trained and asked with: no answer cue, the model's chat template if any."""
    return PromptRenderer(tokenizer, "", "auto")


def instruction_messages(instruction: str, system: str | None = None) -> list[dict]:
    """The chat messages that ask for a document: the instruction as the user's turn, after an optional system
    prompt."""
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": instruction}]


def build_examples(tokenizer, documents, fmt: str, instruction: str, max_length: int) -> list[Example]:
    """A person's documents as token examples whose loss covers only their own words, built one way for training
    and for scoring (`fmt`, one of FORMATS, is checked with the clone config)."""
    out: list[Example] = []
    start = tokenizer.eos_token_id
    renderer = writing_renderer(tokenizer)
    for doc in documents:
        doc: Document
        if fmt == "chat":
            msgs = instruction_messages(doc.prompt or instruction)
            prefix = renderer.render(msgs)[1]
            full = tokenizer(renderer.with_reply(msgs, doc.text), add_special_tokens=False).input_ids
            if full[: len(prefix)] != prefix:
                raise ValueError("the chat template does not render the reply after its prompt; use format=text")
            if len(prefix) + 1 >= max_length:
                raise ValueError(f"max_length {max_length} leaves no room after a {len(prefix)}-token prompt")
            out.append(Example(tuple(full[:max_length]), len(prefix)))
        else:
            ids = tokenizer(doc.text, add_special_tokens=False).input_ids + [start]
            step = max_length - 1
            for s in range(0, len(ids), step):
                out.append(Example(tuple([start] + ids[s:s + step]), 1))
    return out


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch; labels -100 on context and padding (shifted inside the model's loss)."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        mask[row, :n] = 1
        labels[row, e.n_context:n] = torch.tensor(e.input_ids[e.n_context:])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
