"""Find and read run folders; a folder with a missing or malformed file is reported, never fatal.

A run folder is any folder holding `config.yaml` or `metrics.json` (written by `bench.pipelines.run.run`).
Required: config.yaml, metrics.json, provenance.json. Optional: scores.parquet,
responses.parquet (answer and temperature columns only), fidelity.csv; a bad optional file is noted
and left out. Nothing else in the folder is read, so no free text beyond the config reaches a page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from bench.errors import BenchError

REQUIRED = ("config.yaml", "metrics.json", "provenance.json")
MARKERS = ("config.yaml", "metrics.json")
RESPONSE_COLUMNS = ["persona_id", "temperature", "trait", "answer", "invalid"]


@dataclass(frozen=True)
class RunRecord:
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
    path: Path
    reason: str


class RunFolderError(BenchError):
    pass


def find_run_folders(roots) -> list[Path]:
    """Run folders under each root (a root may itself be one), sorted, without duplicates."""
    found: dict[Path, None] = {}

    def walk(folder: Path) -> None:
        if any((folder / m).is_file() for m in MARKERS):
            found[folder.resolve()] = None
            return
        for child in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            walk(child)

    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise RunFolderError(f"results folder {root} does not exist")
        walk(root)
    return sorted(found)


def _read_mapping(path: Path, loader) -> dict:
    if not path.is_file():
        raise RunFolderError(f"{path.name} is missing (the run is unfinished or was interrupted)")
    try:
        value = loader(path.read_text())
    except (ValueError, yaml.YAMLError, UnicodeDecodeError) as err:
        raise RunFolderError(f"{path.name} is malformed: {str(err).splitlines()[0][:200]}") from err
    if not isinstance(value, dict):
        raise RunFolderError(f"{path.name} is malformed: expected a mapping, got {type(value).__name__}")
    return value


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
    config = _read_mapping(folder / "config.yaml", yaml.safe_load)
    metrics = _read_mapping(folder / "metrics.json", json.loads)
    provenance = _read_mapping(folder / "provenance.json", json.loads)
    notes: list[str] = []
    scores = _optional(folder / "scores.parquet", pd.read_parquet, notes)
    answers = _optional(folder / "responses.parquet", lambda p: pd.read_parquet(p, columns=RESPONSE_COLUMNS), notes)
    fidelity = _optional(folder / "fidelity.csv", pd.read_csv, notes)
    return RunRecord(folder, config, metrics, provenance, scores, answers, fidelity, tuple(notes))


def collect_runs(roots) -> tuple[list[RunRecord], list[Skipped]]:
    records, skipped = [], []
    for folder in find_run_folders(roots):
        try:
            records.append(read_run(folder))
        except RunFolderError as err:
            skipped.append(Skipped(folder, str(err)))
    return records, skipped
