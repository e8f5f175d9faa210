"""Writing: a person's texts (corpus loading and the held-out split, self-reports), retrieval over
them (BM25), and stylometry (how a set of texts writes)."""

from bench.writing.corpus import Corpus, CorpusError, Document, SelfReport, corpus_from_config, load_self_reports

__all__ = ["Corpus", "CorpusError", "Document", "SelfReport", "corpus_from_config", "load_self_reports"]
