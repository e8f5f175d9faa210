"""`persona-bench plan`: a dry run: participants, prompts, passes, tokens and an estimated time."""

from bench.commands import command
from bench.commands.hydra_jobs import checked_configs
from bench.errors import BenchError


@command("plan", "[overrides] [--time-batches N | --no-time]", "a dry run: participants, prompts, passes, tokens, time")
def plan_command(args: list[str]) -> int:
    """The handler of `persona-bench plan`: reads --no-time / --time-batches, checks the configs, shows each
    run's workload, and fails (RunError) when a run would stop before any model work."""
    from bench.pipelines.dry_run import RunError, plan_command as show_plans

    n_time, rest, it = 2, [], iter(args)
    for a in it:
        if a == "--no-time":
            n_time = 0
        elif a == "--time-batches" or a.startswith("--time-batches="):
            value = a.split("=", 1)[1] if "=" in a else next(it, "")
            if not value.isdigit():
                raise BenchError(f"plan: --time-batches {value!r} must be a whole number (0: no timing)")
            n_time = int(value)
        else:
            rest.append(a)
    problems = show_plans(checked_configs("config", rest), n_time)
    if problems:
        raise RunError("; ".join(problems))
    return 0
