"""Metrics: pure functions of the response and score tables (no I/O, no model), each tested against
known values. `compute_metrics` gathers them into metrics.json; `score_participants` is the
instrument's scoring rule. Clone metrics (perplexity, KL, trait recovery) live in `metrics.clone`."""

from bench.metrics.answers import invalid_rates, question_distributions
from bench.metrics.compute import compute_metrics
from bench.metrics.reliability import icc_repetitions, pooled_icc, reliability
from bench.metrics.scoring import mbti_accuracy, mbti_types, score_participants, trait_target_shift
from bench.metrics.sensitivity import option_order_symmetry, prompt_sensitivity
from bench.metrics.tables import CONDITION_COLS, PARTICIPANT_COLS, SCORE_COLS, jsonable

__all__ = [
    "CONDITION_COLS",
    "PARTICIPANT_COLS",
    "SCORE_COLS",
    "compute_metrics",
    "icc_repetitions",
    "invalid_rates",
    "jsonable",
    "mbti_accuracy",
    "mbti_types",
    "option_order_symmetry",
    "pooled_icc",
    "prompt_sensitivity",
    "question_distributions",
    "reliability",
    "score_participants",
    "trait_target_shift",
]
