"""collect -> table -> site, as one call (the Hydra entry point and the tests use it)."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from bench.leaderboard.collect import RunRecord, Skipped, collect_runs
from bench.leaderboard.site import site_folder, write_site
from bench.leaderboard.table import leaderboard_table


@dataclass(frozen=True)
class Leaderboard:
    """What a build made: the site folder, the runs on it, the folders skipped with why, and stale files removed."""
    out: Path
    runs: tuple[RunRecord, ...]
    skipped: tuple[Skipped, ...]
    removed: tuple[str, ...] = ()  # stale files of the previous build (named in its manifest)

    def report(self) -> str:
        """The lines the command prints: what was written, what was skipped and why, each run's notes."""
        lines = [f"leaderboard: {len(self.runs)} runs -> {self.out}/index.html, leaderboard.md, "
                 "leaderboard.csv, leaderboard.json"]
        lines += [f"skipped {s.path}: {s.reason}" for s in self.skipped]
        lines += [f"note {r.path.name}: {n}" for r in self.runs for n in r.notes]
        if self.removed:
            lines.append(f"removed {len(self.removed)} stale file(s) of the previous build: "
                         + ", ".join(self.removed[:5]) + (" ..." if len(self.removed) > 5 else ""))
        return "\n".join(lines)


def _version() -> str:
    try:
        return importlib.metadata.version("persona-bench")
    except importlib.metadata.PackageNotFoundError:
        return ""


def build_leaderboard(roots, out, title: str = "persona-bench leaderboard", plots: bool = True) -> Leaderboard:
    """Read every run under roots and write the site into out. out is checked before anything is read or
    written (OutputFolderError: it is, holds or sits in a runs folder, or holds files not of a previous
    build), so a wrong `out` costs nothing."""
    roots = [Path(r) for r in roots]
    site_folder(Path(out), roots).check([])
    records, skipped = collect_runs(roots)
    table, kept, unusable = leaderboard_table(records)
    skipped = [*skipped, *unusable]
    removed = write_site(table, kept, skipped, Path(out), title=title, draw=plots, version=_version(), roots=roots)
    return Leaderboard(Path(out), tuple(kept), tuple(skipped), tuple(removed))
