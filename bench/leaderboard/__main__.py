"""`python -m bench.leaderboard runs=[results,other] out=site publish.gh_pages_repo=.`"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, OmegaConf


@hydra.main(config_path="../../conf", config_name="leaderboard", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from bench.leaderboard.build import build_leaderboard
    from bench.leaderboard.collect import RunFolderError
    from bench.leaderboard.publish import PublishError, publish_gh_pages, publish_hf

    opts = OmegaConf.to_container(cfg, resolve=True)
    try:
        board = build_leaderboard(opts["runs"], opts["out"], title=opts["title"], plots=bool(opts["plots"]))
        print(board.report())
        names = [r.path.name for r in board.runs]
        if opts["publish"].get("gh_pages_repo"):
            print(publish_gh_pages(board.out, opts["publish"]["gh_pages_repo"], names, opts["publish"]["branch"]))
        if opts["publish"].get("hf_repo"):
            print(publish_hf(board.out, opts["publish"]["hf_repo"], names))
    except (RunFolderError, PublishError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
