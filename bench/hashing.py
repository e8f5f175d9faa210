"""Stable hashes: the same values give the same number on every process and machine."""

from __future__ import annotations

import hashlib
import json


def stable_int(*parts) -> int:
    """A 63-bit integer from any values (seeds, participant ids), identical across processes and machines."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def digest(obj) -> str:
    """sha256 of a JSON-able object, keys sorted (config hashes, fingerprints)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
