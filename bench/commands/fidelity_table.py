"""`persona-bench fidelity-table`: one run per conditioning method against a human population."""

from bench.commands.hydra_jobs import hydra_command


def fidelity_table_task(cfg: dict) -> None:
    """The job `persona-bench fidelity-table` runs on each composed config (the pipeline imported only then)."""
    from bench.pipelines.fidelity_table import fidelity_table

    fidelity_table(cfg, progress=True)


hydra_command("fidelity-table", "[overrides]", "one run per conditioning method, plus the human floor",
              "fidelity_table", fidelity_table_task)
