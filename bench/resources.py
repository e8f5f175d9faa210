"""Where the shipped data lives: Hydra configs, inventories and surveys are package data.

They are found with importlib.resources, so an installed wheel works outside the repo exactly as a
checkout does; a user's own files are always given by path instead.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGE = Path(str(files("bench")))
CONF_DIR = PACKAGE / "conf"
INVENTORY_DIR = PACKAGE / "inventories"
SURVEY_DIR = PACKAGE / "surveys"
