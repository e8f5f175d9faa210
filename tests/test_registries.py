"""The registries are the one list of engines and of commands: what they hold matches the files, the
conf and the checks, and the help and `ls engines` read them."""

from __future__ import annotations

import sys

import pytest

from bench.resources import CONF_DIR
from bench.userfiles import load_yaml
from tests.conftest import cli_in_process


def test_every_engine_file_registers_itself_with_options_its_conf_sets():
    from bench.engines import engine_entry, engine_names

    assert engine_names() == ("openai", "transformers", "vllm")
    for name in engine_names():
        entry = engine_entry(name)
        assert entry.cls.name == name and entry.cls.__module__ == f"bench.engines.{name}_engine"
        conf = load_yaml(CONF_DIR / "engine" / f"{name}.yaml") or {}
        assert conf["name"] == name
        assert set(conf) - {"name"} <= set(entry.options), f"conf/engine/{name}.yaml sets an undeclared option"
        for key, option in entry.options.items():
            assert option.doc.strip(), f"engine.{key} of {name} says nothing"


def test_reading_the_engine_registry_imports_no_engine_library():
    import subprocess

    code = ("import sys; from bench.engines import engine_entry, engine_names; [engine_entry(n) for n in engine_names()]; "
            "print(sorted(m for m in ('torch', 'vllm', 'openai', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_engine_must_subclass_engine_and_live_in_its_file():
    from bench.engines.registry import register_engine

    with pytest.raises(TypeError, match="not a subclass"):
        register_engine("nosuch")(object)


def test_make_engine_and_the_config_check_refuse_in_the_same_words(smollm2_spec, cfg_for_engines):
    from bench.config import validate
    from bench.engines import EngineError, make_engine
    from bench.errors import ConfigError

    for name, key, value in (("transformers", "prefix_cache", -1), ("openai", "timeout", 0),
                             ("openai", "logprobs", "maybe"), ("vllm", "gpu_memory_utilization", 1.5)):
        options = {"base_url": "http://localhost:1/v1"} if name == "openai" else {}
        with pytest.raises(EngineError) as opened:
            make_engine(name, smollm2_spec, **options, **{key: value})
        with pytest.raises(ConfigError) as checked:
            validate("config", {**cfg_for_engines, "engine": {"name": name, **options, key: value}})
        assert str(opened.value) == str(checked.value)


@pytest.fixture
def cfg_for_engines():
    from bench.config.load import compose

    return compose("config", [])


def test_every_hydra_command_has_its_conf_schema_and_check():
    from bench.commands import commands
    from bench.config.checks import CHECKS
    from bench.config.schema import SCHEMAS

    hydra = [c for c in commands().values() if c.config]
    assert {c.name for c in hydra} >= {"run", "compare", "validity", "behaviour", "clone train", "leaderboard"}
    for cmd in hydra:
        assert (CONF_DIR / f"{cmd.config}.yaml").is_file(), cmd.name
        assert cmd.config in SCHEMAS and cmd.config in CHECKS, cmd.name


def test_help_lists_every_registered_command():
    from bench.commands import commands

    out = cli_in_process("--help")
    assert out.returncode == 0
    for name, cmd in commands().items():
        assert f"persona-bench {name} {cmd.usage}".rstrip() in out.stdout
        assert cmd.help in out.stdout


def test_sweep_jobs_expand_as_hydras_basic_sweeper_does():
    from bench.commands.hydra_jobs import sweep_jobs
    from bench.errors import BenchError

    assert sweep_jobs(["seed=1", "max_items=2"]) == [["seed=1", "max_items=2"]]
    jobs = sweep_jobs(["-m", "seed=range(0,40)", "repetitions=1,2,3", "max_items=10,20,30,40,50,60,70,80,90"])
    assert len(jobs) == 40 * 3 * 9  # all of them (1,080): no silent cap
    assert jobs[0] == ["seed=0", "repetitions=1", "max_items=10"] and jobs[-1] == ["seed=39", "repetitions=3", "max_items=90"]
    assert sweep_jobs(["-m", "seed=1,2", "seed=5"]) == [["seed=5"]]  # a later override of a key replaces it
    assert sweep_jobs(["seed=1,2"]) == [["seed=1,2"]]  # no -m: one job, Hydra refuses the list itself
    with pytest.raises(BenchError, match="cannot be listed as jobs"):
        sweep_jobs(["-m", "temperatures.0=interval(0,1)"])
