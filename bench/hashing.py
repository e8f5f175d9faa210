"""Stable hashes: the same values (or file bytes) give the same number on every process and machine."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path


def stable_int(*parts) -> int:
    """A 63-bit integer from any values (seeds, participant ids), identical across processes and machines."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def digest(obj) -> str:
    """sha256 of a JSON-able object, keys sorted (config hashes, fingerprints)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read `chunk` bytes at a time (weights and run tables can be GBs)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def without_defaults(cfg: dict, defaults: dict) -> dict:
    """A copy of `cfg` less each dotted key of `defaults` that holds its default value.

    Fields added after runs were made are hashed only when set, so runs made before keep their hash."""
    out = copy.deepcopy(cfg)
    for dotted, default in defaults.items():
        *parents, last = dotted.split(".")
        node = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and last in node and node[last] == default:
            del node[last]
    return out
