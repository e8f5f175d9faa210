"""Checks of a persona set file (conf/persona/*.yaml or a user's own), every problem at once.

`expand_personas` reads the fields it needs and fails on the first missing one (or, for a duplicated
id, only when the plan is built); `validate FILE` names each problem with its field and value.
"""

from __future__ import annotations

from typing import Any

from bench.instruments.fields import is_int, is_num, nonempty_str, number_problem
from bench.templates import check_template

COMMON = ("set", "description", "source", "ids")
EXPLICIT = ("personas",)
ROLE_TRAIT = ("roles", "traits")
CORPUS = ("kind", "corpus", "name", "k", "header")
DEMOGRAPHIC = ("style",)
BACKSTORY = ("n", "prompt", "temperature", "max_new_tokens")
FILE = ("path", "n", "seed", "attributes", "sep", "encoding")
PERSONA_FIELDS = ("id", "target", "text")


def is_id(v: Any) -> bool:
    """Whether a YAML value can be a persona id (text, or a whole number as YAML reads `123`)."""
    return nonempty_str(v) or is_int(v)


def check_entries(entries: Any, field: str, fields: tuple[str, ...], need_text: bool) -> tuple[list[str], list[str]]:
    """A list of {id, text[, target]} mappings: (problems, ids)."""
    problems, ids = [], []
    bad = problems.append
    if not isinstance(entries, list) or not entries:
        return [f"field '{field}': {entries!r} must be a non-empty list of mappings with {', '.join(fields)}"], ids
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            bad(f"field '{field}' entry #{n}: {entry!r} must be a mapping with {', '.join(fields)}")
            continue
        pid = entry.get("id")
        where = f"field '{field}' entry #{n}" if not is_id(pid) else f"field '{field}' entry {str(pid)!r}"
        if not is_id(pid):
            bad(f"{where}: 'id': {'missing' if 'id' not in entry else repr(pid) + ' must be a non-empty string'}")
        elif str(pid) in ids:
            bad(f"{where}: 'id': {str(pid)!r} is duplicated")
        else:
            ids.append(str(pid))
        for key in entry:
            if key not in fields:
                bad(f"{where}: unknown field {key!r} (allowed: {', '.join(fields)})")
        text = entry.get("text")
        if need_text and not nonempty_str(text):
            bad(f"{where}: 'text': {'missing' if 'text' not in entry else repr(text) + ' must be a non-empty string'}")
        elif not need_text and "text" in entry and not isinstance(text, str):
            bad(f"{where}: 'text': {text!r} must be a string")
        if "target" in entry and entry["target"] is not None and not isinstance(entry["target"], (str, int)):
            bad(f"{where}: 'target': {entry['target']!r} must be a string")
    return problems, ids


def check_persona_set(data: dict, prefix: str = "") -> tuple[list[str], list[str]]:
    """(problems, notes) for the fields `build_personas` / `expand_personas` read, by kind of set."""
    from bench.personas.demographic import STYLES
    from bench.personas.text import KINDS

    problems: list[str] = []
    notes: list[str] = []
    bad = problems.append

    def f(name: str) -> str:
        return f"field '{prefix}{name}'"

    kind, set_name = data.get("kind"), data.get("set")
    for key in ("set", "description", "source"):
        if key in data and not nonempty_str(data[key]):
            bad(f"{f(key)}: {data[key]!r} must be a non-empty string")
    ids: list[str] | None = None
    if kind is not None:
        allowed = COMMON + CORPUS
        if kind not in KINDS:
            bad(f"{f('kind')}: {kind!r} is not one of {', '.join(KINDS)}")
        corpus = data.get("corpus")
        if not isinstance(corpus, dict):
            bad(f"{f('corpus')}: {corpus!r} must be a mapping with at least 'path'")
        elif corpus.get("path") in (None, "???"):
            notes.append(f"{prefix}corpus.path is not set: give {prefix or 'persona.'}corpus.path=<...> on the command line")
        if "k" in data and not (is_int(data["k"]) and data["k"] >= 1):
            bad(f"{f('k')}: {data['k']!r} must be a whole number >= 1")
        header = data.get("header")
        if not isinstance(header, str):
            bad(f"{f('header')}: {header!r} must be a string (its {{name}} is the persona's name)")
        else:
            problem = check_template(header, ("name",), f('header'))
            if problem:
                bad(problem)
        if data.get("name") is not None and not isinstance(data["name"], str):
            bad(f"{f('name')}: {data['name']!r} must be a string or null")
    elif set_name == "demographic":
        allowed = COMMON + DEMOGRAPHIC
        if data.get("style", "bio") not in STYLES:
            bad(f"{f('style')}: {data.get('style')!r} is not one of {', '.join(STYLES)}")
    elif set_name == "backstory":
        allowed = COMMON + BACKSTORY
        for key in ("n", "max_new_tokens"):
            if not (is_int(data.get(key)) and data[key] >= 1):
                bad(f"{f(key)}: {data.get(key, 'missing')!r} must be a whole number >= 1")
        if not nonempty_str(data.get("prompt")):
            bad(f"{f('prompt')}: {data.get('prompt', 'missing')!r} must be a non-empty string")
        if not (is_num(data.get("temperature")) and data["temperature"] >= 0):
            temp = data.get("temperature", "missing")
            bad(f"{f('temperature')}: {temp!r} {number_problem(temp, 'a number >= 0')}")
    elif set_name == "file":
        allowed = COMMON + FILE
        problems += check_file_set(data, f, prefix, notes)
    elif "personas" in data:
        allowed = COMMON + EXPLICIT
        more, ids = check_entries(data["personas"], f"{prefix}personas", PERSONA_FIELDS, need_text=False)
        problems += more
    elif "roles" in data or "traits" in data:
        allowed = COMMON + ROLE_TRAIT
        if "roles" not in data or "traits" not in data:
            bad(f"field '{prefix}{'traits' if 'roles' in data else 'roles'}': missing (roles and traits are combined "
                "as roles x traits)")
        more_r, roles = (check_entries(data["roles"], f"{prefix}roles", ("id", "text"), need_text=True)
                         if "roles" in data else ([], []))
        more_t, traits = (check_entries(data["traits"], f"{prefix}traits", PERSONA_FIELDS, need_text=True)
                          if "traits" in data else ([], []))
        problems += more_r + more_t
        ids = [f"{r}/{t}" for r in roles for t in traits]
    else:
        allowed = COMMON
        bad(f"{f('personas')}: missing: a persona set needs 'personas', 'roles' + 'traits', 'kind: rag|profile', "
            "or 'set: demographic|backstory'")
    for key in data:
        if key not in allowed:
            bad(f"{f(key)}: unknown field for this kind of set (allowed: {', '.join(allowed)})")
    problems += check_ids(data.get("ids"), ids, prefix)
    return problems, notes


def check_file_set(data: dict, f, prefix: str, notes: list[str]) -> list[str]:
    """A `set: file` config's own fields (the file itself is read by `bench.personas.file` when it is given)."""
    from bench.personas.file import SUFFIXES

    out = []
    path = data.get("path")
    if path in (None, "???"):
        at = prefix or "persona."
        notes.append(f"{at}path is not set: give {at}path=<your persona file> on the command line")
    elif not isinstance(path, str) or not path.lower().endswith(SUFFIXES):
        out.append(f"{f('path')}: {path!r} must be a file ending in {', '.join(SUFFIXES)}")
    if data.get("n") is not None and not (is_int(data["n"]) and data["n"] >= 1):
        out.append(f"{f('n')}: {data['n']!r} must be a whole number >= 1, or null for every persona")
    if "seed" in data and not (is_int(data["seed"]) and data["seed"] >= 0):
        out.append(f"{f('seed')}: {data['seed']!r} must be a whole number >= 0")
    attributes = data.get("attributes")
    names = isinstance(attributes, list) and attributes and all(map(nonempty_str, attributes))
    if attributes is not None and not names:
        out.append(f"{f('attributes')}: {attributes!r} must be a non-empty list of column names, or null")
    for key in ("sep", "encoding"):
        if data.get(key) is not None and not nonempty_str(data[key]):
            out.append(f"{f(key)}: {data[key]!r} must be a non-empty string, or null")
    if data.get("n") is not None and data.get("ids") is not None:
        out.append(f"{f('n')}: give ids or n, not both")
    return out


def check_ids(wanted: Any, ids: list[str] | None, prefix: str) -> list[str]:
    """`ids`: a list of distinct ids; where the set's ids are known without building it, each must be one."""
    if wanted is None:
        return []
    if not isinstance(wanted, list) or not wanted or not all(is_id(w) for w in wanted):
        return [f"field '{prefix}ids': {wanted!r} must be a non-empty list of persona ids (or null for all)"]
    out = []
    names = [str(w) for w in wanted]
    repeated = sorted({w for w in names if names.count(w) > 1})
    if repeated:
        out.append(f"field '{prefix}ids': {', '.join(map(repr, repeated))} listed more than once")
    if ids is not None:
        for w in names:
            if w not in ids:
                out.append(f"field '{prefix}ids': {w!r} is not a persona of this set "
                           f"({', '.join(ids[:30])}{', ...' if len(ids) > 30 else ''})")
    return out
