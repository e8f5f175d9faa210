"""What each `persona-bench` command does: compose and validate its config, then call its pipeline.

Hydra tools run through `hydra.main` (so `-m` sweeps and launchers work), after every job of the sweep
has been composed and validated here: a bad value stops the command before any model work or folder.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from pathlib import Path

from bench.config.load import compose
from bench.errors import BenchError, ConfigError, debugging
from bench.resources import CONF_DIR

HYDRA_FLAGS = ("--cfg", "-c", "--help", "-h", "--hydra-help", "--info", "-i", "--resolve", "--package", "-p",
               "--shell-completion", "-sc", "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd")
MAX_VALIDATED_JOBS = 1000


def sweep_jobs(args: list[str]) -> list[list[str]]:
    """The overrides of every job a command line stands for (one job unless `-m` sweeps values)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    multirun = any(a in ("-m", "--multirun") for a in args)
    overrides = [a for a in args if a not in ("-m", "--multirun") and not a.startswith(("hydra.", "hydra/", "+hydra"))]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as err:
        raise BenchError(f"command line: {str(err).splitlines()[0]}") from None
    choices = []
    for o in parsed:
        if multirun and o.is_sweep_override():
            key = o.get_key_element()
            choices.append([f"{key}={v}" for v in o.sweep_string_iterator()])
        else:
            choices.append([o.input_line])
    return [list(job) for job in itertools.islice(itertools.product(*choices), MAX_VALIDATED_JOBS)]


def checked_configs(config_name: str, args: list[str]) -> list[dict]:
    """Compose and validate every job; the first bad value raises, naming the override and the field."""
    from bench.config import validate

    configs = []
    jobs = sweep_jobs(args)
    for n, job in enumerate(jobs, 1):
        try:
            cfg = compose(config_name, job)
            validate(config_name, cfg)
        except ConfigError as err:
            if len(jobs) == 1:
                raise
            raise ConfigError(f"sweep job {n} of {len(jobs)} ({' '.join(job)}): {err}") from None
        configs.append(cfg)
    return configs


def hydra_command(config_name: str, task: Callable[[dict], object], prog: str) -> Callable[[list[str]], int]:
    def handler(args: list[str]) -> int:
        import hydra
        from omegaconf import OmegaConf

        if not any(a.split("=")[0] in HYDRA_FLAGS for a in args):
            checked_configs(config_name, args)

        def job(cfg) -> None:
            try:
                task(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True))
            except BenchError as err:
                if debugging([]):
                    raise
                print(f"error: {err}", file=sys.stderr)
                sys.exit(2)

        saved = sys.argv
        sys.argv = [prog, *args]
        try:
            hydra.main(config_path=str(CONF_DIR), config_name=config_name, version_base="1.3")(job)()
        finally:
            sys.argv = saved
        return 0

    return handler


# -- the tasks ------------------------------------------------------------------------------------

def run_task(cfg: dict) -> None:
    from bench.pipelines.run import run

    run(cfg)


def clone_train_task(cfg: dict) -> None:
    import json

    from bench.clone.train import CARD, train_clone

    out = train_clone(cfg)
    print(f"clone adapter: {out} (card: {out / CARD})")
    dp = json.loads((out / CARD).read_text()).get("differential_privacy") if (out / CARD).is_file() else None
    if dp:
        print(f"privacy spent: epsilon {dp['epsilon']:.3g} at delta {dp['delta']:.3g} over {dp['steps']} steps "
              f"(noise {dp['noise_multiplier']:.3g}, clip {dp['max_grad_norm']:g})")
    print(f"benchmark it: persona-bench run model=clone_lora adapter={out}")


def clone_report_task(cfg: dict) -> None:
    from bench.pipelines.clone_report import clone_report

    result = clone_report(cfg)
    print((Path(result["run_dir"]) / "clone_report.md").read_text())


def fidelity_table_task(cfg: dict) -> None:
    from bench.pipelines.fidelity_table import fidelity_table

    fidelity_table(cfg, progress=True)


def tv_check_task(cfg: dict) -> None:
    from bench.pipelines.tv_check import tv_check

    tv_check(cfg)


def validity_task(cfg: dict) -> None:
    from bench.pipelines.validity import validity

    validity(cfg)


def norms_table_task(cfg: dict) -> None:
    from bench.pipelines.norms_table import norms_table

    norms_table(cfg)


def behaviour_task(cfg: dict) -> None:
    from bench.pipelines.behaviour import behaviour

    behaviour(cfg)


def compare_task(cfg: dict) -> None:
    from bench.pipelines.compare import compare

    compare(cfg)


COMPARE_ALIASES = ("models", "runs")  # `models=[a,b]` stands for `compare.models=[a,b]`


def compare_overrides(handler: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
    """`models=...` and `runs=...` as the compare section's `compare.models=...`, `compare.runs=...`."""
    def wrapped(args: list[str]) -> int:
        return handler([f"compare.{a}" if a.split("=", 1)[0] in COMPARE_ALIASES and "=" in a else a for a in args])

    return wrapped


RATER_ALIASES = ("rater", "rater2")  # `rater=hf` stands for Hydra's `model@rater=hf`


def rater_overrides(handler: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
    """`rater=<model entry>` (and `rater2=`) as Hydra's package override `model@rater=<model entry>`."""
    def wrapped(args: list[str]) -> int:
        return handler([f"model@{a}" if a.split("=", 1)[0] in RATER_ALIASES and "=" in a else a for a in args])

    return wrapped


def leaderboard_task(opts: dict) -> None:
    from bench.leaderboard import build_leaderboard
    from bench.leaderboard.publish import publish_gh_pages, publish_hf

    board = build_leaderboard(opts["runs"], opts["out"], title=opts["title"], plots=bool(opts["plots"]))
    print(board.report())
    names = [r.path.name for r in board.runs]
    if opts["publish"].get("gh_pages_repo"):
        print(publish_gh_pages(board.out, opts["publish"]["gh_pages_repo"], names, opts["publish"]["branch"]))
    if opts["publish"].get("hf_repo"):
        print(publish_hf(board.out, opts["publish"]["hf_repo"], names))


# -- the plain commands ---------------------------------------------------------------------------

def sweep_command(sub: str) -> Callable[[list[str]], int]:
    def handler(args: list[str]) -> int:
        from bench.results import sweep

        if sub == "status":
            if not args:
                raise BenchError("sweep status: give one or more folders of run folders")
            runs = sweep.run_folders(args)
            for r in runs:
                print(f"{'finished  ' if sweep.is_finished(r) else 'UNFINISHED'}  {r}")
            return 0 if all(map(sweep.is_finished, runs)) else 1
        if sub == "rerun":
            if len(args) != 1:
                raise BenchError("sweep rerun: give exactly one run folder")
            from bench.pipelines.run import rerun

            print(rerun(args[0], progress=True))
            return 0
        if len(args) < 2:
            raise BenchError("sweep merge: give the output folder, then one or more folders of run folders")
        report = sweep.merge(args[1:], args[0])
        print(f"merged {len(report['runs'])} runs: {report['responses']} responses, {report['scores']} score rows "
              f"-> {args[0]}")
        if report["unfinished"]:
            print(f"left out (unfinished): {', '.join(report['unfinished'])}", file=sys.stderr)
        return 0

    return handler


def perf_command(args: list[str]) -> int:
    from bench.tools.perf import cli as perf

    return perf.main(args)


def slurm_command(sub: str) -> Callable[[list[str]], int]:
    def handler(args: list[str]) -> int:
        from bench.tools import local_slurm

        if len(args) != 1:
            raise BenchError(f"slurm {sub}: give the folder of the local cluster, e.g. /tmp/slurm")
        if sub == "start":
            local_slurm.start(args[0])
            print(f"local Slurm running; use it with: source {Path(args[0]).resolve() / 'env.sh'}")
        else:
            local_slurm.stop(args[0])
        return 0

    return handler


SUBCOMMANDS = {"clone": ("train", "report"), "sweep": ("status", "rerun", "merge"), "slurm": ("start", "stop")}
COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "run": hydra_command("config", run_task, "persona-bench run"),
    "clone train": hydra_command("clone", clone_train_task, "persona-bench clone train"),
    "clone report": hydra_command("clone", clone_report_task, "persona-bench clone report"),
    "fidelity-table": hydra_command("fidelity_table", fidelity_table_task, "persona-bench fidelity-table"),
    "tv-check": hydra_command("tv_check", tv_check_task, "persona-bench tv-check"),
    "validity": hydra_command("validity", validity_task, "persona-bench validity"),
    "norms-table": hydra_command("norms_table", norms_table_task, "persona-bench norms-table"),
    "behaviour": rater_overrides(hydra_command("behaviour", behaviour_task, "persona-bench behaviour")),
    "compare": compare_overrides(hydra_command("compare", compare_task, "persona-bench compare")),
    "leaderboard": hydra_command("leaderboard", leaderboard_task, "persona-bench leaderboard"),
    "sweep status": sweep_command("status"),
    "sweep rerun": sweep_command("rerun"),
    "sweep merge": sweep_command("merge"),
    "perf": perf_command,
    "slurm start": slurm_command("start"),
    "slurm stop": slurm_command("stop"),
}


# -- inspection tools -----------------------------------------------------------------------------

def ls_command(args: list[str]) -> int:
    from bench.tools.catalog import catalog_text

    print(catalog_text(args))
    return 0


COMMANDS["ls"] = ls_command


def validate_command(args: list[str]) -> int:
    from bench.tools.filecheck import check_file

    if not args:
        raise BenchError("validate: give one or more files (inventory, survey, population, persona set, run config, "
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


COMMANDS["validate"] = validate_command


def plan_command(args: list[str]) -> int:
    """`plan [overrides] [--time-batches N | --no-time]`: the run's counts and an estimated wall time."""
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


COMMANDS["plan"] = plan_command


def tables_command(args: list[str]) -> int:
    """`tables RUN... [--format markdown|latex|csv] [--table NAME]`: the paper tables of one or more runs."""
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


COMMANDS["tables"] = tables_command
