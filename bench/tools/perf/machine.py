"""Facts of the machine the figures were taken on, and the GPU probe: a randomly initialised model of a real
architecture (Llama-3-8B config) timed against the matrix-multiply roofline."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

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
    """The CPU's model name for the report (from /proc/cpuinfo, else what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """The machine in one line: CPU, cores, memory, and the versions and threads the timings ran with."""
    import torch
    import transformers

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu_name()}, {os.cpu_count()} CPUs, {mem:.0f} GiB RAM, Python {platform.python_version()}, "
            f"torch {torch.__version__} with {torch.get_num_threads()} thread(s), transformers {transformers.__version__}")
