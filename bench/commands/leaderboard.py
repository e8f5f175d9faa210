"""`persona-bench leaderboard`: run folders collected into a static site (and published, when asked)."""

from bench.commands.hydra_jobs import hydra_command


def leaderboard_task(opts: dict) -> None:
    """The job of `persona-bench leaderboard`: build the site, print its report, and publish where the config
    names a target."""
    from bench.leaderboard import build_leaderboard
    from bench.leaderboard.publish import publish_gh_pages, publish_hf

    board = build_leaderboard(opts["runs"], opts["out"], title=opts["title"], plots=bool(opts["plots"]))
    print(board.report())
    names = [r.path.name for r in board.runs]
    if opts["publish"].get("gh_pages_repo"):
        print(publish_gh_pages(board.out, opts["publish"]["gh_pages_repo"], names, opts["publish"]["branch"]))
    if opts["publish"].get("hf_repo"):
        print(publish_hf(board.out, opts["publish"]["hf_repo"], names))


hydra_command("leaderboard", "[overrides]", "run folders -> a static leaderboard site (GitHub Pages, HF Spaces)",
              "leaderboard", leaderboard_task)
