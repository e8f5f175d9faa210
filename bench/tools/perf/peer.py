"""The peer's timing path: lm-evaluation-harness run for real in its own interpreter
(`bench/tools/peer_lmeval.py`) on a design's rendered prompts, and the check that it can run at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.errors import ConfigError
from bench.tools.perf.designs import distinct_prompts
from bench.tools.perf.timing import MODE_NAMES, PathResult, vm_hwm_mb

PEER_SCRIPT = Path(__file__).resolve().parents[1] / "peer_lmeval.py"


class PerfError(ConfigError):
    """The peer named on the command line cannot be run (checked before any model work)."""


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


def path_lmeval(admin, spec, peer_python: str, threads: int | None) -> tuple[PathResult, dict]:
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
        cmd = [peer_python, str(PEER_SCRIPT), str(data), str(out), "--model", spec.path,
               "--dtype", spec.dtype, "--batch-size", str(admin.batch_size), "--device", "cpu",
               *(["--threads", str(threads)] if threads else [])]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
               **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
        load = os.getloadavg()[0]
        peak, proc = 0.0, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        err = []
        drain = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
        drain.start()
        while proc.poll() is None:
            peak = max(peak, vm_hwm_mb(proc.pid))
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
