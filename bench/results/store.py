"""The run folder: atomic, append-only part files so an interrupted run resumes losing nothing.

Each unit of work (a fixed batch of the plan) is written as one parquet part via a temp file and
os.replace, then its record (`part-000003.parquet.json`: rows, bytes, sha256) the same way. A part
counts as done only with a record that matches it, so a part cut short, zeroed or swapped in by hand is
found when a run resumes (`RunStore.recover`), moved aside to parts/quarantine/ (never deleted) and
recomputed. One record per part rather than one manifest: each is written once, by the writer of its
part, so no record is ever rewritten and a damaged one costs one unit, not the run.

A run's parts may carry their distinct prompt texts beside them (`prompts-000003.parquet`, same record
mechanism), written before the part itself: a part with its record always has its prompts. A damaged
prompts file is set aside too; its prompts are rendered again (no model work), and `finalize_prompts`
gathers them, each text once, into prompts.parquet.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.errors import BenchError
from bench.hashing import sha256_file
from bench.results.atomic import (TEMP, atomic_write_bytes, atomic_write_json, atomic_write_parquet_tables,
                                  refuse_links, stale_temps)
from bench.results.layout import PARTS, PROMPTS, RESPONSES, RUN_FILES
from bench.results.schema import PROMPT_SCHEMA, prompt_hash

PART = re.compile(r"part-(\d{6,})\.parquet")
PROMPTS_PART = re.compile(r"prompts-(\d{6,})\.parquet")
RUN_FILE = re.compile("|".join(re.escape(name) for name in RUN_FILES))


class RunStoreError(BenchError, RuntimeError):
    """A run folder whose parts cannot be gathered as they are (duplicates, a schema that does not fit)."""


class PartQuarantined(UserWarning):
    """A part that failed its check on resume was moved to parts/quarantine/ and will be recomputed."""


class RunStore:
    """A run folder's parts: one parquet file per unit, each vouched for by a record written after it, so a
    resumed run keeps the whole ones and redoes the rest."""

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        self.parts = self.dir / PARTS
        self.quarantine = self.parts / "quarantine"
        if self.dir.is_dir():
            refuse_links(self.dir)  # a linked parts/ would have the user's files quarantined, and ours written there
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise RunStoreError(f"{self.parts}: exists and is not a folder; a run folder keeps its parts there "
                                "(move that file away, or choose another run_name)") from None

    def part_path(self, unit: int) -> Path:
        """Where a unit's response rows go."""
        return self.parts / f"part-{unit:06d}.parquet"

    @staticmethod
    def record_path(part: Path) -> Path:
        """The record beside a part (unit, rows, bytes, sha256): written after it, so a part without one was cut
        off."""
        return part.with_name(part.name + ".json")

    def part_files(self) -> list[Path]:
        """Our parts, by unit: files named exactly part-NNNNNN.parquet (anything else is not ours)."""
        return sorted((p for p in self.parts.iterdir() if PART.fullmatch(p.name) and p.is_file()),
                      key=lambda p: int(PART.fullmatch(p.name)[1]))

    def done_units(self) -> set[int]:
        """Units whose part has its record beside it (`recover` checks that the two match)."""
        return {int(PART.fullmatch(p.name)[1]) for p in self.part_files() if self.record_path(p).is_file()}

    def prompts_path(self, unit: int) -> Path:
        """Where a unit's distinct prompt texts go, beside its part."""
        return self.parts / f"prompts-{unit:06d}.parquet"

    def write_part(self, unit: int, rows: pa.Table | pd.DataFrame, prompts: pa.Table | None = None) -> None:
        """The unit's prompt texts (if given), then the part, then its record: a part without a record is one a
        kill cut off before it was vouched for, and a part with one has its prompts."""
        if prompts is not None:
            self.write_vouched(self.prompts_path(unit), unit, prompts)
        self.write_vouched(self.part_path(unit), unit, rows)

    def write_vouched(self, path: Path, unit: int, rows: pa.Table | pd.DataFrame) -> None:
        """A parquet file, then its record (rows, bytes, sha256)."""
        if isinstance(rows, pd.DataFrame):
            rows = pa.Table.from_pandas(rows, preserve_index=False)
        sink = pa.BufferOutputStream()
        pq.write_table(rows, sink)
        data = sink.getvalue().to_pybytes()
        atomic_write_bytes(path, data)
        atomic_write_json(self.record_path(path), {"unit": unit, "rows": rows.num_rows, "bytes": len(data),
                                                   "sha256": hashlib.sha256(data).hexdigest()})

    def check_part(self, part: Path, key: tuple[str, ...], expected: set[tuple] | None,
                   schema: pa.Schema | None = None) -> str | None:
        """Why a part cannot be trusted, or None: its record, checksum, footer, keys (and, when the run says,
        its columns and the keys its unit of the plan should hold)."""
        record = self.record_path(part)
        if not record.is_file():
            return "it has no record (killed before its record was written, or not written by persona-bench)"
        try:
            rec = json.loads(record.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            return f"its record {record.name} is not valid JSON ({err})"
        if not isinstance(rec, dict) or not isinstance(rec.get("rows"), int) or not isinstance(rec.get("sha256"), str):
            return f"its record {record.name} lacks rows and sha256"
        size = part.stat().st_size
        if rec.get("bytes") not in (None, size):
            return f"it has {size} bytes, its record says {rec['bytes']}"
        digest = sha256_file(part)
        if digest != rec["sha256"]:
            return f"its sha256 {digest[:12]}… differs from its record's {str(rec['sha256'])[:12]}…"
        try:
            meta = pq.ParquetFile(part).metadata
            if meta.num_rows != rec["rows"]:
                return f"it holds {meta.num_rows} rows, its record says {rec['rows']}"
            if schema is not None and not meta.schema.to_arrow_schema().equals(schema, check_metadata=False):
                return "its columns are not those this run writes there"
            table = pq.read_table(part, columns=list(key))
        except (pa.ArrowException, OSError, KeyError) as err:
            return f"it does not read as parquet with columns {', '.join(key)} ({' '.join(str(err).split())[:200]})"
        keys = list(zip(*(table.column(k).to_pylist() for k in key)))
        if len(set(keys)) != len(keys):
            return "it repeats a key"
        if expected is not None and set(keys) != expected:
            return "its rows are not the ones its unit of this run's plan holds"
        return None

    def recover(self, expected: dict[int, set[tuple]] | None = None, schema: pa.Schema | None = None,
                key: tuple[str, ...] = ("participant_id", "item_id"), units: set[int] | None = None) -> list[Path]:
        """Make a resumed folder safe to continue: remove our stale temp files, check every part and move a
        bad one (with its record) to parts/quarantine/, named in a warning. `expected` maps each unit of
        the plan to its keys and `schema` gives the parts' columns; a part of a unit outside the plan, with
        other keys or other columns, is quarantined too. `units`: only these units' parts and temp files (a
        worker of a split run leaves the others' alone, as their workers may be writing them).
        Call with the run folder's lock held (a worker: its own). Returns the quarantined paths."""
        ours = re.compile(f"({PART.pattern}|{PROMPTS_PART.pattern})" + r"(\.json)?")
        stale = stale_temps(self.parts, ours) + (stale_temps(self.dir, RUN_FILE) if units is None else [])
        for path in stale:
            if units is None or self.unit_of(TEMP.fullmatch(path.name)["target"]) in units:
                path.unlink(missing_ok=True)
        moved, reasons = [], []
        for part in self.part_files():
            unit = int(PART.fullmatch(part.name)[1])
            if units is not None and unit not in units:
                continue
            want = None if expected is None else expected.get(unit, set())
            reason = self.check_part(part, key, want, schema)
            if reason is None:
                continue
            moved.append(self.set_aside(part))
            record = self.record_path(part)
            if record.is_file():
                self.set_aside(record)
            reasons.append(f"{part.name} ({reason})")
        if moved:
            warnings.warn(f"{self.parts}: {len(moved)} part(s) failed their check and were moved to "
                          f"{self.quarantine} to be recomputed: {'; '.join(reasons)}", PartQuarantined, stacklevel=2)
        return moved

    @staticmethod
    def unit_of(name: str) -> int:
        """The unit a part, prompts file or record of one belongs to, from its name."""
        return int(re.match(r"(?:part|prompts)-(\d+)", name)[1])

    def prompts_problem(self, unit: int) -> str | None:
        """Why a done unit's prompts file cannot be trusted (or None): its record, checksum, columns, a text
        whose hash is not its key, or a prompt of the unit's part it lacks."""
        path = self.prompts_path(unit)
        reason = self.check_part(path, ("prompt_hash",), None, PROMPT_SCHEMA)
        if reason is not None:
            return reason
        table = pq.read_table(path)
        bad = [h for h, t in zip(table.column("prompt_hash").to_pylist(), table.column("text").to_pylist())
               if prompt_hash(t) != h]
        if bad:
            return f"the text of prompt {bad[0]} does not hash to it"
        lacking = set(pq.read_table(self.part_path(unit), columns=["prompt_hash"]).column(0).to_pylist()) - \
            set(table.column("prompt_hash").to_pylist())
        if lacking:
            return f"it lacks {len(lacking)} prompt(s) of {self.part_path(unit).name}, e.g. {sorted(lacking)[0]}"
        return None

    def check_prompts(self) -> list[int]:
        """Done units without trustworthy prompt texts: a damaged prompts file is moved to parts/quarantine/
        (named in a warning), a missing one (parts written before prompt texts were kept) is only listed.
        The caller renders these units' prompts again and writes them with `write_vouched`."""
        missing, reasons = [], []
        for unit in sorted(self.done_units()):
            path = self.prompts_path(unit)
            if not path.exists() and not self.record_path(path).exists():
                missing.append(unit)
                continue
            reason = self.prompts_problem(unit) if path.is_file() else "it is missing beside its record"
            if reason is None:
                continue
            for f in (path, self.record_path(path)):
                if f.is_file():
                    self.set_aside(f)
            reasons.append(f"{path.name} ({reason})")
            missing.append(unit)
        if reasons:
            warnings.warn(f"{self.parts}: {len(reasons)} prompts file(s) failed their check and were moved to "
                          f"{self.quarantine}; their prompts are rendered again: {'; '.join(reasons)}",
                          PartQuarantined, stacklevel=2)
        return missing

    def set_aside(self, path: Path) -> Path:
        """Move a file into parts/quarantine/ under a name not yet taken there: nothing is overwritten."""
        self.quarantine.mkdir(exist_ok=True)
        target, n = self.quarantine / path.name, 0
        while target.exists():
            n += 1
            target = self.quarantine / f"{path.name}.{n}"
        os.replace(path, target)
        return target

    def read_parts(self, columns: list[str] | None = None) -> pd.DataFrame:
        """Every part's rows in unit order (these columns, or all), before the parts are finalized into
        responses.parquet."""
        files = self.part_files()
        if not files:
            return pd.DataFrame(columns=columns or [])
        return pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)

    def finalize(self, key: tuple[str, ...] = ("participant_id", "item_id")) -> Path:
        """Stream the parts into responses.parquet, refusing duplicates and parts whose columns do not fit."""
        files = self.part_files()
        if not files:
            raise RunStoreError(f"{self.parts}: no parts to gather")
        seen: set[tuple] = set()
        first: list[pa.Schema] = []

        def checked():
            for f in files:
                table = pq.read_table(f)
                keys = list(zip(*(table.column(k).to_pylist() for k in key)))
                dup = seen.intersection(keys)
                if dup or len(set(keys)) != len(keys):
                    raise RunStoreError(f"{f}: duplicate rows for {sorted(dup)[:3]}")
                seen.update(keys)
                if not first:
                    first.append(table.schema)
                elif not table.schema.equals(first[0]):
                    try:
                        table = table.cast(first[0])
                    except (pa.ArrowException, ValueError) as err:
                        raise RunStoreError(f"{f}: its columns do not match {files[0].name}'s "
                                            f"({' '.join(str(err).split())[:200]}); move it out of parts/ and "
                                            "run again to recompute it") from None
                yield table

        out = self.dir / RESPONSES
        atomic_write_parquet_tables(out, checked(), lambda table, schema: table.cast(schema))
        return out

    def finalize_prompts(self) -> Path:
        """Stream the done units' prompt texts into prompts.parquet, each text once; every prompt_hash of
        responses.parquet must be there (a missing one is a bug: the prompts are written before their part)."""
        files = [self.prompts_path(int(PART.fullmatch(p.name)[1])) for p in self.part_files()]
        try:
            known = {h for f in files for h in pq.read_table(f, columns=["prompt_hash"]).column(0).to_pylist()}
        except (pa.ArrowException, OSError, KeyError) as err:
            raise RunStoreError(f"{self.parts}: cannot read a prompts file ({' '.join(str(err).split())[:200]}); "
                                "run the same command again to render its prompts again") from None
        used = set(pq.read_table(self.dir / RESPONSES, columns=["prompt_hash"]).column(0).to_pylist())
        if used - known:
            raise RunStoreError(f"{self.parts}: {len(used - known)} prompt(s) of responses.parquet have no text, "
                                f"e.g. {sorted(used - known)[0]}")
        seen: set[str] = set()

        def distinct():
            for f in files:
                table = pq.read_table(f, schema=PROMPT_SCHEMA)
                keep = [h not in seen for h in table.column("prompt_hash").to_pylist()]
                seen.update(table.column("prompt_hash").to_pylist())
                yield table.filter(pa.array(keep, pa.bool_()))

        out = self.dir / PROMPTS
        atomic_write_parquet_tables(out, distinct(), lambda table, schema: table.cast(schema))
        return out
