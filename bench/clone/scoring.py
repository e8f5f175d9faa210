"""Score a person's held-out text with a base model and its LoRA clone in one pass each.

Returns, for every token that carries loss: the clone's and the base model's negative
log-likelihood, and KL(clone || base) between their full next-token distributions there.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.clone.examples import Example, collate
from bench.metrics.clone import kl_divergence


@torch.inference_mode()
def score_tokens(model, examples: list[Example], pad_id: int, batch_size: int = 8) -> dict[str, np.ndarray]:
    """`model` is a peft model; its adapter is switched off for the base pass (same weights in memory)."""
    nll_clone, nll_base, kl = [], [], []
    model.eval()
    for s in range(0, len(examples), batch_size):
        batch = collate(examples[s:s + batch_size], pad_id)
        labels = batch["labels"][:, 1:]
        keep = labels != -100
        target = labels.clamp(min=0)
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        # only the positions that carry loss, in float64 from there on (KL sums 49k small terms)
        logp_clone = torch.log_softmax(model(**inputs).logits[:, :-1][keep].float(), -1).double()
        with model.disable_adapter():
            logp_base = torch.log_softmax(model(**inputs).logits[:, :-1][keep].float(), -1).double()
        tokens = target[keep][:, None]
        nll_clone.append(-logp_clone.gather(-1, tokens)[:, 0].numpy())
        nll_base.append(-logp_base.gather(-1, tokens)[:, 0].numpy())
        kl.append(kl_divergence(logp_clone.numpy(), logp_base.numpy()))
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0)  # noqa: E731
    return {"nll_clone": cat(nll_clone), "nll_base": cat(nll_base), "kl_clone_base": cat(kl)}


@torch.inference_mode()
def mean_loss(model, examples: list[Example], pad_id: int, batch_size: int = 8) -> float:
    """Mean per-token negative log-likelihood (validation loss)."""
    total, count = 0.0, 0
    model.eval()
    for s in range(0, len(examples), batch_size):
        batch = collate(examples[s:s + batch_size], pad_id)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        labels = batch["labels"][:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                                 ignore_index=-100, reduction="sum")
        total += float(loss)
        count += int((labels != -100).sum())
    return total / count if count else float("nan")
