"""The run folder: atomic, append-only part files so an interrupted run resumes losing nothing.

Each unit of work (a fixed batch of the plan) is written as one parquet part via a temp file and
os.replace, so a part either exists whole or not at all; a rerun skips the parts that exist.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_parquet(path: Path, df: pd.DataFrame) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def atomic_write_parquet_tables(path: Path, tables: Iterable[pa.Table],
                                conform: Callable[[pa.Table, pa.Schema], pa.Table]) -> int:
    """Stream tables into one parquet file that appears whole or not at all; one table in memory at a
    time. `conform` maps each later table onto the first one's schema (or raises). Returns rows written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    writer, n = None, 0
    try:
        for table in tables:
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            elif not table.schema.equals(writer.schema):
                table = conform(table, writer.schema)
            writer.write_table(table)
            n += table.num_rows
        if writer is None:
            raise ValueError(f"{path}: no tables to write")
        writer.close()
        writer = None
        os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.close()
        Path(tmp).unlink(missing_ok=True)
    return n


class RunStore:
    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        self.parts = self.dir / "parts"
        self.parts.mkdir(parents=True, exist_ok=True)
        for stale in self.parts.glob(".part-*.tmp"):  # a write cut short by a kill: never a part
            stale.unlink(missing_ok=True)

    def part_path(self, unit: int) -> Path:
        return self.parts / f"part-{unit:06d}.parquet"

    def done_units(self) -> set[int]:
        return {int(p.stem.split("-")[1]) for p in self.parts.glob("part-*.parquet")}

    def write_part(self, unit: int, rows: pa.Table | pd.DataFrame) -> None:
        if isinstance(rows, pd.DataFrame):
            rows = pa.Table.from_pandas(rows, preserve_index=False)
        sink = pa.BufferOutputStream()
        pq.write_table(rows, sink)
        atomic_write_bytes(self.part_path(unit), sink.getvalue().to_pybytes())

    def read_parts(self, columns: list[str] | None = None) -> pd.DataFrame:
        files = sorted(self.parts.glob("part-*.parquet"))
        if not files:
            return pd.DataFrame(columns=columns or [])
        return pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)

    def finalize(self, key: tuple[str, ...] = ("participant_id", "item_id")) -> Path:
        """Stream the parts into responses.parquet, refusing duplicates."""
        files = sorted(self.parts.glob("part-*.parquet"))
        if not files:
            raise RuntimeError(f"{self.parts}: no parts to gather")
        seen: set[tuple] = set()

        def checked():
            for f in files:
                table = pq.read_table(f)
                keys = list(zip(*(table.column(k).to_pylist() for k in key)))
                dup = seen.intersection(keys)
                if dup or len(set(keys)) != len(keys):
                    raise RuntimeError(f"{f}: duplicate rows for {sorted(dup)[:3]}")
                seen.update(keys)
                yield table

        out = self.dir / "responses.parquet"
        atomic_write_parquet_tables(out, checked(), lambda table, schema: table.cast(schema))
        return out
