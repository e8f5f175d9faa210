"""`persona-bench norms-table`: instruments (PsychoBench scales too) against human norms."""

from bench.commands.hydra_jobs import hydra_command


def norms_table_task(cfg: dict) -> None:
    """The job `persona-bench norms-table` runs on each composed config (the pipeline imported only then)."""
    from bench.pipelines.norms_table import norms_table

    norms_table(cfg)


hydra_command("norms-table", "[overrides]", "instruments (PsychoBench scales too) against human norms",
              "norms_table", norms_table_task)
