"""Reading what users and run folders hand us: YAML, JSON lines and tables, bounded and named.

Every YAML file that comes from a user or a run folder goes through `load_yaml`: a size cap (a 50 MB
file must not parse for minutes) and an alias cap (a 1 KB file of nested aliases expands to billions of
nodes) refuse it at once, and every failure names the file. `read_jsonl` names the file and line of a
bad line. Shipped files are small and alias-free, so they pass the same checks.
"""

from __future__ import annotations

import codecs
import csv
import importlib.util
import io
import json
import sys
from pathlib import Path
from typing import Any, Iterator

import yaml

from bench.errors import BenchError

MAX_YAML_BYTES = 8 * 1024 * 1024  # the largest shipped instrument is ~40 KB; a config a few KB
MAX_YAML_NODES = 1_000_000  # values after aliases are expanded; a 40 KB instrument has ~5,000
MAX_YAML_DEPTH = 64  # nested lists/mappings; shipped files nest 4 deep; 100,000 `[` crash the C composer
MAX_JSONL_BYTES = 1024 ** 3  # a corpus of JSON lines may be large; a file over 1 GiB is not a corpus
MAX_TABLE_BYTES = 1024 ** 3  # a table of human answers or a person's writing; over 1 GiB is not one
SEPARATORS = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}  # names usable on a command line
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MERGE_TAG = "tag:yaml.org,2002:merge"


class UserFileError(BenchError):
    """A file that is missing, too large, not valid YAML/JSON, or a YAML alias bomb."""


class DuplicateKey(yaml.YAMLError):
    """One key twice in one mapping: YAML keeps the last silently, so a person's first value would vanish."""

    def __init__(self, key: Any, first: int, second: int):
        where = f"line {first}" if first == second else f"lines {first} and {second}"
        super().__init__(f"key {key!r} appears twice in one mapping ({where})")
        self.key, self.first, self.second = key, first, second


class UniqueKeyLoader(LOADER):
    """The safe loader, refusing a key given twice in one mapping (keys a `<<` merge brings in may be
    overridden, as YAML means them to be)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                try:
                    if key in seen:
                        raise DuplicateKey(key, seen[key], line)
                except TypeError:  # an unhashable key: the base constructor names it
                    continue
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_bounded(path: Path | str, limit: int = MAX_YAML_BYTES, what: str = "file") -> bytes:
    """The file's bytes, refusing a missing file, a folder, or one over `limit` before reading it."""
    p = Path(path)
    check_file(p, limit, what)
    return p.read_bytes()


def check_file(p: Path, limit: int, what: str) -> None:
    """Refuse a missing file, a folder, or a file over `limit` bytes, by name."""
    if not p.exists():
        raise UserFileError(f"{p}: {what} not found")
    if not p.is_file():
        raise UserFileError(f"{p}: not a file")
    size = p.stat().st_size
    if size > limit:
        raise UserFileError(f"{p}: {size:,} bytes, over the {limit:,}-byte limit for a {what}")


def expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many values the node stands for once every alias is expanded (shared nodes counted once per
    use, computed once each), so a bomb is measured without being built."""
    key = id(node)
    if key not in memo:
        memo[key] = 0  # an alias back into its own anchor counts as nothing more
        if isinstance(node, yaml.SequenceNode):
            memo[key] = 1 + sum(expanded_size(child, memo) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            memo[key] = 1 + sum(expanded_size(k, memo) + expanded_size(v, memo) for k, v in node.value)
        else:
            memo[key] = 1
    return memo[key]


def parse_yaml(text: bytes | str, label: str, max_nodes: int = MAX_YAML_NODES) -> Any:
    """Safe YAML, refused before any value is built when it nests too deep (one pass over its events) or
    its size after alias expansion (measured on the node graph) is over `max_nodes`."""
    try:
        depth = aliases = 0
        for event in yaml.parse(text, Loader=LOADER):  # events come one by one: nothing is built yet
            if isinstance(event, yaml.AliasEvent):
                aliases += 1
            elif isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise UserFileError(f"{label}: lists and mappings nested over {MAX_YAML_DEPTH} deep "
                                        f"(at line {event.start_mark.line + 1}); refused before it is built")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        loader = UniqueKeyLoader(text)
        try:
            root = loader.get_single_node()
            size = expanded_size(root, {}) if root is not None else 0
            check_size(size, aliases, max_nodes, label)
            return None if root is None else loader.construct_document(root)  # the nodes measured, not a reparse
        finally:
            loader.dispose()
    except DuplicateKey as err:
        raise UserFileError(f"{label}: {err}; YAML would keep only the last value: give the key once") from None
    except yaml.YAMLError as err:
        raise UserFileError(f"{label}: not valid YAML: {yaml_problem(err)}") from None


def check_size(size: int, aliases: int, max_nodes: int, label: str) -> None:
    """Refuse a document of more than `max_nodes` values: an alias bomb, or simply too many values."""
    if size > max_nodes and not aliases:
        raise UserFileError(f"{label}: {size:,} values, over the limit of {max_nodes:,} for one file")
    if size > max_nodes:
        raise UserFileError(f"{label}: its aliases (*name) expand to {size:,} values, over the limit of "
                            f"{max_nodes:,}; refused as an alias bomb: write the values out")


def yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error on one line: the problem and where it is (line and column, counted from 1)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None)
    if not problem or mark is None:
        return " ".join(str(err).split())
    context = getattr(err, "context", None)
    return f"{problem}{f' ({context})' if context else ''} at line {mark.line + 1}, column {mark.column + 1}"


def load_yaml(path: Path | str, limit: int = MAX_YAML_BYTES, what: str = "YAML file") -> Any:
    """A YAML file from a user or a run folder, bounded in size and aliases; errors name the file."""
    return parse_yaml(read_bounded(path, limit, what), str(path))


def read_jsonl(path: Path | str, limit: int = MAX_JSONL_BYTES) -> list[dict]:
    """One JSON object per line; a bad line (torn, not UTF-8, nested too deep) is named by file and line
    number. Blank lines are skipped; a UTF-8 byte-order mark at the start is allowed."""
    return [row for _, row in numbered_jsonl(path, limit)]


def numbered_jsonl(path: Path | str, limit: int = MAX_JSONL_BYTES) -> list[tuple[int, dict]]:
    """`read_jsonl`'s objects with the line number of each, for checks that name the line of a bad value."""
    p = Path(path)
    data = read_bounded(p, limit, "JSON lines file").removeprefix(codecs.BOM_UTF8)
    rows = []
    for n, raw in enumerate(data.split(b"\n"), 1):  # not splitlines(): U+2028 may sit inside a JSON string
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise UserFileError(f"{p}: line {n}: not UTF-8 text (byte {err.start + 1} of the line)") from None
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserFileError(f"{p}: line {n}: not valid JSON ({err.msg}); a torn last line means the "
                                "writer was killed mid-line") from None
        except RecursionError:
            raise UserFileError(f"{p}: line {n}: JSON nested too deep to read") from None
        if not isinstance(row, dict):
            raise UserFileError(f"{p}: line {n}: expected a JSON object, got {type(row).__name__}")
        rows.append((n, row))
    return rows


# -- tables --------------------------------------------------------------------------------------

TEXT_TABLE_SUFFIXES = (".csv", ".tsv", ".tab")  # what a corpus file may be besides .jsonl; any name reads as text here
BINARY_TABLE_SUFFIXES = {".sav": "pyreadstat", ".parquet": "pyarrow", ".xlsx": "openpyxl"}
TABLE_SUFFIXES = TEXT_TABLE_SUFFIXES + tuple(BINARY_TABLE_SUFFIXES)


def separator(sep: str | None, label: str) -> str | None:
    """`sep` as pandas takes it: a name (tab, comma, semicolon, pipe, space), `\\t`, or one character."""
    if sep is None:
        return None
    if not isinstance(sep, str) or not sep:
        raise UserFileError(f"{label}: field 'sep': {sep!r} must be one character or one of {', '.join(SEPARATORS)}")
    sep = SEPARATORS.get(sep.lower(), "\t" if sep == "\\t" else sep)
    if len(sep) != 1:
        raise UserFileError(f"{label}: field 'sep': {sep!r} must be one character or one of "
                            f"{', '.join(SEPARATORS)} (write sep=tab for a tab-separated file)")
    return sep


ENCODING_FIX = "give encoding=<the file's encoding>, e.g. encoding=cp1252 (Windows) or encoding=latin-1"


def text_encoding(label: str, encoding: str | None) -> str:
    """The encoding a text table is read with (`encoding`, or UTF-8 with an optional byte-order mark)."""
    enc = encoding or "utf-8-sig"
    try:
        codecs.lookup(enc)
    except LookupError:
        raise UserFileError(f"{label}: field 'encoding': {encoding!r} is not a known text encoding "
                            "(e.g. utf-8, cp1252, latin-1, utf-16)") from None
    return enc


def undecodable(label: str, encoding: str | None, offset: int, row: int, byte: bytes, fix: str) -> UserFileError:
    return UserFileError(f"{label}: not {encoding or 'UTF-8'} text: byte {offset + 1} (0x{byte.hex()}, row {row} of "
                         f"the file) cannot be decoded; {fix}")


def decode_table(raw: bytes, label: str, encoding: str | None, fix: str = ENCODING_FIX) -> str:
    """The file's text; a wrong encoding is named with the byte offset and row of the first bad byte, and `fix`."""
    enc = text_encoding(label, encoding)
    try:
        return raw.decode(enc)
    except UnicodeDecodeError as err:
        raise undecodable(label, encoding, err.start, raw[: err.start].count(b"\n") + 1,
                          raw[err.start: err.start + 1], fix) from None


STREAM_BLOCK = 16 * 1024 * 1024  # bytes decoded at a time when a large table is checked in a stream


def check_decodes(p: Path, label: str, encoding: str | None, fix: str = ENCODING_FIX) -> str:
    """`decode_table`'s check in bounded memory, block by block: the same message for the first bad byte.
    Returns the encoding and the text of the file's first block (for the separator)."""
    enc = text_encoding(label, encoding)
    decoder = codecs.getincrementaldecoder(enc)()
    offset, rows, head = 0, 1, None
    with open(p, "rb") as fh:
        while True:
            block = fh.read(STREAM_BLOCK)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as err:
                # the decoder may hold back a few bytes of the previous block: find the bad byte in this one
                start = max(0, min(err.start, len(block) - 1)) if block else 0
                raise undecodable(label, encoding, offset + start, rows + block[:start].count(b"\n"),
                                  block[start: start + 1], fix) from None
            if head is None:
                head = text
            if not block:
                return head or ""
            offset += len(block)
            rows += block.count(b"\n")


def sniff_separator(text: str) -> str:
    """The delimiter of a text table, from its first lines (csv.Sniffer); a comma when it cannot tell."""
    sample = "\n".join(text[:65536].splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def cell_text(v: Any) -> Any:
    """A cell of a typed file as the text a CSV would hold: 3.0 -> "3", missing stays missing."""
    import pandas as pd

    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def check_header(names: list, label: str) -> None:
    """Refuse a column name given twice: pandas would silently read the second as `A1.1`, so a reader
    could take either column for `A1`. Names are compared as written (the header row read as data)."""
    seen: dict[str, int] = {}
    for k, name in enumerate(names, 1):
        if name is None or (isinstance(name, float) and name != name):
            continue  # a blank header cell: pandas names it Unnamed: k, one of its own
        text = str(name)
        if text in seen:
            raise UserFileError(f"{label}: column {text!r} appears twice in the header (columns {seen[text]} and {k}); "
                                f"give each column its own name")
        seen[text] = k


def csv_problem(label: str, delimiter: str, err: Exception) -> UserFileError:
    return UserFileError(f"{label}: not a readable CSV file (separator {delimiter!r}: {' '.join(str(err).split())}); "
                         "give sep=<separator> (tab, comma, semicolon, pipe) if it is another")


def table_chunks(path: Path | str, rows: int, sep: str | None = None, encoding: str | None = None,
                 what: str = "table", limit: int = MAX_TABLE_BYTES, progress: bool = True) -> Iterator[Any]:
    """A text table's cells as text, `rows` rows at a time (each chunk's index continues the file's row
    numbers), so a table of millions of rows is checked in bounded memory; with `progress`, a line on
    stderr says how far it is. The checks are read_table's, with the same messages. Other formats come
    whole, as one chunk."""
    import pandas as pd

    p = Path(path).expanduser()
    label = str(path)
    if p.suffix.lower() in BINARY_TABLE_SUFFIXES:
        yield read_table(path, sep, encoding, what, limit)
        return
    check_file(p, limit, what)
    head = check_decodes(p, label, encoding)
    enc = text_encoding(label, encoding)
    delimiter = separator(sep, label) or sniff_separator(head)
    size, done = p.stat().st_size, 0
    try:
        check_header(list(pd.read_csv(io.StringIO(head), sep=delimiter, header=None, nrows=1, dtype=str).iloc[0]), label)
        with open(p, "rb") as fh:
            for chunk in pd.read_csv(fh, sep=delimiter, dtype=str, encoding=enc, chunksize=rows):
                done += len(chunk)
                if progress:
                    print(f"\r{label}: {done:,} rows read ({fh.tell() / max(size, 1):.0%})", end="", file=sys.stderr,
                          flush=True)
                yield chunk
    except UserFileError:
        raise
    except (ValueError, pd.errors.ParserError) as err:  # a torn row, an empty file
        raise csv_problem(label, delimiter, err) from None
    finally:
        if progress and done:
            print(file=sys.stderr, flush=True)


def read_table(path: Path | str, sep: str | None = None, encoding: str | None = None, what: str = "table",
               limit: int = MAX_TABLE_BYTES, text: bool = True, keep_default_na: bool = True,
               encoding_fix: str = ENCODING_FIX):
    """A user's table as a DataFrame of text cells (`text`) or pandas' own types.

    .sav (pyreadstat), .parquet and .xlsx (openpyxl) are read by pandas; any other file is text
    (.csv, .tsv, ...): the delimiter is `sep` or detected, the encoding `encoding` or UTF-8. Every
    failure names the file.
    """
    import pandas as pd

    p = Path(path).expanduser()
    label = str(path)
    suffix = p.suffix.lower()
    if suffix in BINARY_TABLE_SUFFIXES:
        check_file(p, limit, what)
        package = BINARY_TABLE_SUFFIXES[suffix]
        if importlib.util.find_spec(package) is None:
            raise UserFileError(f"{label}: reading {suffix} files needs the package {package}: pip install {package} "
                                "(or save the table as .csv)")
        if sep is not None or encoding is not None:
            raise UserFileError(f"{label}: 'sep' and 'encoding' apply to text tables (.csv, .tsv), not {suffix}")
        reader = {".sav": pd.read_spss, ".parquet": pd.read_parquet, ".xlsx": pd.read_excel}[suffix]
        try:
            frame = reader(p)
            if suffix == ".xlsx":  # read_excel renames a repeated header as read_csv does
                check_header(list(pd.read_excel(p, header=None, nrows=1).iloc[0]) if len(frame.columns) else [], label)
        except UserFileError:
            raise
        except Exception as err:  # each reader raises its own errors for a damaged file
            raise UserFileError(f"{label}: not a readable {suffix} file ({' '.join(str(err).split())[:200]})") from None
        frame.columns = [str(c) for c in frame.columns]
        if text:
            frame = frame.astype(object).map(cell_text)
        return frame
    body = decode_table(read_bounded(p, limit, what), label, encoding, encoding_fix)
    delimiter = separator(sep, label) or sniff_separator(body)
    try:
        header = list(pd.read_csv(io.StringIO(body), sep=delimiter, header=None, nrows=1, dtype=str).iloc[0])
        frame = pd.read_csv(io.StringIO(body), sep=delimiter, dtype=str if text else None,
                            keep_default_na=keep_default_na)
    except (ValueError, pd.errors.ParserError) as err:  # a torn row, an empty file
        raise csv_problem(label, delimiter, err) from None
    check_header(header, label)
    return frame
