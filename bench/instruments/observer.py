"""The observer-report form of an inventory: the same items about "the person who wrote this text".

Behavioural personality (PersonaLLM-style) rates a participant's own writing with the inventory it
answered about itself. The observer form must be the self-report form with only the point of view
changed: same item ids, traits, facets, keying, scale and scoring rule, so both are scored by one rule
and a rating is comparable with the self-report item for item. Only the stem changes: a known
first-person stem ("I see myself as someone who ...") is put in the third person; a stemless
first-person item ("Am the life of the party") is quoted as what the writer would say of themselves,
which keeps its wording (and so its meaning and keying) exactly. Bipolar items keep their poles; the
observer prompt template asks where the writer falls between them.
"""

from __future__ import annotations

from dataclasses import replace

from bench.instruments.model import Inventory, InventoryError

OBSERVER_KINDS = ("likert", "bipolar")
# First-person stems with a third-person equivalent that reads on from the same item text.
THIRD_PERSON_STEMS = {
    "I see myself as someone who {text}": "The person who wrote this text is someone who {text}",
    "I am someone who {text}": "The person who wrote this text is someone who {text}",
}
QUOTED_STEM = 'The person who wrote this text would say of themselves: "{stem}"'


def observer_stem(stem: str) -> str:
    """The observer stem for a self-report stem; `{text}` stays the one placeholder."""
    if stem in THIRD_PERSON_STEMS:
        return THIRD_PERSON_STEMS[stem]
    return QUOTED_STEM.replace("{stem}", stem)


def observer_form(inventory: Inventory) -> Inventory:
    """The inventory as an observer report of a text's writer; everything but the stem and id unchanged."""
    if inventory.kind not in OBSERVER_KINDS:
        raise InventoryError(f"inventory {inventory.id} ({inventory.path or 'shipped'}): kind '{inventory.kind}' "
                             f"has no observer form; behaviour ratings need one of {', '.join(OBSERVER_KINDS)}")
    if inventory.scoring not in ("mean", "dichotomy"):
        raise InventoryError(f"inventory {inventory.id}: scoring '{inventory.scoring}' has no trait scores to "
                             "express")
    stem = observer_stem(inventory.stem) if inventory.kind == "likert" else inventory.stem
    return replace(inventory, id=f"{inventory.id}-observer", name=f"{inventory.name} (observer report)", stem=stem)
