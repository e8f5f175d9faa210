"""`persona-bench tables RUN...`: the paper tables of runs (several: stacked by model)."""

from bench.commands import command
from bench.errors import BenchError


@command("tables", "RUN... [--format markdown|latex|csv] [--table NAME]",
         "the paper tables of runs (several: stacked by model)")
def tables_command(args: list[str]) -> int:
    """The handler of `persona-bench tables`: reads --format and --table, prints the runs' paper tables."""
    from bench.results.paper_tables import tables_text

    options, runs, it = {"--format": "markdown", "--table": None}, [], iter(args)
    for a in it:
        key = a.split("=", 1)[0]
        if key in options:
            value = a.split("=", 1)[1] if "=" in a else next(it, None)
            if not value:
                raise BenchError(f"tables: {key} needs a value")
            options[key] = value
        elif a.startswith("-"):
            raise BenchError(f"tables: unknown option {a!r}; use --format markdown|latex|csv or --table NAME")
        else:
            runs.append(a)
    print(tables_text(runs, options["--format"], options["--table"]), end="")
    return 0
