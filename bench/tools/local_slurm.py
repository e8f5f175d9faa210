"""A real single-node Slurm cluster (munged + slurmctld + slurmd) living in one folder.

For the sweep tests and for trying `hydra/launcher=slurm_*` on one machine before a real cluster.
Needs Debian's `slurmctld slurmd slurm-client munge` packages; nothing needs root. Measured gotchas
are in the project notes (node name = `hostname -s`, RealMemory below `slurmd -C`, a default memory
per CPU so jobs share the node, a `sacct` stand-in since there is no accounting database).

    persona-bench slurm start /tmp/slurm   # then: source /tmp/slurm/env.sh
    persona-bench slurm stop /tmp/slurm
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from bench.errors import BenchError

DAEMONS = ("slurmctld", "slurmd", "munged", "mungekey", "sbatch", "squeue", "scontrol", "sinfo")
SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")

# submitit asks `sacct` for job states; without slurmdbd there is none, and a job that dies hard
# would then be waited on forever. This answers the same rows from squeue (MinJobAge keeps them).
SACCT_STANDIN = """#!/bin/sh
# persona-bench local cluster: sacct stand-in answering from squeue (no accounting database here)
ids=""
while [ $# -gt 0 ]; do
  case "$1" in
    -j) ids="$ids${ids:+,}$2"; shift 2 ;;
    -j*) ids="$ids${ids:+,}${1#-j}"; shift ;;
    *) shift ;;
  esac
done
echo "JobID|State|NodeList"
[ -n "$ids" ] && squeue -h -t all -j "$ids" -o '%i|%T|%N' 2>/dev/null
exit 0
"""


class SlurmError(BenchError):
    """The local cluster cannot start or stop (a daemon missing or failing): named with what to install or look
    at."""


def which(name: str) -> str | None:
    """A program on PATH or in the sbin folders, where Slurm and munge daemons are installed but a user's PATH
    often does not look."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))


def available() -> bool:
    """Are the Slurm and munge programs installed?"""
    return all(which(n) for n in DAEMONS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_line() -> str:
    """This machine as `slurmd -C` sees it, with RealMemory at 85% so the node is not drained."""
    out = subprocess.run([which("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("NodeName="))
    fields = dict(f.split("=", 1) for f in line.split())
    fields["RealMemory"] = str(int(int(fields.get("RealMemory", "2048")) * 0.85))
    keep = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")
    return " ".join(f"{k}={fields[k]}" for k in keep if k in fields)


def slurm_conf(root: Path, host: str, user: str) -> str:
    """slurm.conf for a one-node cluster living in `root`, on free ports, run as `user`, so it needs no root and
    clashes with no other cluster."""
    ports = (_free_port(), _free_port())
    return f"""# written by bench.tools.local_slurm
ClusterName=pbench
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ports[0]}
SlurmdPort={ports[1]}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
MinJobAge=3600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName={host} NodeAddr=127.0.0.1 {_node_line()} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def environment(root: Path) -> dict[str, str]:
    """Variables that point Slurm's commands (and, through sbatch, the jobs) at this cluster."""
    root = Path(root).resolve()
    return {"SLURM_CONF": str(root / "slurm.conf"), "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


def _wait(what: str, check, timeout: float, root: Path) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.3)
    logs = "".join(f"\n--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted((root / "log").glob("*.log")))
    raise SlurmError(f"local Slurm in {root}: {what} not reached in {timeout:.0f} s{logs}")


def _run(args: list[str], env: dict, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, capture_output=True, text=True, **kw)


def start(root: Path | str, timeout: float = 60) -> dict[str, str]:
    """Start munged, slurmctld and slurmd with everything under `root`; return the environment to use."""
    if not available():
        missing = [n for n in DAEMONS if not which(n)]
        raise SlurmError(f"Slurm/munge programs missing ({', '.join(missing)}); install them with "
                         "`apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge`")
    root = Path(root).resolve()
    for sub in ("state", "spool", "run", "log", "bin"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    munge_dir = root / "munge"
    munge_dir.mkdir(exist_ok=True)
    root.chmod(0o755)
    munge_dir.chmod(0o755)  # munged refuses a socket directory others cannot traverse
    key = munge_dir / "munge.key"
    if not key.exists():
        subprocess.run([which("mungekey"), "--create", f"--keyfile={key}"], check=True, capture_output=True)
    key.chmod(0o600)
    env = {**os.environ, **environment(root)}
    sacct = root / "bin" / "sacct"
    sacct.write_text(SACCT_STANDIN)
    sacct.chmod(0o755)

    import getpass

    host = socket.gethostname().split(".")[0]
    (root / "slurm.conf").write_text(slurm_conf(root, host, getpass.getuser()))
    (root / "env.sh").write_text(f'export SLURM_CONF="{root / "slurm.conf"}"\nexport PATH="{root / "bin"}:$PATH"\n')

    sock = munge_dir / "munge.socket"
    r = _run([which("munged"), f"--socket={sock}", f"--key-file={key}", f"--pid-file={root / 'run/munged.pid'}",
              f"--log-file={root / 'log/munged.log'}", f"--seed-file={munge_dir / 'munge.seed'}", "--force"], env)
    if r.returncode:
        raise SlurmError(f"munged did not start: {r.stderr.strip()}")
    r = _run([which("slurmctld"), "-c", "-i"], env)
    if r.returncode:
        raise SlurmError(f"slurmctld did not start: {r.stderr.strip()}")
    _wait("slurmctld UP", lambda: "UP" in _run([which("scontrol"), "ping"], env).stdout, timeout, root)
    r = _run([which("slurmd")], env)
    if r.returncode:
        raise SlurmError(f"slurmd did not start: {r.stderr.strip()}")

    def idle() -> bool:
        state = _run([which("sinfo"), "-h", "-o", "%t"], env).stdout.strip()
        if re.search(r"down|drain", state):
            _run([which("scontrol"), "update", f"nodename={host}", "state=resume"], env)
        return state.startswith("idle") or state.startswith("mix")

    _wait("node idle", idle, timeout, root)
    return environment(root)


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(root: Path | str, timeout: float = 15) -> None:
    """Cancel what is left, then stop slurmd, slurmctld and munged by their pid files."""
    root = Path(root).resolve()
    env = {**os.environ, **environment(root)}
    if (root / "slurm.conf").exists() and which("scancel"):
        jobs = _run([which("squeue"), "-h", "-o", "%A"], env, timeout=10).stdout.split()
        if jobs:
            _run([which("scancel"), *sorted(set(jobs))], env, timeout=10)
    for name in ("slurmd", "slurmctld", "munged"):
        pid = _pid(root / "run" / f"{name}.pid")
        if pid is None or not _alive(pid):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    (root / "munge" / "munge.socket").unlink(missing_ok=True)
