"""Sweeps: a Hydra multirun through a real single-node Slurm (munge + slurmctld + slurmd), resubmission,
re-running one job alone, and merging the run folders into one table."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.pipelines.run import rerun, run
from bench.results.sweep import is_finished, merge, run_folders
from bench.tools import local_slurm
from tests.conftest import REPO, compose

TINY = ("inventory=bfi", "max_items=3", "repetitions=1", "temperatures=[0.0]", "templates=[describe]",
        "progress=false")
SWEEP = "option_orders=[original],[reversed]"  # two jobs

pytestmark = [pytest.mark.skipif(not local_slurm.available(),
                                 reason="Slurm/munge not installed (apt-get install slurmctld slurmd slurm-client munge)"),
              pytest.mark.slurm, pytest.mark.model, pytest.mark.subprocess, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("slurm")
    try:
        env = local_slurm.start(root)
    except Exception:
        local_slurm.stop(root)
        raise
    yield {**os.environ, **env}
    local_slurm.stop(root)


def multirun(env: dict, results: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bench", "-m", "hydra/launcher=slurm_cpu", f"results_dir={results}", *TINY, SWEEP]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def parts_state(results: Path) -> dict:
    return {str(p): (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(results.glob("*/parts/*.parquet"))}


@pytest.fixture(scope="module")
def sweep(cluster, tmp_path_factory):
    results = tmp_path_factory.mktemp("sweep")
    done = multirun(cluster, results)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return results


def test_multirun_goes_through_slurm_and_merges(cluster, sweep, tmp_path):
    runs = run_folders([sweep])
    assert len(runs) == 2 and all(is_finished(r) for r in runs)
    # Both jobs ran as Slurm jobs of one array, and Slurm says they completed.
    job_dirs = sorted(p.name for p in sweep.glob("multirun/*/.submitit/*_*") if p.is_dir())
    assert len(job_dirs) == 2, job_dirs
    deadline = time.time() + 60  # submitit returns on the result file; Slurm marks the job a moment later
    while True:
        states = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i %T"], env=cluster, capture_output=True,
                                text=True, check=True).stdout
        if all(f"{job} COMPLETED" in states for job in job_dirs) or time.time() > deadline:
            break
        time.sleep(0.5)
    for job in job_dirs:
        assert f"{job} COMPLETED" in states, (job, states)

    report = merge([sweep], tmp_path / "merged")
    assert sorted(report["runs"]) == sorted(r.name for r in runs) and report["unfinished"] == []
    merged = pd.read_parquet(tmp_path / "merged" / "responses.parquet")
    assert len(merged) == report["responses"] == 2 * 3
    for r in runs:  # every row of every run, unchanged, under the run's name
        own = pd.read_parquet(r / "responses.parquet")
        mine = merged[merged["run"] == r.name].drop(columns=["run", "run_id"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, own)
    assert set(merged.groupby("run")["option_order"].first()) == {"original", "reversed"}
    metrics = pd.read_csv(tmp_path / "merged" / "metrics.csv")
    assert sorted(metrics["run"]) == sorted(r.name for r in runs)
    assert set(metrics["config.option_orders"]) == {'["original"]', '["reversed"]'}
    assert (metrics["n_responses"] == 3).all()
    scores = pd.read_parquet(tmp_path / "merged" / "scores.parquet")
    assert set(scores["run"]) == set(metrics["run"])


def test_resubmitted_sweep_skips_finished_jobs(cluster, sweep):
    before = parts_state(sweep)
    assert len([p for p in before if "/part-" in p]) == 2  # one response part per run (prompt texts beside them)
    again = multirun(cluster, sweep)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert parts_state(sweep) == before  # no part recomputed or rewritten
    assert len(run_folders([sweep])) == 2


def test_failed_job_reruns_alone_with_the_same_numbers(sweep, tmp_path):
    original = run_folders([sweep])[0]
    job = tmp_path / original.name
    shutil.copytree(original, job)
    want = pd.read_parquet(job / "responses.parquet")
    # A job killed before it gathered its parts: no responses/summary, a part missing.
    for name in ("responses.parquet", "summary.md", "metrics.json"):
        (job / name).unlink()
    for part in (job / "parts").glob("*.parquet"):
        part.unlink()
    assert not is_finished(job)
    status = subprocess.run([sys.executable, "-m", "bench", "sweep", "status", str(tmp_path)], cwd=REPO,
                            capture_output=True, text=True)
    assert status.returncode == 1 and "UNFINISHED" in status.stdout
    assert rerun(job) == job.resolve()
    assert is_finished(job)
    got = pd.read_parquet(job / "responses.parquet")
    pd.testing.assert_frame_equal(got.drop(columns="git_commit"), want.drop(columns="git_commit"))
    np.testing.assert_array_equal(np.stack(got["option_probs"]), np.stack(want["option_probs"]))


def test_local_slurm_reports_missing_programs(monkeypatch, tmp_path):
    monkeypatch.setattr(local_slurm, "which", lambda name: None)
    with pytest.raises(local_slurm.SlurmError, match="apt-get install"):
        local_slurm.start(tmp_path)


def test_one_run_split_over_a_slurm_array_equals_the_run_in_one_process(cluster, tmp_path):
    """`workers=2 worker=0,1` through the Slurm launcher: one array of two jobs writing into one run folder; the
    job that ends last finalises, and the run equals the same run made in one process."""
    from tests.test_workers import assert_same_run

    split = tmp_path / "split"
    cmd = [sys.executable, "-m", "bench", "-m", "hydra/launcher=slurm_cpu", f"results_dir={split}", *TINY,
           "batch_size=1", "workers=2", "worker=0,1"]
    done = subprocess.run(cmd, cwd=REPO, env=cluster, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len([p for p in split.glob("multirun/*/.submitit/*_*") if p.is_dir()]) == 2  # two jobs of one array
    runs = run_folders([split])
    assert len(runs) == 1 and is_finished(runs[0])
    whole = run(compose(*TINY, "batch_size=1", f"results_dir={tmp_path / 'whole'}"), print_summary=False)
    assert whole.name == runs[0].name
    assert_same_run(runs[0], whole)
