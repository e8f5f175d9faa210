"""Clones: a LoRA adapter trained on one person's writing (`python -m bench.clone`), its data and LM scoring."""
