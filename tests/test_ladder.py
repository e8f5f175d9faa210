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
