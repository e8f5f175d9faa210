"""persona-bench: measure personality in language models (inventories, reliability, fidelity, clones)."""

__version__ = "0.1.0"
