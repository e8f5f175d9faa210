"""The population ladder of #25 wired into the product: the fidelity section's `ladder` (floor, model,
ceiling, normalised fidelity), its summary lines and the fidelity table's ladder, on planted data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.instruments import load_inventory
from bench.metrics.baselines import NO_ALPHA_CEILING, fidelity_ladder
from bench.metrics.uncertainty import inside
from bench.pipelines.fidelity_table import ladder_rows
from bench.populations.fidelity import fidelity_for_run
from bench.populations.human import load_psych_bfi
from bench.results.summary import fidelity_text
from tests.conftest import compose

PLANTED = {"method": "bio", "mean_tv": 0.30, "mean_tv_ci_low": 0.28, "mean_tv_ci_high": 0.32,
           "frobenius": float("nan"),
           "alpha_model": {"A": 0.5, "C": 0.9}, "alpha_human": {"A": 0.7, "C": 0.8},
           "human_lower_bound": {"mean_tv": {"mean": 0.10, "sd": 0.01, "ci_low": 0.09, "ci_high": 0.11}}}


def test_ladder_of_a_planted_section():
    ladder = fidelity_ladder(PLANTED, {"mean_tv": 0.50, "frobenius": 1.0, "mean_alpha_difference": 0.75})
    assert set(ladder) == {"mean_tv", "mean_alpha_difference"}  # no model frobenius: no rung
    tv = ladder["mean_tv"]
    assert tv["floor"] == 0.50 and tv["model"] == 0.30 and tv["ceiling"]["estimate"] == 0.10
    norm = tv["normalised"]
    assert norm["value"] == pytest.approx((0.50 - 0.30) / (0.50 - 0.10))
    assert norm["ci_low"] < norm["value"] < norm["ci_high"] and norm["reason"] is None
    biased = fidelity_ladder({**PLANTED, "mean_tv_ci_low": 0.31}, {"mean_tv": 0.50})["mean_tv"]  # excludes 0.30
    assert biased["model_ci_low"] is None and "excludes the estimate 0.3" in biased["model_warning"]
    assert np.isnan(biased["normalised"]["ci_low"]) and "model's 95% interval" in biased["normalised"]["reason"]
    assert inside(norm["value"], norm["ci_low"], norm["ci_high"])[2] is None
    alpha = ladder["mean_alpha_difference"]
    assert alpha["model"] == pytest.approx(0.15) and alpha["floor"] == 0.75
    assert np.isnan(alpha["normalised"]["value"]) and alpha["normalised"]["reason"] == NO_ALPHA_CEILING


def test_ladder_lines_and_table():
    section = {**PLANTED, "reference": "people", "population": "p", "temperature": 1.0}
    section["ladder"] = fidelity_ladder(section, {"mean_tv": 0.50, "mean_alpha_difference": 0.75})
    text = fidelity_text({"fidelity": section})
    assert "Population ladder:" in text
    assert "- mean_tv: floor 0.500 -> model 0.300 [0.280, 0.320] -> ceiling 0.100 [0.090, 0.110]; normalised 0.50 [" in text
    assert f"- mean_alpha_difference: floor 0.750 -> model 0.150 -> ceiling -; normalised - ({NO_ALPHA_CEILING})" in text
    other = {**section, "method": "qa", "mean_tv": 0.2}
    other["ladder"] = fidelity_ladder(other, {"mean_tv": 0.50})
    table = ladder_rows({"bio": section, "qa": other})
    tv = table[table["figure"] == "mean_tv"]
    assert list(tv["rung"]) == ["floor (uniform)", "bio", "qa", "ceiling (human split-half)"]
    assert list(tv["value"]) == [0.5, 0.3, 0.2, 0.1]
    assert tv["normalised"].iloc[2] == pytest.approx(0.75)


@pytest.mark.slow  # the inner loop (-m 'not slow') stays under 6 minutes
def test_a_run_of_real_people_scores_near_the_ceiling():
    """fidelity_for_run on planted responses: 400 psych::bfi respondents answering as themselves form the
    "model" population; each figure's ladder has floor > ceiling, the normalised fidelity near 1 (an
    independent sample of n/3+ people scores about 1, docs/fidelity-baselines.md), and every interval
    holds its estimate."""
    human = load_psych_bfi()
    inv = load_inventory("ipip25")
    cfg = compose("inventory=ipip25", "population=psych_bfi", "population.split_half=10", "temperatures=[1.0]")
    people = human.answers.sample(400, random_state=1)
    long = people.rename_axis("participant_id").reset_index().melt("participant_id", var_name="item_id",
                                                                   value_name="answer")
    long = long[long["item_id"].isin([it.id for it in inv.items])].dropna(subset=["answer"])
    responses = long.assign(persona_id=long["participant_id"].astype(str), participant_id=long["participant_id"].astype(str),
                            temperature=1.0, option_probs=None, invalid=False, template_id="describe",
                            option_order="original", repetition=0)
    sections, _ = fidelity_for_run(cfg, responses, inv)
    ladder = sections["none"]["ladder"]
    assert {"mean_wd", "mean_wd_normalized", "mean_tv", "frobenius", "frobenius_normalized",
            "mean_alpha_difference"} <= set(ladder)
    for fig in ("mean_wd", "mean_tv", "frobenius_normalized"):
        rung = ladder[fig]
        assert rung["floor"] > rung["ceiling"]["estimate"]
        norm = rung["normalised"]
        assert 0.7 < norm["value"] < 1.6, (fig, norm)
        for value, lo, hi in ((norm["value"], norm["ci_low"], norm["ci_high"]),
                              (rung["model"], rung["model_ci_low"], rung["model_ci_high"]),
                              (rung["ceiling"]["estimate"], rung["ceiling"]["ci_low"], rung["ceiling"]["ci_high"])):
            assert inside(value, lo, hi)[2] is None  # None where it would not hold it (and why, below)
        if rung["model_ci_low"] is None:
            assert "excludes the estimate" in rung["model_warning"] and np.isnan(norm["ci_low"])


def planted_scores(sd: float, n: int = 30, traits=("O", "C", "E", "A", "N"), seed: int = 0) -> pd.DataFrame:
    """Long scores of n personas, each trait normal around 3.5 with the planted SD, two repetitions each."""
    rng = np.random.default_rng(seed)
    rows = [{"persona_id": f"p{i}", "trait": t, "score": mu + rng.normal(0, 0.01), "temperature": 1.0}
            for t in traits for i, mu in enumerate(rng.normal(3.5, sd, n)) for _ in range(2)]
    return pd.DataFrame(rows)


def test_spread_against_the_reference_people_flags_collapse():
    from bench.populations.fidelity import spread_for_run
    from bench.results.summary import spread_text

    human, inv = load_psych_bfi(), load_inventory("ipip25")
    collapsed = spread_for_run(planted_scores(0.1, n=40), inv, human)
    assert collapsed["human"].startswith("psych::bfi") and collapsed["human_source"] == "reference"
    assert [r["trait"] for r in collapsed["rows"]] == ["A", "C", "E", "N", "O"]
    assert collapsed["collapse"] and all(r["collapse"] for r in collapsed["rows"])
    assert collapsed["mean"]["ratio"] < 0.2 and collapsed["mean"]["ratio_ci_high"] < 0.5
    assert {w["figure"] for w in collapsed["warnings"]} == {f"spread.{t}" for t in "ACENO"} | {"spread.mean"}
    assert "persona collapse" in spread_text({"spread": collapsed})
    wide = spread_for_run(planted_scores(0.8, n=40), inv, human)
    assert not wide["collapse"] and wide["mean"]["ratio_ci_low"] < 1 < wide["mean"]["ratio_ci_high"] * 1.5
    assert not wide["warnings"]


def test_spread_against_norms_and_when_there_is_none():
    from bench.populations.fidelity import spread_for_run

    inv = load_inventory("bfi")  # PsychoBench's crowd norms, SD held fixed
    planted = planted_scores(0.45, n=60, traits=("E", "A"))
    s = spread_for_run(planted, inv)
    assert s["human_source"] == "norms" and "humans (n=6076)" in s["human"]
    sd_e = next(n.sd for n in inv.norms if n.trait == "E")
    row = next(r for r in s["rows"] if r["trait"] == "E")
    assert row["ratio"] == pytest.approx(row["sd_model"] / sd_e) and row["sd_human"] == sd_e
    assert spread_for_run(planted[planted["persona_id"] == "p0"], inv) is None  # one persona: no spread
    assert spread_for_run(planted, load_inventory("ipip25")) is None  # no people, no norms


@pytest.mark.slow  # the inner loop (-m 'not slow') stays under 6 minutes
def test_a_finished_persona_run_has_its_spread(finished_runs):
    """The session's trait-persona run (BFI, PsychoBench norms): metrics.json's spread, summary.md's line."""
    import json

    folder = finished_runs.path("bfi_traits")
    spread = json.loads((folder / "metrics.json").read_text())["spread"]
    assert spread["human_source"] == "norms" and spread["n_personas"] >= 2 and spread["rows"]
    assert {"ratio", "ratio_ci_low", "ratio_ci_high", "collapse"} <= set(spread["mean"])
    assert "Spread between personas" in (folder / "summary.md").read_text()
    results = json.loads((folder / "results.json").read_text())
    assert any(f["section"] == "spread" and f["name"] == "ratio" for f in results["figures"])


def test_leaderboard_columns_with_intervals_and_older_runs():
    from pathlib import Path

    from bench.leaderboard.collect import RunRecord
    from bench.leaderboard.table import headline_columns, interval_of, label, leaderboard_table

    section = {**PLANTED}
    section["ladder"] = fidelity_ladder(section, {"mean_tv": 0.50})
    spread = spread_for_run_planted()
    base = {"trait_summary": [{"trait": "A", "mean": 3.0}], "invalid_rates": {"invalid_rate": 0.0}}
    cfg = {"model": {"id": "m"}, "inventory": {"name": "ipip25"}, "persona": {"set": "demographic"},
           "engine": {"name": "hf"}, "scoring": "logprob"}
    new = RunRecord(Path("new-run"), cfg, {**base, "fidelity": section, "spread": spread}, {})
    old = RunRecord(Path("old-run"), {**cfg, "seed": 1}, dict(base), {})  # written before #25: still loads
    table, kept, skipped = leaderboard_table([new, old])
    assert not skipped and len(kept) == 2
    row = table[table["run"] == "new-run"].iloc[0].to_dict()
    norm = section["ladder"]["mean_tv"]["normalised"]
    assert row["normalised_fidelity_tv"] == norm["value"]
    assert interval_of(row, "normalised_fidelity_tv") == (norm["ci_low"], norm["ci_high"])
    assert row["spread_ratio"] == spread["mean"]["ratio"]
    assert interval_of(row, "spread_ratio") == (spread["mean"]["ratio_ci_low"], spread["mean"]["ratio_ci_high"])
    assert "spread_ratio.A" in table.columns and "spread.n_personas" not in table.columns
    heads = headline_columns(table)
    assert {"normalised_fidelity_tv", "spread_ratio"} <= set(heads) and "spread_ratio.A" not in heads
    assert label("spread_ratio").startswith("spread ratio")
    older = table[table["run"] == "old-run"].iloc[0]
    assert np.isnan(older["normalised_fidelity_tv"]) and np.isnan(older["spread_ratio"])


def spread_for_run_planted() -> dict:
    from bench.metrics.spread import spread_section

    return spread_section(planted_scores(0.3, n=20, traits=("A", "C")), {"A": 0.6, "C": 0.6}, "norms")


def small_bfi(n: int = 80, items=("A1", "C1", "N1")):
    from bench.populations.human import HumanResponses

    human = load_psych_bfi()
    ids = human.answers.dropna(subset=list(items)).index[:n]
    return HumanResponses(answers=human.answers.loc[ids, list(items)], source="psych::bfi (a few)",
                          demographics=human.demographics.loc[ids])


def test_individual_level_of_planted_demographic_runs():
    """Two planted demographic runs on 20 held-out respondents: `bio` personas that know their respondent's
    answers (exact distributions), `qa` personas answering uniformly. The perfect one beats every baseline,
    the uniform one scores 1/6 accuracy; folds and held-out respondents are in the provenance."""
    from bench.populations.individual_fidelity import individual_level

    human, inv = small_bfi(), load_inventory("ipip25")
    held = list(human.answers.index[:20])
    rows = []
    for style in ("bio", "qa"):
        for rid in held:
            for q in human.answers.columns:
                p = np.full(6, 1 / 6) if style == "qa" else np.eye(6)[int(human.answers.at[rid, q]) - 1]
                rows.append({"persona_id": f"{style}:{rid}", "participant_id": f"{style}:{rid}|0", "item_id": q,
                             "option_probs": p, "answer": float(np.argmax(p) + 1), "invalid": False,
                             "temperature": 1.0})
    runs = {s: pd.DataFrame([r for r in rows if r["persona_id"].startswith(s)]) for s in ("bio", "qa")}
    table, prov = individual_level(human, inv, runs, 1.0, k_folds=5, seed=3, k_neighbours=10)
    by = table.set_index("method")
    assert list(by.index) == ["bio", "qa", "marginal", "regression", "knn"]
    assert by.loc["bio", "accuracy"] == 1.0 and by.loc["bio", "mae"] == 0.0
    assert by.loc["qa", "accuracy"] == pytest.approx(1 / 6)
    assert (by.loc[["marginal", "regression", "knn"], "accuracy"] < 1).all()
    assert by.loc["bio", "accuracy_vs_marginal"] > 0 and (by["n_respondents"] == 20).all()
    assert prov["held_out"] == [str(i) for i in held] and prov["evaluated"] == prov["held_out"]
    assert prov["seed"] == 3 and prov["k_folds"] == 5 and sum(len(f) for f in prov["folds"]) == 80


def test_individual_level_bad_input_is_named_before_model_work():
    from bench.metrics.baselines import ConstantDemographic, NoDemographics, TooFewRespondents
    from bench.populations.human import HumanResponses
    from bench.populations.individual_fidelity import check_individual, wants_individual

    human = small_bfi()
    items = list(human.answers.columns)
    assert wants_individual(human, ["none", "bio"]) and not wants_individual(human, ["none", "backstory"])
    with pytest.raises(NoDemographics):
        check_individual(HumanResponses(answers=human.answers, source="x"), items)
    few = small_bfi(n=3)
    with pytest.raises(TooFewRespondents):
        check_individual(few, items, k_folds=5)
    one_gender = HumanResponses(answers=human.answers, source="x",
                                demographics=human.demographics.assign(gender="1"))
    with pytest.raises(ConstantDemographic, match="gender"):
        check_individual(one_gender, items)
