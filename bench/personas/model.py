"""A persona: who the model is asked to be, as the system text of every prompt."""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import BenchError


class PersonaError(BenchError):
    """A persona set that cannot be built (missing fields, no population, no corpus)."""


@dataclass(frozen=True)
class Persona:
    """Who the model is asked to be: an id, the trait target it stands for (if any), and the system text of its
    prompts."""
    id: str
    target: str = ""
    text: str = ""
    # Per-item system texts (item id -> text), e.g. a person's passages retrieved for that question;
    # items not listed use `text`. Built at plan time, so prompts stay deterministic.
    item_texts: tuple[tuple[str, str], ...] = ()
    # Demographic columns of a persona file (column -> value), kept for analyses by group; no prompt reads
    # them, and the personas' hash (Plan.personas_sha256) leaves them out, as it did before they existed.
    attributes: tuple[tuple[str, str], ...] = ()

    def text_for(self, item_id: str | None) -> str:
        """The system text for a question: the item's own text when the persona has one (retrieved passages),
        else the persona's text."""
        if item_id is not None and self.item_texts:
            return dict(self.item_texts).get(item_id, self.text)
        return self.text
