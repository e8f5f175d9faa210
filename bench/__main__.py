"""`python -m bench key=value ...`: the Hydra entry point for one run (or a multirun sweep)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from bench.run import run

    run(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True))


if __name__ == "__main__":
    main()
