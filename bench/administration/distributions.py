"""Answer distributions from label log-probs: renormalise over the labels, then temper.

softmax(logp / T) over the labels equals softmax(logits / T) over the labels, so one forward pass
gives the exact answer distribution at every temperature; T == 0 is the argmax (greedy).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, softmax


def label_mass(logp: np.ndarray) -> np.ndarray:
    """Probability that fell on the option labels at all (before renormalising), per row."""
    return np.exp(logsumexp(logp, axis=-1))


def tempered(logp: np.ndarray, temperature: float) -> np.ndarray:
    """Answer probabilities at a sampling temperature from label log-probs (T = 0: all mass on the top label), so
    logprob runs give the distribution sampling would draw from."""
    logp = np.asarray(logp, dtype=np.float64)
    if temperature == 0:
        out = np.zeros_like(logp)
        np.put_along_axis(out, np.argmax(logp, axis=-1)[..., None], 1.0, axis=-1)
        return out
    return softmax(logp / temperature, axis=-1)


def draw_answer(probs: np.ndarray, seed: int) -> int:
    """One seeded draw (0-based position) from a distribution over positions."""
    return int(np.random.default_rng(seed).choice(len(probs), p=probs / probs.sum()))
