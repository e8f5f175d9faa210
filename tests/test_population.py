"""Surveys, persona populations, matching, and fidelity in real runs of the embedded model."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wasserstein_distance

from bench.administration import Template, build_plan
from bench.instruments import InventoryError, load_inventory, validate_inventory
from bench.personas import Persona
from bench.personas.demographic import demographic_text
from bench.populations import human_profiles
from bench.populations.matching import (
    match_greedy,
    match_likelihood,
    match_max_weight,
    persona_weights,
)
from tests.conftest import compose, shared_data

SURVEY = {"id": "s", "name": "S", "version": 1, "source": "test", "licence": "CC0", "kind": "survey",
          "items": [{"id": "Q1", "text": "How?", "options": ["Good", "Fair", "Bad", {"label": "Refused", "code": 99,
                                                                                    "refusal": True}]}]}


# -- surveys ----------------------------------------------------------------------------------------

def test_shipped_surveys_load_with_pew_codes_and_refusals_last():
    w92 = load_inventory("atp_w92")
    assert w92.kind == "survey" and len(w92.items) == 7
    s = w92.items[0].scale
    assert s.codes[-1] == 99 and s.refusals == (False,) * 5 + (True,)
    assert s.ordinal_values[:5] == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert len(load_inventory("atp_w34").items) == 8 and len(load_inventory("atp_w99").items) == 6


def test_survey_option_orders_keep_refusals_last():
    inv = validate_inventory(SURVEY)
    plan = build_plan(inv, [Persona("p")], [Template("t", "{item}\n{options}")], ["original", "reversed"],
                      [0.0], 1, 0)
    perms = {p.option_order: plan.option_permutation(p, inv.items[0]) for p in plan.participants}
    assert perms == {"original": (0, 1, 2, 3), "reversed": (2, 1, 0, 3)}


@pytest.mark.parametrize("change, message", [
    (lambda d: d["items"][0]["options"].insert(0, {"label": "DK", "refusal": True}), "refusal options must come after"),
    (lambda d: d["items"][0].update(randomize="sideways"), "'randomize': 'sideways'"),
    (lambda d: d["items"][0]["options"].extend([f"o{k}" for k in range(8)]), "at most 9"),
    (lambda d: d["items"][0]["options"].__setitem__(1, {"label": "Fair", "ordinal": "x"}), "'ordinal': 'x'"),
])
def test_bad_survey_files_get_named_errors(change, message):
    data = json.loads(json.dumps(SURVEY))
    change(data)
    with pytest.raises(InventoryError, match="question 'Q1'") as err:
        validate_inventory(data, "my_survey.yaml")
    assert message in str(err.value) and "my_survey.yaml" in str(err.value)


# -- matching ---------------------------------------------------------------------------------------

def _demo_survey():
    return validate_inventory({**SURVEY, "items": [
        {"id": "G", "text": "Gender?", "options": ["Male", "Female"]},
        {"id": "A", "text": "Age?", "options": ["Young", "Old"]}]})


def test_match_likelihood_is_the_log_probability_of_the_respondents_demographics():
    survey = _demo_survey()
    probs = {"p1": {"G": np.array([0.9, 0.1]), "A": np.array([0.2, 0.8])},
             "p2": {"G": np.array([0.3, 0.7]), "A": np.array([0.6, 0.4])}}
    humans = pd.DataFrame({"G": ["Male", "Female", "Male"], "A": ["Old", "Young", "Young"]}, index=["h1", "h2", "h3"])
    ll = match_likelihood(probs, humans, survey)
    assert ll.loc["h1", "p1"] == pytest.approx(np.log(0.9) + np.log(0.8))
    assert ll.loc["h2", "p2"] == pytest.approx(np.log(0.7) + np.log(0.6))
    greedy = match_greedy(ll)
    # h1 -> p1 (.72 vs .12), h2 -> p2 (.42 vs .02), h3 -> p1 (.18 vs .18: tie goes to the first)
    assert greedy.to_dict() == {"h1": "p1", "h2": "p2", "h3": "p1"}
    assert persona_weights(greedy).to_dict() == {"p1": 2, "p2": 1}


def test_max_weight_matching_is_the_best_one_to_one_assignment():
    rng = np.random.default_rng(3)
    for _ in range(20):
        ll = pd.DataFrame(rng.normal(size=(4, 5)), index=[f"h{i}" for i in range(4)], columns=[f"p{j}" for j in range(5)])
        got = match_max_weight(ll)
        assert got.is_unique and len(got) == 4
        best = max(sum(ll.iloc[i, j] for i, j in enumerate(perm)) for perm in itertools.permutations(range(5), 4))
        assert sum(ll.loc[h, p] for h, p in got.items()) == pytest.approx(best)


def test_human_profiles_map_psych_bfi_codes_and_bin_ages():
    from bench.populations.fidelity import resolve_population
    from bench.populations.human import load_psych_bfi

    pop = resolve_population(compose("inventory=ipip25"))
    assert pop["name"] == "psych_bfi"
    human = load_psych_bfi()
    profiles = human_profiles(human, pop, load_inventory(pop["demographics"]))
    raw = human.demographics
    assert (profiles["GENDER"] == "Female").sum() == (pd.to_numeric(raw["gender"]) == 2).sum()
    age = pd.to_numeric(raw["age"])
    assert (profiles["AGE"] == "30-49").sum() == ((age >= 30) & (age <= 49)).sum()
    assert profiles["EDUCATION"].isna().sum() == raw["education"].isna().sum()
    text = demographic_text(profiles.dropna().iloc[0], pop, load_inventory(pop["demographics"]), "portray")
    assert text.startswith("Answer the following questions as if you were a person") and "aged" in text


# -- real runs --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def table_and_loads(tmp_path_factory):
    """The fidelity table of three methods (one of them backstories, written by the model first), made in a
    pool of its own, as the `fidelity-table` command makes it: the engines that pool opened are counted."""
    from bench.config.load import compose as compose_config
    from bench.engines import EnginePool
    from bench.pipelines.fidelity_table import fidelity_table

    cfg = compose_config("fidelity_table", [
        "inventory=ipip25", "population=psych_bfi", "population.sample=4", "population.split_half=5",
        "persona=backstory", "persona.n=5", "persona.max_new_tokens=24", "repetitions=2", "temperatures=[1.0]",
        "templates=[describe]", "option_orders=[original]", "max_items=10",
        "fidelity_table.methods=[none,qa,backstory]", "progress=false", f"results_dir={tmp_path_factory.mktemp('fid')}"])
    with EnginePool() as pool:
        folder = fidelity_table(cfg)
    return folder, pool.loads


@pytest.fixture(scope="module")
def table_dir(table_and_loads):
    return table_and_loads[0]


@pytest.mark.slow
def test_fidelity_table_loads_its_model_once(table_and_loads):
    """Backstories, their demographic run and the three methods' runs: one model, one engine, one load."""
    assert table_and_loads[1] == 1


@pytest.mark.slow
def test_fidelity_table_has_every_method_and_the_human_bound(table_dir):
    table = pd.read_csv(table_dir / "fidelity_table.csv")
    assert list(table["method"]) == ["none", "qa", "backstory_greedy", "backstory_maxweight",
                                     "human split-half estimate"]
    assert table["mean_wd"].notna().all() and table["frobenius"].notna().all()
    bound, models = table.iloc[-1], table.iloc[:-1]
    assert (models["mean_wd_normalized"] > bound["mean_wd_normalized"]).all()
    assert "human split-half" in (table_dir / "fidelity_table.md").read_text()


@pytest.mark.slow
def test_run_fidelity_recomputes_from_its_own_distributions(table_dir):
    runs = json.loads((table_dir / "runs.json").read_text())
    from pathlib import Path

    run = Path(runs["qa"])
    fid = pd.read_csv(run / "fidelity.csv")
    metrics = json.loads((run / "metrics.json").read_text())["fidelity"]
    positions = np.arange(1, 7)
    for _, row in fid.iterrows():
        p = row[[f"model_p{k}" for k in positions]].to_numpy(float)
        q = row[[f"human_p{k}" for k in positions]].to_numpy(float)
        assert row["wd"] == pytest.approx(wasserstein_distance(positions, positions, p, q))
    assert metrics["mean_wd"] == pytest.approx(fid["wd"].mean())
    # the human side is psych::bfi itself
    from bench.populations.human import load_psych_bfi

    human = load_psych_bfi().answers["A1"].dropna()
    a1 = fid[fid["item_id"] == "A1"].iloc[0]
    assert a1["human_p1"] == pytest.approx((human == 1).mean())
    assert metrics["alpha_human"]["A"] is not None and metrics["human_lower_bound"]["mean_wd"]["sd"] > 0
    # the qa personas are four respondents described by their demographics
    r = pd.read_parquet(run / "responses.parquet", columns=["persona_id"])
    assert r["persona_id"].nunique() == 4 and r["persona_id"].str.startswith("qa:").all()


@pytest.mark.slow
def test_backstories_are_stored_with_their_generation_config_and_matched(table_dir):
    from pathlib import Path

    import yaml

    runs = json.loads((table_dir / "runs.json").read_text())
    root = Path(runs["backstory"]).parent
    [folder] = list(root.glob("backstories-*"))
    stories = [json.loads(line) for line in (folder / "backstories.jsonl").read_text().splitlines()]
    assert len(stories) == 5 and all(s["text"] for s in stories)
    gen = yaml.safe_load((folder / "generation.yaml").read_text())
    assert gen["n"] == 5 and gen["max_new_tokens"] == 24 and gen["prompt"]
    metrics = json.loads((Path(runs["backstory"]) / "metrics.json").read_text())
    assert metrics["fidelity"]["method"] == "backstory_maxweight"
    assert metrics["fidelity_backstory_greedy"]["method"] == "backstory_greedy"


def test_opinionqa_population_reports_distances_and_representativeness(tmp_path):
    from bench.pipelines.run import run

    data = shared_data()
    if data is None:
        pytest.skip("../shared/data not present")
    cfg = compose("inventory=atp_w92", "population=opinionqa_w92", "population.split_half=5", "repetitions=1",
                  "temperatures=[1.0]", "templates=[ask]", "option_orders=[original]", "max_items=2",
                  "progress=false", f"population.reference.path={data}/opinionqa/American_Trends_Panel_W92",
                  f"results_dir={tmp_path}")
    folder = run(cfg, progress=False, print_summary=False)
    fid = json.loads((folder / "metrics.json").read_text())["fidelity"]
    assert fid["n_questions"] == 2 and fid["frobenius"] is None
    assert 0 < fid["mean_wd_normalized"] < 1
    assert {"SEX:Male", "SEX:Female", "POLPARTY:Democrat"} <= set(fid["representativeness_by_group"])
    table = pd.read_csv(folder / "fidelity.csv")
    raw = json.loads((data / "opinionqa/American_Trends_Panel_W92/SEX_data.json").read_text())
    survey = load_inventory("atp_w92")
    q = table["item_id"].iloc[0]
    labels = survey.item(q).scale.labels
    male = np.array([raw[q]["Male"].get(lab, 0.0) for lab in labels])
    female = np.array([raw[q]["Female"].get(lab, 0.0) for lab in labels])
    row = table.iloc[0]
    human = row[[f"human_p{k + 1}" for k in range(len(labels))]].to_numpy(float)
    # OpinionQA's overall distribution: every group of the attribute covering the most people
    assert human.sum() == pytest.approx(1.0)
    assert np.abs(human - (male + female) / (male + female).sum()).max() < 0.02


def test_a_torn_backstory_line_is_named_by_file_and_line(tmp_path):
    from bench.personas.backstory import backstory_dir, generate_backstories
    from bench.userfiles import UserFileError

    cfg = compose("persona=backstory", "inventory=ipip25", "persona.n=3", f"results_dir={tmp_path}")
    folder = backstory_dir(cfg)
    folder.mkdir(parents=True)
    (folder / "backstories.jsonl").write_text('{"id": "backstory-0000", "text": "I grew up', encoding="utf-8")
    with pytest.raises(UserFileError, match=r"backstories.jsonl: line 1: not valid JSON"):
        generate_backstories(cfg)


@pytest.mark.subprocess
def test_a_resumed_backstory_set_matches_an_uninterrupted_one_and_a_second_writer_waits(tmp_path, capfd):
    import subprocess
    import sys

    from bench.personas.backstory import backstory_dir, generate_backstories
    from tests.conftest import REPO

    args = ("persona=backstory", "inventory=ipip25", "persona.n=3", "persona.max_new_tokens=8")
    whole = generate_backstories(compose(*args, f"results_dir={tmp_path / 'whole'}"))
    cfg = compose(*args, f"results_dir={tmp_path / 'resumed'}")
    folder = backstory_dir(cfg)
    folder.mkdir(parents=True)
    first = (backstory_dir(compose(*args, f"results_dir={tmp_path / 'whole'}")) / "backstories.jsonl").read_text()
    (folder / "backstories.jsonl").write_text(first.splitlines(keepends=True)[0])  # a run stopped after story 1
    code = ("import sys, time; from pathlib import Path; from bench.results.atomic import folder_lock\n"
            "with folder_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(3)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    resumed = generate_backstories(cfg)  # waits for the holder, then writes the two missing stories
    holder.wait()
    assert f"waiting for pid {holder.pid}" in capfd.readouterr().err
    assert resumed == whole and len(resumed) == 3
    assert (folder / "backstories.jsonl").read_text() == first
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
