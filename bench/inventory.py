"""Personality inventories: frozen dataclasses and the YAML loader with named errors.

An inventory file is the single source of an instrument's wording, response scale, keying and
scoring rule; everything downstream (plan, prompts, scores, metrics) reads these dataclasses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml


class InventoryError(ValueError):
    """A malformed inventory file; the message names the file, item id and field."""


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
        return tuple(o is None for o in self.ordinal_values)

    @property
    def low(self) -> int:
        return min(self.values)

    @property
    def high(self) -> int:
        return max(self.values)

    def reverse(self, value: float) -> float:
        """Undo reverse keying: 1..5 -> 5..1."""
        return self.low + self.high - value


@dataclass(frozen=True)
class Item:
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
class Inventory:
    id: str
    name: str
    version: str
    source: str
    licence: str
    kind: str  # "likert" (statements), "bipolar" (two poles per item) or "survey" (own options per question)
    scale: Scale | None
    traits: tuple[tuple[str, str], ...]  # (code, display name), in report order
    scoring: str  # "mean" (mean of keyed items per trait) or "dichotomy"
    items: tuple[Item, ...]
    dichotomies: tuple[Dichotomy, ...] = ()
    stem: str = "{text}"  # how an item's text is shown, e.g. "I see myself as someone who {text}"
    path: str = ""
    sha256: str = ""

    @property
    def trait_names(self) -> dict[str, str]:
        return dict(self.traits)

    def scale_of(self, item: Item) -> Scale:
        """A survey question's own options, or the inventory's shared response scale."""
        return item.scale or self.scale

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)


INVENTORY_DIR = Path(__file__).resolve().parent.parent / "inventories"
SURVEY_DIR = Path(__file__).resolve().parent.parent / "surveys"


REQUIRED = ("id", "name", "version", "source", "licence", "kind", "scale", "traits", "scoring", "items")
OPTIONAL = ("stem", "norms", "dichotomies", "notes")
KINDS = ("likert", "bipolar")
SCORINGS = ("mean", "dichotomy")
ITEM_FIELDS = ("id", "trait", "keyed", "text", "left", "right", "facet")
DICHOTOMY_FIELDS = ("low", "high", "constant", "cutoff")
KEYS = {"+": 1, "-": -1, "+1": 1, "-1": -1, 1: 1, -1: -1}


def available_inventories() -> list[str]:
    """Names accepted by `load_inventory` (the shipped `inventories/*.yaml` and `surveys/*.yaml`)."""
    return sorted(p.stem for d in (INVENTORY_DIR, SURVEY_DIR) for p in d.glob("*.yaml"))


def resolve_inventory_path(name_or_path: str | Path) -> Path:
    """A bare name is a shipped inventory; anything path-like is the user's own file."""
    s = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in s or "\\" in s or s.endswith((".yaml", ".yml")):
        path = Path(s).expanduser()
        if not path.is_file():
            raise InventoryError(f"{s}: inventory file not found")
        return path.resolve()
    path = INVENTORY_DIR / f"{s}.yaml"
    if not path.is_file():
        path = SURVEY_DIR / f"{s}.yaml"
    if not path.is_file():
        raise InventoryError(
            f"unknown inventory {s!r}; available: {', '.join(available_inventories()) or '(none)'}"
            " (or pass a path to your own .yaml file)"
        )
    return path


def load_inventory(name_or_path: str | Path) -> Inventory:
    """Load `inventories/<name>.yaml` or a user's own file, validating every field."""
    path = resolve_inventory_path(name_or_path)
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise InventoryError(f"{path}: not valid YAML: {exc}") from None
    errors: list[str] = []
    inv = _build(data, errors)
    if errors:
        raise InventoryError("\n".join(f"{path}: {e}" for e in errors))
    assert inv is not None
    return replace(inv, path=str(path), sha256=hashlib.sha256(raw).hexdigest())


def validate_inventory(data: Any, label: str = "<inventory>") -> Inventory:
    """Validate already-parsed YAML (e.g. from a test or a config) and build the Inventory."""
    errors: list[str] = []
    inv = _build(data, errors)
    if errors:
        raise InventoryError("\n".join(f"{label}: {e}" for e in errors))
    assert inv is not None
    return inv


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _nonempty_str(v: Any) -> bool:
    return isinstance(v, str) and v.strip() != ""


def check_header(data: dict, required: tuple[str, ...], optional: tuple[str, ...], errors: list[str]) -> str | None:
    """The fields every instrument file shares (present, known, id/name/source/licence/version typed);
    returns the version as a string."""
    err = errors.append
    for f in required:
        if f not in data:
            err(f"missing required field {f!r}")
    for f in data:
        if f not in required and f not in optional:
            err(f"unknown field {f!r} (allowed: {', '.join(required + optional)})")
    for f in ("id", "name", "source", "licence"):
        if f in data and not _nonempty_str(data[f]):
            err(f"field {f!r}: {repr(data[f])} must be a non-empty string")
    version = data.get("version")
    if "version" in data:
        if _is_num(version) or _nonempty_str(version):
            return str(version)
        err(f"field 'version': {repr(version)} must be a string or number")
    return version


def _build(data: Any, errors: list[str]) -> Inventory | None:
    """Check every field, appending one message per problem; return None if any were found."""
    err = errors.append
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        err(f"top level must be a mapping of fields, got {got}")
        return None
    if data.get("kind") == "survey":
        from bench.survey import build_survey

        return build_survey(data, errors)
    version = check_header(data, REQUIRED, OPTIONAL, errors)

    kind = data.get("kind")
    if "kind" in data and kind not in KINDS:
        err(f"field 'kind': {repr(kind)} is not one of {', '.join(map(repr, KINDS))}")

    stem = data.get("stem", "{text}")
    if not isinstance(stem, str) or "{text}" not in stem:
        err(f"field 'stem': {repr(stem)} must be a string containing '{{text}}'")
    if "norms" in data and not isinstance(data["norms"], dict):
        err(f"field 'norms': {repr(data['norms'])} must be a mapping")
    if "notes" in data and not isinstance(data["notes"], str):
        err(f"field 'notes': {repr(data['notes'])} must be a string")

    scale = _scale(data.get("scale"), errors) if "scale" in data else None

    traits: dict[str, str] = {}
    if "traits" in data:
        t = data["traits"]
        if not isinstance(t, dict) or not t:
            err(f"field 'traits': {repr(t)} must be a non-empty mapping of code -> name")
        else:
            for code, tname in t.items():
                if not _nonempty_str(code) or not _nonempty_str(tname):
                    err(f"field 'traits': entry {repr(code)}: {repr(tname)} must map a string code to a string name")
                else:
                    traits[code] = tname

    scoring = data.get("scoring")
    if "scoring" in data and scoring not in SCORINGS:
        err(f"field 'scoring': {repr(scoring)} is not one of {', '.join(map(repr, SCORINGS))}")
    dichotomies = _dichotomies(data, scoring, traits, err)

    # What an item's trait may be; None where an earlier error makes that unknowable (no cascades).
    raw_t, raw_d = data.get("traits"), data.get("dichotomies")
    groups: dict[str, str] | None = None
    if scoring == "dichotomy":
        if isinstance(raw_d, dict) and raw_d:
            groups = {str(k): "dichotomy" for k in raw_d}
    elif isinstance(raw_t, dict) and raw_t:
        groups = {str(k): "trait" for k in raw_t}

    n_before = len(errors)
    items = _items(data.get("items"), kind, groups, err) if "items" in data else ()

    # Every declared scale must be measured by at least one item (unless item errors already explain it).
    if groups and items and len(errors) == n_before:
        used = {it.trait for it in items}
        for code, word in groups.items():
            if code not in used:
                err(f"field 'traits': {code!r} has no items" if word == "trait" else f"dichotomy {code!r}: no items")

    if errors:
        return None
    return Inventory(
        id=data["id"], name=data["name"], version=version, source=data["source"], licence=data["licence"],
        kind=kind, scale=scale, traits=tuple(traits.items()), scoring=scoring, items=items,
        dichotomies=dichotomies, stem=stem,
    )


def _scale(s: Any, errors: list[str]) -> Scale | None:
    err = errors.append
    if not isinstance(s, dict):
        err(f"field 'scale': {repr(s)} must be a mapping with 'values' and 'labels'")
        return None
    n_before = len(errors)
    for f in s:
        if f not in ("values", "labels"):
            err(f"field 'scale.{f}': unknown field (allowed: 'values', 'labels')")
    values, labels = s.get("values"), s.get("labels")
    if not isinstance(values, list) or not all(_is_int(v) for v in values):
        err(f"field 'scale.values': {repr(values)} must be a list of integers")
    elif len(values) < 2:
        err(f"field 'scale.values': {repr(values)} must have at least 2 options")
    elif any(b <= a for a, b in zip(values, values[1:])):
        err(f"field 'scale.values': {repr(values)} must be distinct and increasing")
    if not isinstance(labels, list) or not all(_nonempty_str(v) for v in labels):
        err(f"field 'scale.labels': {repr(labels)} must be a list of non-empty strings")
    elif isinstance(values, list) and len(labels) != len(values):
        err(f"field 'scale.labels': {len(labels)} labels for {len(values)} values")
    if len(errors) > n_before:
        return None
    return Scale(values=tuple(values), labels=tuple(labels))


def _dichotomies(data: dict, scoring: Any, traits: dict, err) -> tuple[Dichotomy, ...]:
    d = data.get("dichotomies")
    if scoring != "dichotomy":
        if d is not None and scoring in SCORINGS:
            err(f"field 'dichotomies': only used with scoring 'dichotomy', not {repr(scoring)}")
        return ()
    if not isinstance(d, dict) or not d:
        err(f"field 'dichotomies': {repr(d)} must be a non-empty mapping (required by scoring 'dichotomy')")
        return ()
    out = []
    for did, spec in d.items():
        where = f"dichotomy {did!r}"
        if traits and did not in traits:
            err(f"{where}: not declared in 'traits'")
        if not isinstance(spec, dict):
            err(f"{where}: {repr(spec)} must be a mapping with {', '.join(DICHOTOMY_FIELDS)}")
            continue
        ok = True
        for f in DICHOTOMY_FIELDS:
            if f not in spec:
                err(f"{where}: missing field {f!r}")
                ok = False
        for f in spec:
            if f not in DICHOTOMY_FIELDS:
                err(f"{where}: unknown field {f!r}")
                ok = False
        for f in ("low", "high"):
            if f in spec and not _nonempty_str(spec[f]):
                err(f"{where}: field {f!r}: {repr(spec[f])} must be a non-empty string")
                ok = False
        for f in ("constant", "cutoff"):
            if f in spec and not _is_num(spec[f]):
                err(f"{where}: field {f!r}: {repr(spec[f])} must be a number")
                ok = False
        if ok:
            out.append(Dichotomy(id=str(did), low=spec["low"], high=spec["high"],
                                 constant=spec["constant"], cutoff=spec["cutoff"]))
    for code in traits:
        if code not in d:
            err(f"field 'traits': {code!r} is not a declared dichotomy (scoring 'dichotomy' reports dichotomies)")
    return tuple(out)


def _items(raw: Any, kind: Any, groups: dict[str, str] | None, err) -> tuple[Item, ...]:
    if not isinstance(raw, list) or not raw:
        err(f"field 'items': {repr(raw) if not isinstance(raw, list) else '[]'} must be a non-empty list")
        return ()
    group_word = next(iter(groups.values())) if groups else ""
    seen: set[str] = set()
    out = []
    for n, it in enumerate(raw, 1):
        if not isinstance(it, dict):
            err(f"item #{n}: {repr(it)} must be a mapping")
            continue
        iid = it.get("id")
        if _is_int(iid):
            iid = str(iid)
        if not _nonempty_str(iid):
            where = f"item #{n}"
            got = "missing" if "id" not in it else f"{it['id']!r} must be a non-empty string"
            err(f"{where}: field 'id': {got}")
        else:
            where = f"item {iid!r}"
            if iid in seen:
                err(f"{where}: field 'id': {iid!r} is duplicated")
            seen.add(iid)
        ok = True

        def bad(msg: str) -> None:
            nonlocal ok
            ok = False
            err(f"{where}: {msg}")

        for f in it:
            if f not in ITEM_FIELDS:
                bad(f"unknown field {f!r} (allowed: {', '.join(ITEM_FIELDS)})")
        trait = it.get("trait")
        if "trait" not in it:
            bad("field 'trait': missing")
        elif groups is not None and str(trait) not in groups:
            bad(f"field 'trait': {repr(trait)} is not a declared {group_word} ({', '.join(map(repr, sorted(groups)))})")
        keyed = it.get("keyed")
        if "keyed" not in it:
            bad("field 'keyed': missing")
        elif isinstance(keyed, bool) or not isinstance(keyed, (str, int)) or keyed not in KEYS:
            bad(f"field 'keyed': {repr(keyed)} is not one of '+', '-'")
        if kind == "likert":
            if not _nonempty_str(it.get("text")):
                got = "missing" if "text" not in it else f"{it['text']!r} must be a non-empty string"
                bad(f"field 'text': {got} (likert items need a statement)")
            for f in ("left", "right"):
                if f in it:
                    bad(f"field {f!r}: {repr(it[f])} is only used by bipolar items")
        elif kind == "bipolar":
            for f in ("left", "right"):
                if not _nonempty_str(it.get(f)):
                    got = "missing" if f not in it else f"{it[f]!r} must be a non-empty string"
                    bad(f"field {f!r}: {got} (bipolar items need both poles)")
            if "text" in it:
                bad(f"field 'text': {repr(it['text'])} is only used by likert items")
        facet = it.get("facet")
        if facet is not None and not (_nonempty_str(facet) or _is_int(facet)):
            bad(f"field 'facet': {repr(facet)} must be a string")
        if ok and _nonempty_str(iid):
            out.append(Item(
                id=iid, trait=str(trait), keyed=KEYS[keyed], text=it.get("text", ""), left=it.get("left", ""),
                right=it.get("right", ""), facet=None if facet is None else str(facet),
            ))
    return tuple(out)
