"""`persona-bench humans population=<name or path>`: a human reference's own figures, no model loaded."""

from bench.commands import command
from bench.errors import BenchError

KEYS = ("population", "results_dir", "seed")


@command("humans", "population=<name or path> [results_dir=DIR] [seed=N]",
         "a human reference alone: alpha, omega, norms and split-half estimates with 95% intervals")
def humans_command(args: list[str]) -> int:
    """The handler of `persona-bench humans`: reads key=value arguments, every one checked before any work."""
    from bench.pipelines.humans import humans

    given = {}
    for a in args:
        key, eq, value = a.partition("=")
        if not eq or key not in KEYS:
            raise BenchError(f"humans: {a!r}: expected one of {', '.join(k + '=...' for k in KEYS)}")
        if not value.strip():
            raise BenchError(f"humans: {key}: needs a value")
        given[key] = value
    if "population" not in given:
        raise BenchError("humans: give population=<shipped name or population file>, e.g. population=psych_bfi")
    seed = given.get("seed", "0")
    if not seed.isdecimal():
        raise BenchError(f"humans: seed={seed}: expected a whole number >= 0")
    humans(given["population"], given.get("results_dir", "results"), int(seed))
    return 0
