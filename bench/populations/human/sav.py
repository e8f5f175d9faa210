"""Pew ATP waves (.sav, downloaded from Pew) mapped onto a survey's questions by its option codes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from bench.instruments import Inventory
from bench.populations.human.model import (HumanDataError, HumanResponses, check_missing_codes, demographic_labels,
                                           file_path, missing_mask, plain_value, respondent_ids, survey_weights)


def _code_maps(survey: Inventory, items: Sequence[str]) -> dict[str, dict[float, int]]:
    """Per question: source code -> option value (Scale.codes, or the values themselves)."""
    out = {}
    for iid in items:
        scale = survey.scale_of(survey.item(iid))
        codes = scale.codes or tuple(float(v) for v in scale.values)
        out[iid] = {float(c): int(v) for c, v in zip(codes, scale.values)}
    return out


WEIGHT_PATTERN = re.compile(r"^WEIGHT_W(\d+)$", re.IGNORECASE)


def _auto_weight_column(columns: Sequence[str], items: Sequence[str]) -> str | None:
    """Pew ATP files weight with WEIGHT_W<wave>; pick the one matching the questions' _W<wave> suffix."""
    cands = [c for c in columns if WEIGHT_PATTERN.match(c)]
    if len(cands) <= 1:
        return cands[0] if cands else None
    waves = {m.group(1) for i in items if (m := re.search(r"_W(\d+)$", i))}
    match = [c for c in cands if WEIGHT_PATTERN.match(c).group(1) in waves]
    return match[0] if len(match) == 1 else None


def load_pew_sav(path: str | Path, survey: Inventory, weight_column: str | None = "auto",
                 demographic_columns: Mapping[str, str] | None = None,
                 respondent_column: str | None = "QKEY", missing: Sequence | None = None) -> HumanResponses:
    """A Pew ATP wave (.sav, downloaded from Pew) mapped onto a survey's questions.

    Each question's column is its item id (e.g. LIFEFIFTY_W92); raw codes map to option values via
    the question's Scale.codes (99 -> the "Refused" option); a code the survey does not list is an
    error. Empty cells (not asked) stay NaN. weight_column "auto" takes the WEIGHT_W<wave> column
    matching the questions' wave (None: equal weights). Demographics use the file's value labels.
    respondent_column falls back to row numbers (1, 2, ...) when the file has no such column.
    `missing` codes are blanked (and counted) before the codes are mapped.
    """
    import pyreadstat

    path = file_path(path, "an SPSS .sav file")
    try:
        frame, meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
    except Exception as exc:
        raise HumanDataError(f"{path}: not a readable SPSS .sav file: {exc}") from None
    where = str(path)
    items = [it.id for it in survey.items]
    missing = [i for i in items if i not in frame.columns]
    if missing:
        raise HumanDataError(f"{where}: question column(s) {missing} not found (survey {survey.id!r})")
    ids = respondent_ids(frame, respondent_column if respondent_column in frame.columns else None, where)
    answers = pd.DataFrame(index=ids)
    codes, blanked = check_missing_codes(missing, where), 0
    for iid, cmap in _code_maps(survey, items).items():
        raw = pd.to_numeric(frame[iid], errors="coerce")
        if codes:
            hit = missing_mask(raw, codes)
            blanked += int(hit.sum())
            raw = raw.mask(hit)
        unknown = raw.notna() & ~raw.isin(list(cmap))
        if unknown.any():
            i = int(np.flatnonzero(unknown.to_numpy())[0])
            raise HumanDataError(f"{where}: column {iid!r}: code {plain_value(raw.iloc[i])} (row {i + 1}, respondent "
                                 f"{ids[i]}) is not one of the survey's codes {sorted(plain_value(c) for c in cmap)}")
        answers[iid] = raw.map(cmap).astype(float).to_numpy()
    wcol = _auto_weight_column(list(frame.columns), items) if weight_column == "auto" else weight_column
    if wcol is not None and wcol not in frame.columns:
        raise HumanDataError(f"{where}: weight column {wcol!r} not found")
    weights = None if wcol is None else survey_weights(frame, wcol, where, ids)
    demo = demographic_labels(frame, demographic_columns, where, ids, meta.variable_value_labels)
    return HumanResponses(source=where, answers=answers, weights=weights, demographics=demo, blanked=blanked)
