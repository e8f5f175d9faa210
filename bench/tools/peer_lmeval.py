"""The peer, run as itself: lm-evaluation-harness scores persona-bench's rendered prompts as a
multiple-choice task, in the interpreter where `lm-eval` is installed (`pip install .[peer]`, or any
venv given to `persona-bench perf --peer-python`).

Run as a script by `bench.tools.perf.peer` (it imports nothing from bench, so the peer's environment needs
only lm-eval):

    python bench/tools/peer_lmeval.py PROMPTS.jsonl OUT.json --model DIR --dtype float32 --batch-size 16 --threads 1

PROMPTS.jsonl holds one {"id", "text", "choices"} per line: the full prompt string (chat template
applied, assistant turn prefilled) and its option labels. The generated task uses `target_delimiter: ""`
so the continuation is exactly the label persona-bench scores; lm-eval still moves a trailing space of
the context into the continuation, which adds the same log P(" ") to every option: renormalise over the
options before comparing. OUT.json gets each prompt's per-option log-likelihoods, the seconds spent in the model's
loglikelihood calls (the figure compared: task building, dataset loading and model load are timed
separately and left out, the reading most favourable to lm-eval) and lm-eval's version.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

TASK = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: text
doc_to_choice: choices
doc_to_target: 0
target_delimiter: ""
num_fewshot: 0
metric_list:
  - metric: acc
"""


def main(argv: list[str] | None = None) -> int:
    """Score the prompts file with lm-eval as a task of its own (offline, a fresh datasets cache) and write its
    per-option log-likelihoods and timings as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompts")
    parser.add_argument("out")
    parser.add_argument("--model", required=True)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HF_DATASETS_CACHE"] = str(Path(tmp) / "datasets")  # local, per run: nothing reused
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        import lm_eval
        from lm_eval import simple_evaluate
        from lm_eval.models.huggingface import HFLM
        from lm_eval.tasks import TaskManager

        name = "persona_bench_prompts"
        tasks = Path(tmp) / "tasks"
        tasks.mkdir()
        (tasks / f"{name}.yaml").write_text(TASK.format(name=name, data=json.dumps(str(Path(args.prompts).resolve()))))
        start = time.perf_counter()
        lm = HFLM(pretrained=args.model, dtype=args.dtype, device=args.device, batch_size=args.batch_size)
        load_s = time.perf_counter() - start
        scoring = []  # seconds inside the model's loglikelihood calls: lm-eval's figure, set-up excluded
        loglikelihood = lm.loglikelihood

        def timed(requests, *a, **k):
            t = time.perf_counter()
            out = loglikelihood(requests, *a, **k)
            scoring.append(time.perf_counter() - t)
            return out

        lm.loglikelihood = timed
        start = time.perf_counter()
        result = simple_evaluate(model=lm, tasks=[name], task_manager=TaskManager(include_path=str(tasks)),
                                 log_samples=True, num_fewshot=0)
        seconds = time.perf_counter() - start
    loglik = {}
    for sample in result["samples"][name]:
        loglik[sample["doc"]["id"]] = [float(r[0]) for r in sample["filtered_resps"]]
    Path(args.out).write_text(json.dumps({
        "lm_eval_version": getattr(lm_eval, "__version__", "?"), "torch_threads": torch.get_num_threads(),
        "seconds": sum(scoring), "evaluate_seconds": seconds, "load_seconds": load_s, "loglik": loglik,
        "python": sys.version.split()[0]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
