"""Reading what users and run folders hand us: YAML and JSON lines, bounded and named.

Every YAML file that comes from a user or a run folder goes through `load_yaml`: a size cap (a 50 MB
file must not parse for minutes) and an alias cap (a 1 KB file of nested aliases expands to billions of
nodes) refuse it at once, and every failure names the file. `read_jsonl` names the file and line of a
bad line. Shipped files are small and alias-free, so they pass the same checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError

MAX_YAML_BYTES = 8 * 1024 * 1024  # the largest shipped instrument is ~40 KB; a config a few KB
MAX_YAML_NODES = 1_000_000  # values after aliases are expanded; a 40 KB instrument has ~5,000
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UserFileError(BenchError):
    """A file that is missing, too large, not valid YAML/JSON, or a YAML alias bomb."""


def read_bounded(path: Path | str, limit: int = MAX_YAML_BYTES, what: str = "file") -> bytes:
    """The file's bytes, refusing a missing file, a folder, or one over `limit` before reading it."""
    p = Path(path)
    if not p.exists():
        raise UserFileError(f"{p}: {what} not found")
    if not p.is_file():
        raise UserFileError(f"{p}: not a file")
    size = p.stat().st_size
    if size > limit:
        raise UserFileError(f"{p}: {size:,} bytes, over the {limit:,}-byte limit for a {what}")
    return p.read_bytes()


def expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many values the node stands for once every alias is expanded (shared nodes counted once per
    use, computed once each), so a bomb is measured without being built."""
    key = id(node)
    if key not in memo:
        memo[key] = 0  # an alias back into its own anchor counts as nothing more
        if isinstance(node, yaml.SequenceNode):
            memo[key] = 1 + sum(expanded_size(child, memo) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            memo[key] = 1 + sum(expanded_size(k, memo) + expanded_size(v, memo) for k, v in node.value)
        else:
            memo[key] = 1
    return memo[key]


def parse_yaml(text: bytes | str, label: str, max_nodes: int = MAX_YAML_NODES) -> Any:
    """Safe YAML whose size after alias expansion is measured on the node graph before any value is built."""
    try:
        root = yaml.compose(text, Loader=LOADER)
        size = expanded_size(root, {}) if root is not None else 0
        if size > max_nodes:
            raise UserFileError(f"{label}: its aliases (*name) expand to {size:,} values, over the limit of "
                                f"{max_nodes:,}; refused as an alias bomb: write the values out")
        return yaml.load(text, Loader=LOADER)
    except yaml.YAMLError as err:
        raise UserFileError(f"{label}: not valid YAML: {' '.join(str(err).split())}") from None


def load_yaml(path: Path | str, limit: int = MAX_YAML_BYTES, what: str = "YAML file") -> Any:
    """A YAML file from a user or a run folder, bounded in size and aliases; errors name the file."""
    return parse_yaml(read_bounded(path, limit, what), str(path))


def read_jsonl(path: Path | str) -> list[dict]:
    """One JSON object per line; a bad line is named by file and line number (blank lines are skipped)."""
    p = Path(path)
    rows = []
    for n, line in enumerate(p.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserFileError(f"{p}: line {n}: not valid JSON ({err.msg}); a torn last line means the "
                                "writer was killed mid-line") from None
        if not isinstance(row, dict):
            raise UserFileError(f"{p}: line {n}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows
