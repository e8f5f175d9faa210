"""`persona-bench sweep status|rerun|finalize|merge`: the run folders of a sweep: which finished, finish one,
finalise one its workers computed, merge them."""

import sys

from bench.commands import command
from bench.errors import BenchError


@command("sweep status", "FOLDER...", "finished or not, for each run folder under the folders (exit 1: some are not)")
def sweep_status(args: list[str]) -> int:
    """The handler of `persona-bench sweep status`: each run folder finished or not; exit 1 while any is
    unfinished, for scripts to wait on."""
    from bench.results import sweep

    if not args:
        raise BenchError("sweep status: give one or more folders of run folders")
    runs = sweep.run_folders(args)
    for r in runs:
        print(f"{'finished  ' if sweep.is_finished(r) else 'UNFINISHED'}  {r}")
    return 0 if all(map(sweep.is_finished, runs)) else 1


@command("sweep rerun", "RUN_FOLDER", "finish an unfinished run from its saved config (nothing done is redone)")
def sweep_rerun(args: list[str]) -> int:
    """The handler of `persona-bench sweep rerun`: finish one run folder from its saved config."""
    if len(args) != 1:
        raise BenchError("sweep rerun: give exactly one run folder")
    from bench.pipelines.run import rerun

    print(rerun(args[0], progress=True))
    return 0


@command("sweep finalize", "RUN_FOLDER", "finalise a run split over workers (no model work; refuses, naming "
         "the units, while any is not done)")
def sweep_finalize(args: list[str]) -> int:
    """The handler of `persona-bench sweep finalize`: a split run's tables, metrics and summary from its parts."""
    if len(args) != 1:
        raise BenchError("sweep finalize: give exactly one run folder")
    from bench.pipelines.run import finalize

    print(finalize(args[0]))
    return 0


@command("sweep merge", "OUT FOLDER...", "the finished runs' tables merged into one folder")
def sweep_merge(args: list[str]) -> int:
    """The handler of `persona-bench sweep merge`: the finished runs' tables merged into one folder, the
    unfinished named."""
    from bench.results import sweep

    if len(args) < 2:
        raise BenchError("sweep merge: give the output folder, then one or more folders of run folders")
    report = sweep.merge(args[1:], args[0])
    print(f"merged {len(report['runs'])} runs: {report['responses']} responses, {report['scores']} score rows "
          f"-> {args[0]}")
    if report["unfinished"]:
        print(f"left out (unfinished): {', '.join(report['unfinished'])}", file=sys.stderr)
    return 0
