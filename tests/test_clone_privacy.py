"""Differentially private clone training: the clipping is per document, the epsilon is an upper bound
that a closed form confirms, and a DP clone trains, reports its spend and resumes to the same adapter."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import optimize, stats

from bench.clone.privacy import (
    PrivacyError,
    PrivacyPlan,
    epsilon_spent,
    plan_privacy,
    poisson_batch,
)
from tests.conftest import cli_in_process
from tests.test_clone import TRAIN, TRUMP, clone_cfg

DP = ["train.dp.enabled=true", "train.max_steps=3", "train.eval_every=3"]


def gaussian_exact_epsilon(mu: float, delta: float) -> float:
    """Exact epsilon of a Gaussian mechanism with privacy parameter mu (Balle & Wang 2018, Thm 8):
    delta(eps) = Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2)."""
    f = lambda e: stats.norm.cdf(-e / mu + mu / 2) - math.exp(e) * stats.norm.cdf(-e / mu - mu / 2) - delta  # noqa: E731
    return optimize.brentq(f, 0, 100)


@pytest.mark.parametrize("sigma,steps", [(1.0, 1), (2.0, 10), (4.0, 100)])
def test_full_batch_epsilon_bounds_the_exact_gaussian_one(sigma, steps):
    """With every document in every step (q = 1), T steps of noise sigma are one Gaussian mechanism
    with mu = sqrt(T)/sigma, whose exact epsilon is known; RDP is a valid, not loose, upper bound."""
    plan = PrivacyPlan(sigma, 1.0, 1.0, 10, 1e-5, None)
    exact = gaussian_exact_epsilon(math.sqrt(steps) / sigma, 1e-5)
    got = epsilon_spent(plan, steps)
    assert exact <= got <= 1.15 * exact


def test_noise_is_chosen_to_meet_the_target():
    plan = plan_privacy({"target_epsilon": 3.0, "max_grad_norm": 1.0}, 1000, 10, 500, "chat")
    assert plan.delta == pytest.approx(1000 ** -1.1) and plan.sample_rate == 0.01
    spent = epsilon_spent(plan, 500)
    assert 2.9 <= spent <= 3.0
    assert epsilon_spent(plan, 100) < spent < epsilon_spent(plan, 1000)
    assert epsilon_spent(PrivacyPlan(0.0, 1.0, 0.01, 10, 1e-5, None), 5) == math.inf


def test_bad_privacy_settings_are_named():
    with pytest.raises(PrivacyError, match="format=chat"):
        plan_privacy({"target_epsilon": 3.0, "max_grad_norm": 1.0}, 1000, 10, 500, "text")
    with pytest.raises(PrivacyError, match="target_epsilon or noise_multiplier"):
        plan_privacy({"max_grad_norm": 1.0}, 1000, 10, 500, "chat")
    with pytest.raises(PrivacyError, match="max_grad_norm: -1"):
        plan_privacy({"target_epsilon": 3.0, "max_grad_norm": -1}, 1000, 10, 500, "chat")


def test_poisson_batches_are_seeded_and_have_the_right_rate():
    sizes = [len(poisson_batch(s, 0.05, 400, 0)) for s in range(400)]
    assert poisson_batch(7, 0.05, 400, 0) == poisson_batch(7, 0.05, 400, 0) != poisson_batch(8, 0.05, 400, 0)
    assert abs(np.mean(sizes) - 20) < 1.0 and np.var(sizes) > 10  # binomial(400, .05): mean 20, var 19


@pytest.mark.slow
def test_gradients_are_clipped_per_document():
    """Opacus's summed gradient equals the sum of each document's own gradient, computed alone and
    clipped to max_grad_norm, over the expected batch size (no noise)."""
    from peft import LoraConfig, get_peft_model

    from bench.clone.examples import build_examples, collate
    from bench.clone.privacy import PrivateTrainer, per_example_loss
    from bench.clone.train import base_model, clone_data
    from bench.engines.models import resolve_model

    cfg = clone_cfg(*TRUMP, *TRAIN)
    data = clone_data(cfg)
    torch.manual_seed(0)
    model, tok, pad = base_model(resolve_model(cfg["model"]))
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"],
                                             task_type="CAUSAL_LM"))
    for name, p in model.named_parameters():  # lora_B starts at zero: give it weight so every grad is non-zero
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.02)
    ex = build_examples(tok, data.train.documents[:3], "chat", cfg["instruction"], 60)
    params = [p for p in model.parameters() if p.requires_grad]
    clip = 0.05
    want = [torch.zeros_like(p) for p in params]
    norms = []
    model.train()
    for e in ex:
        model.zero_grad()
        per_example_loss(model, collate([e], pad)).backward()
        g = [p.grad.detach().clone() for p in params]
        norm = torch.sqrt(sum((x ** 2).sum() for x in g))
        norms.append(float(norm))
        for w, x in zip(want, g):
            w += x * min(1.0, clip / float(norm))
    model.zero_grad()
    assert min(norms) > clip  # every document is clipped here
    plan = PrivacyPlan(0.0, clip, 0.5, 4, 1e-5, None)
    trainer = PrivateTrainer(model, torch.optim.SGD(params, lr=0.0), plan, seed=0)
    per_example_loss(trainer.module, collate(ex, pad)).backward()
    trainer.optimizer.pre_step()
    for p, w in zip(params, want):
        np.testing.assert_allclose(p.grad.numpy(), (w / 4).numpy(), rtol=2e-3, atol=1e-7)


@pytest.mark.slow
def test_dp_clone_reports_epsilon_and_resumes_to_the_same_adapter(tmp_path):
    from safetensors.torch import load_file

    from bench.clone.train import train_clone

    out = tmp_path / "dp"
    proc = cli_in_process("clone", "train", *TRUMP, *TRAIN, *DP, "train.dp.target_epsilon=4", f"output_dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    dp = json.loads((out / "clone_card.json").read_text())["differential_privacy"]
    assert dp["steps"] == 3 and dp["privacy_unit"] == "document" and dp["sample_rate"] == pytest.approx(4 / 180)
    assert 3.9 <= dp["epsilon"] <= 4.0 and dp["noise_multiplier"] > 0
    assert dp["epsilon"] == pytest.approx(epsilon_spent(PrivacyPlan(dp["noise_multiplier"], 1.0, 4 / 180, 4,
                                                                    dp["delta"], 4.0), 3))
    assert "privacy spent: epsilon 3.9" in proc.stdout or "privacy spent: epsilon 4" in proc.stdout

    cfg = clone_cfg(*TRUMP, *TRAIN, *DP, "train.dp.target_epsilon=4", f"output_dir={tmp_path / 'resumed'}")
    train_clone(cfg, stop_after=1)
    train_clone(cfg)
    got, want = load_file(tmp_path / "resumed" / "adapter_model.safetensors"), load_file(out / "adapter_model.safetensors")
    for k in want:
        np.testing.assert_allclose(got[k].numpy(), want[k].numpy(), rtol=0, atol=1e-6)
    # the noise is real: the same run without privacy ends elsewhere
    plain = train_clone(clone_cfg(*TRUMP, *TRAIN, "train.max_steps=3", "train.eval_every=3",
                                  f"output_dir={tmp_path / 'plain'}"))
    other = load_file(plain / "adapter_model.safetensors")
    assert max(float((other[k] - want[k]).abs().max()) for k in want) > 1e-3
