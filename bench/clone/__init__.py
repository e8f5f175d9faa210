"""Clones: a LoRA adapter trained on one person's writing (`persona-bench clone train`), optionally with
differential privacy, its training examples and LM scoring. Public API: `train_clone`, `clone_data`,
`output_dir_for`, `training_hash`, `CARD` (the clone card's file name)."""

from bench.clone.train import CARD, CloneData, clone_data, output_dir_for, train_clone, training_hash

__all__ = ["CARD", "CloneData", "clone_data", "output_dir_for", "train_clone", "training_hash"]
