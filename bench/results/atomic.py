"""Files that appear whole or not at all, and a folder lock a killed process cannot keep.

A file is written to a temp file beside it (`.<name>.XXXXXXXX.tmp`, a name `stale_temps` recognises), flushed
and fsynced, then moved over its target with os.replace, so a reader or a kill never sees half a file.
Files are written with the user's umask (0644 under umask 022), not mkstemp's 0600, so a group on a shared
filesystem can read results. `folder_lock` is an OS lock on folder/run.lock (released by the kernel when its
holder dies), with the holder's pid and host written beside it for the message of whoever waits. The workers of
one run split over processes share it (`shared_folder_lock`), each holding its own lock besides
(`folder_lock(..., name=worker_lock_name(i))`), so no whole-run process starts while one of them works.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import socket
import sys
import tempfile
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from bench.errors import BenchError

# mkstemp's names: "." + the target's name + "." + 8 of [a-z0-9_] + ".tmp" (see new_temp)
TEMP = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")
LOCK_NAME, HOLDER_NAME = "run.lock", "run.lock.json"
WORKER_LOCK = re.compile(r"run\.worker-(\d+)")  # a worker's own lock: run.worker-<i>.lock (+ .json: its holder)
_umask_lock = threading.Lock()


class FolderBusy(BenchError):
    """A folder another live process holds: running too would repeat its model work."""


class DiskFull(BenchError):
    """No space left (or the quota reached) while writing a file: nothing half-written is kept, and the
    same command resumes from what was written once there is room."""


FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full(path: Path, err: OSError) -> OSError:
    """`err` as a DiskFull naming the folder when it says the disk or quota is full (pyarrow gives the
    errno in its message only), else `err` itself."""
    if err.errno not in FULL and "No space left on device" not in str(err) and "Disk quota exceeded" not in str(err):
        return err
    why = "the disk quota is reached" if err.errno == errno.EDQUOT else "no space is left on the device"
    return DiskFull(f"{path.parent}: {why} while writing {path.name}; nothing half-written was kept. Free space "
                    "there (or give results_dir=<a folder with room>) and run the same command again: it resumes from "
                    "the files already written")


class LinkInFolder(BenchError):
    """A symbolic link where a folder persona-bench made holds its own files: following it would read,
    move or write files outside the folder (a `parts/` linked to a user's folder would be quarantined)."""


def refuse_links(folder: Path, names: Iterable[str] | None = None) -> None:
    """Refuse a symbolic link anywhere inside `folder` (or, with `names`, at those names in it), naming
    it and its target; links are never followed, so the walk stays inside the folder."""
    if names is not None:
        found = [folder / n for n in names if (folder / n).is_symlink()]
    else:
        found = []
        for root, dirs, files in os.walk(folder, followlinks=False):
            found += [Path(root) / n for n in sorted(dirs + files) if os.path.islink(os.path.join(root, n))]
            if found:
                break
    if found:
        link = found[0]
        raise LinkInFolder(f"{link}: a symbolic link (to {os.readlink(link)}) inside {folder}, a folder persona-bench "
                           "made; it follows no link there, so nothing outside the folder is read, moved or written. "
                           "Put the real file or folder there (or remove the link), or choose another run_name")


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (/proc), else set-and-restore
    under a lock, so no other thread of ours creates a file under a zero umask."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _umask_lock:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode an ordinary open() would give a new file: 0666 less the umask."""
    return 0o666 & ~current_umask()


def new_temp(path: Path) -> tuple[int, str]:
    """A temp file beside `path`, named `.<name>.XXXXXXXX.tmp` (what `stale_temps` recognises), with the
    mode an ordinary write would give it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, file_mode())
    return fd, tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write through a synced temp file renamed into place, so a reader or a killed run never sees half a file;
    a full disk is a DiskFull naming the folder."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = new_temp(path)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and (full := disk_full(path, err)) is not err:
            raise full from None
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """atomic_write_bytes for text (UTF-8)."""
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, obj) -> None:
    """atomic_write_bytes for JSON, keys sorted and indented so the same content gives the same bytes."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_parquet(path: Path, df: pd.DataFrame) -> None:
    """atomic_write_bytes for a table as parquet (no index column)."""
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def atomic_write_parquet_tables(path: Path, tables: Iterable[pa.Table],
                                conform: Callable[[pa.Table, pa.Schema], pa.Table]) -> int:
    """Stream tables into one parquet file that appears whole or not at all; one table in memory at a
    time. `conform` maps each later table onto the first one's schema (or raises). Returns rows written;
    a full disk is a DiskFull naming the folder."""
    try:
        fd, tmp = new_temp(path)
    except OSError as err:
        raise disk_full(path, err) from None
    os.close(fd)
    writer, n = None, 0
    try:
        for table in tables:
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            elif not table.schema.equals(writer.schema):
                table = conform(table, writer.schema)
            writer.write_table(table)
            n += table.num_rows
        if writer is None:
            raise ValueError(f"{path}: no tables to write")
        writer.close()
        writer = None
        os.replace(tmp, path)
    except OSError as err:
        if (full := disk_full(path, err)) is not err:
            raise full from None
        raise
    finally:
        if writer is not None:
            with suppress(OSError):  # closing a writer on a full disk fails too: the error above is the one to tell
                writer.close()
        Path(tmp).unlink(missing_ok=True)
    return n


def worker_lock_name(worker: int) -> str:
    """The name of worker `worker`'s own lock in a run folder split over processes (`run.worker-<i>`)."""
    return f"run.worker-{worker}"


def read_holder(path: Path) -> str | None:
    """A holder record (pid, host, since) as words, or None when it is absent or unreadable."""
    try:
        h = json.loads(path.read_text())
        return f"pid {h['pid']} on host {h['host']} (since {h['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def lock_holder(folder: Path, name: str = "run") -> str:
    """Who holds the folder's lock, as its holder wrote it (pid, host, since), for the message; the run lock
    shared by a split run's workers names each worker."""
    holder = read_holder(folder / f"{name}.lock.json")
    if holder:
        return holder
    workers = [] if name != "run" else sorted(
        (int(m[1]), p) for p in folder.glob("run.worker-*.lock.json") if (m := WORKER_LOCK.fullmatch(p.name[:-10])))
    named = [f"worker {i} ({h})" for i, p in workers if (h := read_holder(p))]
    return "; ".join(named) if named else "another process (it has not written its pid yet)"


@contextmanager
def folder_lock(folder: Path, wait_s: float | None = 0, name: str = "run") -> Iterator[None]:
    """Hold `folder`'s lock (an OS lock on folder/<name>.lock, so a process killed with -9 holds nothing)
    and record who holds it (<name>.lock.json). wait_s=0 stops at once, None waits as long as it takes;
    either way the message names the holder's pid and host."""
    lock_name, holder_name = f"{name}.lock", f"{name}.lock.json"
    refuse_links(folder, (lock_name, holder_name))  # the lock opens its file with O_TRUNC: never through a link
    lock = FileLock(str(folder / lock_name), fallback_to_soft=False)  # a soft lock would outlive a kill -9
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if wait_s == 0:
            raise FolderBusy(f"{folder}: in use by {lock_holder(folder, name)}; two processes on one folder would do "
                             "the same model work. Let it finish and run the same command again (its parts are "
                             "reused), or stop it (a killed process holds no lock)") from None
        print(f"{folder}: waiting for {lock_holder(folder, name)} to finish", file=sys.stderr, flush=True)
        try:
            lock.acquire(timeout=-1 if wait_s is None else wait_s)
        except Timeout:
            raise FolderBusy(f"{folder}: still in use by {lock_holder(folder, name)} after {wait_s:g} s") from None
    except OSError as err:
        raise FolderBusy(f"{folder / lock_name}: cannot take an OS lock there ({err}); a run folder needs a "
                         "filesystem with flock (local disk, NFSv4, Lustre, GPFS)") from None
    holder = folder / holder_name
    try:
        atomic_write_json(holder, {"pid": os.getpid(), "host": socket.gethostname(),
                                   "since": time.strftime("%Y-%m-%d %H:%M:%S %z")})
        yield
    finally:
        holder.unlink(missing_ok=True)
        lock.release()


@contextmanager
def shared_folder_lock(folder: Path) -> Iterator[None]:
    """Share `folder`'s run lock with the other workers of a split run (a shared OS lock on folder/run.lock):
    they work side by side, while a whole-run process (which holds it alone) and they exclude each other.
    Taken at once or not at all: FolderBusy names the whole-run holder."""
    refuse_links(folder, (LOCK_NAME,))
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, file_mode())
    except OSError as err:
        raise FolderBusy(f"{folder / LOCK_NAME}: cannot open the run lock ({err.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(f"{folder}: in use by {lock_holder(folder)}, a process that runs it whole; a worker "
                             "would do the same model work. Let it finish (or stop it), then start the "
                             "workers again") from None
        except OSError as err:
            raise FolderBusy(f"{folder / LOCK_NAME}: cannot take an OS lock there ({err}); a run folder needs a "
                             "filesystem with flock (local disk, NFSv4, Lustre, GPFS)") from None
        yield
    finally:
        os.close(fd)  # closing the descriptor drops the lock


def stale_temps(folder: Path, targets: re.Pattern) -> list[Path]:
    """Temp files of ours in `folder` left by a kill: mkstemp's naming around a target we write."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if (m := TEMP.fullmatch(p.name)) and targets.fullmatch(m["target"]) and p.is_file())
