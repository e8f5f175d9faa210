"""`python -m bench.clone corpus.path=... [key=value ...]`: train a LoRA clone of one person (conf/clone.yaml)."""

from __future__ import annotations

import json

import hydra
from omegaconf import DictConfig, OmegaConf


@hydra.main(config_path="../../conf", config_name="clone", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from bench.clone.train import CARD, train_clone

    out = train_clone(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True))
    print(f"clone adapter: {out} (card: {out / CARD})")
    dp = json.loads((out / CARD).read_text()).get("differential_privacy") if (out / CARD).is_file() else None
    if dp:
        print(f"privacy spent: epsilon {dp['epsilon']:.3g} at delta {dp['delta']:.3g} over {dp['steps']} steps "
              f"(noise {dp['noise_multiplier']:.3g}, clip {dp['max_grad_norm']:g})")
    print(f"benchmark it: python -m bench model=clone_lora adapter={out}")


if __name__ == "__main__":
    main()
