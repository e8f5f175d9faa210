"""Any table of item answers (CSV, TSV, .sav, .parquet, .xlsx): columns found by item id or wording."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from bench.instruments import Inventory
from bench.populations.human.model import (HumanDataError, HumanResponses, check_missing_codes, check_values,
                                           demographic_labels, file_path, missing_mask, read_table, respondent_ids,
                                           survey_weights)


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
    where = str(path)
    codes = check_missing_codes(missing, where)
    frame = read_table(path, sep=sep, encoding=encoding, text=True)
    others = [c for c in (respondent_column, weight_column, *(demographic_columns or {}).values()) if c]
    columns, pairing = item_columns(frame, where, columns, match, instrument, others)
    for iid, col in columns.items():
        if col not in frame.columns:
            raise HumanDataError(f"{where}: column {col!r} (item {iid!r}) not found (columns: {list(frame.columns)})")
    if instrument is not None:
        known = {it.id for it in instrument.items}
        unknown = [i for i in columns if i not in known]
        if unknown:
            raise HumanDataError(f"{where}: item id(s) {unknown} are not in instrument {instrument.id!r}")
    if value_map is not None and not isinstance(value_map, Mapping):
        raise HumanDataError(f"{path}: field 'value_map': {value_map!r:.80} must map raw cells to option values "
                             "(or item ids to such mappings)")
    per_item = bool(value_map) and all(isinstance(v, Mapping) for v in value_map.values())
    ids = respondent_ids(frame, respondent_column, where)
    answers = pd.DataFrame(index=ids)
    blanked = 0
    for iid, col in columns.items():
        raw = frame[col]
        if codes:
            hit = missing_mask(raw, codes)
            blanked += int(hit.sum())
            raw = raw.mask(hit)
        vmap = (value_map or {}).get(iid) if per_item else value_map
        if vmap:
            lookup = {str(k).strip(): v for k, v in vmap.items()}
            vals = raw.map(lambda v: lookup.get(str(v).strip(), _Unmapped(v)) if pd.notna(v) else np.nan)
            bad = vals.map(lambda v: isinstance(v, _Unmapped))
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise HumanDataError(f"{where}: column {col!r}: value {raw.iloc[i]!r} (line {i + 2}) is not in "
                                     f"value_map ({sorted(map(str, lookup))})")
            num = pd.to_numeric(vals, errors="coerce")
        else:
            num = pd.to_numeric(raw, errors="coerce")
            bad = raw.notna() & num.isna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise HumanDataError(f"{where}: column {col!r}: value {raw.iloc[i]!r} (line {i + 2}) is not a number "
                                     "(give value_map to translate labels)")
        answers[iid] = num.astype(float).to_numpy()
    if instrument is not None:
        for iid, col in columns.items():
            check_values(answers[[iid]], instrument.scale_of(instrument.item(iid)).values, where, {iid: col},
                          missing_hint=not codes)
    if weight_column is not None and weight_column not in frame.columns:
        raise HumanDataError(f"{where}: weight column {weight_column!r} not found")
    weights = None if weight_column is None else survey_weights(frame, weight_column, where, ids)
    demo = demographic_labels(frame, demographic_columns, where, ids)
    return HumanResponses(source=where, answers=answers, weights=weights, demographics=demo, blanked=blanked,
                          pairing=pairing)


class _Unmapped:
    def __init__(self, v: Any) -> None:
        self.v = v
