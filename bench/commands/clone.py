"""`persona-bench clone train|report`: train a LoRA clone on a person's writing; report how like them it is."""

from pathlib import Path

from bench.commands.hydra_jobs import hydra_command


def clone_train_task(cfg: dict) -> None:
    """The job of `persona-bench clone train`: train the adapter, then say where it is, the privacy it spent, and
    how to benchmark it."""
    import json

    from bench.clone.train import CARD
    from bench.pipelines.clone_train import clone_train

    out = clone_train(cfg)
    print(f"clone adapter: {out} (card: {out / CARD})")
    dp = json.loads((out / CARD).read_text()).get("differential_privacy") if (out / CARD).is_file() else None
    if dp:
        print(f"privacy spent: epsilon {dp['epsilon']:.3g} at delta {dp['delta']:.3g} over {dp['steps']} steps "
              f"(noise {dp['noise_multiplier']:.3g}, clip {dp['max_grad_norm']:g})")
    print(f"benchmark it: persona-bench run model=clone_lora adapter={out}")


def clone_report_task(cfg: dict) -> None:
    """The job of `persona-bench clone report`: build the report and print it."""
    from bench.pipelines.clone_report import clone_report

    result = clone_report(cfg)
    print((Path(result["run_dir"]) / "clone_report.md").read_text())


hydra_command("clone train", "[overrides]", "a LoRA adapter trained on one person's writing (DP-SGD optional)",
              "clone", clone_train_task)
hydra_command("clone report", "[overrides]", "the clone against base, profile and RAG arms: traits, style, "
              "held-out likelihood", "clone", clone_report_task)
