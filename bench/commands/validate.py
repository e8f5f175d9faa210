"""`persona-bench validate FILE...`: a user's file checked as a run would read it, every problem at once."""

import sys

from bench.commands import command
from bench.errors import BenchError


@command("validate", "FILE...", "inventory, survey, population, persona set or file, run config or results.json")
def validate_command(args: list[str]) -> int:
    """The handler of `persona-bench validate`: checks each file, prints every problem of every file, exit 2 when
    any file has one."""
    from bench.tools.filecheck import check_file

    if not args:
        raise BenchError("validate: give one or more files (inventory, survey, population, persona set or file, "
                         "run config, "
                         "results.json)")
    reports = [check_file(a) for a in args]
    for report in reports:
        ok, problems = report.lines()
        for line in ok:
            print(line)
        for line in problems:
            print(line, file=sys.stderr)
    failed = [r for r in reports if r.problems]
    if failed:
        n = sum(len(r.problems) for r in failed)
        print(f"error: {n} problem{'s' if n != 1 else ''} in {len(failed)} of {len(reports)} file"
              f"{'s' if len(reports) != 1 else ''}", file=sys.stderr)
        return 2
    return 0
