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
from bench.results.atomic import atomic_write_json, atomic_write_text, refuse_links
from bench.results.layout import CONFIG, FINGERPRINT
from bench.results.provenance import config_hash
from bench.userfiles import MAX_YAML_BYTES, load_yaml, read_bounded


class RunFolderError(BenchError):
    """A run folder that holds another run's parts."""


class NotARunConfig(RunFolderError):
    """A config.yaml that reads as YAML but holds no mapping; `kind` names what it holds instead."""

    def __init__(self, path: Path, kind: str):
        self.kind = kind
        super().__init__(f"{path}: expected the run's config (a mapping), got {kind}; the folder is damaged: "
                         "choose another run_name, or restore config.yaml")


def default_run_name(cfg: dict) -> str:
    """A run folder's name when none is given: model, instrument, persona set (a persona file's stem), scoring
    and config hash, so reruns of one config find their folder."""
    persona = cfg["persona"]
    parts = [model_label(cfg), inventory_label(cfg),
             Path(str(persona["path"])).stem if persona.get("path") else persona.get("set", "persona"),
             cfg["scoring"], config_hash(cfg)[:10]]
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", "-".join(parts))


def model_label(cfg: dict, prov: dict | None = None, *, default: str | None = None,
                adapter_name: bool = False) -> str:
    """A run's model as names and tables show it: the model id (provenance's, the one loaded, before the
    config's; `default` when neither has one) and `+adapter` for a LoRA adapter, or `+<its folder name>` with
    adapter_name (leaderboard rows tell two adapters of one model apart). KeyError when there is no id."""
    model = (prov or {}).get("model") or {}
    label = model.get("id") or (cfg.get("model") or {}).get("id") or default
    if not label:
        raise KeyError("model.id")
    adapter = cfg.get("adapter") or model.get("adapter")
    if not adapter:
        return str(label)
    return f"{label}+{Path(str(adapter)).name}" if adapter_name else f"{label}+adapter"


def inventory_label(cfg: dict) -> str:
    """The instrument's part of a run folder's name: inventory and scale, the file's stem for a user's own file,
    else the name."""
    if cfg["inventory"].get("scale"):
        return f"{cfg['inventory']['name']}_{cfg['inventory']['scale']}"
    return Path(str(cfg["inventory"]["path"])).stem if cfg["inventory"].get("path") else cfg["inventory"]["name"]


def run_dir_for(cfg: dict, personas_sha256: str | None = None) -> Path:
    """results/<run name>; personas built from a corpus or read from a file (`persona.path`) add their text's
    hash, so rerunning after the person wrote more, or the file changed, starts a new run instead of resuming
    the old one."""
    name = cfg.get("run_name") or default_run_name(cfg)
    persona = cfg["persona"]
    if not cfg.get("run_name") and (persona.get("kind") or persona.get("path")) and personas_sha256:
        name += f"-{personas_sha256[:8]}"
    return Path(cfg["results_dir"]) / name


def make_run_dir(run_dir: Path) -> None:
    """Create the run folder, or say plainly why it cannot be (a file in its place, a folder not writable)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise RunFolderError(f"{run_dir}: exists and is not a folder; choose another run_name or results_dir") from None
    except NotADirectoryError:
        raise RunFolderError(f"{run_dir}: a part of this path is a file, not a folder; choose another "
                             "results_dir") from None
    except OSError as err:
        raise RunFolderError(f"{run_dir}: cannot create the run folder ({err.strerror}); choose a results_dir "
                             "you can write to") from None


def saved_config(run_dir: Path, limit: int = MAX_YAML_BYTES) -> dict:
    """The config a run folder was made with (config.yaml), read bounded; damage is named, not parsed on:
    UserFileError for a file that cannot be read as YAML, NotARunConfig for one that holds no mapping."""
    path = Path(run_dir) / CONFIG
    cfg = load_yaml(path, limit, "run config")
    if not isinstance(cfg, dict):
        raise NotARunConfig(path, type(cfg).__name__)
    return cfg


def saved_fingerprint(run_dir: Path) -> dict:
    """The fingerprint a run folder was claimed with (weights, inventory, packages...), read to refuse resuming
    it with something else; a damaged one is named."""
    path = run_dir / FINGERPRINT
    try:
        stamp = json.loads(read_bounded(path, MAX_YAML_BYTES, "fingerprint"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFolderError(f"{path}: not valid JSON ({err}); the folder is damaged: choose another run_name, "
                             "or restore fingerprint.json") from None
    if not isinstance(stamp, dict):
        raise RunFolderError(f"{path}: expected a JSON object, got {type(stamp).__name__}; the folder is damaged")
    return stamp


def claim_run_dir(run_dir: Path, cfg: dict, fingerprint: dict) -> None:
    """Refuse to resume into a folder whose parts came from another config, weights, file or packages, or
    that holds a symbolic link (a file or folder of it replaced by one)."""
    refuse_links(run_dir)
    saved, stamp = run_dir / CONFIG, run_dir / FINGERPRINT
    if saved.exists():
        previous = saved_config(run_dir)
        if config_hash(previous) != config_hash(cfg):
            old, new = flatten(previous), flatten(cfg)
            keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            raise RunFolderError(f"{run_dir} holds a run with a different config ({', '.join(keys)}); choose "
                           "another run_name or remove the folder")
    if stamp.exists():
        before = saved_fingerprint(run_dir)
        changed = sorted(k for k in fingerprint if before.get(k) != fingerprint[k])
        if changed:
            raise RunFolderError(f"{run_dir}: {', '.join(changed)} changed since its parts were written; resuming "
                           "would mix results. Choose another run_name or remove the folder")
    atomic_write_text(saved, yaml.safe_dump(cfg, sort_keys=False))
    atomic_write_json(stamp, fingerprint)
