"""Instruments as frozen dataclasses: scale, items, dichotomies, the inventory itself.

An instrument file is the single source of its wording, response scale, keying and scoring rule;
everything downstream (plan, prompts, scores, metrics) reads these dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import BenchError


class InventoryError(BenchError):
    """A malformed inventory or survey file; the message names the file, item id and field."""


@dataclass(frozen=True)
class Scale:
    """Response options in their canonical (original) order, lowest value first."""

    values: tuple[int, ...]
    labels: tuple[str, ...]
    # Surveys: each option's place on the ordinal axis (None: a refusal or non-substantive option,
    # e.g. "Refused", "Don't know"), and its code in the source data (Pew's 1, 2, ..., 99).
    ordinal: tuple[float | None, ...] = ()
    codes: tuple[float, ...] = ()

    @property
    def ordinal_values(self) -> tuple[float | None, ...]:
        """Where each option sits on the ordinal axis; an inventory's scale is its own values."""
        return self.ordinal or tuple(float(v) for v in self.values)

    @property
    def refusals(self) -> tuple[bool, ...]:
        """Per option, whether it is a refusal ("prefer not to say"): not scored, and kept last when options are
        reordered."""
        return tuple(o is None for o in self.ordinal_values)

    @property
    def low(self) -> int:
        """The lowest value on the scale (reverse keying mirrors around low and high)."""
        return min(self.values)

    @property
    def high(self) -> int:
        """The highest value on the scale."""
        return max(self.values)

    def reverse(self, value: float) -> float:
        """Undo reverse keying: 1..5 -> 5..1."""
        return self.low + self.high - value


@dataclass(frozen=True)
class Item:
    """One question: its trait (or dichotomy), keying and wording; survey questions carry their own options."""
    id: str
    trait: str  # Big Five trait code (E, A, C, N, O) or dichotomy id (IE, SN, FT, JP)
    keyed: int  # +1 or -1
    text: str = ""  # statement (likert inventories)
    left: str = ""  # pole descriptions (bipolar inventories)
    right: str = ""
    facet: str | None = None
    scale: Scale | None = None  # survey questions: this question's own options
    randomize: str = "shuffle"  # reorderings allowed: "none" | "reverse" | "shuffle" (refusals stay last)


@dataclass(frozen=True)
class Dichotomy:
    """A type dichotomy scored as constant + sum(keyed * answer); `high` pole when > cutoff."""

    id: str  # e.g. "IE"
    low: str  # letter when score <= cutoff, e.g. "I"
    high: str  # letter when score > cutoff, e.g. "E"
    constant: float
    cutoff: float


@dataclass(frozen=True)
class Norm:
    """One human group's published score on one trait: what a model's mean is compared with."""

    trait: str
    group: str  # e.g. "Crowd", "Male", "Students (Women)"
    mean: float
    sd: float
    n: int
    source: str = ""


@dataclass(frozen=True)
class Inventory:
    """A loaded instrument, frozen: its items, scale, traits and how they are scored, with the file's path and
    sha256 that runs record."""
    id: str
    name: str
    version: str
    source: str
    licence: str
    kind: str  # "likert" (statements), "bipolar" (two poles per item) or "survey" (own options per question)
    scale: Scale | None
    traits: tuple[tuple[str, str], ...]  # (code, display name), in report order
    scoring: str  # "mean" (mean of keyed items per trait), "sum" (their sum) or "dichotomy"
    items: tuple[Item, ...]
    dichotomies: tuple[Dichotomy, ...] = ()
    stem: str = "{text}"  # how an item's text is shown, e.g. "I see myself as someone who {text}"
    path: str = ""
    sha256: str = ""
    norms: tuple[Norm, ...] = ()  # human groups per trait, for the comparison in metrics.json (not scoring)

    @property
    def trait_names(self) -> dict[str, str]:
        """Display name by trait code, for reports."""
        return dict(self.traits)

    def scale_of(self, item: Item) -> Scale:
        """A survey question's own options, or the inventory's shared response scale."""
        return item.scale or self.scale

    def item(self, item_id: str) -> Item:
        """The item with this id (KeyError when the inventory has none)."""
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)
