"""The command registry: each `persona-bench` command declares its name, usage, help and handler in its
own file of this package, with `@command(...)` (or `hydra_command(...)` for a command that composes a
Hydra config). `persona-bench --help` and the dispatcher read the registry; nothing else lists commands.

A command file imports its pipeline inside the handler, so loading every command costs nothing.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

Handler = Callable[[list[str]], int]


@dataclass(frozen=True)
class Command:
    """One command: `name` ("run", or "clone train" for a subcommand), what follows it (`usage`), one
    line of `help`, the Hydra config it composes (`config`, None for a plain command) and its handler."""
    name: str
    usage: str
    help: str
    handler: Handler
    config: str | None = None

    def __call__(self, args: list[str]) -> int:
        return self.handler(args)


REGISTRY: dict[str, Command] = {}
HELPERS = ("hydra_jobs",)  # modules of this package that hold no command


def register(cmd: Command) -> Command:
    """Add a command to the registry (a name registered twice is a bug, refused), so --help and dispatch both
    read it from one place."""
    if cmd.name in REGISTRY:
        raise RuntimeError(f"command {cmd.name!r} registered twice")
    REGISTRY[cmd.name] = cmd
    return cmd


def command(name: str, usage: str, help: str) -> Callable[[Handler], Handler]:
    """Decorator of a plain command's handler (it parses its own arguments)."""
    def add(handler: Handler) -> Handler:
        register(Command(name, usage, help, handler))
        return handler

    return add


def commands() -> dict[str, Command]:
    """Every command, its file imported once (the files are light: pipelines load inside handlers)."""
    if not REGISTRY:
        for module in pkgutil.iter_modules(__path__):
            if module.name not in HELPERS:
                importlib.import_module(f"{__name__}.{module.name}")
    return REGISTRY


def groups() -> dict[str, tuple[str, ...]]:
    """Commands with subcommands (`clone train`, `sweep rerun`): the group and its subcommands."""
    out: dict[str, list[str]] = {}
    for name in commands():
        if " " in name:
            head, sub = name.split(" ", 1)
            out.setdefault(head, []).append(sub)
    return {k: tuple(v) for k, v in out.items()}


def help_text() -> str:
    """`persona-bench --help`: every command with its usage and help, as registered."""
    lines = ["persona-bench <command> ...: every tool of the harness behind one command.", ""]
    for cmd in sorted(commands().values(), key=lambda c: ORDER.index(c.name) if c.name in ORDER else len(ORDER)):
        head = f"    persona-bench {cmd.name} {cmd.usage}".rstrip()
        lines += [head, f"{'':46}{cmd.help}"] if len(head) > 45 else [f"{head:46}{cmd.help}"]
    lines += ["", "Bad input prints `error: <what, where, which value>` and exits 2; `--debug` (or PERSONA_BENCH_DEBUG=1)",
              "shows the traceback instead. `python -m bench key=value ...` is a run."]
    return "\n".join(lines)


# the order --help lists them in (the most used first); a command missing here is listed last
ORDER = ("run", "compare", "clone train", "clone report", "fidelity-table", "tv-check", "validity", "norms-table",
         "behaviour", "sweep status", "sweep rerun", "sweep merge", "leaderboard", "perf", "slurm start",
         "slurm stop", "ls", "plan", "validate", "tables")
