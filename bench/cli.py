"""`persona-bench <command> ...`: every tool of the harness behind one command.

    persona-bench run [overrides] [-m]        one run (or a Hydra multirun sweep); also `python -m bench ...`
    persona-bench compare models=[a,b] | runs=[dir,dir] [overrides]
                                              models on one design side by side: traits, types, alpha, norms,
                                              fidelity, position bias, label mass; differences with tests
    persona-bench clone train|report [overrides]
    persona-bench fidelity-table [overrides]  one run per conditioning method, plus the human floor
    persona-bench tv-check [overrides]        logprob distributions vs sampled answers
    persona-bench validity [overrides]        two inventories on the same participants: MTMM, Campbell-Fiske
    persona-bench norms-table [overrides]     instruments (PsychoBench scales too) against human norms
    persona-bench behaviour [overrides]       participants write texts; raters score them (observer form)
    persona-bench sweep status|rerun|merge ...
    persona-bench leaderboard [overrides]
    persona-bench perf [options]
    persona-bench slurm start|stop <folder>
    persona-bench ls [kind]                   inventories, surveys, personas, populations, models, engines
    persona-bench plan [overrides] [--time-batches N | --no-time]
                                              a dry run: participants, prompts, passes, tokens, time
    persona-bench validate FILE...            inventory, survey, population, persona set, run config or results.json
    persona-bench tables RUN... [--format markdown|latex|csv] [--table NAME]
                                              the paper tables of runs (several: stacked by model)

Bad input prints `error: <what, where, which value>` and exits 2; `--debug` (or PERSONA_BENCH_DEBUG=1)
shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from bench.errors import BenchError, debugging

HYDRA_TOOLS = {  # command -> (config name, the function that runs on the composed config)
    "run": "config",
    "clone train": "clone",
    "clone report": "clone",
    "fidelity-table": "fidelity_table",
    "tv-check": "tv_check",
    "validity": "validity",
    "compare": "compare",
    "norms-table": "norms_table",
    "behaviour": "behaviour",
    "leaderboard": "leaderboard",
}


def main(argv: list[str] | None = None) -> int:
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
    from bench import commands

    if not argv:
        return commands.COMMANDS["run"]([])  # `python -m bench`: the default run
    if argv[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        return 0
    head = argv[0]
    if head in ("clone", "sweep", "slurm"):
        if len(argv) < 2:
            raise BenchError(f"{head}: say which: {', '.join(commands.SUBCOMMANDS[head])}")
        name, rest = f"{head} {argv[1]}", argv[2:]
        if argv[1] not in commands.SUBCOMMANDS[head]:
            raise BenchError(f"{head}: unknown subcommand {argv[1]!r}; choose one of {', '.join(commands.SUBCOMMANDS[head])}")
    elif head in commands.COMMANDS:
        name, rest = head, argv[1:]
    elif "=" in head or head.startswith("-"):
        name, rest = "run", argv  # `python -m bench key=value ...` is a run
    else:
        raise BenchError(f"unknown command {head!r}; run `persona-bench --help` for the list")
    handler: Callable[[list[str]], int] = commands.COMMANDS[name]
    return handler(rest)
