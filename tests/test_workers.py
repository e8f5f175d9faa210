"""One run over many processes (`workers=N worker=i`): the shares of its units written into the one run folder,
the finaliser, and a killed worker resumed; the result equals the run made in one process, row for row.
(The 2-worker run as a Slurm array is in tests/test_sweep.py, beside the session's local Slurm.)"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from bench.pipelines.run import finalize, run
from bench.results.workers import UnitsMissing
from tests.conftest import REPO, compose
from tests.test_run import VOLATILE, assert_same_responses, bench_cmd

pytestmark = [pytest.mark.model]

# What legitimately differs between a split run and the same run in one process: when and how long it ran,
# and the workers' own records.
TIMING = ("run_started_at", "first_batch_at", "model_seconds", "administration_seconds", "workers")


def assert_close(a, b, where: str = "") -> None:
    """Two metrics.json trees alike: the same keys and strings, numbers to float error (a unit computed without
    the prefix cache the one-process run kept from the unit before it agrees to ~1e-7, not bit for bit)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, (int, float)):
        assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6) or (math.isnan(a) and math.isnan(b)), (where, a, b)
    else:
        assert a == b, (where, a, b)


def assert_same_run(split: Path, whole: Path) -> None:
    """A split run's folder against the one-process run's: responses, scores and metrics alike, provenance the
    same but for its timings and the workers' records."""
    assert_same_responses(pd.read_parquet(split / "responses.parquet").drop(columns=VOLATILE),
                          pd.read_parquet(whole / "responses.parquet").drop(columns=VOLATILE))
    pd.testing.assert_frame_equal(pd.read_parquet(split / "scores.parquet"), pd.read_parquet(whole / "scores.parquet"),
                                  rtol=1e-5)
    assert_close(json.loads((split / "metrics.json").read_text()), json.loads((whole / "metrics.json").read_text()))
    a, b = (json.loads((d / "provenance.json").read_text()) for d in (split, whole))
    assert {k: v for k, v in a.items() if k not in TIMING} == {k: v for k, v in b.items() if k not in TIMING}
    assert len(a["workers"]) == 2 and sum(w["units"] for w in a["workers"]) == a["n_units"]
    assert (split / "prompts.parquet").read_bytes() == (whole / "prompts.parquet").read_bytes()


def test_two_workers_equal_one_process_and_the_finaliser_waits_for_both(finished_runs, tmp_path):
    """Worker 0 alone leaves the run unfinished, and the finaliser names worker 1's units; worker 1, finding
    every unit done, finalises."""
    whole = finished_runs.path("bfi")  # 4 units: worker 0 takes 0 and 2, worker 1 takes 1 and 3
    cfg = {**finished_runs.config("bfi"), "results_dir": str(tmp_path), "workers": 2}
    split = run({**cfg, "worker": 0}, print_summary=False)
    assert split.name == whole.name  # the worker index is not in the hash: every worker shares the folder
    assert sorted(p.name for p in (split / "parts").glob("part-*.parquet")) == \
        ["part-000000.parquet", "part-000002.parquet"]
    assert not (split / "responses.parquet").exists()
    with pytest.raises(UnitsMissing, match=r"2 of 4 units are not done \(units 1, 3\)") as err:
        finalize(split)
    assert err.value.missing == [1, 3] and not (split / "responses.parquet").exists()

    assert run({**cfg, "worker": 1}, print_summary=False) == split
    assert (split / "summary.md").is_file()
    assert_same_run(split, whole)
    assert finalize(split) == split  # finalising again changes nothing
    assert_same_run(split, whole)


ARGS = ("max_items=8", "batch_size=1", "repetitions=1", "temperatures=[1.0]", "templates=[describe]",
        "option_orders=[original]", "progress=false")


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_killed_worker_is_named_by_the_finaliser_and_redoes_only_its_unfinished_units(tmp_path):
    """`workers=2` starts both workers here; worker 0 is killed (-9) mid-run: worker 1 finishes, the finaliser
    refuses naming worker 0's missing units, and worker 0 again computes only those, then finalises."""
    results = tmp_path / "split"
    proc = subprocess.Popen(bench_cmd(*ARGS, "workers=2", f"results_dir={results}"), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    killed, deadline = None, time.time() + 300
    try:
        while proc.poll() is None and time.time() < deadline and killed is None:
            holder = next(results.glob("*/run.worker-0.lock.json"), None)
            first = next(results.glob("*/parts/part-000000.parquet.json"), None)
            if holder is not None and first is not None:
                pid = json.loads(holder.read_text())["pid"]
                os.kill(pid, signal.SIGKILL)
                killed = pid
            time.sleep(0.01)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert killed, "worker 0 never started its units"
    run_dir = next(results.glob("*/parts")).parent
    done = {p.name: p.stat().st_mtime_ns for p in (run_dir / "parts").glob("part-*.parquet")
            if (run_dir / "parts" / (p.name + ".json")).exists()}
    mine = {f"part-{u:06d}.parquet" for u in range(0, 8, 2)}
    theirs = {f"part-{u:06d}.parquet" for u in range(1, 8, 2)}
    assert theirs <= done.keys(), "worker 1 did not finish its share"
    assert 0 < len(mine & done.keys()) < 4, "worker 0 was killed too late to test resuming"
    assert proc.returncode == 2, err[-2000:]
    missing = sorted(int(n[5:11]) for n in mine - done.keys())
    assert f"{len(missing)} of 8 units are not done" in err and "Traceback" not in err, err[-2000:]
    assert not (run_dir / "responses.parquet").exists()

    cfg = compose(*ARGS, f"results_dir={results}", "workers=2")
    assert run({**cfg, "worker": 0}, print_summary=False) == run_dir  # every unit then done: it finalises
    after = {p.name: p.stat().st_mtime_ns for p in (run_dir / "parts").glob("part-*.parquet")}
    redone = sorted(n for n in after if done.get(n) != after[n])
    assert redone == sorted(mine - done.keys())  # only its unfinished units, none of worker 1's or its own done
    record = json.loads((run_dir / "parts" / "worker-0-of-2.json").read_text())
    assert record["units"] == 4 and record["computed"] == len(missing)
    whole = run(compose(*ARGS, f"results_dir={tmp_path / 'whole'}"), print_summary=False)
    assert_same_run(run_dir, whole)
