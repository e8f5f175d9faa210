"""The arms a clone report compares: the base model, two text personas built from the person's writing,
and the trained LoRA clone."""

ARMS = ("base", "profile", "rag", "clone")
