"""A sweep's run folders as one thing: which are finished, re-run one alone, merge them into one table.

A Hydra multirun (local or Slurm) writes one run folder per job under `results_dir`, named by the
job's config hash, so jobs never share a folder and a re-submitted sweep resumes each job where it
stopped. Responses are merged by streaming run folder by run folder into one parquet file, with the
run's name on every row; scores and flattened metrics are small and merged in memory.

    python -m bench.sweep status results/                 # finished and unfinished run folders
    python -m bench.sweep rerun results/<run>             # one job again, alone, from its config.yaml
    python -m bench.sweep merge results/merged results/   # responses/scores/metrics .parquet + metrics.csv
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from bench.store import atomic_write_parquet, atomic_write_parquet_tables, atomic_write_text

# Long texts of the config (prompt templates, persona descriptions) stay in each run's config.yaml.
CONFIG_TEXT_KEYS = ("config.prompt.", "config.persona.personas", "config.persona.description", "config.tv_check.")
RUN_FILES = ("config.yaml", "responses.parquet", "scores.parquet", "metrics.json", "summary.md")


class SweepError(ValueError):
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


def rerun(run_dir: Path | str, progress: bool = False) -> Path:
    """Run one job again from its saved config: same hash, same folder, so only missing parts are computed."""
    from bench.run import run

    run_dir = Path(run_dir).resolve()
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        raise SweepError(f"{run_dir}: no config.yaml, not a run folder")
    cfg = yaml.safe_load(saved.read_text())
    cfg.update(results_dir=str(run_dir.parent), run_name=run_dir.name, progress=progress)
    return run(cfg, print_summary=False)


def _flat(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        elif isinstance(v, list):
            out[f"{prefix}{k}"] = json.dumps(v)
        else:
            out[f"{prefix}{k}"] = v
    return out


def _numeric(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def metrics_row(run_dir: Path) -> dict:
    """One row: the run's name, its config (flattened) and every numeric scalar of metrics.json."""
    cfg = {k: v for k, v in _flat(yaml.safe_load((run_dir / "config.yaml").read_text()) or {}, "config.").items()
           if not k.startswith(CONFIG_TEXT_KEYS)}
    metrics = _flat(json.loads((run_dir / "metrics.json").read_text()))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("status", help="list finished and unfinished run folders")
    p.add_argument("paths", nargs="+")
    p = sub.add_parser("rerun", help="run one run folder again from its config.yaml")
    p.add_argument("run_dir")
    p = sub.add_parser("merge", help="merge finished run folders into one folder of tables")
    p.add_argument("out_dir")
    p.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            runs = run_folders(args.paths)
            for r in runs:
                print(f"{'finished  ' if is_finished(r) else 'UNFINISHED'}  {r}")
            return 0 if all(map(is_finished, runs)) else 1
        if args.command == "rerun":
            print(rerun(args.run_dir, progress=True))
            return 0
        report = merge(args.paths, args.out_dir)
        print(f"merged {len(report['runs'])} runs: {report['responses']} responses, {report['scores']} score rows "
              f"-> {args.out_dir}")
        if report["unfinished"]:
            print(f"left out (unfinished): {', '.join(report['unfinished'])}", file=sys.stderr)
        return 0
    except SweepError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
