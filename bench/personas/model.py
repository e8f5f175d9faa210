"""A persona: who the model is asked to be, as the system text of every prompt."""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import BenchError


class PersonaError(BenchError):
    """A persona set that cannot be built (missing fields, no population, no corpus)."""


@dataclass(frozen=True)
class Persona:
    id: str
    target: str = ""
    text: str = ""
    # Per-item system texts (item id -> text), e.g. a person's passages retrieved for that question;
    # items not listed use `text`. Built at plan time, so prompts stay deterministic.
    item_texts: tuple[tuple[str, str], ...] = ()

    def text_for(self, item_id: str | None) -> str:
        if item_id is not None and self.item_texts:
            return dict(self.item_texts).get(item_id, self.text)
        return self.text
