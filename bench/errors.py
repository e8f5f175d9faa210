"""One base class for persona-bench's own errors.

A `BenchError` is bad input a user can fix (a file, a config value, a folder): the command line prints
`error: <message>` and exits 2, without a traceback. Anything else is a bug and keeps its traceback.
It subclasses ValueError so that code catching bad values keeps working.
"""

from __future__ import annotations

import os


class BenchError(ValueError):
    """Bad input, named: what is wrong, where (file, field) and which value."""


class ConfigError(BenchError):
    """A config value that is out of range, of the wrong type, or names something that does not exist."""


def debugging(argv: list[str]) -> bool:
    """`--debug` or PERSONA_BENCH_DEBUG=1: show the traceback of a BenchError instead of one line."""
    return "--debug" in argv or os.environ.get("PERSONA_BENCH_DEBUG", "") not in ("", "0")


def cli_value(value) -> str:
    """A value as the user would type it on the command line (null, [a, b], nan), for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(cli_value(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value) if value == "" or value != value.strip() else value
    return str(value)
