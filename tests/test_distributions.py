"""Answer distributions from label log-probs: tempered softmax, label mass, seeded draws, TV distance."""

from __future__ import annotations

import numpy as np
import pytest

from bench.administration.distributions import (
    draw_answer,
    label_mass,
    tempered,
)
from bench.metrics.distances import total_variation

LOGP = np.log(np.array([0.05, 0.10, 0.20, 0.40, 0.15]))  # label log-probs; mass 0.9 on the labels


def hand_softmax(x: np.ndarray, t: float) -> np.ndarray:
    z = np.asarray(x, float) / t
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("t", [0.1, 0.5, 0.7, 1.0, 2.0, 10.0])
def test_tempered_matches_hand_softmax(t):
    got = tempered(LOGP, t)
    np.testing.assert_allclose(got, hand_softmax(LOGP, t), rtol=1e-12, atol=1e-15)
    assert got.sum() == pytest.approx(1.0)


def test_temperature_one_renormalises_over_labels():
    # At T = 1 the result is just the label probabilities renormalised to sum to 1.
    p = np.exp(LOGP)
    np.testing.assert_allclose(tempered(LOGP, 1.0), p / p.sum(), rtol=1e-12)
    np.testing.assert_allclose(tempered(LOGP, 1.0), [0.05 / 0.9, 0.1 / 0.9, 0.2 / 0.9, 0.4 / 0.9, 0.15 / 0.9])


def test_known_value_at_temperature_half():
    # softmax(log p / 0.5) = p^2 / sum p^2
    p = np.array([0.1, 0.2, 0.7])
    np.testing.assert_allclose(tempered(np.log(p), 0.5), p**2 / (p**2).sum(), rtol=1e-12)


@pytest.mark.parametrize("t", [0.3, 1.0, 3.0])
@pytest.mark.parametrize("c", [-50.0, -3.2, 7.0, 120.0])
def test_invariant_to_constant_shift(t, c):
    # log-softmax over the vocabulary = logits - const, so either input gives the same distribution.
    np.testing.assert_allclose(tempered(LOGP + c, t), tempered(LOGP, t), rtol=1e-10, atol=1e-14)


def test_logits_and_log_softmax_agree():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 32000)) * 3
    labels = [15, 16, 17, 18, 19]
    log_softmax = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - logits.max(1, keepdims=True)
    for t in (0.0, 0.5, 1.0):
        np.testing.assert_allclose(tempered(logits[:, labels], t), tempered(log_softmax[:, labels], t),
                                   rtol=1e-9, atol=1e-14)


def test_temperature_zero_is_one_hot_argmax():
    out = tempered(LOGP, 0)
    np.testing.assert_array_equal(out, [0, 0, 0, 1, 0])
    assert out.dtype == np.float64
    np.testing.assert_array_equal(tempered(LOGP, 0.0), out)


def test_temperature_zero_rows():
    x = np.log(np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.1, 0.1, 0.8]]))
    np.testing.assert_array_equal(tempered(x, 0), np.eye(3)[[1, 0, 2]])


def test_low_temperature_approaches_argmax():
    prev = 0.0
    for t in (1.0, 0.5, 0.2, 0.1, 0.05):
        top = tempered(LOGP, t)[3]
        assert top > prev
        prev = top
    np.testing.assert_allclose(tempered(LOGP, 0.01), tempered(LOGP, 0), atol=1e-12)
    assert int(np.argmax(tempered(LOGP, 0.01))) == 3


def test_high_temperature_approaches_uniform():
    np.testing.assert_allclose(tempered(LOGP, 1e4), np.full(5, 0.2), atol=1e-3)
    assert np.ptp(tempered(LOGP, 5.0)) < np.ptp(tempered(LOGP, 1.0))


def test_tempered_rows_independent():
    rows = np.stack([LOGP, LOGP[::-1] - 2.0, np.log(np.array([0.2, 0.2, 0.2, 0.2, 0.2]))])
    for t in (0.5, 1.0):
        out = tempered(rows, t)
        assert out.shape == (3, 5)
        for i in range(3):
            np.testing.assert_allclose(out[i], hand_softmax(rows[i], t), rtol=1e-12)
        np.testing.assert_allclose(out.sum(axis=1), 1.0)
    np.testing.assert_allclose(tempered(rows, 1.0)[2], 0.2)


def test_tempered_accepts_lists_and_keeps_input():
    x = list(LOGP)
    np.testing.assert_allclose(tempered(x, 0.7), hand_softmax(LOGP, 0.7))
    arr = LOGP.copy()
    tempered(arr, 0)
    tempered(arr, 0.7)
    np.testing.assert_array_equal(arr, LOGP)


def test_label_mass():
    assert label_mass(LOGP) == pytest.approx(0.9, rel=1e-12)
    rows = np.log(np.array([[0.5, 0.3], [0.01, 0.02]]))
    np.testing.assert_allclose(label_mass(rows), [0.8, 0.03], rtol=1e-12)
    # Tiny but representable masses are summed in log space, not lost.
    np.testing.assert_allclose(label_mass(np.array([-700.0, -700.0])), 2 * np.exp(-700.0), rtol=1e-9)


def test_draw_deterministic_per_seed():
    p = tempered(LOGP, 1.0)
    assert [draw_answer(p, s) for s in range(200)] == [draw_answer(p, s) for s in range(200)]
    assert len({draw_answer(p, s) for s in range(200)}) == 5  # different seeds give different draws
    assert all(type(draw_answer(p, s)) is int for s in range(5))


def test_draw_one_hot_always_picks_it():
    assert {draw_answer(np.array([0.0, 0.0, 1.0, 0.0]), s) for s in range(100)} == {2}


def test_draw_frequencies_match_p():
    p = tempered(LOGP, 1.0)
    n = 20_000
    counts = np.bincount([draw_answer(p, s) for s in range(n)], minlength=5)
    np.testing.assert_array_less(np.abs(counts / n - p), 0.02)


def test_draw_normalises_unnormalised_input():
    q = np.array([1.0, 3.0])  # = [0.25, 0.75]
    n = 20_000
    freq = np.bincount([draw_answer(q, s) for s in range(n)], minlength=2) / n
    assert abs(freq[1] - 0.75) < 0.02


@pytest.mark.parametrize("p,q,tv", [
    ([1, 0, 0], [0, 1, 0], 1.0),
    ([0.5, 0.5], [0.5, 0.5], 0.0),
    ([0.2, 0.3, 0.5], [0.3, 0.3, 0.4], 0.1),
    ([0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0], 0.75),
    ([0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], 0.4),
])
def test_total_variation_known_values(p, q, tv):
    assert total_variation(np.array(p), np.array(q)) == pytest.approx(tv, abs=1e-12)
    assert total_variation(q, p) == pytest.approx(tv, abs=1e-12)
    assert type(total_variation(p, q)) is float
