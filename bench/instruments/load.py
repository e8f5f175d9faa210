"""Finding and loading instrument files: shipped ones by name, a user's own by path."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.instruments.inventory_file import build_inventory
from bench.instruments.model import Inventory, InventoryError
from bench.instruments.survey_file import build_survey
from bench.resources import INVENTORY_DIR, SURVEY_DIR
from bench.userfiles import UserFileError, parse_yaml, read_bounded


def build_instrument(data: Any, errors: list[str]) -> Inventory | None:
    """Either file format (by its `kind`), one message per problem; None if any were found."""
    if isinstance(data, dict) and data.get("kind") == "survey":
        return build_survey(data, errors)
    return build_inventory(data, errors)


def available_inventories() -> list[str]:
    """Names accepted by `load_inventory` (the shipped `inventories/*.yaml` and `surveys/*.yaml`)."""
    return sorted(p.stem for d in (INVENTORY_DIR, SURVEY_DIR) for p in d.glob("*.yaml"))


def resolve_inventory_path(name_or_path: str | Path) -> Path:
    """A bare name is a shipped inventory; anything path-like is the user's own file."""
    s = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in s or "\\" in s or s.endswith((".yaml", ".yml")):
        path = Path(s).expanduser()
        if path.is_dir():
            raise InventoryError(f"{s}: is a folder, not an inventory file")
        if not path.is_file():
            raise InventoryError(f"{s}: inventory file not found")
        return path.resolve()
    path = INVENTORY_DIR / f"{s}.yaml"
    if not path.is_file():
        path = SURVEY_DIR / f"{s}.yaml"
    if not path.is_file():
        raise InventoryError(
            f"unknown inventory {s!r}; available: {', '.join(available_inventories()) or '(none)'}"
            " (or pass a path to your own .yaml file)"
        )
    return path


def load_inventory(name_or_path: str | Path) -> Inventory:
    """Load `inventories/<name>.yaml` or a user's own file, validating every field; the bounded reader
    refuses a huge file or an alias bomb at once, naming it."""
    path = resolve_inventory_path(name_or_path)
    try:
        raw = read_bounded(path, what="inventory file")
        data = parse_yaml(raw, str(path))
    except UserFileError as exc:
        raise InventoryError(str(exc)) from None
    errors: list[str] = []
    inv = build_instrument(data, errors)
    if errors:
        raise InventoryError("\n".join(f"{path}: {e}" for e in errors))
    assert inv is not None
    return replace(inv, path=str(path), sha256=hashlib.sha256(raw).hexdigest())


def inventory_from_config(inv: dict) -> Inventory:
    """The run config's `inventory` node: a scale of PsychoBench's file (`scale` set), a path, or a name."""
    if inv.get("scale") is not None:
        from bench.instruments.psychobench_file import load_psychobench

        return load_psychobench(inv["path"], inv["scale"])
    return load_inventory(inv.get("path") or inv["name"])


def inventory_node(spec: str) -> dict:
    """`bfi` (shipped) or a path to the user's file, as a run config's `inventory` node."""
    if "/" in spec or "\\" in spec or spec.endswith((".yaml", ".yml")):
        return {"name": "custom", "path": spec}
    return {"name": spec, "path": None}


def validate_inventory(data: Any, label: str = "<inventory>") -> Inventory:
    """Validate already-parsed YAML (e.g. from a test or a config) and build the Inventory."""
    errors: list[str] = []
    inv = build_instrument(data, errors)
    if errors:
        raise InventoryError("\n".join(f"{label}: {e}" for e in errors))
    assert inv is not None
    return inv
