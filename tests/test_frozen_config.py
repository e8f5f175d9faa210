"""The config is validated once, at the edge, and what the pipelines receive is frozen and typed: read by key
or attribute, never written, with the same hash, YAML and JSON as the mapping it was composed as."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
import yaml

from bench.config import FrozenConfig, validate
from bench.config.frozen import FrozenError
from bench.config.schema import RunSchema
from bench.results.provenance import config_hash
from tests.conftest import compose


@pytest.fixture(scope="module")
def plain():
    return compose("max_items=2", "repetitions=1", "temperatures=[1.0]")


def test_validate_returns_the_config_frozen_and_typed(plain):
    cfg = validate("config", plain)
    assert isinstance(cfg, FrozenConfig) and cfg.config_name == "config"
    assert cfg == plain and cfg.model.id == plain["model"]["id"] and cfg["engine"]["name"] == cfg.engine.name
    # every field of the run schema is there, with the type the schema gives it
    for name, kind in (("seed", int), ("repetitions", int), ("batch_size", int), ("progress", bool),
                       ("scoring", str), ("results_dir", str)):
        assert name in RunSchema.__dataclass_fields__ and type(getattr(cfg, name)) is kind, name
    assert all(isinstance(t, float) for t in cfg.temperatures)
    with pytest.raises(AttributeError, match="no field 'nosuch'"):
        cfg.nosuch  # noqa: B018


@pytest.mark.parametrize("write", [
    lambda c: c.__setitem__("seed", 1),
    lambda c: c.update(seed=1),
    lambda c: c.pop("seed"),
    lambda c: c["model"].__setitem__("id", "other"),
    lambda c: c.temperatures.append(0.5),
    lambda c: c.option_orders.__setitem__(0, "reversed"),
    lambda c: setattr(c, "seed", 1),
], ids=["key", "update", "pop", "nested key", "list append", "list item", "attribute"])
def test_nothing_below_the_validator_can_change_it(plain, write):
    cfg = validate("config", plain)
    with pytest.raises(FrozenError, match="read-only"):
        write(cfg)
    assert cfg == plain


def test_a_validated_config_is_not_checked_again(plain, tmp_path):
    cfg = validate("config", {**plain, "adapter": None})
    assert validate("config", cfg) is cfg
    # another schema's config, or a config derived from a frozen one, is checked (as the plain mapping it is)
    derived = {**cfg, "seed": "abc"}
    with pytest.raises(Exception, match="seed"):
        validate("config", derived)


def test_frozen_is_the_same_config_for_hash_yaml_json_and_pickle(plain):
    cfg = validate("config", plain)
    assert config_hash(cfg) == config_hash(plain)  # run folders made before keep their hash
    assert yaml.safe_load(yaml.safe_dump(cfg)) == plain
    assert json.loads(json.dumps(cfg)) == plain
    again = pickle.loads(pickle.dumps(cfg))
    assert again == cfg and isinstance(again, FrozenConfig) and again.config_name == "config"
    copied = copy.deepcopy(cfg)  # the way to derive a changed config: a plain, writable copy
    copied["model"]["id"] = "other"
    assert type(copied) is dict and cfg.model.id == plain["model"]["id"]


def test_a_run_pipeline_reads_the_frozen_config(plain, tmp_path, monkeypatch):
    """The run's domain steps get the frozen config (a spy on the real `prepare`, which still does the work)."""
    import bench.pipelines.run as run_module

    seen = []
    real = run_module.prepare

    def spy(cfg):
        seen.append(cfg)
        return real(cfg)

    monkeypatch.setattr(run_module, "prepare", spy)
    folder = run_module.run({**plain, "results_dir": str(tmp_path), "progress": False}, print_summary=False)
    assert (folder / "scores.parquet").is_file()
    assert seen and all(isinstance(c, FrozenConfig) and c.config_name == "config" for c in seen)
