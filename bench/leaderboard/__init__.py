"""The leaderboard: every run folder in one comparable table, a static site, Markdown and CSV/JSON.

`collect` reads run folders (a malformed one is reported and skipped), `table` turns them into one
row per run, `site` writes the outputs (the per-run figures drawn by bench.results.figures), `publish` commits them to
a gh-pages branch or pushes them to a Hugging Face dataset. `persona-bench leaderboard` runs it all.
"""

from bench.leaderboard.build import build_leaderboard

__all__ = ["build_leaderboard"]
