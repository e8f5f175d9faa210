"""Differentially private clone training (DP-SGD through Opacus), and the epsilon it spends.

The privacy unit is one document of the person's writing: with `format: chat` each document is one
training example, so per-example clipping bounds what any one document can move the adapter.
Batches are Poisson-sampled (each document joins a step with probability q), as the RDP accountant
assumes; the sampling and the noise are seeded per step, so a resumed run spends and ends the same.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from bench.hashing import stable_int
from bench.errors import BenchError


class PrivacyError(BenchError):
    """DP training settings that cannot work (a format that splits documents, a bad delta, clip or epsilon)."""


@dataclass(frozen=True)
class PrivacyPlan:
    """The DP-SGD settings a training uses, fixed before it starts so its epsilon can be stated."""
    noise_multiplier: float
    max_grad_norm: float
    sample_rate: float
    expected_batch_size: int
    delta: float
    target_epsilon: float | None


def plan_privacy(dp: dict, n_examples: int, batch_size: int, max_steps: int, fmt: str) -> PrivacyPlan:
    """Noise for the run: given outright, or the least that keeps `max_steps` within target_epsilon."""
    from opacus.accountants.utils import get_noise_multiplier

    if fmt != "chat":
        raise PrivacyError(f"train.dp: format '{fmt}' cuts a document into several examples, so per-example "
                           "privacy would not protect a document; use format=chat")
    if n_examples < 2:
        raise PrivacyError(f"train.dp: {n_examples} training document(s); DP-SGD needs a corpus")
    q = min(1.0, batch_size / n_examples)
    delta = float(dp["delta"]) if dp.get("delta") is not None else 1.0 / n_examples ** 1.1
    if not 0 < delta < 1:
        raise PrivacyError(f"train.dp.delta: {delta} is not in (0, 1)")
    clip = float(dp["max_grad_norm"])
    if clip <= 0:
        raise PrivacyError(f"train.dp.max_grad_norm: {clip} must be positive")
    if dp.get("noise_multiplier") is not None:
        sigma, target = float(dp["noise_multiplier"]), None
        if sigma < 0:
            raise PrivacyError(f"train.dp.noise_multiplier: {sigma} is negative")
    elif dp.get("target_epsilon") is not None:
        target = float(dp["target_epsilon"])
        if target <= 0:
            raise PrivacyError(f"train.dp.target_epsilon: {target} must be positive")
        sigma = float(get_noise_multiplier(target_epsilon=target, target_delta=delta, sample_rate=q,
                                           steps=max_steps, accountant="rdp"))
    else:
        raise PrivacyError("train.dp: set target_epsilon or noise_multiplier")
    return PrivacyPlan(sigma, clip, q, batch_size, delta, target)


def epsilon_spent(plan: PrivacyPlan, steps: int) -> float:
    """(epsilon, delta)-DP of `steps` DP-SGD steps under the RDP accountant (inf without noise)."""
    from opacus.accountants import RDPAccountant

    if steps == 0:
        return 0.0
    if plan.noise_multiplier == 0:
        return float("inf")
    accountant = RDPAccountant()
    accountant.history = [(plan.noise_multiplier, plan.sample_rate, steps)]
    return float(accountant.get_epsilon(delta=plan.delta))


def poisson_batch(step: int, sample_rate: float, n: int, seed: int) -> list[int]:
    """Indices of the documents in a step: each joins independently with probability `sample_rate`."""
    rng = np.random.default_rng(stable_int(seed, "poisson", step))
    return [int(i) for i in np.flatnonzero(rng.random(n) < sample_rate)]


def per_example_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean over examples of each example's mean token loss: every example weighs the same, as
    per-example clipping with `loss_reduction="mean"` requires (the model's own loss pools tokens)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    labels = batch["labels"][:, 1:]
    token = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100,
                                              reduction="none")
    keep = (labels != -100).float()
    return ((token * keep).sum(1) / keep.sum(1).clamp(min=1)).mean()


class PrivateTrainer:
    """Per-example gradients (Opacus hooks on the LoRA layers), clipping and seeded Gaussian noise."""

    def __init__(self, model, optimizer, plan: PrivacyPlan, seed: int):
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer

        self.plan, self.seed = plan, seed
        self.module = GradSampleModule(model, loss_reduction="mean")
        self.generator = torch.Generator()
        self.optimizer = DPOptimizer(optimizer, noise_multiplier=plan.noise_multiplier,
                                     max_grad_norm=plan.max_grad_norm, expected_batch_size=plan.expected_batch_size,
                                     loss_reduction="mean", generator=self.generator)

    def step(self, step: int, batch: dict[str, torch.Tensor]) -> float:
        """One DP-SGD step (clipped per-example gradients plus seeded noise); its loss."""
        loss = per_example_loss(self.module, batch)
        with warnings.catch_warnings():  # Opacus hooks fire on module outputs: the frozen base needs no input grads
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            loss.backward()
        self.generator.manual_seed(stable_int(self.seed, "noise", step))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    def card(self, steps: int) -> dict:
        """The privacy section of the clone's card: mechanism, epsilon spent over `steps` and the settings behind
        it."""
        import opacus

        p = self.plan
        return {"mechanism": "DP-SGD (per-example clipping + Gaussian noise), Poisson-sampled batches",
                "library": f"opacus {opacus.__version__}", "accountant": "rdp", "privacy_unit": "document",
                "epsilon": epsilon_spent(p, steps), "delta": p.delta, "steps": steps,
                "noise_multiplier": p.noise_multiplier, "max_grad_norm": p.max_grad_norm,
                "sample_rate": p.sample_rate, "expected_batch_size": p.expected_batch_size,
                "target_epsilon": p.target_epsilon,
                "note": "epsilon covers every step run; the held-out split chooses the checkpoint and is "
                        "not protected"}
