"""Benchmark: how soon a run reaches its first batch, and what it spends outside model work, on a warm cache.

Each repeat runs `python -m bench <design> results_dir=<a fresh folder>` as a real process, timed from its
launch, and reads the run's provenance: `first_batch_at` (when the first batch went to the engine),
`model_seconds` (the batches themselves). Before the timed repeats one untimed run warms the cache (the
embedded model converted, its weight hashes and GGUF facts recorded), as a user's second run finds it.

    python -m bench.tools.startup                       # the default design, 3 repeats -> docs/performance.md
    python -m bench.tools.startup --repeats 5 --out - max_items=8
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

PERFORMANCE_MD = Path(__file__).resolve().parents[2] / "docs" / "performance.md"  # this section's, and perf's, file


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


HEADING = "## Start-up"


def section(path: Path, heading: str = HEADING) -> str:
    """The start-up section (or another measured by hand, by its `heading`) of a markdown file ("" if none):
    `persona-bench perf` keeps it when it rewrites docs/performance.md."""
    text = path.read_text() if path.is_file() else ""
    start = text.find("\n" + heading + "\n")
    if start < 0:
        return ""
    end = text.find("\n## ", start + 1)
    return text[start + 1: end + 1 if end >= 0 else len(text)].rstrip() + "\n"


def write_section(path: Path, body: str) -> None:
    """Put `body` (which starts with the heading) in place of the file's start-up section, or at its end."""
    text = path.read_text() if path.is_file() else ""
    old = section(path)
    path.write_text(text.replace(old, body) if old else text.rstrip() + "\n\n" + body)


def report(overrides: list[str], rows: list[dict], imports_s: float) -> str:
    """The start-up section of docs/performance.md: how the runs were measured and each run's times."""
    design = " ".join(overrides) or "(the default design)"
    worst = max(rows, key=lambda r: r["to_first_batch_s"])
    outside = max(r["outside_model_s"] for r in rows)
    lines = [HEADING, "",
             f"Measured by `python -m bench.tools.startup{' ' + ' '.join(overrides) if overrides else ''}` on "
             f"{time.strftime('%Y-%m-%d')}: `python -m bench {design}` as a new process, {len(rows)} times, each "
             f"into a fresh results folder, on a warm cache (the embedded model converted, its hashes and GGUF "
             f"facts recorded; one untimed run first), {os.cpu_count()} cores, 1-minute load "
             f"{os.getloadavg()[0]:.1f} at the end. Times are from the process's launch; `to the first batch` is "
             "when the run sent its first batch to the engine (interpreter, imports, config checks, plan, "
             "tokenizer, engine load); `model work` is the batches themselves (`model_seconds` in provenance).", "",
             "| run | wall (s) | to `run()` (s) | to the first batch (s) | model work (s) | outside model work (s) |",
             "|---|---|---|---|---|---|"]
    for k, r in enumerate(rows, 1):
        lines.append(f"| {k} | {r['wall_s']:.1f} | {r['run_call_s']:.1f} | {r['to_first_batch_s']:.1f} | "
                     f"{r['model_s']:.1f} | {r['outside_model_s']:.1f} |")
    lines += ["", f"Targets: the first batch within 5 s of starting: **{worst['to_first_batch_s']:.1f} s** at worst, "
              f"{'met' if worst['to_first_batch_s'] <= 5 else 'missed'}; at most 8 s outside model work: "
              f"**{outside:.1f} s** at worst, {'met' if outside <= 8 else 'missed'}.", "",
              f"A bare `python -c \"import torch; from transformers import AutoTokenizer, AutoModelForCausalLM\"` "
              f"takes **{imports_s:.1f} s** here (fastest of 3; transformers 5 imports scikit-learn and "
              "torch.distributed on the way): no run of a transformers model reaches its first batch sooner, "
              "whatever the harness does. The rest before the first batch is config checks, the plan, the "
              "tokenizer and the engine's model load (the GGUF facts and weight hashes are read from the cache, "
              "`facts.json`, not recomputed: reading the GGUF alone took 10 s per run before); after the last "
              "batch come the metrics with their bootstrap intervals, five figures in PNG and SVG, the summary "
              "and results.json.", ""]
    return "\n".join(lines)


def import_seconds(repeats: int = 3) -> float:
    """The fastest of a few bare `python -c "import torch, transformers' auto classes"` processes: the floor no
    run of a transformers model starts under, whatever persona-bench does."""
    best = float("inf")
    for _ in range(repeats):
        launched = time.time()
        subprocess.run([sys.executable, "-c", "import torch\nfrom transformers import AutoTokenizer, AutoModelForCausalLM"],
                       check=True, capture_output=True)
        best = min(best, time.time() - launched)
    return best


def main(argv: list[str] | None = None) -> int:
    """Time `python -m bench` from launch to its first batch a few times (after one untimed warm run), and write
    the section into the performance doc."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(PERFORMANCE_MD),
                        help="the markdown file whose start-up section this writes ('-': print only)")
    parser.add_argument("overrides", nargs="*", help="run overrides (default: the default design)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        timed_run(args.overrides, Path(tmp) / "warm")
        rows = [timed_run(args.overrides, Path(tmp) / f"r{k}") for k in range(args.repeats)]
    text = report(args.overrides, rows, import_seconds())
    if args.out != "-":
        write_section(Path(args.out), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
