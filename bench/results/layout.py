"""The names of a run folder's files, in one place, so what a run writes and what its readers look for agree.

    results/<run name>/  config.yaml, fingerprint.json (its claim), parts/ (resumable units), responses.parquet,
                         prompts.parquet, scores.parquet, metrics.json, fidelity.csv, provenance.json, summary.md,
                         results.json, and run.lock (+ run.lock.json: who holds it) while a process works in it;
                         a run split over workers adds run.worker-<i>.lock (+ .json) and parts/worker-<i>-of-<N>.json
"""

from __future__ import annotations

from bench.results.atomic import HOLDER_NAME

CONFIG = "config.yaml"
FINGERPRINT = "fingerprint.json"
PARTS = "parts"
RESPONSES = "responses.parquet"
PROMPTS = "prompts.parquet"
SCORES = "scores.parquet"
METRICS = "metrics.json"
FIDELITY = "fidelity.csv"
PROVENANCE = "provenance.json"
SUMMARY = "summary.md"
RESULTS = "results.json"

# Every file bench.pipelines.run writes at a run folder's top level: only these names' temp files are ever removed.
RUN_FILES = (RESPONSES, PROMPTS, SCORES, METRICS, RESULTS, PROVENANCE, SUMMARY, CONFIG, FINGERPRINT, FIDELITY,
             HOLDER_NAME)
# What every finished run has (a run killed before its summary is unfinished).
FINISHED = (CONFIG, RESPONSES, SCORES, METRICS, SUMMARY)
