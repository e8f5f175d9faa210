"""`persona-bench tv-check`: do log-prob distributions match sampled answers?"""

from bench.commands.hydra_jobs import hydra_command


def tv_check_task(cfg: dict) -> None:
    """The job `persona-bench tv-check` runs on each composed config (the pipeline imported only then)."""
    from bench.pipelines.tv_check import tv_check

    tv_check(cfg)


hydra_command("tv-check", "[overrides]", "logprob distributions vs sampled answers", "tv_check", tv_check_task)
