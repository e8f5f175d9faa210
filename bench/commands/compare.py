"""`persona-bench compare`: models on one design, side by side."""

from bench.commands.hydra_jobs import hydra_command, section_aliases


def compare_task(cfg: dict) -> None:
    """The job `persona-bench compare` runs on each composed config (the pipeline imported only then, keeping
    start-up light)."""
    from bench.pipelines.compare import compare

    compare(cfg)


hydra_command("compare", "models=[a,b] | runs=[dir,dir] [overrides]",
              "models on one design side by side, their differences with tests", "compare", compare_task,
              aliases=section_aliases(("models", "runs"), "compare."))  # `models=[a,b]` is `compare.models=[a,b]`
