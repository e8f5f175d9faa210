"""A sweep's run folders as one thing: which are finished, re-run one alone, merge them into one table.

A Hydra multirun (local or Slurm) writes one run folder per job under `results_dir`, named by the
job's config hash, so jobs never share a folder and a re-submitted sweep resumes each job where it
stopped. Responses are merged by streaming run folder by run folder into one parquet file, with the
run's name on every row; scores and flattened metrics are small and merged in memory.

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
import yaml

from bench.errors import BenchError
from bench.mappings import flatten
from bench.results.store import (
    atomic_write_parquet,
    atomic_write_parquet_tables,
    atomic_write_text,
)

# Long texts of the config (prompt templates, persona descriptions) stay in each run's config.yaml.
CONFIG_TEXT_KEYS = ("config.prompt.", "config.persona.personas", "config.persona.description", "config.tv_check.")
RUN_FILES = ("config.yaml", "responses.parquet", "scores.parquet", "metrics.json", "summary.md")


class SweepError(BenchError):
    pass


def run_folders(paths: list[Path | str]) -> list[Path]:
    """Run folders named directly or found one level below the given folders (sorted, no duplicates)."""
    found: set[Path] = set()
    for p in map(Path, paths):
        if (p / "config.yaml").is_file():
            found.add(p.resolve())
        elif p.is_dir():
            found.update(c.resolve() for c in p.iterdir() if (c / "config.yaml").is_file())
        else:
            raise SweepError(f"{p}: not a folder")
    return sorted(found)


def is_finished(run_dir: Path) -> bool:
    return all((run_dir / f).is_file() for f in RUN_FILES)


def _numeric(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def metrics_row(run_dir: Path) -> dict:
    """One row: the run's name, its config (flattened) and every numeric scalar of metrics.json."""
    cfg = {k: v for k, v in flatten(yaml.safe_load((run_dir / "config.yaml").read_text()) or {}, "config.", lists="json").items()
           if not k.startswith(CONFIG_TEXT_KEYS)}
    metrics = flatten(json.loads((run_dir / "metrics.json").read_text()), lists="json")
    nums = {k: (math.nan if v is None else float(v)) for k, v in metrics.items() if _numeric(v)}
    return {"run": run_dir.name, **cfg, **nums}


def _stream_responses(runs: list[Path], out: Path) -> int:
    """Append each run's responses.parquet (row group by row group) to one file with a `run` column."""
    current: list[Path] = []

    def tables():
        for run_dir in runs:
            current[:] = [run_dir]
            src = pq.ParquetFile(run_dir / "responses.parquet")
            for g in range(src.num_row_groups):
                table = src.read_row_group(g)
                yield table.append_column("run", pa.array([run_dir.name] * table.num_rows, pa.string()))

    def refuse(table: pa.Table, schema: pa.Schema) -> pa.Table:
        raise SweepError(f"{current[0] / 'responses.parquet'}: columns differ from the first run's "
                         f"({sorted(set(table.schema.names) ^ set(schema.names))})")

    return atomic_write_parquet_tables(out, tables(), refuse)


def merge(paths: list[Path | str], out_dir: Path | str) -> dict:
    """Merge finished run folders into out_dir; unfinished ones are left out and listed."""
    runs = run_folders(paths)
    finished = [r for r in runs if is_finished(r)]
    unfinished = [r for r in runs if not is_finished(r)]
    if not finished:
        raise SweepError(f"no finished run folders in {', '.join(map(str, paths))}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_rows = _stream_responses(finished, out / "responses.parquet")
    scores = pd.concat([pd.read_parquet(r / "scores.parquet").assign(run=r.name) for r in finished],
                       ignore_index=True)
    atomic_write_parquet(out / "scores.parquet", scores)
    metrics = pd.DataFrame([metrics_row(r) for r in finished])
    atomic_write_parquet(out / "metrics.parquet", metrics.astype({c: str for c in metrics.columns
                                                                   if metrics[c].dtype == object}))
    atomic_write_text(out / "metrics.csv", metrics.to_csv(index=False))
    return {"runs": [r.name for r in finished], "unfinished": [r.name for r in unfinished],
            "responses": n_rows, "scores": len(scores)}
