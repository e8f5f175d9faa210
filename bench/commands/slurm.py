"""`persona-bench slurm start|stop FOLDER`: a real single-node Slurm cluster in a folder (tests, tryouts)."""

from pathlib import Path

from bench.commands import command
from bench.errors import BenchError


def cluster_folder(sub: str, args: list[str]) -> str:
    """The one folder argument `slurm start|stop` takes, or an error saying what to give."""
    if len(args) != 1:
        raise BenchError(f"slurm {sub}: give the folder of the local cluster, e.g. /tmp/slurm")
    return args[0]


@command("slurm start", "FOLDER", "start a single-node Slurm whose state lives in FOLDER")
def slurm_start(args: list[str]) -> int:
    """The handler of `persona-bench slurm start`: start the local cluster and print how to use it."""
    from bench.tools import local_slurm

    folder = cluster_folder("start", args)
    local_slurm.start(folder)
    print(f"local Slurm running; use it with: source {Path(folder).resolve() / 'env.sh'}")
    return 0


@command("slurm stop", "FOLDER", "stop the Slurm started in FOLDER")
def slurm_stop(args: list[str]) -> int:
    """The handler of `persona-bench slurm stop`: stop the local cluster in the folder."""
    from bench.tools import local_slurm

    local_slurm.stop(cluster_folder("stop", args))
    return 0
