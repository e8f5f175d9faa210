"""results.json: one file per run folder, in one versioned schema (results.schema.json, docs/results-schema.md).

It holds what a reader needs to compare runs without knowing persona-bench's other files: the config, the
provenance, every metrics.json section as written (so sections added later flow through), the same
figures flattened into {value, ci_low, ci_high, n, warning} records, the warnings, and the name, size and
sha256 of each file the run wrote. `build_results` is a pure function of those dicts; `write_results`
adds the file index, validates against the schema (a mismatch is a bug and stops the run) and writes it
atomically. `check_results` is what the leaderboard and `persona-bench validate` use on a file they read.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema

from bench.errors import BenchError
from bench.hashing import sha256_file
from bench.metrics.uncertainty import inside, interval_records
from bench.results.atomic import atomic_write_json
from bench.results.layout import CONFIG, FIDELITY, METRICS, PROMPTS, PROVENANCE, RESPONSES, RESULTS, SCORES, SUMMARY

FORMAT = "persona-bench results"
SCHEMA_VERSION = "1.0"
SCHEMA_PATH = Path(__file__).with_name("results.schema.json")
MAX_BYTES = 64 * 1024 * 1024  # what a reader accepts; a large run's results.json is a few MB
# What a run folder's file index lists (those present): its tables and the files they are read with.
RUN_TABLES = (RESPONSES, PROMPTS, SCORES, FIDELITY, METRICS, CONFIG, PROVENANCE, SUMMARY)
# Free text beside a figure: not a label of it.
FREE_TEXT = ("warning", "note", "message", "ci_method", "source", "reason", "no_interval")


class ResultsFileError(BenchError):
    """A results.json that is not valid JSON or does not follow results.schema.json."""


@cache
def schema() -> dict:
    """The results.json schema, read once: what every written file is validated against."""
    return json.loads(SCHEMA_PATH.read_text())


def pointer(parts: list) -> str:
    """A JSON pointer (RFC 6901) to a place in metrics.json."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def number(v):
    """A metric value as a JSON number, or None for anything else (booleans included)."""
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def figure(record: dict, name: str | None, low: str, high: str, where: list) -> dict:
    """One figure of a metrics record: its estimate, interval, n and warning, and the record's labels."""
    method = record.get(f"{name}_ci_method") if name and f"{name}_ci_method" in record else record.get("ci_method")
    n = next((record[k] for k in (f"{name}_n", "n_effective", "n", "n_pairs", "n_participants") if number(record.get(k)) is not None), None)
    warning = record.get(f"{name}_warning", record.get("warning"))
    return {"path": pointer(where + ([name] if name else [])), "section": str(where[0]), "name": name,
            "labels": {k: v for k, v in record.items() if isinstance(v, str) and k not in FREE_TEXT
                       and not k.endswith("_warning")},
            "value": number(record.get(name)) if name else None, "ci_low": number(record.get(low)),
            "ci_high": number(record.get(high)), "ci_method": method if isinstance(method, str) else None,
            "n": n, "warning": warning if isinstance(warning, str) else None}


def figures(metrics: dict) -> list[dict]:
    """Every figure of metrics.json that carries an interval, wherever it sits (any section, any depth;
    bench.metrics.uncertainty.interval_records says which)."""
    return [figure(record, name, low, high, where) for where, record, name, low, high in interval_records(metrics)]


def outside(records: list[dict]) -> list[str]:
    """Each figure record whose estimate lies outside its own interval, named by its path and numbers."""
    return [f"field '{r['path']}': estimate {r['value']:.6g} outside its interval [{r['ci_low']:.6g}, "
            f"{r['ci_high']:.6g}]" for r in records
            if all(isinstance(r.get(k), (int, float)) for k in ("value", "ci_low", "ci_high"))
            and inside(r["value"], r["ci_low"], r["ci_high"])[2] is not None]


def build_results(name: str, kind: str, config: dict, provenance: dict, metrics: dict, files: dict) -> dict:
    """The results.json of one run folder (pure: from what the run already holds)."""
    return {
        "format": FORMAT, "schema_version": SCHEMA_VERSION,
        "run": {"name": name, "kind": kind},
        "config_hash": provenance.get("config_hash"),
        "config": config, "provenance": provenance, "metrics": metrics,
        "figures": figures(metrics),
        "warnings": list(metrics.get("warnings") or []),
        "files": files,
    }


def run_files(folder: Path) -> tuple[str, ...]:
    """The files a run's results.json indexes: its tables and the figures drawn into figures/."""
    images = sorted(f"figures/{p.name}" for p in (Path(folder) / "figures").glob("*") if p.suffix in (".png", ".svg"))
    return (*RUN_TABLES, *images)


def file_index(folder: Path, names) -> dict:
    """Size and sha256 of each named file the folder holds (absent ones are left out)."""
    return {n: {"bytes": (folder / n).stat().st_size, "sha256": sha256_file(folder / n)}
            for n in names if (folder / n).is_file()}


def problems(data) -> list[str]:
    """Every way `data` departs from the schema, each naming the field and its value."""
    validator = jsonschema.Draft202012Validator(schema())
    out = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = list(err.absolute_path)
        if err.validator == "required":  # name the missing field, not the whole object holding it
            missing = [k for k in err.validator_value if k not in err.instance]
            out += [f"field '{pointer(where + [k])}': missing (required)" for k in missing]
            continue
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            out += [f"field '{pointer(where + [k])}': not a field of this schema (allowed: {', '.join(sorted(allowed))})"
                    for k in err.instance if k not in allowed]
            continue
        value = json.dumps(err.instance, default=str)
        note = ""
        if where == ["schema_version"] and isinstance(err.instance, str):
            note = f" (this persona-bench reads {SCHEMA_VERSION.split('.')[0]}.x; a newer one may have written it)"
        out.append(f"field '{pointer(where) or '/'}': value {value[:80]}{'…' if len(value) > 80 else ''}: "
                   f"{err.message[:200]}{note}")
    return out


def write_results(folder: Path, kind: str, config: dict, provenance: dict, metrics: dict, tables) -> Path:
    """Build, validate and atomically write folder/results.json; `tables` names the files to index."""
    folder = Path(folder)
    data = build_results(folder.name, kind, config, provenance, metrics, file_index(folder, tables))
    # Through JSON and back first, as a reader will see it (NaN, numpy scalars, tuples).
    data = json.loads(json.dumps(data, default=str))
    found = problems(data)
    if found:
        raise RuntimeError(f"bug: {folder / RESULTS} would not follow {SCHEMA_PATH.name}: " + "; ".join(found[:5]))
    found = outside(data["figures"])
    if found:  # every interval record is checked where it is built (drop_outside): one left is a bug
        raise RuntimeError(f"bug: {folder / RESULTS}: {len(found)} estimate(s) outside their own interval: "
                           + "; ".join(found[:5]))
    atomic_write_json(folder / RESULTS, data)
    return folder / RESULTS


def update_metrics(folder: Path, metrics: dict) -> None:
    """A tool that adds a section to a finished run's metrics.json (clone-report) writes it here, so the
    run's results.json (rebuilt from the one the run wrote, with the new metrics and file index) agrees."""
    folder = Path(folder)
    atomic_write_json(folder / METRICS, metrics)
    if (folder / RESULTS).is_file():
        old = check_results(json.loads((folder / RESULTS).read_text()), str(folder / RESULTS))
        write_results(folder, old["run"]["kind"], old["config"], old["provenance"], metrics, run_files(folder))


def check_results(data, where: str) -> dict:
    """A results.json read back (leaderboard, validate): the data, or ResultsFileError naming each problem."""
    found = problems(data)
    if found:
        raise ResultsFileError(f"{where}: does not follow {SCHEMA_PATH.name} (schema_version {SCHEMA_VERSION}): "
                               + "; ".join(found[:5]) + (f" (and {len(found) - 5} more)" if len(found) > 5 else ""))
    return data
