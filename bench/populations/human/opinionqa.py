"""OpinionQA wave folders: info.csv (options, ordinal values) and `{ATTR}_data.json` group counts."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from bench.populations.human.model import GroupCounts, HumanDataError, read_table

META_FIELDS = ("MC_options", "question_text")


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
