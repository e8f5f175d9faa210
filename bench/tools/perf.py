"""Benchmark: persona-bench's logprob path beside the real peer, lm-evaluation-harness, on the same prompts.

For each design (BFI-44 with no persona, BFI-44 with the 10 trait personas, and the seed paper's 16
type personas x the type inventory, T in {0.01, 0.7}, 30 repetitions, 3 templates x 2 orders; "Open
Models, Closed Minds?", arXiv 2401.07115), scaled to fit the machine, it times on one engine:

(c) persona-bench's logprob path (`Administrator.run`: one last-position pass per distinct prompt,
    fanned out to every temperature and repetition), with each prefix's KV cache kept across batches
    (default), kept for its batch only, and off (the plain batch);
lm-eval, run for real in its own interpreter (`bench/tools/peer_lmeval.py`): its `hf` model scoring the
    same rendered prompts as a multiple-choice task, same model folder, dtype, batch size and threads;
(a) per-item sampled generation, PsychoBench-style, timed on a sample (seed design only).

The paths are interleaved and repeated (other work on a shared machine slows whichever runs at the
time), the option probabilities are checked against lm-eval's, and the tokens each path computes are
counted against the minimum (each distinct prefix once, plus every prompt's own suffix). With vllm
installed, the same designs run on vLLM (prefix caching on) in a child process, with the engine's own
prefix-cache hit rate. Writes docs/performance.md. On a CUDA machine it also times a randomly
initialised model of a real architecture (Llama-3-8B config, bf16) against the matrix-multiply roofline.

    persona-bench perf --threads 1 --peer-python /path/to/venv/bin/python   # -> docs/performance.md
    pip install '.[peer]' && persona-bench perf --threads 1                  # lm-eval importable here
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.errors import ConfigError
from bench.tools.startup import section as startup_section

PAPER = "16 personas x 2 temperatures x 30 repetitions x 3 templates x 2 option orders (arXiv 2401.07115)"
PEER_SCRIPT = Path(__file__).with_name("peer_lmeval.py")
DESIGNS = {  # name: (what it is, config overrides); items are cut with --items-<name>
    "none": ("BFI-44, no persona (the model's default system prompt), 1 template, original order, "
             "T in {0, 0.7, 1}, 5 repetitions",
             ["persona=none", "inventory=bfi", "templates=[describe]", "option_orders=[original]",
              "temperatures=[0.0,0.7,1.0]", "repetitions=5"]),
    "traits": ("BFI-44 x the 10 trait personas, 1 template, original order, T in {0, 0.7, 1}, 5 repetitions",
               ["persona=traits", "inventory=bfi", "templates=[describe]", "option_orders=[original]",
                "temperatures=[0.0,0.7,1.0]", "repetitions=5"]),
    "seed": ("the seed paper's: 16 type personas x the type inventory, T in {0.01, 0.7}, 30 repetitions, "
             "3 templates x 2 option orders",
             ["persona=mbti_types", "inventory=mbti", "templates=null", "option_orders=[original,reversed]",
              "temperatures=[0.01,0.7]", "repetitions=30"]),
}
CONVERSATION = ("BFI-44 in conversation mode (each item asked after the participant's earlier answers), the "
                "trait personas, 1 template, original order, T = 1, 2 repetitions",
                ["administration=conversation", "persona=traits", "inventory=bfi", "templates=[describe]",
                 "option_orders=[original]", "temperatures=[1.0]", "repetitions=2"])
MODES = {  # (c) variants: (prefix_reuse, prefix_cache)
    "kept": (True, None), "batch": (True, 0), "plain": (False, 0)}
MODE_NAMES = {"kept": "(c) logprob, prefixes kept across batches", "batch": "(c) logprob, prefix per batch",
              "plain": "(c) logprob, plain batch", "lm-eval": "lm-eval `hf` multiple choice",
              "sampled": "(a) per-item sampled generation"}


class PerfError(ConfigError):
    """The peer named on the command line cannot be run (checked before any model work)."""


@dataclass
class PathResult:
    name: str
    prompts: int  # distinct prompts the path scored
    administrations: int  # (participant, item) answers it produced for the design
    seconds: float
    peak_rss_mb: float
    tokens: int = 0  # positions the model computed (padding included)
    padding: int = 0
    load: float = float("nan")  # 1-minute load average when the path started
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def prompts_per_s(self) -> float:
        return self.prompts / self.seconds


class PeakRSS:
    """Peak resident memory of this process while a block runs (sampled every 5 ms from /proc)."""

    def __enter__(self):
        self.peak, self._stop = _rss_mb(), threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: the process peak so far
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compose_config(*overrides: str) -> dict:
    """The run config as `python -m bench <overrides>` resolves it."""
    from bench.config.load import compose

    return compose("config", overrides)


def design_config(name: str, items: int | None, batch_size: int, personas: int | None = None) -> dict:
    cfg = compose_config(*DESIGNS[name][1], f"batch_size={batch_size}", "progress=false",
                         *([f"max_items={items}"] if items else []))
    if personas:
        cfg["persona"]["personas"] = cfg["persona"]["personas"][:personas]
    return cfg


def build(cfg: dict, engine):
    from transformers import AutoTokenizer

    from bench.administration.administer import Administrator
    from bench.engines.rendering import PromptRenderer
    from bench.pipelines.run import prepare

    inventory, plan, spec = prepare(cfg)
    renderer = PromptRenderer.from_config(AutoTokenizer.from_pretrained(spec.path), cfg["prompt"])
    constants = {"run_config_hash": "", "model_id": spec.id, "model_sha256": spec.sha256, "adapter_sha256": "",
                 "engine": engine.name, "scoring_mode": "logprob", "administration": "single",
                 "inventory_id": inventory.id, "inventory_version": inventory.version, "persona_set": "bench",
                 "seed": int(cfg["seed"]), "env_hash": "", "git_commit": ""}
    return Administrator(plan, engine, renderer, "logprob", int(cfg["batch_size"]), int(cfg["max_new_tokens"]),
                         constants)


def distinct_prompts(admin) -> list[tuple[tuple[int, int], str, list[int]]]:
    """Every (condition, item) prompt of a single-item design: (key, text, token ids)."""
    return [((c, i), *admin.render_single(c, i)[1:]) for c in range(len(admin.conditions))
            for i in range(len(admin.plan.items))]


def minimum_tokens(groups: list[list[list[int]]]) -> dict:
    """The least a prefix-reusing engine must compute for these prompts, grouped by what they share
    (a condition: persona, template, order). `minimum`: each distinct group prefix (the group's longest
    common prefix) once, plus every distinct prompt's own suffix after it. `trie`: every distinct token
    prefix of any prompt once (prompts of different groups that share more, e.g. two option orders up to
    the options, counted once too), the bound no order of work can beat."""
    prefixes, suffix, prompts = set(), 0, set()
    for group in groups:
        distinct = sorted({tuple(p) for p in group})
        if len(distinct) == 1:
            n = len(distinct[0])
        else:
            first, n = distinct[0], min(map(len, distinct))
            for p in distinct[1:]:
                n = next((k for k in range(n) if p[k] != first[k]), n)
        prefixes.add(distinct[0][:n])
        suffix += sum(len(p) - n for p in distinct)
        prompts.update(distinct)
    trie, previous = 0, ()
    for p in sorted(prompts):
        shared = next((k for k, (a, b) in enumerate(zip(p, previous)) if a != b), min(len(p), len(previous)))
        trie += len(p) - shared
        previous = p
    return {"minimum": sum(map(len, prefixes)) + suffix, "trie": trie, "prefixes": len(prefixes),
            "prompt_tokens": sum(map(len, prompts)), "prompts": len(prompts)}


def design_minimum(admin) -> dict:
    by_condition: dict[int, list[list[int]]] = {}
    for (c, _), _, ids in distinct_prompts(admin):
        by_condition.setdefault(c, []).append(ids)
    return minimum_tokens(list(by_condition.values()))


def path_logprob(admin, mode: str = "kept") -> tuple[PathResult, object, dict]:
    """(c) persona-bench's own path, writing its parquet parts like a run does. Returns its responses
    and the label log-probs it computed per prompt (token ids -> row)."""
    import pandas as pd

    from bench.engines.transformers_engine import PREFIX_CACHE
    from bench.results.store import RunStore

    engine = admin.engine
    reuse, keep = MODES[mode]
    engine.reset()
    engine.prefix_reuse = reuse
    engine.prefix_cache = PREFIX_CACHE if keep is None else keep
    logp: dict[tuple, np.ndarray] = {}
    original = engine.label_logprobs

    engine_s = 0.0

    def recorded(prompts, labels, **hints):
        nonlocal engine_s
        t = time.perf_counter()
        out = original(prompts, labels, **hints)
        engine_s += time.perf_counter() - t
        logp.update((tuple(p), row) for p, row in zip(prompts, out))
        return out

    engine.label_logprobs = recorded
    load = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory() as tmp, PeakRSS() as mem:
            start = time.perf_counter()
            store = RunStore(Path(tmp))
            admin.run(store, progress=False)
            seconds = time.perf_counter() - start
            responses = store.read_parts()
    finally:
        del engine.label_logprobs
    counters = {**engine.counters, "engine_seconds": engine_s}
    return (PathResult(MODE_NAMES[mode], len(logp), len(responses), seconds, mem.peak, counters["tokens"],
                       counters["padding"], load,
                       f"{len(admin.units())} units of up to {admin.batch_size} prompts, {counters['calls']} engine calls"
                       f"; kept prefix served {counters['prefix_hits']}, computed {counters['prefix_misses']}; "
                       f"{engine_s:.1f} s in the engine",
                       counters), pd.DataFrame(responses), logp)


def conversation_config(items: int, batch_size: int, personas: int | None) -> dict:
    cfg = compose_config(*CONVERSATION[1], f"max_items={items}", f"batch_size={batch_size}", "progress=false")
    if personas:
        cfg["persona"]["personas"] = cfg["persona"]["personas"][:personas]
    return cfg


def run_conversation(admin, repeats: int) -> dict:
    """Conversation mode with each conversation's cache kept from item to item vs not (the kept-prefix path
    of before), interleaved; tokens against the trie bound of every prompt the design showed."""
    from bench.engines.transformers_engine import ROW_CACHE_MB

    runs: dict[str, list[PathResult]] = {}
    logps: dict[str, dict] = {}
    for rep in range(repeats):
        for rows in ((True, False) if rep % 2 == 0 else (False, True)):
            admin.engine.row_cache_mb = ROW_CACHE_MB if rows else 0
            res, _, logp = path_logprob(admin, "kept")
            c = res.extra
            res.name = "conversations kept item to item" if rows else "kept prefixes only (before)"
            res.note += f"; rows started from their kept conversation {c['row_hits']}, cold {c['row_misses']}"
            print(f"  [conversation rep {rep + 1}] rows {'kept' if rows else 'not kept'}: "
                  f"{res.prompts_per_s:.2f} prompts/s, {res.tokens} tokens", flush=True)
            runs.setdefault("rows" if rows else "before", []).append(res)
            logps.setdefault("rows" if rows else "before", logp)
    admin.engine.row_cache_mb = ROW_CACHE_MB
    return {"runs": runs, "minimum": minimum_tokens([[list(k)] for k in logps["before"]]),
            "agreement": agreement(logps["before"], logps["rows"])}


def conversation_lines(conv: dict, scale: str) -> list[str]:
    m, rows, before = conv["minimum"], conv["runs"]["rows"], conv["runs"]["before"]
    a = conv["agreement"]
    speed = [r.prompts_per_s / b.prompts_per_s for r, b in zip(rows, before)]
    return [f"Measured ({CONVERSATION[0]}; {scale}): {m['prompts']} distinct prompts, {m['prompt_tokens']} "
            f"prompt tokens, trie bound {m['trie']}. Keeping each conversation computed **{rows[0].tokens}** tokens "
            f"({rows[0].tokens / m['trie']:.2f}x the trie bound) where the kept prefixes alone computed "
            f"{before[0].tokens} ({before[0].tokens / m['trie']:.2f}x); {rows[0].note.split('; ')[-1]}. Prompts/s "
            f"{spread([r.prompts_per_s for r in rows])} vs {spread([b.prompts_per_s for b in before])} "
            f"({spread(speed)}x, load avg {', '.join(f'{r.load:.1f}' for r in rows)}); option probabilities "
            f"differ by at most {a['max_abs_diff']:.1e} over {a['n']} prompts, same most likely option on "
            f"{a['argmax_same']}/{a['n']}."]


def path_sampled(admin, sample: int) -> PathResult:
    """(a) One generate per administration (participant x item), unbatched, as PsychoBench-style loops do."""
    from bench.administration.parse import parse_answer
    from bench.hashing import stable_int

    admin.engine.prefix_reuse = False
    jobs = [(p, i) for p in admin.plan.participants for i in range(len(admin.plan.items))]
    step = max(1, len(jobs) // sample)
    chosen = jobs[::step][:sample]  # spread over personas, temperatures and items
    condition_index = {g[0].condition: c for c, g in enumerate(admin.conditions)}
    valid = 0
    load = os.getloadavg()[0]
    with PeakRSS() as mem:
        start = time.perf_counter()
        for p, i in chosen:
            perm, _, ids = admin.render_single(condition_index[p.condition], i)
            text = admin.engine.generate([ids], p.temperature, admin.max_new_tokens,
                                         [stable_int(p.seed, admin.plan.items[i].id)])[0]
            valid += parse_answer(text, [admin.plan.inventory.scale.labels[c] for c in perm]).position is not None
        seconds = time.perf_counter() - start
    admin.engine.prefix_reuse = True
    return PathResult(MODE_NAMES["sampled"], len(chosen), len(chosen), seconds, mem.peak, load=load,
                      note=f"timed on {len(chosen)} of {len(jobs)} administrations; {valid} parsed as valid",
                      extra={"total_design": len(jobs)})


# -- the peer ---------------------------------------------------------------------------------------
def find_peer(peer_python: str | None) -> str:
    """The interpreter that runs lm-eval: the one given, or this one when lm_eval imports here."""
    if peer_python:
        if not Path(peer_python).is_file():
            raise PerfError(f"--peer-python: '{peer_python}' is not a file (give a venv's bin/python with lm-eval)")
        probe = subprocess.run([peer_python, "-c", "import lm_eval"], capture_output=True, text=True)
        if probe.returncode:
            last = probe.stderr.strip().splitlines()[-1:] or ["no message"]
            raise PerfError(f"--peer-python: '{peer_python}' cannot import lm_eval ({last[0][-300:]}); "
                            f"install it there: {peer_python} -m pip install lm-eval==0.4.13")
        return peer_python
    try:
        import lm_eval  # noqa: F401
    except ImportError as err:
        raise PerfError("lm-eval is not importable here: `pip install '.[peer]'`, or pass --peer-python "
                        "<venv>/bin/python of a venv that has it (or --no-peer to skip the comparison)") from err
    return sys.executable


def path_lmeval(admin, peer_python: str, threads: int | None) -> tuple[PathResult, dict]:
    """lm-eval in its own process on this design's distinct prompts; its per-option log-likelihoods
    by prompt token ids. Its tokens: one row per prompt (it reuses the logits of continuations that
    differ only in their last token), prompt + label, padding not counted."""
    prompts = distinct_prompts(admin)
    labels = {}
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "prompts.jsonl", Path(tmp) / "out.json"
        with data.open("w") as fh:
            for k, ((c, i), text, ids) in enumerate(prompts):
                n = len(admin.label_ids(i))
                labels[str(k)] = tuple(ids)
                fh.write(json.dumps({"id": str(k), "text": text, "choices": [str(d) for d in range(1, n + 1)]}) + "\n")
        cmd = [peer_python, str(PEER_SCRIPT), str(data), str(out), "--model", admin.engine.spec.path,
               "--dtype", admin.engine.spec.dtype, "--batch-size", str(admin.batch_size), "--device", "cpu",
               *(["--threads", str(threads)] if threads else [])]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
               **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
        load = os.getloadavg()[0]
        peak, proc = 0.0, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        err = []
        drain = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
        drain.start()
        while proc.poll() is None:
            peak = max(peak, _vm_hwm_mb(proc.pid))
            time.sleep(0.1)
        drain.join()
        if proc.returncode:
            raise RuntimeError(f"lm-eval failed (rc {proc.returncode}): {''.join(err)[-2000:]}")
        result = json.loads(out.read_text())
    loglik = {labels[k]: np.asarray(v) for k, v in result["loglik"].items()}
    tokens = sum(len(ids) + 1 for ids in loglik)
    return (PathResult(MODE_NAMES["lm-eval"], len(loglik), len(loglik), result["seconds"], peak, tokens, 0, load,
                       f"lm-eval {result['lm_eval_version']}, {result['torch_threads']} torch thread(s); "
                       f"time in its loglikelihood calls; set-up {result['evaluate_seconds'] - result['seconds']:.1f} s "
                       f"and model load {result['load_seconds']:.1f} s not counted",
                       {"version": result["lm_eval_version"]}), loglik)


def agreement(ours: dict, peer: dict) -> dict:
    """Option probabilities (renormalised over the options) of ours vs another path, prompt by prompt."""
    from scipy.special import softmax

    diffs, same = [], 0
    for key, lp in peer.items():
        a, b = softmax(np.asarray(ours[key], dtype=float)), softmax(np.asarray(lp, dtype=float))
        diffs.append(np.abs(a - b).max())
        same += int(np.argmax(a) == np.argmax(b))
    return {"max_abs_diff": float(max(diffs)), "mean_abs_diff": float(np.mean(diffs)), "argmax_same": same,
            "n": len(diffs)}


# -- vLLM (child process: it needs its own spawn-guarded main and ~4.5 GB) ---------------------------
def vllm_child(designs: list[tuple[str, int | None]], batch_size: int, personas: int | None, out: str,
               block_size: int | None = None) -> int:
    """The designs on one vLLM engine (its start costs a minute or two), each timed after a warm-up
    request, with the engine's own prefix-cache counters."""
    from bench.engines import make_engine
    from bench.engines.models import resolve_model
    from bench.results.store import RunStore

    first = design_config(designs[0][0], designs[0][1], batch_size, personas)
    spec = resolve_model(first["model"])
    start = time.perf_counter()
    engine = make_engine("vllm", spec, seed=int(first["seed"]), log_stats=True,
                         **({"block_size": block_size} if block_size else {}))
    start_s = time.perf_counter() - start
    original = engine.label_logprobs
    results = {}
    for name, items in designs:
        admin = build(design_config(name, items, batch_size, personas), engine)
        prompts = distinct_prompts(admin)
        original([prompts[-1][2][:8]], admin.label_ids(0))  # warm-up, sharing no whole block with the design
        before = engine.prefix_cache_stats()
        logp: dict[tuple, list] = {}

        def recorded(batch, labels, **hints):
            rows = original(batch, labels, **hints)
            logp.update((tuple(p), list(map(float, r))) for p, r in zip(batch, rows))
            return rows

        engine.label_logprobs = recorded
        load = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            store = RunStore(Path(tmp))
            admin.run(store, progress=False)
            seconds = time.perf_counter() - t
            rows = len(store.read_parts(columns=["participant_id"]))
        after = engine.prefix_cache_stats()
        results[name] = {"seconds": seconds, "start_s": start_s, "prompts": len(logp), "rows": rows, "load": load,
                         "queries": after["queries"] - before["queries"], "hits": after["hits"] - before["hits"],
                         "vllm_version": __import__("vllm").__version__,
                         "block_size": engine.llm.llm_engine.vllm_config.cache_config.block_size,
                         "logp": [[list(k), v] for k, v in logp.items()]}
    Path(out).write_text(json.dumps(results))
    engine.close()
    return 0


def path_vllm(designs: list[tuple[str, int | None]], batch_size: int, personas: int | None, threads: int | None,
              block_size: int | None = None):
    """Run `vllm_child` in a child process; per design (PathResult, log-probs by prompt), or the reason
    it did not run. Peak RSS: the child's whole process tree (vLLM's engine core is a process of its own)."""
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "vllm.json"
        cmd = [sys.executable, "-m", "bench.tools.perf", "--vllm-child", out.as_posix(), "--batch-size",
               str(batch_size), "--designs", *[n for n, _ in designs],
               *[a for n, items in designs if items for a in (f"--items-{n}", str(items))],
               *(["--personas", str(personas)] if personas else []),
               *(["--vllm-block-size", str(block_size)] if block_size else [])]
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "2"),
               "VLLM_CPU_NUM_OF_RESERVED_CPU": "0", "OMP_NUM_THREADS": str(os.cpu_count())}
        with tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True, env=env,
                                    cwd=Path(__file__).resolve().parents[2])
            peak, tree = 0.0, psutil.Process(proc.pid)
            while proc.poll() is None:
                try:
                    procs = [tree, *tree.children(recursive=True)]
                    peak = max(peak, sum(p.memory_info().rss for p in procs) / 2**20)
                except psutil.Error:
                    pass
                time.sleep(0.2)
            if proc.returncode:
                err.seek(0)
                return {}, f"vLLM did not run: {err.read().strip()[-600:]}"
        results = json.loads(out.read_text())
    got = {}
    for name, r in results.items():
        logp = {tuple(k): np.asarray(v) for k, v in r["logp"]}
        res = PathResult(f"vLLM {r['vllm_version']} (prefix caching)", r["prompts"], r["rows"], r["seconds"], peak,
                         r["queries"] - r["hits"], 0, r["load"],
                         f"prefix-cache hit rate {r['hits'] / max(r['queries'], 1):.1%} of {r['queries']} prompt "
                         f"tokens, {r['block_size']}-token blocks; peak RSS of its process tree over all designs; engine start {r['start_s']:.0f} s "
                         "not counted", {"hits": r["hits"], "queries": r["queries"]})
        got[name] = (res, logp)
    return got, ""


def _vm_hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# -- GPU: a realistic model size --------------------------------------------------------------------
LLAMA3_8B = dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                 num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192,
                 rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=False)


def matmul_rate(device: str, dtype, n: int = 8192, repeats: int = 20) -> float:
    """Measured dense matrix-multiply rate (FLOP/s) of this device at this dtype."""
    import torch

    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def roofline(config: dict, device: str, dtype_name: str = "bfloat16", batch: int = 32, prompt_len: int = 160,
             new_tokens: int = 12, matmul_n: int = 8192, repeats: int = 3) -> dict:
    """Prefill tokens/s of a randomly initialised model vs 2 x parameters x tokens at the measured
    matrix rate; plus per-item generation (a) vs a batched last-position pass (c) on the same model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    dtype = getattr(torch, dtype_name)
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(LlamaConfig(**config)).to(dtype).eval()
    params = sum(p.numel() for p in model.parameters())
    rate = matmul_rate(device, dtype, matmul_n)
    ids = torch.randint(0, config["vocab_size"], (batch, prompt_len), device=device)
    with torch.inference_mode():
        model(input_ids=ids[:2], logits_to_keep=1)  # warm-up
        _sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            model(input_ids=ids, logits_to_keep=1)
        _sync(device)
        prefill_s = (time.perf_counter() - start) / repeats
        start = time.perf_counter()
        for row in range(min(batch, 4)):
            model.generate(input_ids=ids[row:row + 1], attention_mask=torch.ones_like(ids[row:row + 1]),
                           max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True, top_k=0,
                           pad_token_id=0)
        _sync(device)
        generate_s = (time.perf_counter() - start) / min(batch, 4)
    tokens_s = batch * prompt_len / prefill_s
    out = {"device": _device_name(device), "dtype": dtype_name, "parameters": params,
           "matmul_tflops": rate / 1e12, "batch": batch, "prompt_len": prompt_len,
           "prefill_tokens_s": tokens_s, "roofline_tokens_s": rate / (2 * params),
           "prompt_s_logprob": prefill_s / batch, "prompt_s_generate": generate_s, "new_tokens": new_tokens}
    if device.startswith("cuda"):
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    del model
    return out


def _device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(0)
    return cpu_name()


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# -- report -----------------------------------------------------------------------------------------
def machine() -> str:
    import torch
    import transformers

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu_name()}, {os.cpu_count()} CPUs, {mem:.0f} GiB RAM, Python {platform.python_version()}, "
            f"torch {torch.__version__} with {torch.get_num_threads()} thread(s), transformers {transformers.__version__}")


def spread(values) -> str:
    values = [v for v in values if v == v]
    if not values:
        return "n/a"
    lo, hi = min(values), max(values)
    return f"{lo:.2f}" if len(values) == 1 or f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}"


def design_table(d: dict) -> str:
    import pandas as pd

    peer = d["runs"].get("lm-eval", [])
    rows = []
    for mode, runs in d["runs"].items():
        ratio = [r.prompts_per_s / p.prompts_per_s for r, p in zip(runs, peer)] if peer else []
        rows.append({"path": runs[0].name, "prompts": runs[0].prompts, "answers": runs[0].administrations,
                     "seconds": ", ".join(f"{r.seconds:.1f}" for r in runs),
                     "prompts/s": spread([r.prompts_per_s for r in runs]),
                     "x lm-eval": spread(ratio) if mode != "lm-eval" else "1",
                     "tokens computed": runs[0].tokens or "",
                     "x minimum": f"{runs[0].tokens / d['minimum']['minimum']:.2f}" if runs[0].tokens else "",
                     "x trie": f"{runs[0].tokens / d['minimum']['trie']:.2f}" if runs[0].tokens else "",
                     "peak RSS MB": round(max(r.peak_rss_mb for r in runs)),
                     "load avg": ", ".join(f"{r.load:.1f}" for r in runs), "how": runs[0].note})
    return pd.DataFrame(rows).to_markdown(index=False)


def markdown(argv: list[str], designs: dict, machine_line: str, peer_version: str | None, gpu: dict | None,
             vllm_note: str, conversation: list[str] | None = None) -> str:
    from bench.engines.transformers_engine import PREFIX_CACHE, ROW_CACHE_MB

    lines = [
        "# Performance", "",
        f"Measured by `persona-bench perf {' '.join(argv)}`".rstrip() + f" on {time.strftime('%Y-%m-%d')}.", "",
        f"**Machine:** {machine_line}; lm-eval {peer_version or 'not run'}. The machine is shared (other "
        "engineers' jobs ran on the same 2 cores): every path of a design is run in turn, the order rotated "
        "between repetitions, and ratios are taken between runs of the same repetition; `load avg` is the "
        "1-minute load average when each run started. Ranges are min-max over the repetitions, the only "
        "uncertainty measured; with two repetitions under a varying load they are rough.", "",
        "**Model:** SmolLM2-135M-Instruct (the embedded model, fp32 HF folder), same folder, dtype, batch size "
        "and thread count for every path. **prompts/s**: distinct prompts scored per second (one per condition "
        "x item; persona-bench fans each out to every temperature and repetition, `answers`). lm-eval's "
        "seconds are the time inside its model's loglikelihood calls only (task set-up and model load "
        "excluded), ours the whole `Administrator.run` including rendering and writing parquet parts: the "
        "comparison favours lm-eval.", "",
        "**Tokens computed** are the positions the model ran over, padding included (lm-eval: prompt + label "
        "per prompt, padding not counted; vLLM: prompt tokens not served from its prefix cache). "
        "**Minimum**: each distinct prefix (the longest common prefix of a condition's prompts: chat template, "
        "persona turn, instruction) once, plus every prompt's own suffix; `trie` is the bound no order of work "
        "can beat (every distinct token prefix once). A condition with one prompt (the seed design at one "
        "item) has no prefix of its own: its whole prompt counts in the minimum, and the trie is the floor "
        "that matters there.", "",
    ]
    for name, d in designs.items():
        m = d["minimum"]
        lines += [f"## {name}: {d['label']}", "",
                  f"{d['scale']}. {m['prompts']} distinct prompts, {m['prompt_tokens']} prompt tokens, "
                  f"minimum **{m['minimum']}** ({m['prefixes']} distinct prefixes), trie bound {m['trie']}.", "",
                  design_table(d), ""]
        for label, a in d["agreement"].items():
            lines.append(f"- {label}: option probabilities differ by at most **{a['max_abs_diff']:.1e}** "
                         f"(mean {a['mean_abs_diff']:.1e}) over {a['n']} prompts; same most likely option on "
                         f"{a['argmax_same']}/{a['n']}.")
        lines += d.get("notes", []) + [""]
    lines += ["## Targets", ""] + targets(designs) + [""]
    lines += ["## How the prefixes are computed once", "",
              "Units (the resumable parts of a run) are condition-major: every item of a persona x template x "
              "order condition, then the next, so the work sharing a prefix already runs together; the "
              "Administrator now calls the engine once per persona x template within a unit (option orders "
              "share everything up to the options), so each call shares one long prefix. The transformers engine keeps the batch-1 KV caches of the last "
              f"{PREFIX_CACHE} prefixes it computed (an LRU; a few MB each for this model); a call takes "
              "the kept cache sharing most tokens with its prefix, copies it, cuts it to what they share and "
              "computes only the missing tokens, then copies it to each row and computes the rows' own "
              "suffixes. Reordering is of engine work only: participant ids, seeds, units and parts are as "
              "before, and the probabilities stay within 1e-4 of the plain batch (tests/test_perf.py). vLLM "
              "gets its requests in the same order; its own prefix cache does the rest.", "",
              "**Conversation mode:** each participant's prompt for an item is its prompt for the previous item "
              "plus its answer and the next question. The Administrator runs a chunk of participants item after "
              "item (unit indices, batches and parts unchanged) and tells the engine the rows will grow; the "
              "transformers engine keeps each row's whole KV cache (up to "
              f"{ROW_CACHE_MB} MB, `+engine.row_cache_mb`, oldest dropped first) and starts the row's next "
              "prompt from it, rows of different kept lengths left-padded into one batch cache with the "
              "padding masked. Rows with nothing kept (the first item) start from the prefix they share. "
              "vLLM's prefix cache should do the same by itself now that its blocks are small enough to hit "
              "(conversation mode on vLLM was not measured).",
              "", *(conversation or []), ""]
    if vllm_note:
        lines += ["## vLLM", "", vllm_note, ""]
    lines += ["## Realistic model size on a GPU", ""]
    if gpu:
        lines += [
            f"A **randomly initialised** Llama-3-8B architecture ({gpu['parameters'] / 1e9:.2f} B parameters, "
            f"{gpu['dtype']}; real weights cannot be carried to the machine, and random weights do the same "
            f"arithmetic) on {gpu['device']}:", "",
            "| figure | value |", "|---|---|",
            f"| measured matmul rate ({gpu['dtype']}) | {gpu['matmul_tflops']:.0f} TFLOP/s |",
            f"| prefill, batch {gpu['batch']} x {gpu['prompt_len']} tokens, last-position logits | "
            f"{gpu['prefill_tokens_s']:,.0f} tokens/s |",
            f"| roofline: rate / (2 x parameters) | {gpu['roofline_tokens_s']:,.0f} tokens/s |",
            f"| achieved fraction of the roofline | {gpu['prefill_tokens_s'] / gpu['roofline_tokens_s']:.0%} |",
            f"| (c) one prompt in a batched last-position pass | {gpu['prompt_s_logprob'] * 1e3:.1f} ms |",
            f"| (a) one prompt, {gpu['new_tokens']} sampled tokens, alone | {gpu['prompt_s_generate'] * 1e3:.0f} ms |",
        ] + ([f"| peak GPU memory | {gpu['peak_gpu_mb']:,.0f} MB |"] if "peak_gpu_mb" in gpu else [])
    else:
        lines += ["**Not run**: there is no CUDA device on the machine these figures were taken on. On a CUDA "
                  "machine `persona-bench perf` adds this section by itself: a randomly initialised Llama-3-8B "
                  "architecture in bf16, prefill tokens/s with last-position logits against the roofline "
                  "2 x parameters x tokens at the matrix-multiply rate measured there, and the per-prompt cost "
                  "of (a) vs (c) on that model (`--gpu-only` runs just that part)."]
    return "\n".join(lines) + "\n"


def targets(designs: dict) -> list[str]:
    out = []
    for name, want in (("none", 3.0), ("traits", 5.0)):
        d = designs.get(name)
        if not d or "lm-eval" not in d["runs"]:
            out.append(f"- {name}: >= {want:.0f}x lm-eval: not measured in this run.")
            continue
        ratios = [r.prompts_per_s / p.prompts_per_s for r, p in zip(d["runs"]["kept"], d["runs"]["lm-eval"])]
        got = min(ratios)
        bound = d["runs"]["lm-eval"][0].tokens / d["minimum"]["minimum"]
        out.append(f"- {name}: >= {want:.0f}x lm-eval: **{spread(ratios)}x**, "
                   + ("met." if got >= want else f"missed by {want - got:.1f}x at the lowest repetition.")
                   + f" lm-eval computes {bound:.1f}x the minimum tokens (and logits at every position, where "
                   "(c) keeps the last only): what computing only the minimum can gain on these prompts.")
    for name, d in designs.items():
        tokens, m = d["runs"]["kept"][0].tokens, d["minimum"]
        ratio = tokens / m["trie"]  # judged on the trie, the stricter floor (<= the minimum)
        out.append(f"- {name}: tokens computed <= 1.2x the minimum: **{tokens / m['minimum']:.2f}x** the minimum, "
                   f"**{ratio:.2f}x** the trie bound, " + ("met." if ratio <= 1.2 else f"missed by {ratio - 1.2:.2f}x."))
        if "lm-eval vs (c)" in d["agreement"]:
            a = d["agreement"]["lm-eval vs (c)"]["max_abs_diff"]
            out.append(f"- {name}: probabilities within 1e-4 of lm-eval: **{a:.1e}**, "
                       + ("met." if a <= 1e-4 else "missed."))
    return out


def run_design(name: str, admin, args, peer_python: str | None, scale: str) -> dict:
    d = {"label": DESIGNS[name][0], "scale": scale, "minimum": design_minimum(admin), "runs": {}, "agreement": {}}
    modes = ["kept", "batch", "plain"] + (["lm-eval"] if peer_python else [])
    logps = {}
    for rep in range(args.repeats):
        # The ratio that matters (kept prefixes vs lm-eval) is repeated; the other (c) variants, which
        # only show where the gain comes from, run in the first repetition.
        order = modes if rep == 0 else [m for m in ("lm-eval", "kept") if m in modes]
        order = order if rep % 2 == 0 else order[::-1]
        for mode in order:
            print(f"  [{name} rep {rep + 1}] {mode} ...", flush=True)
            if mode == "lm-eval":
                res, logp = path_lmeval(admin, peer_python, args.threads)
            else:
                res, _, logp = path_logprob(admin, mode)
            print(f"    {res.prompts_per_s:.2f} prompts/s, {res.tokens} tokens", flush=True)
            d["runs"].setdefault(mode, []).append(res)
            logps.setdefault(mode, logp)
    d["runs"] = {m: d["runs"][m] for m in modes}
    if "lm-eval" in logps:
        d["agreement"]["lm-eval vs (c)"] = agreement(logps["kept"], logps["lm-eval"])
    d["agreement"]["(c) kept prefixes vs plain batch"] = agreement(logps["plain"], logps["kept"])
    d["agreement"]["(c) per-batch prefix vs plain batch"] = agreement(logps["plain"], logps["batch"])
    d["logp"] = logps["kept"]
    return d


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="persona-bench perf", description=__doc__.splitlines()[0])
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=list(DESIGNS))
    parser.add_argument("--items-none", type=int, default=22, help="first N BFI-44 items, no-persona design")
    parser.add_argument("--items-traits", type=int, default=3, help="first N BFI-44 items, trait-persona design")
    parser.add_argument("--items-seed", type=int, default=1, help="first N type-inventory items, seed design")
    parser.add_argument("--personas", type=int, default=None, help="first N personas of each design (default all)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repetitions of every path")
    parser.add_argument("--sample-admins", type=int, default=8, help="administrations timed for (a), seed design")
    parser.add_argument("--peer-python", default=None, help="python of a venv with lm-eval (default: this one)")
    parser.add_argument("--no-peer", action="store_true", help="skip lm-eval")
    parser.add_argument("--no-vllm", action="store_true", help="skip vLLM even when it is installed")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads for every path (default: torch's choice); 1 is steadier on a shared machine")
    parser.add_argument("--conversation-items", type=int, default=4,
                        help="first N BFI-44 items of the conversation-mode comparison (0: skip it)")
    parser.add_argument("--conversation-only", action="store_true",
                        help="run only the conversation-mode comparison and print it (docs untouched)")
    parser.add_argument("--gpu-only", action="store_true")
    parser.add_argument("--vllm-block-size", type=int, default=None,
                        help="vLLM's KV block in tokens (default: the engine's, 32 on CPU)")
    parser.add_argument("--vllm-child", metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "docs" / "performance.md"))
    args = parser.parse_args(argv)
    if args.vllm_child:
        return vllm_child([(n, getattr(args, f"items_{n}")) for n in args.designs], args.batch_size, args.personas,
                          args.vllm_child, args.vllm_block_size)
    if args.conversation_only and args.conversation_items < 1:
        raise PerfError(f"--conversation-items={args.conversation_items}: --conversation-only needs at least 1 item")
    peer_python = (None if args.no_peer or args.gpu_only or args.conversation_only
                   else find_peer(args.peer_python))  # before any model work

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    gpu = None
    if torch.cuda.is_available():
        print("GPU: timing a random-initialised Llama-3-8B architecture ...", flush=True)
        gpu = roofline(LLAMA3_8B, "cuda")
        print(gpu, flush=True)
        torch.cuda.empty_cache()
        if args.gpu_only:
            print(markdown_gpu_only(gpu))
            return 0

    from bench.engines import make_engine
    from bench.engines.models import resolve_model

    machine_line = machine()
    first = design_config(args.designs[0], getattr(args, f"items_{args.designs[0]}"), args.batch_size, args.personas)
    engine = make_engine("transformers", resolve_model(first["model"]), seed=int(first["seed"]), device="cpu")
    designs, peer_version, vllm_lines, conversation = {}, None, [], []
    if args.conversation_items:
        admin = build(conversation_config(args.conversation_items, args.batch_size, args.personas), engine)
        participants = len(admin.plan.participants)
        scale = (f"scaled to {len(admin.plan.items)} items x {participants} participants, batch size "
                 f"{args.batch_size}, {args.repeats} interleaved repetitions; {machine_line}")
        print(f"conversation: {scale}", flush=True)
        conversation = conversation_lines(run_conversation(admin, args.repeats), scale)
        if args.conversation_only:
            print("\n".join(conversation))
            return 0
    run_vllm = not args.no_vllm and vllm_installed()
    for name in args.designs:
        items = getattr(args, f"items_{name}")
        cfg = design_config(name, items, args.batch_size, args.personas)
        admin = build(cfg, engine)
        plan = admin.plan
        scale = (f"Scaled: {len({p.persona.id for p in plan.participants})} personas x "
                 f"{len({p.template.id for p in plan.participants})} template(s) x "
                 f"{len({p.option_order for p in plan.participants})} order(s) x {len(plan.items)} item(s) = "
                 f"{len(admin.conditions) * len(plan.items)} prompts, fanned out to "
                 f"{len(plan.participants) * len(plan.items)} answers; batch size {args.batch_size}")
        print(f"{name}: {scale}", flush=True)
        warm = [p[2] for p in distinct_prompts(admin)[:2]]
        engine.label_logprobs(warm, admin.label_ids(0))  # first calls pay one-off set-up costs
        d = run_design(name, admin, args, peer_python, scale)
        if "lm-eval" in d["runs"]:
            peer_version = d["runs"]["lm-eval"][0].extra["version"]
        if name == "seed" and args.sample_admins:
            print("  (a) per-item sampled generation ...", flush=True)
            a = path_sampled(admin, args.sample_admins)
            c = d["runs"]["kept"][0]
            d["notes"] = [f"- (a) per-item sampled generation (PsychoBench-style, one `generate` per answer, "
                          f"{admin.max_new_tokens} new tokens): {a.administrations / a.seconds:.2f} answers/s "
                          f"({a.note}; load avg {a.load:.1f}); (c) gives {c.administrations / c.seconds:.0f} "
                          f"answers/s on this design, **{(c.administrations / c.seconds) / (a.administrations / a.seconds):.0f}x**."]
        designs[name] = d
    engine.close()
    if run_vllm:
        print("vLLM, all designs (child process) ...", flush=True)
        got, why = path_vllm([(n, getattr(args, f"items_{n}")) for n in args.designs], args.batch_size,
                             args.personas, args.threads, args.vllm_block_size)
        for name, (res, logp) in got.items():
            designs[name]["runs"]["vllm"] = [res]
            designs[name]["agreement"]["vLLM vs (c) transformers"] = agreement(designs[name]["logp"], logp)
        if why:
            vllm_lines.append(why)
    if not run_vllm:
        vllm_lines.append("vLLM was not run (" + ("--no-vllm" if args.no_vllm else "not installed") + ").")
    else:
        vllm_lines.insert(0, "Each design also ran on vLLM (vllm-cpu, prefix caching on, eager, fp32, 2 OMP "
                          "threads as its CPU backend wants) in a child process, once, after a warm-up request; "
                          "its row in each design's table gives prompts/s, the hit rate its own counters report "
                          "(`LLM.get_metrics()`: vllm:prefix_cache_hits / vllm:prefix_cache_queries, in tokens, "
                          "whole blocks only) and the tokens it computed (queries - hits). Its KV blocks are "
                          "32 tokens on CPU (`engine.block_size`; vllm-cpu's own default, 128, is longer than "
                          "the 36-57-token prefixes persona prompts share, so nothing hit: "
                          "`--vllm-block-size 128` shows it).")
    text = markdown(argv, designs, machine_line, peer_version, gpu, "\n".join(vllm_lines), conversation)
    kept = startup_section(Path(args.out))  # measured by bench.tools.startup, not here: kept as it was
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text.rstrip() + "\n\n" + kept if kept else text)
    print(text)
    return 0


def vllm_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def markdown_gpu_only(gpu: dict) -> str:
    return "\n".join(f"{k}: {v}" for k, v in gpu.items())


if __name__ == "__main__":
    raise SystemExit(main())
