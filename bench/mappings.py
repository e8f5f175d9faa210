"""Nested mappings as flat rows: one flattener for configs and metrics, keys joined with dots."""

from __future__ import annotations

import json


def flatten(d, prefix: str = "", lists: str = "keep") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}. Lists are kept as values, written as JSON text ("json") or
    left out ("drop"): a table column wants a scalar, a config diff wants the value itself."""
    out: dict = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + ".", lists))
        elif isinstance(v, list) and lists != "keep":
            if lists == "json":
                out[key] = json.dumps(v)
        else:
            out[key] = v
    return out
