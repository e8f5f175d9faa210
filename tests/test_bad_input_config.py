"""Hostile but fair values the config check refuses before any run folder and any model work (issue 23).

Each case runs `persona-bench run` (the CLI's main, in process) on a small design and asserts exit 2, the
named message (field, value, what is wrong) without a traceback, and that no results folder was made; the
population cases also go through `persona-bench validate FILE`. Nothing here loads a model.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from tests.conftest import cli_in_process, compose

from bench.config import validate
from bench.errors import ConfigError

SMALL = ("max_items=2", "repetitions=1", "temperatures=[1.0]", "templates=[describe]", "option_orders=[original]",
         "progress=false")
LONG = "/tmp/" + "x" * 5000


def refused_run(tmp_path, *overrides: str) -> str:
    """`persona-bench run SMALL overrides`: exit 2, no traceback, no results folder; the message."""
    results = tmp_path / "results"
    proc = cli_in_process("run", *SMALL, *overrides, f"results_dir={results}", cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: "), proc.stderr
    assert not results.exists()  # refused before a run folder is made
    return proc.stderr


def says(message: str, *parts: str) -> None:
    for p in parts:
        assert p in message, (p, message)


# -- 1. seeds fit 64 bits ------------------------------------------------------------------------------

@pytest.mark.parametrize("value, problem", [("99999999999999999999999", "must be < 2**63"), ("-1", "must be >= 0"),
                                            (str(2**63), "must be < 2**63")])
def test_a_seed_that_does_not_fit_64_bits_is_named(tmp_path, value, problem):
    says(refused_run(tmp_path, f"seed={value}"), f"seed={value}: {problem}")


def test_the_largest_seed_is_taken():
    validate("config", compose(*SMALL, f"seed={2**63 - 1}"))


# -- 5. a device torch knows, on this machine ----------------------------------------------------------

def test_a_device_torch_does_not_know_is_named(tmp_path):
    says(refused_run(tmp_path, "engine.device=tpu"), "engine.device=tpu: is not a torch device")


def test_a_gpu_this_machine_does_not_have_is_named(tmp_path):
    says(refused_run(tmp_path, "engine.device=cuda:99"), "engine.device=cuda:99:")


def test_cpu_is_always_a_device():
    validate("config", compose(*SMALL, "engine.device=cpu"))


# -- 6. a path longer than the system allows -----------------------------------------------------------

@pytest.mark.parametrize("overrides", [
    ("inventory=custom", f"inventory.path={LONG}"), (f"adapter={LONG}",), ("model=hf", f"model.path={LONG}"),
    (f"population.path={LONG}",), ("persona=rag", f"persona.corpus.path={LONG}"), (f"results_dir={LONG}",),
    ("population=opinionqa_w92", "inventory=atp_w92", f"population.reference.path={LONG}"),
], ids=["inventory", "adapter", "model", "population", "corpus", "results_dir", "reference"])
def test_a_path_longer_than_the_system_allows_is_named(tmp_path, overrides):
    field = overrides[-1].split("=")[0]
    message = refused_run(tmp_path, *overrides) if field != "results_dir" else None
    if message is None:  # results_dir: the SMALL run's own results_dir is replaced
        with pytest.raises(ConfigError) as err:
            validate("config", compose(*SMALL, *overrides))
        message = str(err.value)
    says(message, f"{field}=/tmp/xxx", "is too long for the system (5,005 characters")
    assert len(message) < 500  # the path is shortened in the message, not echoed whole
