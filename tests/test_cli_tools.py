"""The inspection tools: `ls`, `plan` (a dry run checked against a real run), `validate FILE`, and
persona subsets by id. Commands run as real subprocesses on the shipped data and the real model."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bench.instruments import load_inventory
from bench.personas import PersonaError, build_personas
from bench.resources import CONF_DIR, INVENTORY_DIR, SURVEY_DIR
from tests.conftest import REPO, compose

TIMEOUT = 900  # the machine is slow and shared


def bench(*args: str, timeout: int = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


# -- persona subsets by id ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bfi():
    return load_inventory("bfi")


def with_ids(persona: str, ids) -> dict:
    cfg = compose(f"persona={persona}")
    cfg["persona"]["ids"] = ids
    return cfg


@pytest.mark.parametrize("persona, ids", [
    ("traits", ["O_low", "E_high"]),
    ("role_trait", ["teacher/N_high", "nurse/E_low", "farmer/C_high"]),
    ("mbti_types", ["ENFP"]),
])
def test_persona_ids_pick_a_subset_in_the_order_given(bfi, persona, ids):
    everyone = build_personas(compose(f"persona={persona}"), bfi)
    chosen = build_personas(with_ids(persona, ids), bfi)
    assert [p.id for p in chosen] == ids
    by_id = {p.id: p for p in everyone}
    assert all(p == by_id[p.id] for p in chosen)  # the same personas, text and target, not rebuilt
    assert len(everyone) > len(chosen)


def test_persona_ids_null_keeps_the_whole_set(bfi):
    assert len(build_personas(with_ids("traits", None), bfi)) == 10


def test_unknown_persona_id_is_named_with_the_available_ones(bfi):
    with pytest.raises(PersonaError) as err:
        build_personas(with_ids("traits", ["E_high", "X_mid"]), bfi)
    msg = str(err.value)
    assert "'X_mid'" in msg and "E_high" in msg and "O_low" in msg and "traits" in msg
    with pytest.raises(PersonaError, match="more than once"):
        build_personas(with_ids("traits", ["E_high", "E_high"]), bfi)


def test_persona_ids_work_for_demographic_personas():
    cfg = compose("persona=demographic", "population=psych_bfi", "inventory=ipip25")
    inv = load_inventory("ipip25")
    everyone = build_personas(cfg, inv)
    assert all(p.id.startswith("bio:") for p in everyone)
    cfg["persona"]["ids"] = [everyone[5].id, everyone[2].id]
    assert build_personas(cfg, inv) == (everyone[5], everyone[2])
