"""Stylometry as pure functions: how a text set writes (word and sentence length, vocabulary richness,
Zipf slope, function words, punctuation), and how close two sets of such vectors are."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

# ---------------------------------------------------------------------------------------------
# stylometry

WORD = re.compile(r"[A-Za-z0-9']+")
SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
PUNCTUATION = set(".,;:!?\"'()-")

# Common English function words (closed-class: articles, pronouns, prepositions, conjunctions,
# auxiliaries): their rates are a classic authorship signal independent of topic.
FUNCTION_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most my
myself no nor not now of off on once only or other our ours ourselves out over own same she should so
some such than that the their theirs them themselves then there these they this those through to too
under until up very was we were what when where which while who whom why will with would you your
yours yourself yourselves
""".split())

STYLE_FEATURES = ("mean_word_length", "mean_sentence_length", "type_token_ratio", "hapax_ratio", "zipf_slope",
                  "function_word_rate", "punctuation_rate", "exclamation_rate", "question_rate",
                  "uppercase_word_rate")
SEGMENT = 100  # words per segment for the size-robust type/token measures


def words(text: str) -> list[str]:
    """The words of a text as stylometry counts them (letters, digits, apostrophes)."""
    return WORD.findall(text)


def sentence_count(text: str) -> int:
    """Runs of . ! ? followed by a space or the end, plus a final unterminated sentence; 0 without words."""
    text = text.strip()
    if not words(text):
        return 0
    ends = SENTENCE_END.findall(text)
    return len(ends) + (0 if text[-1] in ".!?" else 1)


def zipf_slope(tokens: Sequence[str]) -> float:
    """Slope of log(frequency) against log(rank) (least squares over all ranks); about -1 for
    natural text. NaN with fewer than two distinct words."""
    freq = np.array(sorted(Counter(tokens).values(), reverse=True), dtype=float)
    if len(freq) < 2:
        return math.nan
    ranks = np.arange(1, len(freq) + 1, dtype=float)
    return float(np.polyfit(np.log(ranks), np.log(freq), 1)[0])


def _segments(tokens: list[str], size: int = SEGMENT) -> list[list[str]]:
    full = [tokens[s:s + size] for s in range(0, len(tokens) - size + 1, size)]
    return full or ([tokens] if tokens else [])


def style_features(texts: Sequence[str]) -> dict[str, float]:
    """One stylometric vector for a set of texts (see STYLE_FEATURES).

    Type-token and hapax ratios are means over consecutive 100-word segments of the lower-cased
    words (mean segmental TTR), so sets of different sizes compare; rates are per word, except
    punctuation (per character). Sentences end at . ! ? or at the end of a text.
    """
    all_words = [w for t in texts for w in words(t)]
    lower = [w.lower() for w in all_words]
    n_words = len(all_words)
    n_chars = sum(len(t) for t in texts)
    n_sentences = sum(sentence_count(t) for t in texts)
    segs = _segments(lower)
    ttr = [len(set(s)) / len(s) for s in segs]
    hapax = [sum(1 for c in Counter(s).values() if c == 1) / len(s) for s in segs]
    nan = math.nan
    return {
        "mean_word_length": float(np.mean([len(w) for w in all_words])) if n_words else nan,
        "mean_sentence_length": n_words / n_sentences if n_sentences else nan,
        "type_token_ratio": float(np.mean(ttr)) if ttr else nan,
        "hapax_ratio": float(np.mean(hapax)) if hapax else nan,
        "zipf_slope": zipf_slope(lower),
        "function_word_rate": sum(w in FUNCTION_WORDS for w in lower) / n_words if n_words else nan,
        "punctuation_rate": sum(ch in PUNCTUATION for t in texts for ch in t) / n_chars if n_chars else nan,
        "exclamation_rate": sum(t.count("!") for t in texts) / n_words if n_words else nan,
        "question_rate": sum(t.count("?") for t in texts) / n_words if n_words else nan,
        "uppercase_word_rate": sum(len(w) > 1 and w.isupper() for w in all_words) / n_words if n_words else nan,
    }


def style_matrix(sets: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Rows: text sets; columns: STYLE_FEATURES."""
    return pd.DataFrame([style_features(t) for t in sets.values()], index=list(sets), columns=list(STYLE_FEATURES))


def standardise(matrix: pd.DataFrame) -> pd.DataFrame:
    """z-score each feature over the compared sets (Burrows-style), so no feature dominates by its
    units; a feature that is constant (or NaN anywhere) is dropped."""
    m = matrix.dropna(axis=1)
    sd = m.std(axis=0, ddof=0)
    m = m.loc[:, sd > 0]
    return (m - m.mean(axis=0)) / sd[sd > 0]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two feature vectors (NaN when one is all zeros): how alike two writers' styles are."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / den) if den > 0 else math.nan


def style_similarity(matrix: pd.DataFrame, reference: str) -> dict[str, float]:
    """Cosine similarity of each set's standardised style vector to the reference set's.

    Standardisation is over the rows given, so the numbers compare the sets of one report with
    each other (1: same direction from the group's mean style as the person, -1: opposite)."""
    z = standardise(matrix)
    return {name: cosine(z.loc[name].to_numpy(), z.loc[reference].to_numpy()) for name in z.index}


def pca_2d(matrix: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Coordinates of the standardised style vectors on their first two principal components,
    and the share of variance each explains."""
    z = standardise(matrix).to_numpy()
    z = z - z.mean(axis=0)
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    coords = z @ vt[:2].T
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    var = s**2 / (s**2).sum() if (s**2).sum() > 0 else np.zeros_like(s)
    return pd.DataFrame(coords, index=matrix.index, columns=["pc1", "pc2"]), np.pad(var, (0, 2))[:2]
