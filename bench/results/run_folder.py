"""The run folder: its name (model, instrument, persona set, scoring, config hash) and its claim.

A folder is named by a hash of the config, so the same command resumes; a folder whose saved config or
fingerprint (weights, instrument file, packages, personas) differs is refused rather than mixed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from bench.errors import BenchError
from bench.mappings import flatten
from bench.results.provenance import config_hash
from bench.results.store import atomic_write_json, atomic_write_text


class RunFolderError(BenchError):
    """A run folder that holds another run's parts."""


def default_run_name(cfg: dict) -> str:
    parts = [cfg["model"]["id"] + ("+adapter" if cfg.get("adapter") else ""), inventory_label(cfg),
             cfg["persona"].get("set", "persona"), cfg["scoring"], config_hash(cfg)[:10]]
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", "-".join(parts))


def inventory_label(cfg: dict) -> str:
    return Path(str(cfg["inventory"]["path"])).stem if cfg["inventory"].get("path") else cfg["inventory"]["name"]


def run_dir_for(cfg: dict, personas_sha256: str | None = None) -> Path:
    """results/<run name>; personas built from a corpus add their text's hash, so rerunning after the
    person wrote more starts a new run instead of resuming the old one."""
    name = cfg.get("run_name") or default_run_name(cfg)
    if not cfg.get("run_name") and cfg["persona"].get("kind") and personas_sha256:
        name += f"-{personas_sha256[:8]}"
    return Path(cfg["results_dir"]) / name


def claim_run_dir(run_dir: Path, cfg: dict, fingerprint: dict) -> None:
    """Refuse to resume into a folder whose parts came from another config, weights, file or packages."""
    saved, stamp = run_dir / "config.yaml", run_dir / "fingerprint.json"
    if saved.exists():
        previous = yaml.safe_load(saved.read_text()) or {}
        if config_hash(previous) != config_hash(cfg):
            old, new = flatten(previous), flatten(cfg)
            keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            raise RunFolderError(f"{run_dir} holds a run with a different config ({', '.join(keys)}); choose "
                           "another run_name or remove the folder")
    if stamp.exists():
        before = json.loads(stamp.read_text())
        changed = sorted(k for k in fingerprint if before.get(k) != fingerprint[k])
        if changed:
            raise RunFolderError(f"{run_dir}: {', '.join(changed)} changed since its parts were written; resuming "
                           "would mix results. Choose another run_name or remove the folder")
    atomic_write_text(saved, yaml.safe_dump(cfg, sort_keys=False))
    atomic_write_json(stamp, fingerprint)


