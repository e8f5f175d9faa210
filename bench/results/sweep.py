"""A sweep's run folders as one thing: which are finished, re-run one alone, merge them into one table.

A Hydra multirun (local or Slurm) writes one run folder per job under `results_dir`, named by the
job's config hash, so jobs never share a folder and a re-submitted sweep resumes each job where it
stopped. Responses are merged by streaming run folder by run folder into one parquet file, with the
run's folder name (`run`) and its unique id (`run_id`: folder name plus config hash) on every row;
scores and flattened metrics are small and merged in memory. Two run folders with the same id (the
same run copied twice) are refused, naming both, so no (run_id, participant, item) key is doubled.

merge writes only into a folder it may own: not an input run folder, not inside one, holding no run
folders, and never over a file it did not write (its manifest `.persona-bench-merge.json` lists the
four files it wrote; other files in the folder are left alone).

    persona-bench sweep status results/                 # finished and unfinished run folders
    persona-bench sweep rerun results/<run>             # one job again, alone, from its config.yaml
    persona-bench sweep merge results/merged results/   # responses/scores/metrics .parquet + metrics.csv
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.errors import BenchError
from bench.mappings import flatten
from bench.results.atomic import atomic_write_parquet, atomic_write_parquet_tables
from bench.results.layout import CONFIG, FINISHED, METRICS, RESPONSES, SCORES
from bench.results.outdir import OwnedFolder
from bench.results.provenance import config_hash
from bench.results.run_folder import NotARunConfig, saved_config
from bench.userfiles import UserFileError, read_bounded

# Long texts of the config (prompt templates, persona descriptions) stay in each run's config.yaml.
CONFIG_TEXT_KEYS = ("config.prompt.", "config.persona.personas", "config.persona.description", "config.tv_check.")
MERGE_FILES = ("responses.parquet", "scores.parquet", "metrics.parquet", "metrics.csv")
MERGE_MANIFEST = ".persona-bench-merge.json"
MAX_JSON_BYTES = 64 * 1024 * 1024


class SweepError(BenchError):
    """A sweep folder that cannot be read (not a folder, a config that is no run config): named with why."""


def run_folders(paths: list[Path | str]) -> list[Path]:
    """Run folders named directly or found one level below the given folders (sorted, no duplicates)."""
    found: set[Path] = set()
    for p in map(Path, paths):
        if (p / CONFIG).is_file():
            found.add(p.resolve())
        elif p.is_dir():
            found.update(c.resolve() for c in p.iterdir() if (c / CONFIG).is_file())
        else:
            raise SweepError(f"{p}: not a folder")
    return sorted(found)


def is_finished(run_dir: Path) -> bool:
    """Whether a run folder holds every file a finished run writes."""
    return all((run_dir / f).is_file() for f in FINISHED)


def _numeric(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def read_config(run_dir: Path) -> dict:
    """A run folder's config.yaml (`saved_config`); SweepError naming the file otherwise."""
    try:
        return saved_config(run_dir)
    except (UserFileError, NotARunConfig) as err:
        raise SweepError(str(err)) from None


def run_id(run_dir: Path) -> str:
    """A run's unique id: its folder name and the first 10 hex digits of its config hash (once, when the
    folder name already ends with them, as run folders do)."""
    short = config_hash(read_config(run_dir))[:10]
    return run_dir.name if run_dir.name.endswith(short) else f"{run_dir.name}-{short}"


def unique_ids(runs: list[Path]) -> dict[Path, str]:
    """run_id of each run; SweepError naming both folders when two runs have the same id."""
    ids: dict[str, Path] = {}
    for r in runs:
        rid = run_id(r)
        if rid in ids:
            raise SweepError(f"run id {rid} twice: {ids[rid]} and {r} are the same run (same folder name and "
                             "config); merging both would duplicate every (run, participant, item) row: "
                             "leave one out")
        ids[rid] = r
    return {r: rid for rid, r in ids.items()}


def metrics_row(run_dir: Path, rid: str | None = None) -> dict:
    """One row: the run's name and id, its config (flattened) and every numeric scalar of metrics.json."""
    cfg = {k: v for k, v in flatten(read_config(run_dir), "config.", lists="json").items()
           if not k.startswith(CONFIG_TEXT_KEYS)}
    path = run_dir / METRICS
    try:
        raw = json.loads(read_bounded(path, MAX_JSON_BYTES, "metrics file").decode("utf-8"))
    except UserFileError as err:
        raise SweepError(str(err)) from None
    except (ValueError, RecursionError) as err:
        raise SweepError(f"{path}: not valid JSON ({type(err).__name__}: {str(err)[:200]})") from None
    if not isinstance(raw, dict):
        raise SweepError(f"{path}: expected a JSON object, got {type(raw).__name__}")
    metrics = flatten(raw, lists="json")
    nums = {k: (math.nan if v is None else float(v)) for k, v in metrics.items() if _numeric(v)}
    return {"run": run_dir.name, "run_id": rid or run_id(run_dir), **cfg, **nums}


def _stream_responses(runs: dict[Path, str], out: Path) -> int:
    """Append each run's responses.parquet (row group by row group) to one file with `run` and `run_id`."""
    current: list[Path] = []

    def tables():
        for run_dir, rid in runs.items():
            current[:] = [run_dir]
            src = pq.ParquetFile(run_dir / RESPONSES)
            for g in range(src.num_row_groups):
                table = src.read_row_group(g)
                table = table.append_column("run", pa.array([run_dir.name] * table.num_rows, pa.string()))
                yield table.append_column("run_id", pa.array([rid] * table.num_rows, pa.string()))

    def refuse(table: pa.Table, schema: pa.Schema) -> pa.Table:
        raise SweepError(f"{current[0] / 'responses.parquet'}: columns differ from the first run's "
                         f"({sorted(set(table.schema.names) ^ set(schema.names))})")

    return atomic_write_parquet_tables(out, tables(), refuse)


def merge_folder(out_dir: Path | str, runs: list[Path]) -> OwnedFolder:
    """merge's output folder (see the module docstring for what is refused)."""
    return OwnedFolder(out_dir, "persona-bench sweep merge", MERGE_MANIFEST, inputs=runs, exclusive=False)


def merge(paths: list[Path | str], out_dir: Path | str) -> dict:
    """Merge finished run folders into out_dir; unfinished ones are left out and listed. out_dir and the
    run ids are checked before anything is written."""
    runs = run_folders(paths)
    finished = [r for r in runs if is_finished(r)]
    unfinished = [r for r in runs if not is_finished(r)]
    if not finished:
        raise SweepError(f"no finished run folders in {', '.join(map(str, paths))}")
    folder = merge_folder(out_dir, runs)
    folder.check(MERGE_FILES)
    ids = unique_ids(finished)
    rows = [metrics_row(r, ids[r]) for r in finished]
    folder.claim(MERGE_FILES)
    n_rows = _stream_responses(ids, folder.path("responses.parquet"))
    folder.record("responses.parquet")
    scores = pd.concat([pd.read_parquet(r / SCORES).assign(run=r.name, run_id=ids[r]) for r in finished],
                       ignore_index=True)
    atomic_write_parquet(folder.path("scores.parquet"), scores)
    folder.record("scores.parquet")
    metrics = pd.DataFrame(rows)
    atomic_write_parquet(folder.path("metrics.parquet"), metrics.astype({c: str for c in metrics.columns
                                                                          if metrics[c].dtype == object}))
    folder.record("metrics.parquet")
    folder.write_text("metrics.csv", metrics.to_csv(index=False))
    folder.finish()
    return {"runs": [r.name for r in finished], "run_ids": [ids[r] for r in finished],
            "unfinished": [r.name for r in unfinished], "responses": n_rows, "scores": len(scores)}
