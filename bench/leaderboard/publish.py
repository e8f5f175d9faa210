"""Publish a built site: commit it to a branch of a git repository (the gh-pages flow), or push it
to a Hugging Face dataset when a token is set (skipped, saying so, when it is not).

The git side works in a throw-away repository that fetches the branch, replaces its files with the
site, commits with a message naming the runs and pushes back; the target's own checkout is never
touched, so pushing works as long as the branch is not the one checked out there.

Only the files the site's manifest (`.persona-bench-site.json`) lists are published, so a folder that
also holds results or private files publishes none of them, and a folder without a manifest is refused.
In the branch, only files the branch's previous manifest lists are replaced or removed: a CNAME or any
file someone else committed stays, and a file of ours that would overwrite one of theirs is refused.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from bench.errors import BenchError
from bench.leaderboard.site import SITE_MANIFEST, TOOL
from bench.results.outdir import OutputFolderError, OwnedFolder, read_manifest


class PublishError(BenchError):
    """A site that cannot be published (not a built site, a failed git or hub step): the message names the step
    and what it said."""


def _git(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise PublishError(f"git {' '.join(args)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done


def commit_message(run_names: list[str]) -> str:
    """The publishing commit's message: how many runs, then their folder names."""
    head = f"leaderboard: {len(run_names)} run{'s' if len(run_names) != 1 else ''}"
    return head + "\n\n" + "".join(f"- {name}\n" for name in run_names)


def site_files(site: Path) -> list[str]:
    """The files of a built site, as its manifest lists them; PublishError for a folder that is not one."""
    site = Path(site)
    if not (site / SITE_MANIFEST).is_file():
        raise PublishError(f"{site} holds no {SITE_MANIFEST}: not a site built by {TOOL}; build the "
                           "leaderboard first (only the files it lists are published)")
    try:
        files = sorted(read_manifest(site / SITE_MANIFEST, TOOL))
    except OutputFolderError as err:
        raise PublishError(str(err)) from None
    if "index.html" not in files:
        raise PublishError(f"{site / SITE_MANIFEST}: lists no index.html; rebuild the leaderboard")
    root = site.resolve()
    for rel in files:
        path = site / rel
        if path.is_symlink() or not path.is_file() or root not in path.resolve().parents:
            raise PublishError(f"{path}: listed in {SITE_MANIFEST} but not a regular file inside {site}; "
                               "rebuild the leaderboard")
    return files


def publish_gh_pages(site: Path, repo: str | Path, run_names: list[str], branch: str = "gh-pages") -> str:
    """Commit the site's files to `branch` of `repo` (a path or URL), replacing only the files the branch's
    previous manifest lists, and push it."""
    site, target = Path(site), str(repo)
    files = site_files(site)
    if Path(target).exists():
        target = str(Path(target).resolve())
    exists = _git("ls-remote", "--exit-code", "--heads", target, branch, check=False)
    if exists.returncode not in (0, 2):
        raise PublishError(f"{target} is not a git repository I can read: {exists.stderr.strip()}")
    with tempfile.TemporaryDirectory(prefix="leaderboard-publish-") as tmp:
        work = Path(tmp)
        _git("init", "-q", cwd=work)
        _git("remote", "add", "origin", target, cwd=work)
        if exists.returncode == 0:
            _git("fetch", "-q", "origin", branch, cwd=work)
            _git("checkout", "-q", "-B", branch, "FETCH_HEAD", cwd=work)
        else:
            _git("checkout", "-q", "--orphan", branch, cwd=work)
        owned = OwnedFolder(work, TOOL, SITE_MANIFEST, exclusive=False)
        try:
            owned.check(files)
        except OutputFolderError as err:
            raise PublishError(f"branch {branch} of {target}: {err}") from None
        for rel in files:
            owned.write_bytes(rel, (site / rel).read_bytes())
        owned.finish()
        _git("add", "-A", cwd=work)
        if _git("diff", "--cached", "--quiet", cwd=work, check=False).returncode == 0:
            return f"gh-pages: {target} branch {branch} already holds this site; nothing to commit"
        identity = [] if _git("config", "user.email", cwd=work, check=False).stdout.strip() else [
            "-c", "user.name=persona-bench", "-c", "user.email=persona-bench@localhost"]
        _git(*identity, "commit", "-q", "-m", commit_message(run_names), cwd=work)
        sha = _git("rev-parse", "HEAD", cwd=work).stdout.strip()
        _git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    return f"gh-pages: committed {len(run_names)} runs to {target} branch {branch} ({sha[:10]})"


def publish_hf(site: Path, repo_id: str, run_names: list[str], token: str | None = None) -> str:
    """Upload the site folder to the Hugging Face dataset `repo_id`; skipped without HF_TOKEN."""
    token = token or os.environ.get("HF_TOKEN")
    if not token:
        return f"Hugging Face push skipped: HF_TOKEN is not set (set it to push the leaderboard to dataset {repo_id})"
    try:
        from huggingface_hub import HfApi
    except ImportError:
        return "Hugging Face push skipped: huggingface_hub is not installed (pip install huggingface_hub)"
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    files = site_files(Path(site))
    info = api.upload_folder(folder_path=str(site), repo_id=repo_id, repo_type="dataset",
                             allow_patterns=[*files, SITE_MANIFEST],
                             commit_message=commit_message(run_names).splitlines()[0],
                             commit_description=commit_message(run_names))
    return f"Hugging Face: pushed {len(run_names)} runs to dataset {repo_id} ({getattr(info, 'commit_url', info)})"
