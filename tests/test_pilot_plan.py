"""Planning from a pilot (`persona-bench plan ... --pilot results/<run> --target-halfwidth H`): the variance
components on known values, the recommended design checked by simulating it, the printed table, and every
bad input named before any work. The pilot is a run folder written from planted responses through the store,
with no model."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from scipy.special import gammaln

from bench.administration import build_plan, select_templates
from bench.config.frozen import thaw
from bench.instruments import inventory_from_config
from bench.metrics.compute import trait_summary
from bench.metrics.planning import (
    Components,
    PilotDesignError,
    c4,
    expected_halfwidth,
    halfwidth_floor,
    recommend,
    repetitions_needed,
    variance_components,
)
from bench.metrics.scoring import score_participants
from bench.metrics.tables import jsonable
from bench.metrics.uncertainty import t_interval
from bench.personas import build_personas
from bench.results.atomic import atomic_write_json, atomic_write_parquet, atomic_write_text
from bench.results.layout import CONFIG, METRICS, SCORES, SUMMARY
from bench.results.schema import RESPONSE_SCHEMA, response_table
from bench.results.store import RunStore
from tests.conftest import cli_in_process, compose

# The pilot: 60 personas (roles x trait poles) x 2 templates x 3 repetitions on 10 bfi items; the plan: 10 personas.
DESIGN = ("inventory=bfi", "max_items=10", "templates=[describe,rate]", "option_orders=[original]",
          "temperatures=[1.0]")
PILOT = (*DESIGN, "persona=role_trait", "repetitions=3")
PLAN = (*DESIGN, "persona=traits", "repetitions=2")
# Planted (between, condition, within) variances per trait: E binds, the others are easier.
TRUTH = {"E": (0.09, 0.01, 0.36), "A": (0.04, 0.01, 0.16), "C": (0.02, 0.0, 0.09), "N": (0.04, 0.02, 0.25),
         "O": (0.01, 0.01, 0.04)}
TARGET = 0.1


def planted_scores(rng, personas: list[str], conditions: list[str], repetitions: int,
                   truth=TRUTH) -> pd.DataFrame:
    """A long score table with the planted components: mean 3 + persona + condition + repetition effects."""
    p, c, r = len(personas), len(conditions), repetitions
    frames = []
    for trait, (between, condition, within) in truth.items():
        y = (3.0 + rng.normal(0, math.sqrt(between), (p, 1, 1)) + rng.normal(0, math.sqrt(condition), (p, c, 1))
             + rng.normal(0, math.sqrt(within), (p, c, r)))
        pi, ci, ri = np.meshgrid(np.arange(p), np.arange(c), np.arange(r), indexing="ij")
        frames.append(pd.DataFrame({
            "persona_id": np.asarray(personas)[pi.ravel()], "template_id": np.asarray(conditions)[ci.ravel()],
            "option_order": "original", "temperature": 1.0, "repetition": ri.ravel(), "trait": trait,
            "score": y.ravel()}))
    out = pd.concat(frames, ignore_index=True)
    out["participant_id"] = (out["persona_id"] + "|" + out["template_id"] + "|original|1.0|"
                             + out["repetition"].astype(str))
    out["persona_target"] = ""
    return out


def write_pilot(run_dir, overrides=PILOT, seed=7):
    """A finished run folder of the pilot design from planted responses: every item of a trait gets the
    participant's planted trait score, so the instrument's own scoring gives it back; written through the store."""
    cfg = compose(*overrides, f"results_dir={run_dir.parent}")
    inventory = inventory_from_config(cfg["inventory"])
    personas = build_personas(cfg, inventory)
    templates = select_templates(cfg["prompt"], inventory.kind, cfg["templates"])
    plan = build_plan(inventory, personas, templates, cfg["option_orders"], cfg["temperatures"],
                      int(cfg["repetitions"]), int(cfg["seed"]), cfg["administration"], cfg["max_items"])
    planted = planted_scores(np.random.default_rng(seed), [p.id for p in personas], [t.id for t in templates],
                             int(cfg["repetitions"]))
    value = planted.set_index(["persona_id", "template_id", "repetition", "trait"])["score"].to_dict()
    blank = {name: None for name in RESPONSE_SCHEMA.names}
    rows = []
    for part in plan.participants:
        for k, item in enumerate(plan.items):
            score = value.get((part.persona.id, part.template.id, part.repetition, item.trait))
            if score is None:
                continue
            rows.append({**blank, "participant_id": part.id, "persona_id": part.persona.id,
                         "persona_target": part.persona.target, "template_id": part.template.id,
                         "option_order": part.option_order, "temperature": part.temperature,
                         "repetition": part.repetition, "item_id": item.id, "item_index": k, "trait": item.trait,
                         "keyed": item.keyed, "answer": score, "score": score, "invalid": False, "refusal": False})
    run_dir.mkdir(parents=True)
    atomic_write_text(run_dir / CONFIG, yaml.safe_dump(thaw(cfg), sort_keys=False))
    store = RunStore(run_dir)
    store.write_part(0, response_table(rows))
    responses = pd.read_parquet(store.finalize())
    scores = score_participants(responses, inventory)
    atomic_write_parquet(run_dir / SCORES, scores)
    atomic_write_json(run_dir / METRICS, jsonable({"trait_summary": trait_summary(scores)}))
    atomic_write_text(run_dir / SUMMARY, "planted pilot\n")
    return run_dir


@pytest.fixture(scope="module")
def pilot(tmp_path_factory):
    return write_pilot(tmp_path_factory.mktemp("pilot") / "run")


@pytest.fixture(scope="module")
def sample_pilot(tmp_path_factory):
    """The pilot design sampled (scoring=sample): every response row is a generation, so the cheapest design
    trades personas against repetitions at one price."""
    return write_pilot(tmp_path_factory.mktemp("sample_pilot") / "run", (*PILOT, "scoring=sample"))


def plan(*args):
    return cli_in_process("plan", *PLAN, *args)


# --------------------------------------------------------------------------------------------
# the pure math, on known values


def comps_of(rows: list[tuple[str, str, int, float]]) -> Components:
    frame = pd.DataFrame(rows, columns=["persona_id", "template_id", "repetition", "score"])
    frame["option_order"], frame["temperature"], frame["trait"] = "original", 1.0, "E"
    return variance_components(frame)[0]


def test_components_by_hand():
    """Two personas, one condition, two repetitions: within = pooled cell variance 2; between = var(2, 6) = 8
    less within / 2."""
    comp = comps_of([("a", "t", 0, 1.0), ("a", "t", 1, 3.0), ("b", "t", 0, 5.0), ("b", "t", 1, 7.0)])
    assert (comp.within, comp.condition, comp.between, comp.mean) == (2.0, 0.0, 7.0, 4.0)


def test_components_equal_the_balanced_nested_anova():
    """Balanced data: the textbook mean squares of the nested ANOVA give the same three components."""
    rng = np.random.default_rng(3)
    p, c, r = 8, 3, 4
    y = rng.normal(size=(p, c, r)) + rng.normal(size=(p, c, 1)) + rng.normal(size=(p, 1, 1))
    comp = comps_of([(f"p{i}", f"t{j}", k, y[i, j, k]) for i in range(p) for j in range(c) for k in range(r)])
    cell, person, grand = y.mean(2), y.mean((1, 2)), y.mean()
    ms_e = ((y - cell[..., None]) ** 2).sum() / (p * c * (r - 1))
    ms_c = r * ((cell - person[:, None]) ** 2).sum() / (p * (c - 1))
    ms_p = c * r * ((person - grand) ** 2).sum() / (p - 1)
    assert comp.within == pytest.approx(ms_e, rel=1e-12)
    assert comp.condition == pytest.approx((ms_c - ms_e) / r, rel=1e-12)
    assert comp.between == pytest.approx((ms_p - ms_c) / (c * r), rel=1e-12)
    assert (comp.personas, comp.conditions, comp.repetitions) == (8, 3.0, 4.0)


def test_expected_halfwidth_and_c4_known_values():
    assert c4(2) == pytest.approx(math.sqrt(2 / math.pi), rel=1e-12)
    assert c4(10) == pytest.approx(0.9726592741, rel=1e-9)
    comp = Components("E", 3.0, between=0.5, condition=0.2, within=1.2, personas=10, conditions=2, repetitions=3)
    v = 0.5 + 0.2 / 2 + 1.2 / (2 * 3)  # the persona mean's variance
    assert expected_halfwidth(comp, 10, 2, 3) == pytest.approx(2.2621571628 * 0.9726592741 * math.sqrt(v / 10),
                                                               rel=1e-9)
    assert halfwidth_floor(comp, 10, 2) == pytest.approx(2.2621571628 * 0.9726592741 * math.sqrt(0.6 / 10), rel=1e-9)


def test_recommend_is_the_cheapest_design_meeting_the_target():
    """Against a brute-force search of the grid (the half-width written out with numpy), for the two costs
    plan uses: response rows (repetitions cost as much as personas) and forward passes (repetitions free)."""
    comps = [Components("E", 3, 0.05, 0.01, 0.5, 10, 2, 3), Components("A", 3, 0.02, 0.0, 0.9, 10, 2, 3)]
    p, r = np.meshgrid(np.arange(3, 400), np.arange(1, 101), indexing="ij")
    k = stats.t.ppf(0.975, p - 1) * np.sqrt(2 / (p - 1)) * np.exp(gammaln(p / 2) - gammaln((p - 1) / 2))
    ok = np.all([k * np.sqrt((c.between + c.condition / 2 + c.within / (2 * r)) / p) <= 0.15 for c in comps], axis=0)
    for cost in (lambda p, r: (p * r,), lambda p, r: (p, p * r)):
        best = recommend(comps, 2, 0.15, cost)
        grid = [(cost(int(a), int(b)), int(b), int(a)) for a, b in zip(p[ok], r[ok])]
        assert (best.cost, best.repetitions, best.personas) == min(grid)
    assert recommend(comps, 2, 0.15, lambda p, r: (p * r,)).repetitions == 1  # a repetition is no cheaper


def test_unreachable_targets():
    comp = Components("E", 3, 0.25, 0.0, 0.1, 10, 1, 2)
    assert halfwidth_floor(comp, 10, 1) > 0.1  # 10 personas: no number of repetitions is enough
    assert repetitions_needed([comp], 10, 1, 0.1) is None
    assert repetitions_needed([comp], 200, 1, 0.1) is not None
    assert recommend([comp], 1, 1e-4, lambda p, r: (p,), max_personas=1000) is None


def test_components_need_two_personas_and_repetitions():
    with pytest.raises(PilotDesignError, match="1 persona"):
        comps_of([("a", "t", 0, 1.0), ("a", "t", 1, 2.0)])
    with pytest.raises(PilotDesignError, match="repetitions>=2"):
        comps_of([("a", "t", 0, 1.0), ("b", "t", 0, 2.0)])


# --------------------------------------------------------------------------------------------
# done when: the recommended design, run on planted data, gives the target half-width


def test_the_recommended_design_reaches_the_target_by_simulation(sample_pilot):
    """The components estimated from the planted pilot recommend a design; 200 planted runs of that design with
    the planted (true) components, their trait means' intervals computed as metrics.json computes them, average
    the target half-width (within 20%) on the trait that binds and stay under it on the others. (The design's
    half-width rests on the pilot's estimates: over 40 pilot seeds it lands within 0.90-1.11 of the target.)"""
    from bench.pipelines.pilot_plan import prepare_pilot

    _, design, comps = prepare_pilot(compose(*PLAN, "scoring=sample"), sample_pilot)
    assert {c.trait for c in comps} == set(TRUTH) and design.conditions == 2 and design.personas == 10
    best = recommend(comps, design.conditions, TARGET, design.cost)
    rng = np.random.default_rng(11)
    personas = [f"p{k}" for k in range(best.personas)]
    one = planted_scores(rng, personas, ["describe", "rate"], best.repetitions)
    summary = trait_summary(one).set_index("trait")  # metrics.json's interval: t over the persona means
    for trait, sub in one.groupby("trait"):
        assert (summary.loc[trait, "ci_low"], summary.loc[trait, "ci_high"]) == pytest.approx(
            t_interval(sub.groupby("persona_id")["score"].mean()), rel=1e-12)
    mean = {}
    for trait, (between, condition, within) in TRUTH.items():  # 200 planted runs of the design, drawn at once
        shape = (200, best.personas, design.conditions, best.repetitions)
        y = (rng.normal(0, math.sqrt(between), (*shape[:2], 1, 1)) + rng.normal(0, math.sqrt(condition), (*shape[:3], 1))
             + rng.normal(0, math.sqrt(within), shape))
        mean[trait] = np.mean([np.diff(t_interval(m))[0] / 2 for m in y.mean(axis=(2, 3))])
    assert mean["E"] == pytest.approx(TARGET, rel=0.2), (best, mean)
    assert all(w <= TARGET * 1.2 for w in mean.values()), (best, mean)


def test_the_expected_halfwidth_is_the_simulated_one_with_free_repetitions():
    """In logprob single mode repetitions cost no forward pass, so the cheapest design has few personas and many
    repetitions; the expected half-width (t, c4) is what 400 planted runs of it give, to 5%."""
    comp = Components("E", 3.0, 0.09, 0.01, 0.36, 60, 2, 3)
    best = recommend([comp], 2, TARGET, lambda p, r: (p * 20, p * r * 20))
    assert best.repetitions > 1
    rng = np.random.default_rng(5)
    shape = (400, best.personas, 2, best.repetitions)
    y = (rng.normal(0, 0.3, (*shape[:2], 1, 1)) + rng.normal(0, 0.1, (*shape[:3], 1)) + rng.normal(0, 0.6, shape))
    simulated = np.mean([np.diff(t_interval(m))[0] / 2 for m in y.mean(axis=(2, 3))])
    assert simulated == pytest.approx(expected_halfwidth(comp, best.personas, 2, best.repetitions), rel=0.05)
    assert expected_halfwidth(comp, best.personas, 2, best.repetitions) <= TARGET


def test_plan_prints_the_table(pilot):
    done = plan("--pilot", str(pilot), "--target-halfwidth", "0.1")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"plan from pilot {pilot} (60 personas x 2 conditions x 3 repetitions" in out
    assert "target: 95% interval half-width <= 0.1 on every trait mean" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("trait"))
    assert header.split() == ["trait", "mean", "between", "condition", "within", "configured", "10x2", "alone",
                              "PxR", "recommended"]
    for trait in TRUTH:
        assert any(line.split()[0] == trait for line in out.splitlines() if line.startswith("  ")), trait
    assert "recommended: " in out and "forward passes" in out
    # E's between-persona variance alone puts 10 personas over the target
    assert "E: unreachable by repetitions alone with 10 personas" in out
    assert "model" not in done.stderr.lower()  # no engine, no tokenizer


def test_plan_without_target_shows_the_components(pilot):
    done = plan(f"--pilot={pilot}")
    assert done.returncode == 0, done.stderr
    assert "configured 10x2" in done.stdout and "recommended" not in done.stdout


# --------------------------------------------------------------------------------------------
# bad input: named, exit 2, before any work


@pytest.mark.parametrize("value", ["0", "-0.1", "abc", "nan", "inf", ""])
def test_bad_target(pilot, value):
    done = plan("--pilot", str(pilot), "--target-halfwidth", value)
    assert done.returncode == 2 and "--target-halfwidth" in done.stderr and repr(value) in done.stderr, done.stderr
    assert done.stdout == ""


def test_target_without_pilot():
    done = plan("--target-halfwidth", "0.1")
    assert done.returncode == 2 and "--target-halfwidth needs --pilot" in done.stderr, done.stderr


def test_missing_and_unfinished_pilots(pilot, tmp_path):
    done = plan("--pilot", str(tmp_path / "nope"), "--target-halfwidth", "0.1")
    assert done.returncode == 2 and "no such folder" in done.stderr, done.stderr
    (tmp_path / "file").write_text("x")
    done = plan("--pilot", str(tmp_path / "file"))
    assert done.returncode == 2 and "not a folder" in done.stderr, done.stderr
    unfinished = shutil.copytree(pilot, tmp_path / "unfinished")
    (unfinished / SUMMARY).unlink()
    done = plan("--pilot", str(unfinished), "--target-halfwidth", "0.1")
    assert done.returncode == 2 and "not a finished run folder (missing summary.md)" in done.stderr, done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("override, field", [("inventory=ipip25", "inventory.name: pilot 'bfi', plan 'ipip25'"),
                                             ("max_items=8", "max_items: pilot 10, plan 8"),
                                             ("scoring=sample", "scoring: pilot 'logprob', plan 'sample'")])
def test_a_pilot_of_another_design(pilot, override, field):
    done = plan(override, "--pilot", str(pilot), "--target-halfwidth", "0.1")
    assert done.returncode == 2 and "a run of another design" in done.stderr and field in done.stderr, done.stderr


def test_a_pilot_without_repetitions_or_personas(tmp_path):
    one_rep = write_pilot(tmp_path / "one_rep", (*DESIGN, "persona=traits", "repetitions=1"))
    done = plan("--pilot", str(one_rep), "--target-halfwidth", "0.1")
    assert done.returncode == 2 and "repetitions>=2 in the pilot" in done.stderr, done.stderr
    one_persona = write_pilot(tmp_path / "one_persona", (*DESIGN, "persona=traits", "persona.ids=[E_high]",
                                                         "repetitions=3"))
    done = plan("--pilot", str(one_persona), "--target-halfwidth", "0.1")
    assert done.returncode == 2 and "scores of 1 persona(s)" in done.stderr, done.stderr
