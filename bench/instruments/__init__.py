"""Instruments: inventories and surveys as frozen dataclasses, their file formats, and validation.

Public API: the dataclasses (`Inventory`, `Item`, `Scale`, `Dichotomy`), `load_inventory` (a shipped
name or a user's path), `inventory_from_config` (also a scale of PsychoBench's file), `validate_inventory` (already-parsed data), `available_inventories`, and
`substantive_permutation` (a survey question's shown option order).
"""

from bench.instruments.load import available_inventories, build_instrument, inventory_from_config, inventory_node, load_inventory, resolve_inventory_path, validate_inventory
from bench.instruments.model import Dichotomy, Inventory, InventoryError, Item, Norm, Scale
from bench.instruments.survey_file import MAX_OPTIONS, substantive_permutation

__all__ = ["Dichotomy", "Inventory", "InventoryError", "Item", "MAX_OPTIONS", "Norm", "Scale", "available_inventories",
           "build_instrument", "inventory_from_config", "inventory_node", "load_inventory", "resolve_inventory_path", "substantive_permutation",
           "validate_inventory"]
