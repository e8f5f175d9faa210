"""`persona-bench run`: one run of the benchmark, or a Hydra multirun sweep of runs."""

from bench.commands.hydra_jobs import hydra_command


def run_task(cfg: dict) -> None:
    """The job `persona-bench run` runs on each composed config (the pipeline imported only then, keeping
    start-up light)."""
    from bench.pipelines.run import run

    run(cfg)


hydra_command("run", "[overrides] [-m]", "one run (or a Hydra multirun sweep); also `python -m bench ...`",
              "config", run_task)
