"""Field checks shared by every instrument file format (inventories and surveys)."""

from __future__ import annotations

import math
from typing import Any

MAX_OPTIONS = 9  # a prompt labels options with the digits 1-9, each one token after the answer prefix
MIN_OPTIONS = 2
KEYS = {"+": 1, "-": -1, "+1": 1, "-1": -1, 1: 1, -1: -1}  # how an item's keying may be written


def is_int(v: Any) -> bool:
    """Whether a YAML value is a whole number (True and False are not, though Python counts them as ints)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v: Any) -> bool:
    """A finite int or float, not a bool: YAML's .nan and .inf are never a norm, an ordinal, a code, a
    threshold or a temperature (nan compares false with everything, so it would pass a range check)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def number_problem(v: Any, what: str = "a number") -> str:
    """`must be <what>`, saying why when `v` is nan or inf (a float to Python, never a value in a file)."""
    if isinstance(v, float) and not math.isfinite(v):
        return f"must be {what}, finite (not nan or inf)"
    return f"must be {what}"


def nonempty_str(v: Any) -> bool:
    """Whether a YAML value is text with something in it."""
    return isinstance(v, str) and v.strip() != ""


def check_header(data: dict, required: tuple[str, ...], optional: tuple[str, ...], errors: list[str]) -> str | None:
    """The fields every instrument file shares (present, known, id/name/source/licence/version typed);
    returns the version as a string."""
    err = errors.append
    for f in required:
        if f not in data:
            err(f"missing required field {f!r}")
    for f in data:
        if f not in required and f not in optional:
            err(f"unknown field {f!r} (allowed: {', '.join(required + optional)})")
    for f in ("id", "name", "source", "licence"):
        if f in data and not nonempty_str(data[f]):
            err(f"field {f!r}: {repr(data[f])} must be a non-empty string")
    version = data.get("version")
    if "version" in data:
        if is_num(version) or nonempty_str(version):
            return str(version)
        err(f"field 'version': {repr(version)} must be a string or number")
    return version
