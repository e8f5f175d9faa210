"""`persona-bench validity`: two inventories on the same participants (MTMM, Campbell-Fiske)."""

from bench.commands.hydra_jobs import hydra_command


def validity_task(cfg: dict) -> None:
    """The job `persona-bench validity` runs on each composed config (the pipeline imported only then)."""
    from bench.pipelines.validity import validity

    validity(cfg)


hydra_command("validity", "[overrides]", "two inventories on the same participants: MTMM, Campbell-Fiske",
              "validity", validity_task)
