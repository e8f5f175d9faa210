"""`persona-bench plan`: a dry run: participants, prompts, passes, tokens and an estimated time; with `--pilot`,
the personas and repetitions a design needs for a chosen interval half-width, from a pilot run."""

import math

from bench.commands import command
from bench.commands.hydra_jobs import checked_configs
from bench.errors import BenchError


def target_value(value: str) -> float:
    """--target-halfwidth as a positive finite number, or a BenchError naming the value."""
    try:
        target = float(value)
    except ValueError:
        raise BenchError(f"plan: --target-halfwidth {value!r} is not a number (the 95% interval half-width wanted "
                         "on every trait mean, in score units, e.g. 0.1)") from None
    if not math.isfinite(target) or target <= 0:
        raise BenchError(f"plan: --target-halfwidth {value!r} must be a number above 0 (the 95% interval "
                         "half-width wanted on every trait mean, in score units, e.g. 0.1)")
    return target


@command("plan", "[overrides] [--time-batches N | --no-time] [--pilot results/<run> [--target-halfwidth H]]",
         "a dry run: participants, prompts, passes, tokens, time; with --pilot, the personas and repetitions "
         "for a 95% interval half-width H on every trait mean, from the pilot's variance components")
def plan_command(args: list[str]) -> int:
    """The handler of `persona-bench plan`: reads --no-time / --time-batches, checks the configs, shows each
    run's workload, and fails (RunError) when a run would stop before any model work. With --pilot (and
    --target-halfwidth), it prints the planning table instead, loading no model or tokenizer."""
    n_time, rest, it = 2, [], iter(args)
    pilot = target = None
    for a in it:
        flag, _, inline = a.partition("=")
        if a == "--no-time":
            n_time = 0
        elif flag in ("--time-batches", "--pilot", "--target-halfwidth"):
            value = inline if "=" in a else next(it, "")
            if flag == "--time-batches":
                if not value.isdigit():
                    raise BenchError(f"plan: --time-batches {value!r} must be a whole number (0: no timing)")
                n_time = int(value)
            elif flag == "--pilot":
                if not value:
                    raise BenchError("plan: --pilot needs a finished run folder, e.g. --pilot results/<run>")
                pilot = value
            else:
                target = target_value(value)
        else:
            rest.append(a)
    if target is not None and pilot is None:
        raise BenchError("plan: --target-halfwidth needs --pilot results/<run>: the variance components come "
                         "from a pilot run of the same design")
    if pilot is not None:
        from bench.pipelines.pilot_plan import check_pilot, pilot_plan_command

        check_pilot(pilot)  # before the configs are composed: a mistyped folder is named first
        pilot_plan_command(checked_configs("config", rest), pilot, target)
        return 0
    from bench.pipelines.dry_run import RunError, plan_command as show_plans

    problems = show_plans(checked_configs("config", rest), n_time)
    if problems:
        raise RunError("; ".join(problems))
    return 0
