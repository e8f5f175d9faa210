"""`persona-bench perf`: the throughput benchmark behind docs/performance.md."""

from bench.commands import command


@command("perf", "[options]", "time the engines and lm-eval on one design (docs/performance.md)")
def perf_command(args: list[str]) -> int:
    """The handler of `persona-bench perf`: hands the arguments to the benchmark's own command line."""
    from bench.tools.perf import cli as perf

    return perf.main(args)
