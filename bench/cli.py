"""`persona-bench <command> ...`: every tool of the harness behind one command.

The commands are registered in `bench/commands/`, one file each; `persona-bench --help` lists them.
Bad input prints `error: <what, where, which value>` and exits 2; `--debug` (or PERSONA_BENCH_DEBUG=1)
shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

from bench.errors import BenchError, debugging

def main(argv: list[str] | None = None) -> int:
    """The `persona-bench` entry point: runs a command in one engine pool, and turns a BenchError into `error:
    ...` and exit 2 (a traceback only with --debug)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debugging(argv)
    if debug:
        os.environ["PERSONA_BENCH_DEBUG"] = "1"  # the Hydra job function sees it too
    argv = [a for a in argv if a != "--debug"]
    from bench.engines.pool import command_pool

    try:  # runs of one model inside this command share one open engine (a caller's pool, if it holds one)
        with command_pool():
            return dispatch(argv)
    except BenchError as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2


def dispatch(argv: list[str]) -> int:
    """Find the command (or `group sub-command`) named by argv in the registry and run it; no arguments is a
    default run."""
    from bench.commands import commands, groups, help_text

    registry, subcommands = commands(), groups()
    if not argv:
        return registry["run"]([])  # `python -m bench`: the default run
    if argv[0] in ("-h", "--help", "help"):
        print(help_text())
        return 0
    head = argv[0]
    if head in subcommands:
        if len(argv) < 2:
            raise BenchError(f"{head}: say which: {', '.join(subcommands[head])}")
        name, rest = f"{head} {argv[1]}", argv[2:]
        if argv[1] not in subcommands[head]:
            raise BenchError(f"{head}: unknown subcommand {argv[1]!r}; choose one of {', '.join(subcommands[head])}")
    elif head in registry:
        name, rest = head, argv[1:]
    elif "=" in head or head.startswith("-"):
        name, rest = "run", argv  # `python -m bench key=value ...` is a run
    else:
        raise BenchError(f"unknown command {head!r}; run `persona-bench --help` for the list")
    return registry[name](rest)
