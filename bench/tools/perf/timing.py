"""What every timing path measures and how: its result row, peak memory, the engine's log-probs recorded
per prompt, one timed run into a throwaway store, and two paths' option probabilities compared."""

from __future__ import annotations

import os
import resource
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODE_NAMES = {"kept": "(c) logprob, prefixes kept across batches", "batch": "(c) logprob, prefix per batch",
              "plain": "(c) logprob, plain batch", "lm-eval": "lm-eval `hf` multiple choice",
              "sampled": "(a) per-item sampled generation"}


@dataclass
class PathResult:
    """One timed run of a path on a design: what it scored, how long, peak memory and tokens computed, as the
    report reads it."""
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
        """Distinct prompts scored per second: the figure paths are compared by."""
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


def vm_hwm_mb(pid: int) -> float:
    """Peak resident memory of another process so far (0 where /proc cannot tell)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Recording:
    """What `recorded` caught from an engine: label log-probs by prompt (to compare paths) and the time spent
    inside the engine."""
    logp: dict = field(default_factory=dict)  # prompt token ids (a tuple) -> its label log-probs
    seconds: float = 0.0  # time inside the engine's label_logprobs


@contextmanager
def recorded(engine):
    """The engine's label log-probs recorded per prompt while the block runs, with the seconds spent in
    them; the engine's own method is back afterwards."""
    record, original = Recording(), engine.label_logprobs

    def recording(prompts, labels, **hints):
        t = time.perf_counter()
        out = original(prompts, labels, **hints)
        record.seconds += time.perf_counter() - t
        record.logp.update((tuple(p), row) for p, row in zip(prompts, out))
        return out

    engine.label_logprobs = recording
    try:
        yield record
    finally:
        del engine.label_logprobs


def run_once(admin, engine, columns: list[str] | None = None):
    """`Administrator.run` into a throwaway store, writing its parquet parts like a run does: the seconds
    it took and the parts it wrote (these columns, or all)."""
    from bench.results.store import RunStore

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        store = RunStore(Path(tmp))
        admin.run(engine, store, progress=False)
        seconds = time.perf_counter() - start
        return seconds, store.read_parts(columns=columns)


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
