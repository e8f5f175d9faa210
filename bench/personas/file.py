"""Personas from a user's own file (`persona=file persona.path=...`): one persona per row of a .jsonl, .csv/.tsv
(or .parquet, .xlsx) or .yaml file, with `id`, `text`, an optional `target`, and the demographic columns that
`persona.attributes` names (kept on each persona as `attributes`; nothing in a prompt reads them).

Every problem of the file is found at once and named by file, row (line) and value, so a population of
thousands is fixed in one pass rather than one error per run. Rows are numbered as a user finds them: the
line of a .jsonl file, the row of a table counting its header as row 1 (a spreadsheet's own numbers), the
entry of a YAML list counted from 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.instruments.fields import nonempty_str
from bench.personas.model import Persona, PersonaError
from bench.userfiles import BINARY_TABLE_SUFFIXES, MAX_JSONL_BYTES, MAX_TABLE_BYTES, MAX_YAML_BYTES, \
    TEXT_TABLE_SUFFIXES, UserFileError, check_file, decode_table, numbered_jsonl, parse_yaml, read_bounded, read_table

YAML_SUFFIXES = (".yaml", ".yml")
SUFFIXES = (".jsonl", *YAML_SUFFIXES, *TEXT_TABLE_SUFFIXES, *BINARY_TABLE_SUFFIXES)
COLUMNS = ("id", "text", "target")  # a persona's own fields; demographic columns are named in persona.attributes
YAML_KEYS = ("personas", "description", "source")  # a YAML file may be a persona set's list under `personas:`
MAX_PERSONA_YAML_BYTES = 8 * MAX_YAML_BYTES  # thousands of backstory-length texts; .jsonl or .csv for more
MAX_SHOWN = 20  # problems listed in one error (the count says how many more)
ENCODING_FIX = "give persona.encoding=<the file's encoding>, e.g. persona.encoding=cp1252 (Windows) or latin-1"

Row = tuple[str, dict]  # where the row is ("line 3", "row 3", "entry 3") and its fields


def read_rows(path: str, sep: str | None = None, encoding: str | None = None) -> list[Row]:
    """The file's rows with where each is, or PersonaError for a file that cannot be read as personas at all:
    missing, an unknown extension, not in its encoding (byte offset and row named), malformed, or empty."""
    p = Path(str(path)).expanduser()
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise PersonaError(f"{path}: a persona file must end in {', '.join(SUFFIXES)}, "
                           f"not {suffix or '(no extension)'!r}")
    limit = MAX_JSONL_BYTES if suffix == ".jsonl" else MAX_PERSONA_YAML_BYTES if suffix in YAML_SUFFIXES \
        else MAX_TABLE_BYTES
    try:
        check_file(p, limit, "persona file")
        if p.stat().st_size == 0:
            raise PersonaError(f"{path}: empty file: no personas")
        if suffix != ".jsonl" and suffix not in YAML_SUFFIXES:
            frame = read_table(p, sep, encoding, "persona file", limit, keep_default_na=False,
                               encoding_fix=ENCODING_FIX)
            frame.columns = [str(c).strip() for c in frame.columns]
            rows = [(f"row {k + 2}", {c: v for c, v in zip(frame.columns, values)})
                    for k, values in enumerate(frame.itertuples(index=False, name=None))]
        elif sep is not None:
            raise PersonaError(f"{path}: persona.sep applies to text tables (.csv, .tsv), not {suffix}")
        elif suffix == ".jsonl":
            if encoding is not None:
                raise PersonaError(f"{path}: persona.encoding applies to tables and YAML; JSON lines are UTF-8")
            rows = [(f"line {n}", row) for n, row in numbered_jsonl(p, limit)]
        else:
            rows = yaml_rows(path, parse_yaml(decode_table(read_bounded(p, limit, "persona file"), str(path), encoding,
                                                           ENCODING_FIX), str(path)))
    except UserFileError as err:
        raise PersonaError(str(err)) from None
    if not rows:
        raise PersonaError(f"{path}: no personas (a header or blank lines only)")
    return rows


def yaml_rows(path: str, data: Any) -> list[Row]:
    """A YAML persona file's entries: a list of mappings, or one under `personas:` (a persona set's own form)."""
    if isinstance(data, dict):
        unknown = [k for k in data if k not in YAML_KEYS]
        if unknown:
            raise PersonaError(f"{path}: unknown field(s) {', '.join(map(repr, unknown))} (allowed: "
                               f"{', '.join(YAML_KEYS)}; or give the list of personas itself)")
        data = data.get("personas")
    if data is None:
        raise PersonaError(f"{path}: no personas (an empty list)")
    if not isinstance(data, list):
        raise PersonaError(f"{path}: expected a list of personas (mappings with {', '.join(COLUMNS)}), "
                           f"got {type(data).__name__}")
    return [(f"entry {n}", entry if isinstance(entry, dict) else {"": entry}) for n, entry in enumerate(data, 1)]


def cell(v: Any) -> str | None:
    """A field as the persona's text: numbers as written (`12`), None and blank cells as missing."""
    if v is None or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, (dict, list)):
        return None
    text = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
    return text if text.strip() else None


def row_problems(rows: list[Row], attributes: list[str] | None) -> tuple[list[str], list[str]]:
    """(problems, notes) of the rows, each problem `<where>: <field>: <value> ...`. `attributes`: the
    demographic columns a run keeps (any other column is unknown); None (a file checked alone) notes them."""
    problems, notes = [], []
    allowed = (*COLUMNS, *(attributes or ()))
    first: dict[str, str] = {}  # id -> where it first appears
    unknown: dict[str, str] = {}  # column -> where it first appears
    absent = [c for c in ("id", "text") if all(c not in row for _, row in rows)]
    problems += [f"no {c!r} column in any row (found: {', '.join(columns(rows)) or 'none'})" for c in absent]
    for where, row in rows:
        if "" in row and len(row) == 1:
            problems.append(f"{where}: {row['']!r} must be a mapping with {', '.join(COLUMNS)}")
            continue
        for key in row:
            if str(key) not in allowed:
                unknown.setdefault(str(key), where)
        pid, text = row.get("id"), row.get("text")
        name = None if isinstance(pid, (bool, dict, list)) else cell(pid)
        if "id" not in row:
            if "id" not in absent:
                problems.append(f"{where}: 'id': missing")
        elif name is None:
            problems.append(f"{where}: 'id': {pid!r} is empty (every persona needs an id)" if pid is None
                            or isinstance(pid, str) else f"{where}: 'id': {pid!r} must be text or a whole number")
        elif name.strip() != name:
            problems.append(f"{where}: 'id': {pid!r} has spaces at its ends (ids are matched exactly)")
        elif name in first:
            problems.append(f"{where}: 'id': {name!r} is duplicated (first at {first[name]})")
        else:
            first[name] = where
        if "text" not in row:
            if "text" not in absent:
                problems.append(f"{where}: 'text': missing")
        elif not nonempty_str(text):
            problems.append(f"{where}: 'text': {text!r} is empty (the persona's system text)"
                            if text is None or isinstance(text, str) else f"{where}: 'text': {text!r} must be text")
        target = row.get("target")
        if target is not None and not isinstance(target, (str, int, float)):
            problems.append(f"{where}: 'target': {target!r} must be text")
    for column in attributes or ():
        if all(column not in row for _, row in rows):
            problems.append(f"column {column!r} (named in persona.attributes) is not in the file")
    if attributes is not None:
        problems += [f"{where}: unknown column {key!r} (allowed: {', '.join(allowed)}; name demographic columns in "
                     "persona.attributes=[...] to keep them)" for key, where in unknown.items()]
    elif unknown:
        notes.append(f"column(s) {', '.join(unknown)}: a run refuses them unless persona.attributes names them "
                     f"(persona.attributes=[{','.join(unknown)}]), then keeps them on each persona")
    return problems, notes


def columns(rows: list[Row]) -> list[str]:
    """Every column or field name of the rows, in the order first seen."""
    return list(dict.fromkeys(str(k) for _, row in rows for k in row if k != ""))


def to_personas(rows: list[Row], attributes: list[str] | None) -> tuple[Persona, ...]:
    """Checked rows as personas, in the file's order."""
    keep = attributes or ()
    return tuple(Persona(cell(row["id"]), cell(row.get("target")) or "", str(row["text"]),
                         attributes=tuple((a, cell(row.get(a))) for a in keep if cell(row.get(a)) is not None))
                 for _, row in rows)


def problem_text(path: str, problems: list[str]) -> str:
    """Every problem of a file on its own line, each naming the file; the first MAX_SHOWN and a count of the rest."""
    shown = [f"  {path}: {p}" for p in problems[:MAX_SHOWN]]
    more = [f"  ... and {len(problems) - MAX_SHOWN} more"] if len(problems) > MAX_SHOWN else []
    head = f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the persona file:"
    return "\n".join([head, *shown, *more])


def file_personas(persona: dict) -> tuple[Persona, ...]:
    """The personas of `persona.path`, every row checked first: a PersonaError lists every problem."""
    path, attributes = persona.get("path"), persona.get("attributes")
    rows = read_rows(path, persona.get("sep"), persona.get("encoding"))
    problems, _ = row_problems(rows, list(attributes or ()))
    if problems:
        raise PersonaError(problem_text(path, problems))
    return to_personas(rows, attributes)


def check_persona_file(path: str, sep: str | None = None,
                       encoding: str | None = None) -> tuple[list[str], list[str], int]:
    """(problems, notes, personas) of a file checked alone (`persona-bench validate FILE`)."""
    try:
        rows = read_rows(path, sep, encoding)
    except PersonaError as err:
        return [str(err).removeprefix(f"{path}: ")], [], 0
    problems, notes = row_problems(rows, None)
    return problems, notes, len(rows)
