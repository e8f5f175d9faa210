"""One small backend interface: next-token log-probs of given labels, and sampled generation.

Prompts arrive as token ids rendered once by `bench.administration.prompts`, so every engine scores exactly
the same tokens and the two backends can be compared number for number.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from bench.engines.models import ModelSpec


class Engine(ABC):
    name: str = "?"

    def __init__(self, spec: ModelSpec, seed: int = 0, **options):
        from transformers import AutoTokenizer

        self.spec = spec
        self.seed = seed
        self.tokenizer = AutoTokenizer.from_pretrained(spec.path)

    @abstractmethod
    def label_logprobs(self, prompts: Sequence[Sequence[int]], label_ids: Sequence[int],
                       keep_rows: bool = False) -> np.ndarray:
        """(n_prompts, n_labels) full-vocabulary log-softmax of each label as the next token. `keep_rows`:
        each prompt will be continued by a prompt of the next call (a conversation), a hint to keep its cache."""

    @abstractmethod
    def generate(
        self, prompts: Sequence[Sequence[int]], temperature: float, max_new_tokens: int, seeds: Sequence[int]
    ) -> list[str]:
        """One sampled continuation per prompt (greedy when temperature == 0)."""

    def provenance(self) -> dict:
        """What a run records about the engine beyond its name (a server's URL, how it scored)."""
        return {}

    def close(self) -> None:
        """Release the model (engines hold GBs)."""
