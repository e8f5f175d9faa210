"""`persona-bench validate FILE...`: tell what kind of file each is, and list every problem in it at once.

A .json file is read as JSON (a run's results.json, checked against bench/results/results.schema.json); a
.jsonl file or a table (.csv, .tsv, ...) as a persona file (`persona=file persona.path=...`), as is a YAML file
holding a list of personas; everything else as YAML.

The checks themselves live beside what they check (instruments, populations, personas, the typed run
config); this module reads the file, decides which kind it is from its fields, and collects the messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import BenchError
from bench.userfiles import UserFileError, parse_yaml, read_bounded

INSTRUMENT_KINDS = ("likert", "bipolar", "survey")
CORPUS_KINDS = ("rag", "profile")
EXPECTED = ("an inventory, a survey, a population config, a persona set, a persona file, a run config or a run's "
            "results.json")


@dataclass
class FileReport:
    """What validate found in one file: its detected kind, every problem, notes and a one-line summary."""
    path: str
    kind: str | None = None  # what the file was detected as
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: str = ""

    def lines(self) -> tuple[list[str], list[str]]:
        """(ok lines for stdout, problem lines for stderr)."""
        what = f"{self.kind}{' ' + self.summary if self.summary else ''}" if self.kind else ""
        if self.problems:
            head = f"{self.path}: {self.kind}: " if self.kind else f"{self.path}: "
            return [], [head + p for p in self.problems]
        note = "".join(f"; note: {n}" for n in self.notes)
        return [f"{self.path}: ok ({what}){note}"], []


def read_yaml(path: Path, report: FileReport):
    """The file's YAML through the bounded reader (size and alias caps), or None with the problem noted."""
    if not path.exists():
        report.problems.append("file not found")
        return None
    if path.is_dir():
        report.problems.append("is a folder, not a file")
        return None
    try:
        raw = read_bounded(path, what="YAML file")
    except UserFileError as err:
        report.problems.append(str(err).removeprefix(f"{path}: "))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        report.problems.append(f"not a text file (not UTF-8: byte {err.start}), so not YAML")
        return None
    try:
        data = parse_yaml(text, str(path))
    except UserFileError as err:
        report.problems.append(str(err).removeprefix(f"{path}: "))
        return None
    if data is None:
        report.problems.append(f"empty file (no YAML content); expected {EXPECTED}")
    elif isinstance(data, list) and data and all(isinstance(e, dict) for e in data):
        return data  # a list of personas (a persona file)
    elif isinstance(data, list):
        report.problems.append(f"top level is a list of {len(data)} entries; expected a mapping of fields "
                               f"({EXPECTED})")
    elif not isinstance(data, dict):
        report.problems.append(f"top level is a {type(data).__name__} ({data!r:.60}); expected a mapping of fields "
                               f"({EXPECTED})")
    else:
        return data
    return None


def read_json(path: Path, report: FileReport):
    """A .json file (a run's results.json), read bounded; not JSON, or not a mapping, is the problem noted."""
    from bench.results.results_json import MAX_BYTES

    try:
        raw = read_bounded(path, MAX_BYTES, "JSON file")
        data = json.loads(raw.decode("utf-8"))
    except UserFileError as err:
        report.problems.append(str(err).removeprefix(f"{path}: "))
        return None
    except UnicodeDecodeError as err:
        report.problems.append(f"not a text file (not UTF-8: byte {err.start}), so not JSON")
        return None
    except json.JSONDecodeError as err:
        report.problems.append(f"not valid JSON: line {err.lineno}, column {err.colno}: {err.msg}")
        return None
    except RecursionError:
        report.problems.append("not valid JSON: nested too deep")
        return None
    if not isinstance(data, dict):
        report.problems.append(f"top level is a {type(data).__name__}; expected a mapping of fields ({EXPECTED})")
        return None
    return data


def detect(data: dict) -> str | None:
    """Which kind of file a mapping is, from the fields only that kind has."""
    if "format" in data and "schema_version" in data:
        return "results"
    if isinstance(data.get("model"), dict) and "inventory" in data:
        return "run config"
    if data.get("kind") in INSTRUMENT_KINDS or "items" in data:
        return "survey" if data.get("kind") == "survey" else "inventory"
    if "personas" in data or "roles" in data or "set" in data or data.get("kind") in CORPUS_KINDS:
        return "persona set"
    if any(k in data for k in ("reference", "instrument", "demographics", "attributes")) or (
            set(data) - {"defaults", "path", "missing"} == {"name"} and data["name"] in ("none", "auto")):
        return "population config"
    return None


def check_instrument(data: dict, report: FileReport) -> None:
    """Check an inventory or survey by building it as a run would, every problem collected."""
    from bench.instruments import build_instrument

    inv = build_instrument(data, report.problems)
    if inv is not None:
        report.summary = f"{inv.id}: {inv.kind}, {len(inv.items)} items"


def check_population_file(data: dict, report: FileReport) -> None:
    """Check a population config, and read its data file when it names one, as a run would."""
    from bench.populations.check import check_population

    problems, notes = check_population(data)
    report.problems += problems
    report.notes += notes
    report.summary = str(data.get("name", ""))
    ref = data.get("reference") or {}
    if not problems and ref.get("kind") in ("csv", "sav") and ref.get("path") != "???":  # ???: given at run time
        read_population_data(data, report)


def read_population_data(data: dict, report: FileReport) -> None:
    """A population file's own table, checked as a run would read it (in chunks, with progress on stderr, so
    millions of rows fit in bounded memory): what it holds, or why it cannot be read."""
    from bench.populations.reference import load_human, usable_respondents_problem

    try:
        human = load_human(data, check_only=True)
    except BenchError as err:
        report.problems.append(str(err))
        return
    problem = usable_respondents_problem(human, data)
    if problem:
        report.problems.append(problem)
    report.summary += f": {human.n:,} respondents x {human.n_items} items"
    if human.blanked:
        report.notes.append(f"{human.blanked:,} cells hold a missing-answer code {data.get('missing')} (blanked)")
    if human.pairing:
        report.notes.append("columns paired by wording: " + "; ".join(f"{i} <- {c!r} ({r:.2f})"
                                                                       for i, c, r in human.pairing))


def check_persona_file(data: dict, report: FileReport) -> None:
    """Check a persona set file as a run would read it."""
    from bench.personas.check import check_persona_set

    problems, notes = check_persona_set(data)
    report.problems += problems
    report.notes += notes
    report.summary = str(data.get("set", ""))


def check_persona_rows(report: FileReport) -> None:
    """A persona file (`persona.path`): every row checked as a run reads it."""
    from bench.personas.file import check_persona_file as check_rows

    report.kind = "persona file"
    problems, notes, n = check_rows(report.path)
    report.problems += problems
    report.notes += notes
    report.summary = f"{n:,} persona{'s' if n != 1 else ''}"


def check_run_config(data: dict, report: FileReport) -> None:
    """The typed schema (bench.config, which stops at the first bad value), then every problem of the persona
    and population sections, which this tool also checks as files of their own."""
    from bench.config import validate
    from bench.personas.check import check_persona_set
    from bench.populations.check import check_population

    try:
        validate("config", data)
    except BenchError as err:
        report.problems += [ln for ln in str(err).splitlines() if ln.strip()]
    inv = data.get("inventory")  # checked by validate() above (name shipped, path existing)
    for section, check in (("persona", check_persona_set), ("population", check_population)):
        value = data.get(section)
        if isinstance(value, dict):
            problems, notes = check(value, prefix=f"{section}.")
            report.problems += problems
            report.notes += notes
        elif section in data:
            report.problems.append(f"field '{section}': {value!r} must be a mapping")
    report.summary = f"{data['model'].get('id', '?')} x {inv.get('name') if isinstance(inv, dict) else '?'}"


def check_results_file(data: dict, report: FileReport, folder: Path) -> None:
    """The schema (every departure, with field and value), then the file index against the folder beside it:
    a listed file that differs from its sha256 is a problem, one that is absent a note."""
    from bench.results.results_json import figures, outside, problems
    from bench.hashing import sha256_file

    report.problems += problems(data)
    if report.problems:
        return
    # every record, as written and as its metrics give it again: an estimate outside its own interval
    records = {r["path"]: r for r in [*figures(data["metrics"]), *data["figures"]]}
    report.problems += outside(list(records.values()))
    for name, entry in data["files"].items():
        path = folder / name
        if not path.is_file():
            report.notes.append(f"{name} (listed in files) is not beside it")
        elif (digest := sha256_file(path)) != entry["sha256"]:
            report.problems.append(f"field '/files/{name}/sha256': value \"{entry['sha256'][:12]}…\": {path} has "
                                   f"sha256 {digest[:12]}…; the file changed after the run wrote results.json")
    report.summary = (f"{data['run']['name']}: schema {data['schema_version']}, {len(data['figures'])} figures, "
                      f"{len(data['files'])} files")


CHECKS = {"inventory": check_instrument, "survey": check_instrument, "population config": check_population_file,
          "persona set": check_persona_file, "run config": check_run_config}


def check_file(path: str) -> FileReport:
    """One file checked: read it, tell its kind from its fields, run that kind's check; a report, never an
    exception, so every file is reported."""
    from bench.personas.file import SUFFIXES, YAML_SUFFIXES

    report = FileReport(path)
    where = Path(path).expanduser()
    if where.suffix.lower() in SUFFIXES and where.suffix.lower() not in YAML_SUFFIXES and where.is_file():
        check_persona_rows(report)
        return report
    data = read_json(where, report) if where.suffix == ".json" and where.is_file() else read_yaml(where, report)
    if isinstance(data, list):
        check_persona_rows(report)
        return report
    if data is None:
        return report
    report.kind = detect(data)
    if report.kind is None:
        fields = ", ".join(map(str, list(data)[:12])) or "(none)"
        report.problems.append(f"cannot tell what kind of file this is from its fields ({fields}); expected "
                               f"{EXPECTED}")
        return report
    if report.kind == "results":
        check_results_file(data, report, where.parent)
    else:
        CHECKS[report.kind](data, report)
    return report
