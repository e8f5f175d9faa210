"""One small backend interface: next-token log-probs of given labels, and sampled generation.

Prompts arrive as token ids rendered once by `bench.administration.prompts`, so every engine scores exactly
the same tokens and the two backends can be compared number for number.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench.engines.models import ModelSpec


def load_tokenizer(path: str):
    """A model folder's tokenizer, loaded once per process: the run renders its prompts with it before the
    engine opens, and the engine decodes with the same object (nothing here changes a tokenizer). A folder
    whose files changed since is read again."""
    folder = Path(path)
    stamp = tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                         for p in folder.glob("*") if p.is_file() and not p.name.startswith("model")))
    return cached_tokenizer(str(folder), stamp)


@lru_cache(maxsize=8)
def cached_tokenizer(path: str, stamp: tuple):
    """The tokenizer loaded once per (folder, file stamp): `stamp` is only the cache key, so a changed folder is
    read again."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


class Engine(ABC):
    """The one interface every backend implements (label log-probs of rendered token ids, seeded generation), so
    runs on any backend compare number for number."""
    name: str = "?"

    def __init__(self, spec: ModelSpec, seed: int = 0, **options):
        self.spec = spec
        self.seed = seed
        self.tokenizer = load_tokenizer(spec.path)

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

    @staticmethod
    def shared_by(spec: ModelSpec) -> ModelSpec:
        """What of a model spec needs an engine of its own (`bench.engines.pool`): all of it, unless an engine
        can serve several specs (vLLM: one LoRA-enabled engine, any adapter of a rank)."""
        return spec

    def take(self, spec: ModelSpec) -> None:
        """Serve `spec` from now on; only called with a spec whose `shared_by` equals this engine's."""
        self.spec = spec

    def reset(self) -> None:
        """Forget what earlier calls left behind (kept caches, counters): an engine reused by a second run
        (`bench.engines.pool`) gives it the numbers a fresh one would."""

    def close(self) -> None:
        """Release the model (engines hold GBs)."""
