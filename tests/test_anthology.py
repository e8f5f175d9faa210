"""Anthology's setting end to end at tiny size: backstories -> the population's demographic survey ->
matching -> the target survey -> fidelity, on a Pew-style .sav population of respondents, and on OpinionQA's
group counts (which have no respondents to match: the backstories are compared unweighted, and said so)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import compose, shared_data

pytestmark = [pytest.mark.model, pytest.mark.slow]  # backstories written, then a demographic run and the target run

TINY = ("inventory=atp_w92", "persona=backstory", "persona.n=2", "persona.max_new_tokens=16", "max_items=2",
        "templates=[pew]", "repetitions=1", "temperatures=[1.0]", "option_orders=[original]", "progress=false")


def sav_population(folder, n: int = 40, seed: int = 0):
    """A population file of `n` Pew-style respondents (every W92 question and demographic, Pew's codes)."""
    pyreadstat = pytest.importorskip("pyreadstat")
    from bench.instruments import load_inventory
    from bench.resources import CONF_DIR

    rng = np.random.default_rng(seed)
    columns = {"QKEY": np.arange(1, n + 1, dtype=float)}
    for name in ("atp_w92", "atp_w92_demographics"):
        for item in load_inventory(name).items:
            columns[item.id] = rng.choice(np.array(item.scale.codes, dtype=float), size=n)
    columns["WEIGHT_W92"] = rng.uniform(0.5, 2.0, size=n)
    sav = folder / "ATP W92.sav"
    pyreadstat.write_sav(pd.DataFrame(columns), str(sav))
    shipped = yaml.safe_load((CONF_DIR / "population" / "atp_w92_sav.yaml").read_text())
    pop = {k: v for k, v in shipped.items() if k not in ("defaults", "path", "missing")}
    pop.update(name="w92_tiny", reference={"kind": "sav", "path": str(sav), "weight_column": "WEIGHT_W92"}, sample=n)
    path = folder / "w92_tiny.yaml"
    path.write_text(yaml.safe_dump(pop, sort_keys=False))
    return path


def test_anthology_on_a_sav_population_matches_backstories_to_respondents(tmp_path):
    from bench.pipelines.run import run

    pop = sav_population(tmp_path)
    folder = run(compose(*TINY, f"population.path={pop}", f"results_dir={tmp_path / 'runs'}"), print_summary=False)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["fidelity"]["method"] == "backstory_maxweight"
    assert metrics["fidelity_backstory_greedy"]["method"] == "backstory_greedy"
    for section in (metrics["fidelity"], metrics["fidelity_backstory_greedy"]):
        assert section["population"] == "w92_tiny" and section["n_questions"] == 2
        assert np.isfinite(section["mean_tv"]) and 0 <= section["mean_tv"] <= 1
        assert "matching" not in section
    # the backstories answered the demographic survey in a run of their own, beside the target run
    demographic = [p for p in (tmp_path / "runs").iterdir() if p.is_dir() and p != folder
                   and (p / "config.yaml").is_file()
                   and yaml.safe_load((p / "config.yaml").read_text())["inventory"]["name"] == "atp_w92_demographics"]
    assert len(demographic) == 1 and (demographic[0] / "scores.parquet").is_file()


def test_anthology_on_opinionqa_counts_compares_unmatched_backstories(tmp_path):
    """The README's Anthology command on OpinionQA: it used to fail after its model work (KeyError)."""
    from bench.pipelines.run import run

    data = shared_data()
    counts = data / "opinionqa" / "American_Trends_Panel_W92" if data else None
    if counts is None or not counts.is_dir():
        pytest.skip("OpinionQA W92 not in the shared data (set PERSONA_BENCH_SHARED_DATA)")
    folder = run(compose(*TINY, "population=opinionqa_w92", f"population.reference.path={counts}",
                         f"results_dir={tmp_path}"), print_summary=False)
    metrics = json.loads((folder / "metrics.json").read_text())
    section = metrics["fidelity"]
    assert section["method"] == "backstory" and section["n_questions"] == 2
    assert "compared unweighted (no matching)" in section["matching"]
    assert np.isfinite(section["mean_tv"])
    assert "compared unweighted (no matching)" in (folder / "summary.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and (p / "config.yaml").is_file()) == [folder.name]
