"""The inventory file format (kind likert or bipolar): one shared scale, keyed items, trait or type scoring."""

from __future__ import annotations

from typing import Any

from bench.instruments.fields import KEYS, MAX_OPTIONS, MIN_OPTIONS, check_header, is_int, is_num, nonempty_str, number_problem
from bench.instruments.model import Dichotomy, Inventory, Item, Norm, Scale

REQUIRED = ("id", "name", "version", "source", "licence", "kind", "scale", "traits", "scoring", "items")
OPTIONAL = ("stem", "norms", "dichotomies", "notes")
KINDS = ("likert", "bipolar")
SCORINGS = ("mean", "sum", "dichotomy")
ITEM_FIELDS = ("id", "trait", "keyed", "text", "left", "right", "facet")
DICHOTOMY_FIELDS = ("low", "high", "constant", "cutoff")


def build_inventory(data: Any, errors: list[str]) -> Inventory | None:
    """Check every field, appending one message per problem; return None if any were found."""
    err = errors.append
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        err(f"top level must be a mapping of fields, got {got}")
        return None
    version = check_header(data, REQUIRED, OPTIONAL, errors)

    kind = data.get("kind")
    if "kind" in data and kind not in KINDS:
        err(f"field 'kind': {repr(kind)} is not one of {', '.join(map(repr, KINDS))}")

    stem = data.get("stem", "{text}")
    if not isinstance(stem, str) or "{text}" not in stem:
        err(f"field 'stem': {repr(stem)} must be a string containing '{{text}}'")
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
                if not nonempty_str(code) or not nonempty_str(tname):
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

    norms = _norms(data["norms"], traits, err) if "norms" in data else ()

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
        dichotomies=dichotomies, stem=stem, norms=norms,
    )


NORM_META = ("source", "n", "group")


def _norms(block: Any, traits: dict, err) -> tuple[Norm, ...]:
    """`norms`: {source, n, group} defaults, then per trait code {mean, sd[, n, group]} or a list of them
    (one per human group). Keys that are neither a trait nor a default are refused, so a typo is seen."""
    if not isinstance(block, dict):
        err(f"field 'norms': {repr(block)} must be a mapping")
        return ()
    source = block.get("source", "")
    if not isinstance(source, str):
        err(f"field 'norms.source': {repr(source)} must be a string")
    out = []
    for key, spec in block.items():
        if key in NORM_META:
            continue
        if key not in traits:
            err(f"field 'norms.{key}': not a trait code of 'traits' ({', '.join(map(str, traits))}) nor one of "
                f"{', '.join(NORM_META)}")
            continue
        for k, group in enumerate(spec if isinstance(spec, list) else [spec]):
            where = f"field 'norms.{key}'" + (f"[{k}]" if isinstance(spec, list) else "")
            if not isinstance(group, dict):
                err(f"{where}: {repr(group)} must be a mapping with mean, sd (and n, group)")
                continue
            merged = {"n": block.get("n"), "group": block.get("group", "humans"), **group}
            unknown = sorted(set(group) - {"mean", "sd", "n", "group"})
            if unknown:
                err(f"{where}: unknown field(s) {', '.join(map(repr, unknown))} (allowed: mean, sd, n, group)")
            bad = [f for f, ok in (("mean", is_num(merged.get("mean"))),
                                   ("sd", is_num(merged.get("sd")) and merged.get("sd", 0) > 0),
                                   ("n", is_int(merged.get("n")) and merged.get("n", 0) >= 2),
                                   ("group", nonempty_str(merged.get("group")))) if not ok]
            if bad:
                err(f"{where}: {', '.join(f'{f}={merged.get(f)!r}' for f in bad)}: mean a finite number, sd a finite number > 0, n an "
                    "integer >= 2 (here or in norms.n), group a non-empty string")
                continue
            out.append(Norm(trait=str(key), group=merged["group"], mean=float(merged["mean"]), sd=float(merged["sd"]),
                            n=int(merged["n"]), source=source if isinstance(source, str) else ""))
    return tuple(out)


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
    if not isinstance(values, list) or not all(is_int(v) for v in values):
        err(f"field 'scale.values': {repr(values)} must be a list of integers")
    elif len(values) < MIN_OPTIONS:
        err(f"field 'scale.values': {repr(values)} must have at least {MIN_OPTIONS} options")
    elif len(values) > MAX_OPTIONS:
        err(f"field 'scale.values': {repr(values)}: {len(values)} options; a prompt labels options with the "
            f"digits 1-{MAX_OPTIONS} (one token each), so at most {MAX_OPTIONS}")
    elif any(b <= a for a, b in zip(values, values[1:])):
        err(f"field 'scale.values': {repr(values)} must be distinct and increasing")
    if not isinstance(labels, list) or not all(nonempty_str(v) for v in labels):
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
            if f in spec and not nonempty_str(spec[f]):
                err(f"{where}: field {f!r}: {repr(spec[f])} must be a non-empty string")
                ok = False
        for f in ("constant", "cutoff"):
            if f in spec and not is_num(spec[f]):
                err(f"{where}: field {f!r}: {repr(spec[f])} {number_problem(spec[f])}")
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
        if is_int(iid):
            iid = str(iid)
        if not nonempty_str(iid):
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
            if not nonempty_str(it.get("text")):
                got = "missing" if "text" not in it else f"{it['text']!r} must be a non-empty string"
                bad(f"field 'text': {got} (likert items need a statement)")
            for f in ("left", "right"):
                if f in it:
                    bad(f"field {f!r}: {repr(it[f])} is only used by bipolar items")
        elif kind == "bipolar":
            for f in ("left", "right"):
                if not nonempty_str(it.get(f)):
                    got = "missing" if f not in it else f"{it[f]!r} must be a non-empty string"
                    bad(f"field {f!r}: {got} (bipolar items need both poles)")
            if "text" in it:
                bad(f"field 'text': {repr(it['text'])} is only used by likert items")
        facet = it.get("facet")
        if facet is not None and not (nonempty_str(facet) or is_int(facet)):
            bad(f"field 'facet': {repr(facet)} must be a string")
        if ok and nonempty_str(iid):
            out.append(Item(
                id=iid, trait=str(trait), keyed=KEYS[keyed], text=it.get("text", ""), left=it.get("left", ""),
                right=it.get("right", ""), facet=None if facet is None else str(facet),
            ))
    return tuple(out)
