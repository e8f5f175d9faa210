"""collect -> table -> site, as one call (the Hydra entry point and the tests use it)."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from bench.leaderboard.collect import RunRecord, Skipped, collect_runs
from bench.leaderboard.site import write_site
from bench.leaderboard.table import leaderboard_table


@dataclass(frozen=True)
class Leaderboard:
    out: Path
    runs: tuple[RunRecord, ...]
    skipped: tuple[Skipped, ...]

    def report(self) -> str:
        lines = [f"leaderboard: {len(self.runs)} runs -> {self.out}/index.html, leaderboard.md, "
                 "leaderboard.csv, leaderboard.json"]
        lines += [f"skipped {s.path}: {s.reason}" for s in self.skipped]
        lines += [f"note {r.path.name}: {n}" for r in self.runs for n in r.notes]
        return "\n".join(lines)


def _version() -> str:
    try:
        return importlib.metadata.version("persona-bench")
    except importlib.metadata.PackageNotFoundError:
        return ""


def build_leaderboard(roots, out, title: str = "persona-bench leaderboard", plots: bool = True) -> Leaderboard:
    records, skipped = collect_runs([Path(r) for r in roots])
    table, kept, unusable = leaderboard_table(records)
    skipped = [*skipped, *unusable]
    write_site(table, kept, skipped, Path(out), title=title, draw=plots, version=_version())
    return Leaderboard(Path(out), tuple(kept), tuple(skipped))
