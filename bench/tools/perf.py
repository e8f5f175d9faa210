"""Benchmark: three ways to administer the same inventory design, side by side on one engine.

(a) per-item sampled generation, one `generate` per repetition per temperature (PsychoBench-style);
(b) per-option log-likelihood, one forward pass over prompt + option per option (lm-eval-style
    multiple choice), scored once per prompt and reused for every repetition and temperature;
(c) persona-bench's logprob path (`Administrator.run`: one last-position forward pass per prompt,
    batched, shared prefix computed once, fanned out to every temperature and repetition).

The design is that of "Open Models, Closed Minds?" (arXiv 2401.07115; 16 personas x 2 temperatures x
30 repetitions per model on a personality inventory), scaled to fit the machine. Path (a) is timed on
a sample of the design's administrations (its rate does not depend on how many are run). Writes
docs/performance.md. On a CUDA machine it also times a randomly initialised model of a real
architecture (Llama-3-8B config, bf16) against the matrix-multiply roofline.

    persona-bench perf                       # CPU figures -> docs/performance.md
    persona-bench perf --personas 16 --repetitions 30 --sample-admins 64
"""

from __future__ import annotations

import argparse
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

PAPER = "16 personas x 2 temperatures x 30 repetitions per model (arXiv 2401.07115)"


@dataclass
class PathResult:
    name: str
    administrations: int  # (participant, item) answers the path produced for the design
    seconds: float
    peak_rss_mb: float
    model_calls: int
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def items_per_s(self) -> float:
        return self.administrations / self.seconds


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


def design_config(personas: int, temperatures: list[float], repetitions: int, items: int | None,
                  batch_size: int) -> dict:
    cfg = compose_config("persona=mbti_types", "templates=[describe]", "option_orders=[original]",
                         f"temperatures=[{','.join(map(str, temperatures))}]", f"repetitions={repetitions}",
                         f"batch_size={batch_size}", "progress=false",
                         *([f"max_items={items}"] if items else []))
    cfg["persona"]["personas"] = cfg["persona"]["personas"][:personas]
    return cfg


def build(cfg: dict, engine):
    from transformers import AutoTokenizer

    from bench.administration.administer import Administrator
    from bench.administration.prompts import PromptRenderer
    from bench.pipelines.run import prepare

    inventory, plan, spec = prepare(cfg)
    renderer = PromptRenderer(AutoTokenizer.from_pretrained(spec.path), cfg["prompt"]["answer_prefix"])
    constants = {"run_config_hash": "", "model_id": spec.id, "model_sha256": spec.sha256, "adapter_sha256": "",
                 "engine": "transformers", "scoring_mode": "logprob", "administration": "single",
                 "inventory_id": inventory.id, "inventory_version": inventory.version, "persona_set": "bench",
                 "seed": int(cfg["seed"]), "env_hash": "", "git_commit": ""}
    return Administrator(plan, engine, renderer, "logprob", int(cfg["batch_size"]), int(cfg["max_new_tokens"]),
                         constants)


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
    with PeakRSS() as mem:
        start = time.perf_counter()
        for p, i in chosen:
            perm, _, ids = admin.render_single(condition_index[p.condition], i)
            text = admin.engine.generate([ids], p.temperature, admin.max_new_tokens,
                                         [stable_int(p.seed, admin.plan.items[i].id)])[0]
            valid += parse_answer(text, [admin.plan.inventory.scale.labels[c] for c in perm]).position is not None
        seconds = time.perf_counter() - start
    return PathResult("(a) per-item sampled generation", len(chosen), seconds, mem.peak, len(chosen),
                      f"timed on {len(chosen)} of {len(jobs)} administrations; {valid} parsed as valid",
                      {"total_design": len(jobs)})


def path_per_option(admin, sample: int) -> tuple[PathResult, dict]:
    """(b) lm-eval-style: log P(option | prompt) from a full forward pass over prompt + option, one
    request per option, length-sorted batches, full logits (timed on a sample of the prompts)."""
    import torch

    engine = admin.engine
    keys = [(c, i) for c in range(len(admin.conditions)) for i in range(len(admin.plan.items))]
    chosen = keys[::max(1, len(keys) // sample)][:sample]
    requests = []  # (key, option position, context + continuation ids)
    for key in chosen:
        ids = admin.render_single(*key)[2]
        requests += [(key, o, list(ids) + [t]) for o, t in enumerate(admin.label_ids(0))]
    requests.sort(key=lambda r: -len(r[2]))  # lm-eval sorts by length to batch
    loglik = {key: np.full(len(admin.label_ids(0)), np.nan) for key in chosen}
    calls = 0
    with PeakRSS() as mem, torch.inference_mode():
        start = time.perf_counter()
        for s in range(0, len(requests), admin.batch_size):
            chunk = requests[s:s + admin.batch_size]
            ids, mask, positions = engine.batch_inputs([r[2] for r in chunk])
            logits = engine.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
            logp = torch.log_softmax(logits[:, -2, :].float(), dim=-1)  # predicts the continuation token
            for row, (key, o, seq) in enumerate(chunk):
                loglik[key][o] = float(logp[row, seq[-1]])
            calls += 1
        seconds = time.perf_counter() - start
    fan_out = len(admin.plan.participants) // len(admin.conditions)
    return (PathResult("(b) per-option log-likelihood", len(chosen) * fan_out, seconds, mem.peak, calls,
                       f"timed on {len(chosen)} of {len(keys)} prompts ({len(requests)} option requests, "
                       f"{calls} batches); scored once per prompt and reused for its {fan_out} temperature x "
                       "repetition answers"), loglik)


def path_logprob(admin, prefix_reuse: bool = True) -> tuple[PathResult, "object"]:
    """(c) persona-bench's own path, writing its parquet parts like a run does."""
    import pandas as pd

    from bench.results.store import RunStore

    admin.engine.prefix_reuse = prefix_reuse
    calls = 0
    original = admin.engine.label_logprobs

    def counted(prompts, labels):
        nonlocal calls
        calls += 1
        return original(prompts, labels)

    admin.engine.label_logprobs = counted
    try:
        with tempfile.TemporaryDirectory() as tmp, PeakRSS() as mem:
            start = time.perf_counter()
            store = RunStore(Path(tmp))
            admin.run(store, progress=False)
            seconds = time.perf_counter() - start
            responses = store.read_parts()
    finally:
        del admin.engine.label_logprobs
    name = "(c) persona-bench logprob path" + ("" if prefix_reuse else ", shared-prefix reuse off")
    return PathResult(name, len(responses), seconds, mem.peak, calls,
                      f"{len(admin.units())} batches of up to {admin.batch_size} prompts"), pd.DataFrame(responses)


def default_run_rss(results: Path) -> tuple[float, float]:
    """Peak RSS (MB) and wall time of a full default `python -m bench` run, in a child process.

    Read from the child's own VmHWM: getrusage(RUSAGE_CHILDREN) would report this (large) process's
    peak, which a forked child inherits before exec."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bench", f"results_dir={results}", "progress=false"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _vm_hwm_mb(proc.pid))
        time.sleep(0.1)
    if proc.returncode:
        raise RuntimeError(f"python -m bench failed: {proc.stderr.read()[-2000:]}")
    return peak, time.perf_counter() - start


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

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()
    return (f"{cpu_name()}, {os.cpu_count()} CPUs, {mem:.0f} GiB RAM, torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads, Python {platform.python_version()}; load average at start "
            f"{load[0]:.1f} (other work on the machine slows every path alike)")


def markdown(args, design: str, results: list[PathResult], check: dict, default_run: tuple | None,
             gpu: dict | None, machine_line: str) -> str:
    import pandas as pd

    base = results[0].items_per_s
    table = pd.DataFrame([{
        "path": r.name, "administrations": r.administrations, "seconds": round(r.seconds, 2),
        "items/s": round(r.items_per_s, 2), "x (a)": round(r.items_per_s / base, 1),
        "model calls": r.model_calls, "peak RSS MB": round(r.peak_rss_mb), "how": r.note} for r in results])
    c = next(r for r in results if r.name.startswith("(c)") and "off" not in r.name)
    lines = [
        "# Performance", "",
        f"Measured by `persona-bench perf {' '.join(sys.argv[1:])}`".rstrip() + f" on {time.strftime('%Y-%m-%d')}.",
        "", f"**Machine:** {machine_line}.", "",
        f"**Design:** {design}. The paper's design is {PAPER}; here it is scaled to fit the machine.", "",
        "## Three paths, same engine (transformers, fp32, SmolLM2-135M-Instruct) and same prompts", "",
        table.to_markdown(index=False), "",
        f"The logprob path is **{c.items_per_s / base:.0f}x** per-item sampling and "
        f"**{c.items_per_s / results[1].items_per_s:.1f}x** per-option scoring on this design "
        "(target: >= 100x per-item sampling).", "",
        "- items/s: (participant x item) answers produced per second for the design. (a) is timed on a "
        "sample of the administrations and (b) on a sample of the prompts; a rate does not depend on how many "
        "are run. (b) is deterministic, so it is scored once per prompt and reused for every temperature and repetition, the reading "
        "most favourable to it.",
        "- Peak RSS: the largest resident size of this one process during each path (the model is "
        "loaded before the first path, so it is included in all).",
        f"- Check: (b)'s option probabilities (its log-likelihoods renormalised over the options) equal "
        f"(c)'s at each temperature within {check['max_abs_diff']:.1e} (max over {check['n']} prompt x temperature x option values): both paths "
        "score the same quantity.",
        f"- Shared-prefix reuse (the chat template, persona and instruction that every prompt of a batch "
        f"starts with, computed once and its KV cache copied to each row): "
        f"{check.get('prefix_speedup', float('nan')):.2f}x on (c); probabilities differ from the full "
        f"batch by at most {check.get('prefix_max_diff', float('nan')):.1e}.",
    ]
    if default_run:
        lines += ["", "## Memory of a full default run", "",
                  f"`python -m bench` (BFI-44, no persona, 3 templates x 2 orders x 3 temperatures x 5 "
                  f"repetitions, fp32 on CPU): peak RSS **{default_run[0]:.0f} MB**, {default_run[1]:.0f} s wall "
                  "including model load. Responses are written part by part (one parquet file per batch) and "
                  "gathered into responses.parquet by streaming the parts, so no table of all responses "
                  "is built during administration; scoring and the reliability metrics then read "
                  "responses.parquet as one table, which they need whole."]
    lines += ["", "## Realistic model size on a GPU", ""]
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
            f"| (a)/(c) per prompt, before the temperature x repetition fan-out | "
            f"{gpu['prompt_s_generate'] / gpu['prompt_s_logprob']:.0f}x |",
        ] + ([f"| peak GPU memory | {gpu['peak_gpu_mb']:,.0f} MB |"] if "peak_gpu_mb" in gpu else [])
    else:
        lines += ["**Not run yet**: no CUDA device was available where these figures were taken. "
                  "On a CUDA machine `persona-bench perf` adds this section by itself: a randomly initialised "
                  "Llama-3-8B architecture in bf16, prefill tokens/s with last-position logits against the "
                  "roofline 2 x parameters x tokens at the matrix-multiply rate measured there, and per-prompt "
                  "cost of (a) vs (c) on that model. (`--gpu-only` runs just that part.)"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="persona-bench perf", description=__doc__.splitlines()[0])
    parser.add_argument("--personas", type=int, default=2, help="first N of the 16 MBTI-type personas")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.7, 1.0])
    parser.add_argument("--repetitions", type=int, default=30)
    parser.add_argument("--items", type=int, default=None, help="first N BFI-44 items (default all)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sample-admins", type=int, default=16, help="administrations timed for path (a)")
    parser.add_argument("--sample-prompts", type=int, default=16, help="prompts timed for path (b)")
    parser.add_argument("--skip-default-run", action="store_true", help="do not measure `python -m bench` RSS")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice); 1 gives steadier figures on a shared machine")
    parser.add_argument("--gpu-only", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "performance.md"))
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # and for the default run's child process
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
    cfg = design_config(args.personas, args.temperatures, args.repetitions, args.items, args.batch_size)
    spec = resolve_model(cfg["model"])
    engine = make_engine("transformers", spec, seed=int(cfg["seed"]), device="cpu")
    admin = build(cfg, engine)
    n_items = len(admin.plan.items)
    design = (f"{args.personas} personas x {len(args.temperatures)} temperatures ({', '.join(map(str, args.temperatures))})"
              f" x {args.repetitions} repetitions x {n_items} BFI-44 items = {len(admin.plan.participants) * n_items} "
              f"administrations, 1 template, original option order, batch size {args.batch_size}")
    print(design, flush=True)
    warm = [admin.render_single(0, i)[2] for i in range(min(2, n_items))]
    engine.label_logprobs(warm, admin.label_ids(0))  # first calls pay one-off set-up costs
    engine.generate(warm[:1], 1.0, 2, [0])
    print("(c) logprob path ...", flush=True)
    c, responses = path_logprob(admin)
    print(f"  {c.items_per_s:.1f} items/s", flush=True)
    print("(c) without shared-prefix reuse ...", flush=True)
    c_off, responses_off = path_logprob(admin, prefix_reuse=False)
    print(f"  {c_off.items_per_s:.1f} items/s", flush=True)
    print("(b) per-option log-likelihood ...", flush=True)
    b, loglik = path_per_option(admin, args.sample_prompts)
    print(f"  {b.items_per_s:.1f} items/s", flush=True)
    print("(a) per-item sampled generation ...", flush=True)
    a = path_sampled(admin, args.sample_admins)
    print(f"  {a.items_per_s:.2f} items/s", flush=True)
    results = [a, b, c, c_off]

    check = consistency(admin, loglik, responses, responses_off)
    check["prefix_speedup"] = c.items_per_s / c_off.items_per_s
    engine.close()
    default_run = None
    if not args.skip_default_run:
        print("full default run (child process) ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            default_run = default_run_rss(Path(tmp))
    text = markdown(args, design, results, check, default_run, gpu, machine_line)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


def consistency(admin, loglik: dict, responses, responses_off) -> dict:
    """(b) and (c) must give the same answer distributions; prefix reuse must not move them."""
    import pandas as pd

    from bench.administration.distributions import tempered

    diffs = []
    for (c, i), lp in loglik.items():
        ids = {p.id for p in admin.conditions[c]}
        rows = responses[responses["participant_id"].isin(ids) & (responses["item_index"] == i)]
        for _, row in rows.drop_duplicates("temperature").iterrows():
            canon = np.empty(len(lp))
            canon[list(row["option_permutation"])] = tempered(lp, row["temperature"])
            diffs.append(np.abs(canon - np.asarray(row["option_probs"])).max())
    merged = pd.merge(responses[["participant_id", "item_id", "option_probs"]],
                      responses_off[["participant_id", "item_id", "option_probs"]], on=["participant_id", "item_id"])
    prefix = max(np.abs(np.asarray(x) - np.asarray(y)).max() for x, y in zip(merged["option_probs_x"],
                                                                               merged["option_probs_y"]))
    return {"max_abs_diff": float(max(diffs)), "n": len(diffs) * len(admin.label_ids(0)),
            "prefix_max_diff": float(prefix)}


def markdown_gpu_only(gpu: dict) -> str:
    return "\n".join(f"{k}: {v}" for k, v in gpu.items())


if __name__ == "__main__":
    raise SystemExit(main())
