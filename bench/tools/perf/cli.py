"""`persona-bench perf` (and `python -m bench.tools.perf`): its arguments and the order of the work."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bench.tools.perf.designs import DESIGNS, design_config
from bench.tools.perf.machine import LLAMA3_8B, machine, roofline
from bench.tools.perf.peer import PerfError, find_peer
from bench.tools.perf.report import markdown, markdown_gpu_only, vllm_note, write
from bench.tools.perf.runs import conversation, design_items, run_designs, run_vllm
from bench.tools.perf.vllm_path import vllm_child, vllm_installed
from bench.tools.startup import PERFORMANCE_MD


def parser() -> argparse.ArgumentParser:
    """The benchmark's arguments: which designs at what scale, which paths to run or skip, where to write."""
    from bench.tools import perf

    p = argparse.ArgumentParser(prog="persona-bench perf", description=perf.__doc__.splitlines()[0])
    p.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=list(DESIGNS))
    p.add_argument("--items-none", type=int, default=22, help="first N BFI-44 items, no-persona design")
    p.add_argument("--items-traits", type=int, default=3, help="first N BFI-44 items, trait-persona design")
    p.add_argument("--items-seed", type=int, default=1, help="first N type-inventory items, seed design")
    p.add_argument("--personas", type=int, default=None, help="first N personas of each design (default all)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=2, help="interleaved repetitions of every path")
    p.add_argument("--sample-admins", type=int, default=8, help="administrations timed for (a), seed design")
    p.add_argument("--peer-python", default=None, help="python of a venv with lm-eval (default: this one)")
    p.add_argument("--no-peer", action="store_true", help="skip lm-eval")
    p.add_argument("--no-vllm", action="store_true", help="skip vLLM even when it is installed")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads for every path (default: torch's choice); 1 is steadier on a shared machine")
    p.add_argument("--conversation-items", type=int, default=4,
                   help="first N BFI-44 items of the conversation-mode comparison (0: skip it)")
    p.add_argument("--conversation-only", action="store_true",
                   help="run only the conversation-mode comparison and print it (docs untouched)")
    p.add_argument("--gpu-only", action="store_true")
    p.add_argument("--vllm-block-size", type=int, default=None,
                   help="vLLM's KV block in tokens (default: the engine's, 32 on CPU)")
    p.add_argument("--vllm-child", metavar="OUT", help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(PERFORMANCE_MD))
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark as the arguments ask (or the vLLM child), checking the peer before any model work, and
    write docs/performance.md."""
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    if args.vllm_child:
        return vllm_child(design_items(args), args.batch_size, args.personas, args.vllm_child, args.vllm_block_size)
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
    first = design_config(*design_items(args)[0], args.batch_size, args.personas)
    engine = make_engine("transformers", resolve_model(first["model"]), seed=int(first["seed"]), device="cpu")
    conversation_text = conversation(engine, args, machine_line) if args.conversation_items else []
    if args.conversation_only:
        print("\n".join(conversation_text))
        return 0
    ran_vllm = not args.no_vllm and vllm_installed()
    designs = run_designs(engine, args, peer_python)
    engine.close()
    why = run_vllm(designs, args) if ran_vllm else ""
    peer_version = next((d["runs"]["lm-eval"][0].extra["version"] for d in reversed(designs.values())
                         if "lm-eval" in d["runs"]), None)
    note = vllm_note(ran_vllm, "--no-vllm" if args.no_vllm else "not installed", why)
    text = markdown(argv, designs, machine_line, peer_version, gpu, note, conversation_text)
    write(Path(args.out), text)
    print(text)
    return 0
