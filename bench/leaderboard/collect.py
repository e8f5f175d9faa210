"""Find and read run folders; a folder with a missing or malformed file is reported, never fatal.

A run folder is any folder holding `results.json`, `config.yaml` or `metrics.json` (written by
`bench.pipelines.run.run`). A folder with results.json is read from it alone (checked against its schema:
a file that does not follow it is a skipped folder, with the field and value named); one written before
results.json existed is read from config.yaml, metrics.json and provenance.json. Optional: scores.parquet,
responses.parquet (answer and temperature columns only), fidelity.csv; a bad optional file is noted
and left out. Nothing else in the folder is read, so no free text beyond the config reaches a page.
config.yaml goes through `bench.userfiles.load_yaml` and the JSON files through a size-capped read, so
a 1 KB alias bomb or a huge file is a skipped folder with its reason, never a hang. The walk follows a
symbolic link at most once (a link loop is walked once) and skips folders it cannot read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from bench.hashing import sha256_file
from bench.results.layout import CONFIG, FIDELITY, METRICS, PROVENANCE, RESPONSES, RESULTS, SCORES
from bench.results.results_json import ResultsFileError, check_results
from bench.results.run_folder import NotARunConfig, saved_config
from bench.userfiles import UserFileError, read_bounded

REQUIRED = (CONFIG, METRICS, PROVENANCE)
SUPERSEDED = REQUIRED  # what results.json holds too: a copy that differs from it is noted
MARKERS = (RESULTS, CONFIG, METRICS)
RESPONSE_COLUMNS = ["persona_id", "template_id", "temperature", "trait", "answer", "invalid"]  # what figures use
MAX_JSON_BYTES = 64 * 1024 * 1024  # metrics.json of a large run is a few MB
MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a run's config.yaml is a few KB; persona texts make it larger
MAX_FOLDERS = 100_000


@dataclass(frozen=True)
class RunRecord:
    """One run folder as the leaderboard reads it: config, metrics, provenance, the tables figures need, and
    notes on what was missing."""
    path: Path
    config: dict
    metrics: dict
    provenance: dict
    scores: pd.DataFrame | None = None
    answers: pd.DataFrame | None = None
    fidelity: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """A folder left off the leaderboard, with the reason shown beside the board."""
    path: Path
    reason: str


class RunFolderError(BenchError):
    """A folder the leaderboard cannot read (a root absent or too large, a run's file missing or malformed):
    a root stops the build, a run folder is skipped with why."""


def find_run_folders(roots) -> list[Path]:
    """Run folders under each root (a root may itself be one), sorted, without duplicates; each real
    folder is visited once, so a symbolic link loop ends, and an unreadable folder is passed over."""
    found: dict[Path, None] = {}
    visited: set[Path] = set()

    def walk(folder: Path) -> None:
        real = folder.resolve()
        if real in visited:
            return
        visited.add(real)
        if len(visited) > MAX_FOLDERS:
            raise RunFolderError(f"results folder {folder}: over {MAX_FOLDERS:,} folders below it; name the "
                                 "folder that holds the run folders")
        if any((folder / m).is_file() for m in MARKERS):
            found[real] = None
            return
        try:
            children = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.is_dir())
        except OSError:
            return
        for child in children:
            walk(child)

    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise RunFolderError(f"results folder {root} does not exist" if not root.exists()
                                 else f"results folder {root} is not a folder")
        walk(root)
    return sorted(found)


def _read_mapping(path: Path, parse) -> dict:
    if not path.exists() and not path.is_symlink():
        raise RunFolderError(f"{path.name} is missing (the run is unfinished or was interrupted)")
    try:
        value = parse(path)
    except UserFileError as err:
        raise RunFolderError(f"{path.name} is malformed: {str(err).splitlines()[0][:300]}") from None
    except NotARunConfig as err:
        raise RunFolderError(f"{path.name} is malformed: expected a mapping, got {err.kind}") from None
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as err:
        first = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise RunFolderError(f"{path.name} is malformed: {first}") from None
    if not isinstance(value, dict):
        raise RunFolderError(f"{path.name} is malformed: expected a mapping, got {type(value).__name__}")
    return value


def read_json(path: Path) -> object:
    """A JSON file of a run folder, refused over MAX_JSON_BYTES before it is read."""
    return json.loads(read_bounded(path, MAX_JSON_BYTES, "JSON file").decode("utf-8"))


def read_csv(path: Path) -> pd.DataFrame:
    """fidelity.csv, refused over MAX_JSON_BYTES (one row per question: a few KB)."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise RunFolderError(f"{size:,} bytes, over the {MAX_JSON_BYTES:,}-byte limit")
    return pd.read_csv(path)


def read_config(path: Path) -> dict:
    """A run folder's config.yaml (`saved_config`), refused over MAX_CONFIG_BYTES before it is read."""
    return saved_config(path.parent, MAX_CONFIG_BYTES)


def _optional(path: Path, reader, notes: list[str]):
    if not path.is_file():
        return None
    try:
        return reader(path)
    except Exception as err:  # any unreadable optional file is left out, with a note
        notes.append(f"{path.name} left out: {type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}")
        return None


def read_run(folder: Path) -> RunRecord:
    """One run folder; RunFolderError (naming the file) when a required file is missing or malformed."""
    folder = Path(folder)
    results = folder / RESULTS
    if results.exists() or results.is_symlink():
        data = _read_mapping(results, read_json)
        try:
            check_results(data, RESULTS)
        except ResultsFileError as err:
            raise RunFolderError(str(err)) from None
        config, metrics, provenance = data["config"], data["metrics"], data["provenance"]
        notes = [f"{name} changed after results.json was written; results.json was read"
                 for name in SUPERSEDED if (folder / name).is_file() and name in data["files"]
                 and (folder / name).stat().st_size <= MAX_JSON_BYTES
                 and sha256_file(folder / name) != data["files"][name]["sha256"]]
    else:
        notes = []
        config = _read_mapping(folder / CONFIG, read_config)
        metrics = _read_mapping(folder / METRICS, read_json)
        provenance = _read_mapping(folder / PROVENANCE, read_json)
    scores = _optional(folder / SCORES, pd.read_parquet, notes)
    answers = _optional(folder / RESPONSES, lambda p: pd.read_parquet(p, columns=RESPONSE_COLUMNS), notes)
    fidelity = _optional(folder / FIDELITY, read_csv, notes)
    return RunRecord(folder, config, metrics, provenance, scores, answers, fidelity, tuple(notes))


def collect_runs(roots) -> tuple[list[RunRecord], list[Skipped]]:
    """Every run folder under the roots read, and those that could not be, with why: one bad folder never stops a
    build."""
    records, skipped = [], []
    for folder in find_run_folders(roots):
        try:
            records.append(read_run(folder))
        except RunFolderError as err:
            skipped.append(Skipped(folder, str(err)))
    return records, skipped
