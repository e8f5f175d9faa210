"""`persona-bench ls`: what ships with the package, one line each, so a user can pick names for overrides.

Reads package data only (instrument files, conf groups); it loads no model and imports no engine.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from bench.errors import BenchError
from bench.resources import CONF_DIR, INVENTORY_DIR, SURVEY_DIR
from bench.userfiles import UserFileError, load_yaml as read_yaml

KINDS = ("inventories", "surveys", "personas", "populations", "models", "engines")


# A sentence ends at . ! ? before a capital (or the end), not after an initial ("P.") or "et al.".
SENTENCE_END = re.compile(r"(?<!\bal)(?<!\b[A-Z])(?<!e\.g)(?<!i\.e)[.!?](?=\s+[A-Z(\"]|$)")
MAX_CHARS = 120


def first_sentence(text) -> str:
    """The first sentence of a description, whitespace folded and cut to one listing line."""
    text = " ".join(str(text or "").split())
    m = SENTENCE_END.search(text)
    text = text[: m.end()] if m else text
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 3].rstrip() + "..."


def leading_comment(path: Path) -> str:
    """A conf file's opening comment: the description of entries that have no `description` field."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def load_yaml(path: Path):
    """A conf file through the bounded reader; a bad one is listed with its problem, not raised."""
    try:
        return read_yaml(path)
    except UserFileError as exc:
        return {"_error": f"{str(exc).removeprefix(f'{path}: ')}; see `persona-bench validate {path}`"}


def instrument_lines(folder: Path) -> list[tuple[str, str]]:
    """One line per instrument file in a folder (kind, items, name, licence); a file that does not load is listed
    as INVALID, not fatal."""
    from bench.instruments import InventoryError, load_inventory

    out = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            inv = load_inventory(path)
        except InventoryError as err:
            out.append((path.stem, f"INVALID: {str(err).splitlines()[0]}"))
            continue
        out.append((path.stem, f"{inv.kind}, {len(inv.items)} items: {inv.name}; licence: "
                               f"{first_sentence(inv.licence)}"))
    return out


def persona_count(data: dict) -> str:
    """How many personas a persona set gives, in words (fixed lists counted; corpus, demographic and backstory
    sets say what they depend on)."""
    if data.get("kind") is not None:
        return "one per author of the corpus (persona.corpus.path)"
    if data.get("set") == "demographic":
        return "one per sampled human respondent (population.sample)"
    if data.get("set") == "backstory":
        return f"{data.get('n')} model-written backstories"
    if isinstance(data.get("personas"), list):
        n = len(data["personas"])
        return f"{n} persona{'s' if n != 1 else ''}"
    if isinstance(data.get("roles"), list) and isinstance(data.get("traits"), list):
        r, t = len(data["roles"]), len(data["traits"])
        return f"{r * t} personas ({r} roles x {t} traits)"
    return "no personas"


def conf_lines(group: str) -> list[tuple[str, str]]:
    """One line per config of a Hydra group, from its description or leading comment; an unreadable one is listed
    as INVALID."""
    out = []
    for path in sorted((CONF_DIR / group).glob("*.yaml")):
        data = load_yaml(path)
        if not isinstance(data, dict):
            out.append((path.stem, "INVALID: not a mapping"))
            continue
        if "_error" in data:
            out.append((path.stem, f"INVALID: {data['_error']}"))
            continue
        about = first_sentence(data.get("description") or leading_comment(path))
        if group == "persona":
            line = f"{persona_count(data)}: {about}"
        elif group == "population":
            ref = data.get("reference") or {}
            line = about
            if data.get("instrument"):
                kind = ref.get("kind") if isinstance(ref, dict) else ref
                demo = f", demographics {data['demographics']}" if data.get("demographics") else ""
                line = f"inventory={data['instrument']}, reference {kind}{demo}: {about}"
        elif group == "model":
            where = data.get("package") if str(data.get("source")).startswith("pypi_gguf") else (data.get("path") or "model.path=...")
            extra = ", needs adapter=..." if data.get("requires_adapter") else ""
            line = f"source {data.get('source')} ({where}), dtype {data.get('dtype')}{extra}: {about}"
        else:
            line = about
        out.append((path.stem, line))
    return out


def engine_lines() -> list[tuple[str, str]]:
    """Each registered engine, whether its library is installed, and its options with what they mean."""
    from bench.engines import engine_entry, engine_names

    out = []
    for name in engine_names():
        entry = engine_entry(name)  # engine modules import their libraries only when opened: this is cheap
        package = {"vllm": "vllm", "openai": "openai"}.get(name, "transformers")
        installed = importlib.util.find_spec(package) is not None
        opts = "".join(f"; engine.{key}: {option.doc}" for key, option in entry.options.items())
        out.append((name, f"{entry.cls.__module__} ({package} {'installed' if installed else 'NOT installed'}){opts}"))
    return out


def listing(kind: str) -> list[tuple[str, str]]:
    """The (name, line) entries of one kind `ls` shows."""
    if kind == "inventories":
        return instrument_lines(INVENTORY_DIR)
    if kind == "surveys":
        return instrument_lines(SURVEY_DIR)
    if kind == "engines":
        return engine_lines()
    return conf_lines({"personas": "persona", "populations": "population", "models": "model"}[kind])


def catalog_text(kinds: list[str]) -> str:
    """The listing of each kind asked for (all of them for none); a header per kind when there are several."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise BenchError(f"ls: unknown kind {unknown[0]!r}; choose from {', '.join(KINDS)}")
    kinds = kinds or list(KINDS)
    blocks = []
    for kind in kinds:
        rows = listing(kind)
        width = max((len(n) for n, _ in rows), default=0)
        lines = [f"{'  ' if len(kinds) > 1 else ''}{n.ljust(width)}  {d}" for n, d in rows]
        blocks.append("\n".join(([f"{kind}:"] if len(kinds) > 1 else []) + lines))
    return "\n\n".join(blocks) if len(kinds) > 1 else blocks[0]
