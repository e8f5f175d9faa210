"""A run split over worker processes: each worker's record beside the parts, and the finaliser's refusal while
units are missing.

Worker i of N writes the parts of its share of the units into the one run folder, then its record,
`parts/worker-<i>-of-<N>.json` (units, units computed, engine facts, timings, host and pid), so the finaliser,
which does no model work, can put into provenance.json what the engines said and how long the workers took.
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

from bench.results.atomic import atomic_write_json
from bench.results.layout import PARTS
from bench.results.store import RunStoreError

RECORD = re.compile(r"worker-(\d+)-of-(\d+)\.json")


class UnitsMissing(RunStoreError):
    """A run finalised while some of its units have no part: its tables would leave them out."""

    def __init__(self, run_dir: Path, missing: list[int], total: int):
        self.missing = missing
        super().__init__(f"{run_dir}: {len(missing)} of {total} units are not done ({unit_ranges(missing)}); "
                         "nothing was finalised. Run the workers that own them again (the same command with their "
                         "worker=i: each redoes only its own unfinished units), or the run without workers/worker "
                         "to compute them in one process, then finalise")


def unit_ranges(units: list[int], limit: int = 20) -> str:
    """Unit numbers as runs, `units 0-3, 7, 9-10` (the first `limit` runs, then how many more)."""
    runs: list[list[int]] = []
    for u in sorted(units):
        if runs and u == runs[-1][1] + 1:
            runs[-1][1] = u
        else:
            runs.append([u, u])
    words = [str(a) if a == b else f"{a}-{b}" for a, b in runs]
    more = f" and {len(words) - limit} more runs of units" if len(words) > limit else ""
    return "units " + ", ".join(words[:limit]) + more


def write_record(run_dir: Path, worker: int, workers: int, facts: dict) -> Path:
    """Worker `worker`'s record of its share (written after its parts): `facts` and who wrote it."""
    path = Path(run_dir) / PARTS / f"worker-{worker}-of-{workers}.json"
    atomic_write_json(path, {"worker": worker, "workers": workers, "host": socket.gethostname(), "pid": os.getpid(),
                             **facts})
    return path


def read_records(run_dir: Path) -> list[dict]:
    """The workers' records of a split run, by worker (none for a run made in one process)."""
    folder = Path(run_dir) / PARTS
    found = sorted(((int(m[2]), int(m[1])), p) for p in folder.glob("worker-*-of-*.json") if (m := RECORD.fullmatch(p.name)))
    records = []
    for _, path in found:
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue  # a record is provenance only: a damaged one is left out, the parts are what count
        if isinstance(record, dict):
            records.append(record)
    return records


def merged_facts(records: list[dict], engine_keys: tuple[str, ...]) -> dict:
    """What the finaliser puts into provenance.json from the workers' records: each worker's record, what the
    engines said (`engine_keys`), the first batch of any worker and the model seconds of all of them."""
    out: dict = {"workers": records}
    for record in records:
        out.update({k: record[k] for k in engine_keys if k in record and k not in out})
    starts = [r["first_batch_at"] for r in records if isinstance(r.get("first_batch_at"), (int, float))]
    if starts:
        out["first_batch_at"] = min(starts)
        out["model_seconds"] = round(sum(r.get("model_seconds") or 0 for r in records), 2)
    return out
