"""A folder a tool writes into at a user's word: it writes only files it owns, and says so in a manifest.

The leaderboard and `sweep merge` write into a folder the user names. Before anything is written the
folder is checked: one that is, or is inside, an input folder, or that holds run folders, is refused;
so is one holding files the tool did not write (its manifest, `<out>/<manifest name>`, lists every file
it wrote). A rebuild removes only files named in the previous manifest and no longer written. Nothing
the tool did not write is ever deleted or overwritten. The manifest is written atomically, once before
the first file (listing every file it may write) and once after the last (listing what it did write),
so a build killed half way leaves files its next build still knows to be its own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

from bench.errors import BenchError
from bench.results.atomic import atomic_write_bytes, atomic_write_text
from bench.results.layout import CONFIG, PARTS, RESPONSES

MAX_ENTRIES = 100_000  # a site of a few hundred runs has a few thousand files
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
SHOWN = 5  # names quoted in a refusal


class OutputFolderError(BenchError):
    """An output folder that would lose or mix someone's files if written: named, with what was found."""


def is_run_folder(folder: Path) -> bool:
    """A folder written by a run: config.yaml beside responses.parquet or parts/."""
    return (folder / CONFIG).is_file() and ((folder / RESPONSES).exists() or (folder / PARTS).is_dir())


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _listing(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def contents(out: Path) -> tuple[list[str], list[str]]:
    """(every file or link below out as a relative POSIX path, every run folder below out), symlinks
    not followed, bounded so a huge or looping tree is refused rather than walked for minutes."""
    files, runs, seen = [], [], 0
    for top, dirs, names in os.walk(out, followlinks=False, onerror=None):
        here = Path(top)
        if is_run_folder(here):
            runs.append(str(here))
        for d in list(dirs):
            if (here / d).is_symlink():  # a link is an entry of its own, never walked into
                dirs.remove(d)
                names.append(d)
        for n in names:
            files.append((here / n).relative_to(out).as_posix())
        seen += len(dirs) + len(names)
        if seen > MAX_ENTRIES:
            raise OutputFolderError(f"out {out}: holds over {MAX_ENTRIES:,} entries; refused (name an empty "
                                    "folder, or the folder of an earlier build)")
    return sorted(files), sorted(runs)


def temp_of(rel: str) -> set[str]:
    """The files a temp file `.<name>.<random>.tmp` (atomic_write_bytes) may be written for."""
    p = PurePosixPath(rel)
    if not (p.name.startswith(".") and p.name.endswith(".tmp")):
        return set()
    stem = p.name[1:-len(".tmp")]
    return {(p.parent / stem[:i]).as_posix() for i, c in enumerate(stem) if c == "." and i}


def _safe_name(name) -> str | None:
    """A manifest entry as a relative path inside the folder, or None for anything else (absolute, ..)."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return None
    p = PurePosixPath(name)
    if p.is_absolute() or any(part in ("", ".", "..") for part in p.parts):
        return None
    return p.as_posix()


def read_manifest(path: Path, tool: str) -> set[str]:
    """The files a previous build says it wrote; a manifest that is not ours or not readable is refused."""
    try:
        if path.is_symlink() or not path.is_file():
            raise OutputFolderError(f"{path}: not a regular file, so not a manifest {tool} wrote")
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise OutputFolderError(f"{path}: over {MAX_MANIFEST_BYTES:,} bytes, not a manifest {tool} wrote")
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        if isinstance(err, OutputFolderError):
            raise
        raise OutputFolderError(f"{path}: unreadable manifest ({type(err).__name__}: {err}); the folder's "
                                f"files cannot be told apart from yours, so {tool} writes nothing there") from None
    if not isinstance(data, dict) or data.get("tool") != tool or not isinstance(data.get("files"), list):
        raise OutputFolderError(f"{path}: not a manifest written by {tool} (field 'tool' is "
                                f"{data.get('tool') if isinstance(data, dict) else type(data).__name__!r}); "
                                "refused: name another folder")
    names = {_safe_name(n) for n in data["files"]}
    if None in names:
        bad = [n for n in data["files"] if _safe_name(n) is None][:SHOWN]
        raise OutputFolderError(f"{path}: field 'files' names paths outside the folder ({bad}); refused")
    return names


class OwnedFolder:
    """Writes files into `out` on behalf of `tool`, recording each in the manifest `manifest`.

    inputs: folders the tool reads (runs roots, run folders); out may not be one, lie inside one, or
    hold one. exclusive: every file already in out must be in the manifest (the leaderboard owns its
    folder); otherwise only the files the tool is about to write must be (merge shares its folder).
    """

    def __init__(self, out: Path | str, tool: str, manifest: str, inputs=(), exclusive: bool = True):
        self.out, self.tool, self.manifest = Path(out), tool, manifest
        self.inputs = [Path(p) for p in inputs]
        self.exclusive = exclusive
        self.previous: set[str] = set()
        self.written: list[str] = []

    def check(self, planned) -> None:
        """Refuse out before anything is written; planned: the files this build may write."""
        out, planned = self.out, [_safe_name(p) or "" for p in planned]
        if out.is_symlink() and not out.exists():
            raise OutputFolderError(f"out {out}: a broken symbolic link; refused")
        if out.exists() and not out.is_dir():
            raise OutputFolderError(f"out {out}: not a folder (a file is there)")
        real = out.resolve()
        for given in self.inputs:
            src = given.resolve()
            if _inside(real, src):
                raise OutputFolderError(f"out {out}: is {'' if real == src else 'inside '}the input folder "
                                        f"{given}; writing there could overwrite or delete results: name a "
                                        "folder outside it")
            if self.exclusive and _inside(src, real):
                raise OutputFolderError(f"out {out}: holds the input folder {given}; {self.tool} owns its whole "
                                        "folder and would mix its files with your results: name a folder "
                                        "beside it")
        for above in [real, *real.parents]:
            if is_run_folder(above):
                raise OutputFolderError(f"out {out}: is {'' if above == real else 'inside '}the run folder "
                                        f"{above}; refused: name a folder outside it")
        if not out.exists():
            return
        files, runs = contents(out)
        if runs:
            raise OutputFolderError(f"out {out}: holds run folder(s) {_listing(runs)} (config.yaml with "
                                    f"responses.parquet or parts/); {self.tool} writes nothing there: name "
                                    "another folder")
        manifest = out / self.manifest
        if manifest.exists() or manifest.is_symlink():
            self.previous = read_manifest(manifest, self.tool)
        theirs = [f for f in files if f != self.manifest and not self._ours(f)]
        if not self.exclusive:
            wanted = set(planned)
            theirs = [f for f in theirs if f in wanted or any(w.startswith(f + "/") for w in wanted)]
        if theirs:
            why = ("files it did not write (none is in its manifest "
                   f"{self.manifest})" if manifest.exists() else f"files and no {self.manifest} manifest, so "
                   f"they are not {self.tool}'s")
            raise OutputFolderError(f"out {out}: holds {why}: {_listing(theirs)}; nothing was written: name an "
                                    "empty or new folder, or move those files")

    def _ours(self, rel: str) -> bool:
        """In the manifest, or a temp file our atomic writer leaves when killed (.<name>.<random>.tmp)."""
        return rel in self.previous or temp_of(rel) & self.previous != set()

    def claim(self, planned) -> None:
        """Record every file this build may write before writing one (so a killed build stays ours)."""
        self.out.mkdir(parents=True, exist_ok=True)
        self._write_manifest(sorted(self.previous | {_safe_name(p) for p in planned} - {None}), done=False)

    def path(self, rel: str) -> Path:
        """Where `rel` goes (for a writer that takes a path); call record(rel) once it is written."""
        name = _safe_name(rel)
        if name is None:
            raise OutputFolderError(f"{self.tool}: file name {rel!r} is not a path inside {self.out}")
        return self.out / name

    def record(self, rel: str) -> None:
        """Note a file as written by this tool, for the manifest."""
        self.written.append(_safe_name(rel))

    def write_bytes(self, rel: str, data: bytes) -> Path:
        """Write a file of the folder whole or not at all, and note it as this tool's."""
        target = self.path(rel)
        atomic_write_bytes(target, data)
        self.record(rel)
        return target

    def write_text(self, rel: str, text: str) -> Path:
        """write_bytes for UTF-8 text."""
        return self.write_bytes(rel, text.encode("utf-8"))

    def finish(self) -> list[str]:
        """Write the final manifest and remove what the previous build wrote and this one did not."""
        written = set(self.written)
        self._write_manifest(sorted(written), done=True)
        removed = []
        for rel in sorted(self.previous - written):
            target = self.out / rel
            if target.is_symlink() or target.is_file():
                target.unlink()
                removed.append(rel)
                for parent in target.parents:  # folders emptied by it, up to (not including) out
                    if parent == self.out or not parent.is_dir() or any(parent.iterdir()):
                        break
                    parent.rmdir()
        for rel in contents(self.out)[0]:  # temp files of a build that was killed
            if temp_of(rel) & (self.previous | written) and (self.out / rel).is_file():
                (self.out / rel).unlink()
                removed.append(rel)
        return removed

    def _write_manifest(self, files: list[str], done: bool) -> None:
        atomic_write_text(self.out / self.manifest, json.dumps(
            {"tool": self.tool, "complete": done, "files": files,
             "note": f"written by {self.tool}: the files it wrote here; a rebuild removes only these"},
            indent=1) + "\n")
