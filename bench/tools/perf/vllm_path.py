"""The vLLM timing path, in a child process (`python -m bench.tools.perf --vllm-child OUT`): vLLM needs
its own spawn-guarded main and ~4.5 GB, and reports its own prefix-cache hit rate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.tools.perf.designs import build, design_config, distinct_prompts
from bench.tools.perf.timing import PathResult, recorded, run_once

REPO = Path(__file__).resolve().parents[3]  # the child runs from here, so `-m bench.tools.perf` imports


def vllm_installed() -> bool:
    """Whether vLLM can be imported here, checked without importing it (a slow import)."""
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def vllm_child(designs: list[tuple[str, int | None]], batch_size: int, personas: int | None, out: str,
               block_size: int | None = None) -> int:
    """The designs on one vLLM engine (its start costs a minute or two), each timed after a warm-up
    request, with the engine's own prefix-cache counters."""
    from bench.engines import make_engine
    from bench.engines.models import resolve_model

    first = design_config(designs[0][0], designs[0][1], batch_size, personas)
    spec = resolve_model(first["model"])
    start = time.perf_counter()
    engine = make_engine("vllm", spec, seed=int(first["seed"]), log_stats=True,
                         **({"block_size": block_size} if block_size else {}))
    start_s = time.perf_counter() - start
    results = {}
    for name, items in designs:
        admin = build(design_config(name, items, batch_size, personas), engine.name)
        prompts = distinct_prompts(admin)
        engine.label_logprobs([prompts[-1][2][:8]], admin.label_ids(0))  # warm-up, sharing no whole block with the design
        before = engine.prefix_cache_stats()
        load = os.getloadavg()[0]
        with recorded(engine) as record:
            seconds, parts = run_once(admin, engine, columns=["participant_id"])
        after = engine.prefix_cache_stats()
        results[name] = {"seconds": seconds, "start_s": start_s, "prompts": len(record.logp), "rows": len(parts),
                         "load": load, "queries": after["queries"] - before["queries"],
                         "hits": after["hits"] - before["hits"], "vllm_version": __import__("vllm").__version__,
                         "block_size": engine.llm.llm_engine.vllm_config.cache_config.block_size,
                         "logp": [[list(k), list(map(float, v))] for k, v in record.logp.items()]}
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
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True, env=env, cwd=REPO)
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
