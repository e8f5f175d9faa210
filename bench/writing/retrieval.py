"""BM25 retrieval over a person's documents: the passages most relevant to a question.

The index is rebuilt from the corpus whenever a persona is built, so a persona stays up to date
as the person writes more (add files to the folder / rows to the file and rerun); `add` extends a
live index. Ties are broken by document order, so the same corpus gives the same passages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from bench.writing.stylometry import FUNCTION_WORDS
from bench.writing.corpus import Document

TOKEN = re.compile(r"[a-z0-9']+")
URL = re.compile(r"(https?://|www\.)\S+")


def tokenize(text: str) -> list[str]:
    """Lower-cased words without URLs and function words (they match everything, carry no topic)."""
    return [w for w in TOKEN.findall(URL.sub(" ", text.lower())) if w not in FUNCTION_WORDS]


class BM25Retriever:
    """BM25 over a person's documents: which passages a persona quotes for a question."""

    def __init__(self, documents: Sequence[Document] = ()):
        self.documents: list[Document] = []
        self._bm25 = None
        self.add(documents)

    def add(self, documents: Sequence[Document]) -> None:
        """Add documents and rebuild the index (an empty document still holds its place)."""
        from rank_bm25 import BM25Okapi

        self.documents.extend(documents)
        corpus = [tokenize(d.text) or ["<empty>"] for d in self.documents]
        self._bm25 = BM25Okapi(corpus) if corpus else None

    def scores(self, query: str) -> np.ndarray:
        """Each document's BM25 score for the query, in document order (none when there are no documents)."""
        if self._bm25 is None:
            return np.zeros(0)
        return np.asarray(self._bm25.get_scores(tokenize(query)), dtype=float)

    def top(self, query: str, k: int) -> list[Document]:
        """The k best-scoring documents (stable order on ties: earlier documents first)."""
        s = self.scores(query)
        order = np.lexsort((np.arange(len(s)), -s))
        return [self.documents[i] for i in order[:k]]
