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

from tests.conftest import adapter_folder, cli_in_process, compose, model_folder

from bench.administration import build_plan, select_templates
from bench.administration.plan import MAX_PROMPTS, MAX_PROMPTS_ENV, PlanError
from bench.config import validate
from bench.errors import ConfigError
from bench.instruments import inventory_from_config
from bench.personas import build_personas

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


# -- 2. a model folder loads: config, tokenizer, weights' headers ---------------------------------------

def test_a_model_folder_without_a_tokenizer_is_named(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "model.safetensors").write_bytes(os.urandom(1024))
    says(refused_run(tmp_path, "model=hf", f"model.path={folder}"), f"model.path={folder}: will not load",
         "no tokenizer (tokenizer.json")


@pytest.mark.parametrize("damage, problem", [
    ("weights", "model.safetensors: its header claims"),
    ("short weights", "model.safetensors: 3 bytes: too short"),
    ("no weights", "no weights (model.safetensors, or *.bin)"),
    ("config", "config.json: is not JSON"),
    ("model_type", "config.json: no model_type"),
    ("tokenizer", "tokenizer.json: cannot be loaded"),
])
def test_a_damaged_model_folder_is_named_by_file(tmp_path, damage, problem):
    folder = model_folder(tmp_path / "model")
    if damage == "weights":
        (folder / "model.safetensors").write_bytes(os.urandom(1024))
    elif damage == "short weights":
        (folder / "model.safetensors").write_bytes(b"abc")
    elif damage == "no weights":
        (folder / "model.safetensors").unlink()
    elif damage == "config":
        (folder / "config.json").write_text("{model_type: llama")
    elif damage == "model_type":
        (folder / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    else:
        (folder / "tokenizer.json").write_text('{"model": "nothing"}')
    says(refused_run(tmp_path, "model=hf", f"model.path={folder}"), f"model.path={folder}: will not load", problem)


def test_a_torn_safetensors_file_is_named(tmp_path):
    """A real header whose tensors run past the file's end (a copy cut short)."""
    folder = model_folder(tmp_path / "model")
    whole = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(whole[:-4])
    says(refused_run(tmp_path, "model=hf", f"model.path={folder}"), "model.safetensors: its tensors end at byte",
         "written only in part")


# -- 3. an adapter loads; 4. only on a model that takes one -------------------------------------------

def random_adapter(tmp_path):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8, "lora_alpha": 16,
                                                            "target_modules": ["q_proj", "v_proj"]}))
    (folder / "adapter_model.safetensors").write_bytes(os.urandom(1024))
    return folder


def test_an_adapter_with_random_weights_is_named_before_any_work(tmp_path):
    folder = random_adapter(tmp_path)
    says(refused_run(tmp_path, "model=clone_lora", f"adapter={folder}"), f"adapter={folder}: will not load",
         "adapter_model.safetensors: its header claims")


@pytest.mark.parametrize("damage, problem", [
    ("no config", "no adapter_config.json"), ("config", "adapter_config.json: is not JSON"),
    ("peft_type", "adapter_config.json: no peft_type"), ("no weights", "no adapter_model.safetensors")])
def test_a_damaged_adapter_folder_is_named(tmp_path, damage, problem):
    folder = adapter_folder(tmp_path / "adapter")
    if damage == "no config":
        (folder / "adapter_config.json").unlink()
    elif damage == "config":
        (folder / "adapter_config.json").write_text("{")
    elif damage == "peft_type":
        (folder / "adapter_config.json").write_text('{"r": 8}')
    else:
        (folder / "adapter_model.safetensors").unlink()
    says(refused_run(tmp_path, "model=clone_lora", f"adapter={folder}"), f"adapter={folder}", problem)


@pytest.mark.parametrize("model", ["smollm2", "hf"])
def test_an_adapter_on_a_model_that_takes_none_is_named(tmp_path, model):
    folder = adapter_folder(tmp_path / "adapter")
    path = [f"model.path={model_folder(tmp_path / 'm')}"] if model == "hf" else []
    says(refused_run(tmp_path, f"model={model}", *path, f"adapter={folder}"),
         f"adapter={folder}: model={model} takes no adapter", "model=clone_lora adapter=<folder>")


def test_a_sound_adapter_on_clone_lora_is_taken(tmp_path):
    validate("config", compose(*SMALL, "model=clone_lora", f"adapter={adapter_folder(tmp_path / 'a')}"))


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
    assert len(message) < 1000  # the path is shortened in the message, not echoed whole


# -- 7, 8, 16, 17. a population needs two usable respondents -------------------------------------------

def population(tmp_path, answers: str, **reference) -> str:
    (tmp_path / "answers.csv").write_text(answers)
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"name": "mine", "instrument": "ipip25", "reference": {
        "kind": "csv", "path": str(tmp_path / "answers.csv"), **reference}}))
    return str(path)


@pytest.mark.parametrize("answers, reference, problem", [
    ("A1,A2\n", {}, "0 usable respondents (0 rows)"),
    ("A1,A2\n3,4\n", {}, "1 usable respondent (1 row)"),
    ("A1,A2\n3,4\n,\n,\n", {}, "1 usable respondent (3 rows)"),
    ("A1,A2\n,\n,\n,\n", {}, "no answers: every cell of the 3 respondents' 2 item columns is empty"),
    ("A1,A2,w\n1,2,0\n3,4,0\n2,2,0\n", {"weight_column": "w"}, "weight column 'w': every answering respondent's "
                                                                "weight is 0"),
], ids=["header only", "one row", "one answering", "all missing", "all weights zero"])
def test_a_population_without_two_usable_respondents_is_named_by_run_and_validate(tmp_path, answers, reference,
                                                                                  problem):
    path = population(tmp_path, answers, **reference)
    csv = str(tmp_path / "answers.csv")
    says(refused_run(tmp_path, "inventory=ipip25", f"population.path={path}"), f"population.path={path}", csv,
         problem)
    proc = cli_in_process("validate", path, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    says(proc.stderr, csv, problem)


def test_two_usable_respondents_are_enough(tmp_path):
    path = population(tmp_path, "A1,A2,w\n1,2,1\n3,4,0.5\n5,5,0\n", weight_column="w")
    validate("config", compose(*SMALL, "inventory=ipip25", f"population.path={path}"))


# -- 10. the plan's size has a named limit -------------------------------------------------------------

def test_a_plan_over_the_limit_is_refused_before_a_folder(tmp_path):
    says(refused_run(tmp_path, "repetitions=1000000"), "the plan is at least 2,000,000 prompts",
         "1,000,000 repetitions x 2 items", f"over the limit of {MAX_PROMPTS:,}", f"{MAX_PROMPTS_ENV}=<prompts>")


def test_the_exact_plan_size_is_checked_before_the_plan_is_built(tmp_path):
    """Ten trait personas: the config check counts one (a lower bound), build_plan the ten, before enumerating."""
    says(refused_run(tmp_path, "persona=traits", "repetitions=60000"), "the plan is 1,200,000 prompts",
         "10 personas x 1 templates")


def test_the_limit_is_raised_by_its_environment_variable(monkeypatch):
    cfg = compose(*SMALL, "repetitions=600000")
    with pytest.raises(ConfigError, match="at least 1,200,000 prompts"):
        validate("config", cfg)
    monkeypatch.setenv(MAX_PROMPTS_ENV, "2000000")
    validate("config", cfg)
    monkeypatch.setenv(MAX_PROMPTS_ENV, "lots")
    with pytest.raises(ConfigError, match=f"{MAX_PROMPTS_ENV}=lots: must be a whole number"):
        validate("config", cfg)


def test_build_plan_refuses_past_the_limit_itself():
    cfg = compose(*SMALL, "persona=traits")
    inventory = inventory_from_config(cfg["inventory"])
    personas = build_personas(cfg, inventory)
    templates = select_templates(cfg["prompt"], inventory.kind, ["describe"])
    with pytest.raises(PlanError, match="the plan is 1,200,000 prompts"):
        build_plan(inventory, personas, templates, ["original"], [1.0], 60_000, 0, max_items=2)


# -- 12. the population's temperature is one of the run's ----------------------------------------------

def test_a_population_temperature_the_run_does_not_have_is_named(tmp_path):
    says(refused_run(tmp_path, "inventory=ipip25", "population=psych_bfi", "population.temperature=0.5"),
         "population.temperature=0.5: is not one of the run's temperatures=[1.0]")


def test_a_population_files_temperature_is_checked_too(tmp_path):
    path = population(tmp_path, "A1,A2\n1,2\n3,4\n")
    says(refused_run(tmp_path, "inventory=ipip25", f"population.path={path}", "temperatures=[0.7]"),
         f"population.temperature=1.0: (population file {path}) is not one of the run's temperatures=[0.7]")


def test_a_population_temperature_the_run_has_is_taken():
    validate("config", compose(*SMALL, "inventory=ipip25", "population=psych_bfi", "temperatures=[0.0,1.0]"))
