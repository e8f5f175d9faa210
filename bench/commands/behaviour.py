"""`persona-bench behaviour`: participants write texts; raters score them with the observer form."""

from bench.commands.hydra_jobs import hydra_command, section_aliases


def behaviour_task(cfg: dict) -> None:
    """The job `persona-bench behaviour` runs on each composed config (the pipeline imported only then, keeping
    start-up light)."""
    from bench.pipelines.behaviour import behaviour

    behaviour(cfg)


hydra_command("behaviour", "[overrides]", "participants write texts; raters score them (observer form)",
              "behaviour", behaviour_task,
              aliases=section_aliases(("rater", "rater2"), "model@"))  # `rater=hf` is Hydra's `model@rater=hf`
