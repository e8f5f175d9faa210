"""Benchmark: how soon a run reaches its first batch, and what it spends outside model work, on a warm cache.

Each repeat runs `python -m bench <design> results_dir=<a fresh folder>` as a real process, timed from its
launch, and reads the run's provenance: `first_batch_at` (when the first batch went to the engine),
`model_seconds` (the batches themselves). Before the timed repeats one untimed run warms the cache (the
embedded model converted, its weight hashes and GGUF facts recorded), as a user's second run finds it.

    python -m bench.tools.startup                       # the default design, 3 repeats -> a markdown table
    python -m bench.tools.startup --repeats 5 max_items=8
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_run(overrides: list[str], results: Path) -> dict:
    """One `python -m bench` process on a fresh results folder: its wall time and its provenance's timings."""
    launched = time.time()
    done = subprocess.run([sys.executable, "-m", "bench", *overrides, f"results_dir={results}", "progress=false"],
                          capture_output=True, text=True)
    wall = time.time() - launched
    if done.returncode != 0:
        raise SystemExit(f"the run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    (prov_path,) = results.glob("*/provenance.json")
    prov = json.loads(prov_path.read_text())
    model = float(prov.get("model_seconds") or 0.0)
    return {"wall_s": wall, "to_first_batch_s": prov["first_batch_at"] - launched,
            "run_call_s": prov["run_started_at"] - launched, "model_s": model, "outside_model_s": wall - model}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="run overrides (default: the default design)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        timed_run(args.overrides, Path(tmp) / "warm")
        rows = [timed_run(args.overrides, Path(tmp) / f"r{k}") for k in range(args.repeats)]
    design = " ".join(args.overrides) or "(the default design)"
    print(f"`python -m bench {design}`, warm cache, {args.repeats} runs, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f} before the last:\n")
    print("| run | wall (s) | to `run()` (s) | to the first batch (s) | model work (s) | outside model work (s) |")
    print("|---|---|---|---|---|---|")
    for k, r in enumerate(rows, 1):
        print(f"| {k} | {r['wall_s']:.1f} | {r['run_call_s']:.1f} | {r['to_first_batch_s']:.1f} | {r['model_s']:.1f} "
              f"| {r['outside_model_s']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
