"""The paper tables of run folders (metrics.json `paper_tables`, bench.metrics.paper_tables), read back and
printed: Markdown (summary.md, the terminal), LaTeX (pandas `to_latex`) with "m [lo, hi]" cells, or CSV
(the records themselves, one figure and its interval ends per column, for further analysis).

Several runs are stacked under a `model` column (bench.metrics.paper_tables.stack_runs); two runs of one
model are told apart by their folder names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from bench.metrics.paper_tables import TABLES, stack_runs
from bench.results.layout import METRICS
from bench.results.run_folder import model_label, saved_config
from bench.results.summary import markdown_table, with_ci
from bench.userfiles import read_bounded

FORMATS = ("markdown", "latex", "csv")
MAX_METRICS_BYTES = 64 * 1024 * 1024
INDEX = ("model", "persona_id", "target", "temperature")
TITLES = {
    "trait_scores": "Trait scores per persona x temperature (mean, 95% t interval over conditions)",
    "type_accuracy": "Type accuracy per persona x temperature (exact match, Wilson 95% interval)",
    "dichotomy_accuracy": "Per-dichotomy accuracy per persona x temperature (Wilson 95% interval)",
    "type_distribution": "Types found per persona x temperature (share of participants, Wilson 95% interval)",
}


class TablesError(BenchError):
    """A run folder without paper tables, an unknown table or format."""


def printed_table(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The table as printed: each figure as "m [lo, hi]", the spread column (trait, dichotomy, type) across."""
    value, lo, hi, spread, count = TABLES[name]
    if count not in table.columns:  # a metrics.json written before effective n: its participants
        count = "n"
    index = [c for c in INDEX if c in table.columns]
    cells = table.assign(cell=[with_ci(v, a, b) for v, a, b in zip(table[value], table[lo], table[hi])])
    if count == "n_effective":  # an effective n is rarely whole: three figures say enough
        cells[count] = [f"{float(v):.3g}" for v in cells[count]]
    if "temperature" in cells.columns:
        cells["temperature"] = [f"{float(t):g}" for t in cells["temperature"]]
    if spread is None:
        return cells[[*index, count, "cell"]].rename(columns={"cell": value}).reset_index(drop=True)
    counts = cells.groupby(index, sort=False)[count].max()
    wide = cells.pivot_table(index=index, columns=spread, values="cell", aggfunc="first", sort=False)
    wide = wide[list(dict.fromkeys(cells[spread]))].fillna("-")
    wide.insert(0, count, counts.reindex(wide.index).to_numpy())
    wide.columns.name = None
    return wide.reset_index()


def render(table: pd.DataFrame, name: str, fmt: str) -> str:
    """One table in one format (see the module docstring)."""
    if fmt == "csv":
        return table.to_csv(index=False)
    view = printed_table(table, name)
    if fmt == "latex":
        return view.to_latex(index=False, escape=True, caption=TITLES[name], label=f"tab:{name}")
    return markdown_table(view)


def paper_tables_text(metrics: dict) -> str:
    """The paper tables of one run's metrics, for summary.md."""
    tables = metrics.get("paper_tables") or {}
    out = []
    for name, records in tables.items():
        if records:
            out += ["", f"## {TITLES[name]}", render(pd.DataFrame(records), name, "markdown")]
    return "\n".join(out + [""]) if out else ""


def run_tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    """One run folder's paper tables; a folder that is not a run, or has none, is named with the reason."""
    run_dir = Path(run_dir)
    path = run_dir / METRICS
    if not run_dir.is_dir():
        raise TablesError(f"tables: run folder {run_dir} does not exist" if not run_dir.exists()
                          else f"tables: {run_dir} is not a folder")
    if not path.is_file():
        raise TablesError(f"tables: {run_dir} is not a finished run folder (no metrics.json)")
    try:
        metrics = json.loads(read_bounded(path, MAX_METRICS_BYTES, "metrics file"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TablesError(f"tables: {path}: not valid JSON ({err})") from None
    if not isinstance(metrics, dict) or "paper_tables" not in metrics:
        kind = "a survey run has no paper tables" if isinstance(metrics, dict) and \
            metrics.get("question_distributions") else "written before persona-bench made paper tables; " \
            f"`persona-bench sweep rerun {run_dir}` adds them"
        raise TablesError(f"tables: {path}: no paper_tables ({kind})")
    return {name: pd.DataFrame(records) for name, records in metrics["paper_tables"].items() if records}


def collect_tables(run_dirs: list[str | Path]) -> dict[str, pd.DataFrame]:
    """The tables of one run, or of several stacked under `model` (their folder names added when two runs
    share a model)."""
    runs = [Path(d) for d in run_dirs]
    tables = [run_tables(d) for d in runs]
    if len(runs) == 1:
        return tables[0]
    labels = [model_label(saved_config(d), default=d.name) for d in runs]
    labels = [f"{m} ({d.name})" if labels.count(m) > 1 else m for m, d in zip(labels, runs)]
    if len(set(labels)) < len(labels):
        raise TablesError(f"tables: a run folder is given twice: {', '.join(map(str, runs))}")
    return stack_runs(dict(zip(labels, tables)))


def tables_text(run_dirs: list[str | Path], fmt: str = "markdown", table: str | None = None) -> str:
    """What `persona-bench tables` prints: every table (or `table`) of the runs in `fmt`."""
    if fmt not in FORMATS:
        raise TablesError(f"tables: unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if table is not None and table not in TABLES:
        raise TablesError(f"tables: unknown --table {table!r}; choose one of {', '.join(TABLES)}")
    if not run_dirs:
        raise TablesError("tables: give one or more run folders, e.g. persona-bench tables results/<run>")
    tables = collect_tables(run_dirs)
    if table is not None:
        if table not in tables:
            raise TablesError(f"tables: --table {table!r} is not in {', '.join(map(str, run_dirs))} (it has "
                              f"{', '.join(tables) or 'none'}; type tables need a type inventory such as mbti)")
        tables = {table: tables[table]}
    if fmt == "csv" and len(tables) > 1:
        raise TablesError(f"tables --format csv: one table at a time; add --table with one of {', '.join(tables)}")
    parts = []
    for name, df in tables.items():
        text = render(df, name, fmt)
        if fmt == "markdown":
            text = f"## {TITLES[name]}\n\n{text}\n"
        elif fmt == "latex":
            text = f"% {name}\n{text}"
        parts.append(text)
    return "\n".join(parts)
