"""Any table of item answers (CSV, TSV, .sav, .parquet, .xlsx): columns found by item id or wording."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from bench.instruments import Inventory
from bench.populations.human.model import (HumanDataError, HumanResponses, cell_numbers, check_missing_codes,
                                           check_values, demographic_labels, file_path, missing_mask, read_table,
                                           read_table_chunks, respondent_ids, survey_weights)


MATCHES = ("id", "text")
TEXT_MATCH_CUTOFF = 0.6  # difflib ratio below which a column is not taken as an item's wording


def norm_text(text: str) -> str:
    """Wording compared case- and punctuation-blind: "Am indifferent to..." ~ "am indifferent to"."""
    return " ".join(re.sub(r"[^\w\s]", " ", str(text).lower()).split())


def match_by_text(instrument: Inventory, candidates: Sequence[str]) -> list[tuple[str, str, float]]:
    """(item id, column, similarity) pairs: each item paired one-to-one with the column whose name is most
    like its wording (difflib ratio, best total by linear_sum_assignment), pairs under the cutoff dropped."""
    from scipy.optimize import linear_sum_assignment

    items = list(instrument.items)
    if not items or not candidates:
        return []
    sim = np.array([[difflib.SequenceMatcher(None, norm_text(it.text), norm_text(c)).ratio() for c in candidates]
                    for it in items])
    rows, cols = linear_sum_assignment(sim, maximize=True)
    return [(items[r].id, candidates[c], round(float(sim[r, c]), 3)) for r, c in zip(rows, cols)
            if sim[r, c] >= TEXT_MATCH_CUTOFF]


def item_columns(frame: pd.DataFrame, where: str, columns: Any, match: str, instrument: Inventory | None,
                 others: Sequence[str]) -> tuple[dict[str, str], tuple[tuple[str, str, float], ...]]:
    """Item id -> file column: as given, by the columns named after item ids, or by item wording."""
    if match not in MATCHES:
        raise HumanDataError(f"{where}: field 'match': {match!r} is not one of {', '.join(MATCHES)} (id: columns "
                             "named after item ids; text: columns named by the item's wording)")
    if columns is not None:
        if not isinstance(columns, Mapping) or not columns:
            raise HumanDataError(f"{where}: field 'columns': {columns!r:.80} must map item ids to CSV columns "
                                 "(or leave it out when the columns are the item ids)")
        return {str(k): str(v) for k, v in columns.items()}, ()
    if instrument is None:
        raise HumanDataError(f"{where}: field 'columns': missing; without the population's 'instrument' the item "
                             "columns cannot be found: give instrument: <inventory id or path>, or columns: {item: column}")
    candidates = [c for c in frame.columns if c not in others]
    ids = [it.id for it in instrument.items]
    if match == "text":
        pairs = match_by_text(instrument, candidates)
        if not pairs:
            raise HumanDataError(f"{where}: match: text paired no column with an item of {instrument.id!r} (no column "
                                 f"name is {TEXT_MATCH_CUTOFF:g}-similar to an item's wording; columns: "
                                 f"{', '.join(candidates[:12])}); give columns: {{item id: column}}")
        return {i: c for i, c, _ in pairs}, tuple(pairs)
    found = {i: i for i in ids if i in frame.columns}
    if not found:
        raise HumanDataError(f"{where}: no column is named after an item id of {instrument.id!r} (ids: "
                             f"{', '.join(ids[:8])}{', ...' if len(ids) > 8 else ''}; the file's columns: "
                             f"{', '.join(candidates[:8])}{', ...' if len(candidates) > 8 else ''}); give "
                             "columns: {item id: column}, or match: text to pair columns with items by wording")
    return found, ()


def load_answer_csv(path: str | Path, columns: Mapping[str, str] | None = None, respondent_column: str | None = None,
                    weight_column: str | None = None, demographic_columns: Mapping[str, str] | None = None,
                    value_map: Mapping | None = None, instrument: Inventory | None = None, sep: str | None = None,
                    encoding: str | None = None, match: str = "id", missing: Sequence | None = None) -> HumanResponses:
    """Any table of item answers (CSV, TSV, .sav, .parquet, .xlsx; `sep`/`encoding` for text files).

    columns maps item id -> column; without it the columns named after the instrument's item ids are
    used (`match: id`), or each item is paired with the column whose name is most like its wording
    (`match: text`; every pairing is kept in `pairing` and reported). `missing` lists codes that mean
    no answer (0, 99): those cells become NaN and are counted (`blanked`). value_map turns raw cells
    into option values: one mapping for every column ({"Strongly disagree": 1, ...}) or one per item
    id ({item: {raw: value}}); keys are matched as written in the file. Without it cells must be
    numbers. With an instrument, every value must be one of the item's Scale.values.
    """
    path = file_path(path, "a table of answers")
    reader = TableReader(str(path), columns, respondent_column, weight_column, demographic_columns, value_map,
                         instrument, match, missing)
    return reader.responses(read_table(path, sep=sep, encoding=encoding, text=True))


@dataclass
class TableCheck:
    """What `check_answer_csv` found in a table read in chunks: its size and usable respondents, never its answers."""
    source: str
    n: int
    n_items: int
    blanked: int
    pairing: tuple[tuple[str, str, float], ...]
    answered: int  # respondents with at least one answer
    usable: int  # of those, with a weight above 0 (all of them without weights)

    def usable_counts(self) -> tuple[int, int]:
        """(answered, usable), as `HumanResponses.usable_counts` gives them for a table read whole."""
        return self.answered, self.usable


CHECK_ROWS = 250_000  # rows per chunk when a table is checked in a stream: ~60 MB of text cells for 30 columns


def check_answer_csv(path: str | Path, columns: Mapping[str, str] | None = None, respondent_column: str | None = None,
                     weight_column: str | None = None, demographic_columns: Mapping[str, str] | None = None,
                     value_map: Mapping | None = None, instrument: Inventory | None = None, sep: str | None = None,
                     encoding: str | None = None, match: str = "id", missing: Sequence | None = None,
                     rows: int = CHECK_ROWS, progress: bool = True) -> TableCheck:
    """`load_answer_csv`'s checks, chunk by chunk (the same code and messages), keeping counts only: a
    table of millions of respondents is validated in bounded memory, with a progress line on stderr.
    Respondent ids are compared across chunks by their 64-bit hashes."""
    path = file_path(path, "a table of answers")
    where = str(path)
    reader = TableReader(where, columns, respondent_column, weight_column, demographic_columns, value_map,
                         instrument, match, missing)
    n = blanked = answered = usable = 0
    seen = np.empty(0, dtype=np.uint64)
    for chunk in read_table_chunks(path, rows, sep=sep, encoding=encoding, progress=progress):
        human = reader.responses(chunk)
        n, blanked = n + human.n, blanked + human.blanked
        counts = human.usable_counts()
        answered, usable = answered + counts[0], usable + counts[1]
        if respondent_column is not None:
            hashes = pd.util.hash_array(human.answers.index.to_numpy(dtype=object))
            again = np.isin(hashes, seen)
            if again.any():
                raise HumanDataError(f"{where}: column {respondent_column!r}: respondent id "
                                     f"{human.answers.index[int(np.flatnonzero(again)[0])]!r} is duplicated or missing")
            seen = np.union1d(seen, hashes)
    if reader.columns is None:  # no chunk at all (a header without rows): read whole, as a run would
        human = load_answer_csv(path, columns, respondent_column, weight_column, demographic_columns, value_map,
                                instrument, sep, encoding, match, missing)
        return TableCheck(where, human.n, human.n_items, human.blanked, human.pairing, *human.usable_counts())
    return TableCheck(where, n, len(reader.columns), blanked, reader.pairing, answered, usable)


@dataclass
class TableReader:
    """How a table's cells become answers: its item columns (found on the first frame it reads), the
    missing codes and value maps, the checks. One frame is the whole file, or one chunk of it."""
    where: str
    given: Mapping[str, str] | None
    respondent_column: str | None
    weight_column: str | None
    demographic_columns: Mapping[str, str] | None
    value_map: Mapping | None
    instrument: Inventory | None
    match: str
    missing: Sequence | None
    columns: dict[str, str] | None = None
    pairing: tuple[tuple[str, str, float], ...] = ()

    def __post_init__(self) -> None:
        self.codes = check_missing_codes(self.missing, self.where)  # before the file is read, as always

    def find_columns(self, frame: pd.DataFrame) -> None:
        where, value_map = self.where, self.value_map
        others = [c for c in (self.respondent_column, self.weight_column, *(self.demographic_columns or {}).values()) if c]
        columns, self.pairing = item_columns(frame, where, self.given, self.match, self.instrument, others)
        for iid, col in columns.items():
            if col not in frame.columns:
                raise HumanDataError(f"{where}: column {col!r} (item {iid!r}) not found (columns: {list(frame.columns)})")
        if self.instrument is not None:
            known = {it.id for it in self.instrument.items}
            unknown = [i for i in columns if i not in known]
            if unknown:
                raise HumanDataError(f"{where}: item id(s) {unknown} are not in instrument {self.instrument.id!r}")
        if value_map is not None and not isinstance(value_map, Mapping):
            raise HumanDataError(f"{where}: field 'value_map': {value_map!r:.80} must map raw cells to option values "
                                 "(or item ids to such mappings)")
        self.per_item = bool(value_map) and all(isinstance(v, Mapping) for v in value_map.values())
        self.columns = columns

    def responses(self, frame: pd.DataFrame) -> HumanResponses:
        """The frame's answers, checked; its index is the file's row numbers (0 for the first row)."""
        if self.columns is None:
            self.find_columns(frame)
        where, codes, value_map = self.where, self.codes, self.value_map
        start = int(frame.index[0]) if len(frame) else 0
        ids = respondent_ids(frame, self.respondent_column, where, start)
        answers = pd.DataFrame(index=ids)
        blanked = 0
        for iid, col in self.columns.items():
            raw = frame[col]
            if codes:
                hit = missing_mask(raw, codes)
                blanked += int(hit.sum())
                raw = raw.mask(hit)
            vmap = (value_map or {}).get(iid) if self.per_item else value_map
            if vmap:
                lookup = {str(k).strip(): v for k, v in vmap.items()}
                vals = raw.map(lambda v: lookup.get(str(v).strip(), _Unmapped(v)) if pd.notna(v) else np.nan)
                bad = vals.map(lambda v: isinstance(v, _Unmapped))
                if bad.any():
                    i = int(np.flatnonzero(bad.to_numpy())[0])
                    raise HumanDataError(f"{where}: column {col!r}: value {raw.iloc[i]!r} (line {start + i + 2}) is not "
                                         f"in value_map ({sorted(map(str, lookup))})")
                num = pd.to_numeric(vals, errors="coerce")
            else:
                num = cell_numbers(raw)
                bad = raw.notna() & num.isna()
                if bad.any():
                    i = int(np.flatnonzero(bad.to_numpy())[0])
                    raise HumanDataError(f"{where}: column {col!r}: value {raw.iloc[i]!r} (line {start + i + 2}) is not a "
                                         "number (give value_map to translate labels)")
            answers[iid] = num.astype(float).to_numpy()
        if self.instrument is not None:
            for iid, col in self.columns.items():
                check_values(answers[[iid]], self.instrument.scale_of(self.instrument.item(iid)).values, where, {iid: col},
                              missing_hint=not codes)
        if self.weight_column is not None and self.weight_column not in frame.columns:
            raise HumanDataError(f"{where}: weight column {self.weight_column!r} not found")
        weights = None if self.weight_column is None else survey_weights(frame, self.weight_column, where, ids)
        demo = demographic_labels(frame, self.demographic_columns, where, ids)
        return HumanResponses(source=where, answers=answers, weights=weights, demographics=demo, blanked=blanked,
                              pairing=self.pairing)


class _Unmapped:
    def __init__(self, v: Any) -> None:
        self.v = v
