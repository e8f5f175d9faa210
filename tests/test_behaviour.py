"""Behavioural personality (issue #14 part 1): the observer form keeps the self-report keying, the
metrics match scipy/pingouin and their textbook formulas, bad behaviour config is named before any
model work, and one small real run writes texts, ratings and the self-vs-expressed report, resumably."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.errors import ConfigError
from bench.instruments import InventoryError, load_inventory
from bench.instruments.observer import observer_form
from bench.metrics.behaviour import (correlation, expressed_scores, hedges_g, pole_effects, rater_agreement,
                                     self_vs_expressed, text_trait_scores)
from bench.metrics.scoring import score_participants
from bench.metrics.tables import PARTICIPANT_COLS
from tests.conftest import compose

pytestmark = [pytest.mark.model]


def behaviour_cfg(*overrides: str) -> dict:
    from bench.config.load import compose as compose_config

    return compose_config("behaviour", list(overrides))


# -- the observer form --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bfi", "ipip25", "ipip50", "ipip120", "mbti"])
def test_observer_form_keeps_every_item_and_its_keying(name):
    from bench.administration.prompts import statement

    self_form = load_inventory(name)
    form = observer_form(self_form)
    assert [(i.id, i.trait, i.keyed, i.facet, i.text, i.left, i.right) for i in form.items] == \
        [(i.id, i.trait, i.keyed, i.facet, i.text, i.left, i.right) for i in self_form.items]
    assert (form.scale, form.scoring, form.dichotomies, form.traits) == \
        (self_form.scale, self_form.scoring, self_form.dichotomies, self_form.traits)
    if form.kind == "likert":
        for item in form.items:
            shown = statement(form, item)
            assert shown.startswith("The person who wrote this text") and item.text in shown
            assert not shown.startswith("I ") and "I see myself" not in shown


def test_observer_statements_read_in_the_third_person():
    from bench.administration.prompts import statement

    bfi, ipip = observer_form(load_inventory("bfi")), observer_form(load_inventory("ipip50"))
    assert statement(bfi, bfi.item("bfi_01")) == "The person who wrote this text is someone who is talkative."
    first = ipip.items[0]
    assert statement(ipip, first) == f'The person who wrote this text would say of themselves: "{first.text}"'


def answers_frame(inventory, values: dict[str, float], keyed_score: bool) -> pd.DataFrame:
    """Response-like rows for one participant: raw answer per item, `score` with reverse keying undone."""
    rows = []
    for item in inventory.items:
        v = values[item.id]
        rows.append({"participant_id": "p", "persona_id": "x", "persona_target": "", "template_id": "t",
                     "option_order": "original", "temperature": 1.0, "repetition": 0, "item_id": item.id,
                     "answer": v, "score": v if item.keyed > 0 or not keyed_score else inventory.scale.reverse(v),
                     "invalid": False, "rater": "r", "text_id": "story#0", "rating_order": "original"})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("name", ["bfi", "mbti"])
def test_observer_ratings_score_as_the_self_report_does(name):
    """The same answers, given on the self-report form or as observer ratings, give the same trait scores."""
    self_form = load_inventory(name)
    rng = np.random.default_rng(7)
    values = {i.id: float(rng.integers(self_form.scale.low, self_form.scale.high + 1)) for i in self_form.items}
    frame = answers_frame(self_form, values, keyed_score=True)
    own = score_participants(frame, self_form).set_index("trait")["score"]
    rated = text_trait_scores(frame, observer_form(self_form)).set_index("trait")["score"]
    pd.testing.assert_series_equal(own.sort_index(), rated.astype(float).sort_index(), check_names=False)


def test_bfi_extraversion_of_all_fives_undoes_its_three_reverse_items():
    bfi = load_inventory("bfi")
    e_items = [i for i in bfi.items if i.trait == "E"]
    assert (len(e_items), sum(i.keyed < 0 for i in e_items)) == (8, 3)
    frame = answers_frame(bfi, {i.id: 5.0 for i in bfi.items}, keyed_score=True)
    scores = text_trait_scores(frame, observer_form(bfi)).set_index("trait")["score"]
    assert scores["E"] == pytest.approx((5 * 5 + 3 * 1) / 8)


def test_a_survey_has_no_observer_form():
    with pytest.raises(InventoryError, match="kind 'survey' has no observer form"):
        observer_form(load_inventory("atp_w92"))


# -- metrics against scipy, pingouin and their formulas -------------------------------------------

def test_correlation_and_its_interval_match_scipy_and_fisher_z():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    y = np.array([2.0, 1.0, 4.0, 3.0, 7.0, 5.0, 6.0])
    out = correlation(x, y)
    r = np.corrcoef(x, y)[0, 1]
    half = stats.norm.ppf(0.975) / math.sqrt(len(x) - 3)
    assert out["r"] == pytest.approx(r) and out["r"] == pytest.approx(0.8214285714285714)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((math.tanh(math.atanh(r) - half),
                                                             math.tanh(math.atanh(r) + half)))
    assert out["p"] == pytest.approx(stats.pearsonr(x, y).pvalue)
    assert out["n"] == 7 and out["trustworthy"]


def test_correlation_marks_few_or_constant_participants():
    few = correlation([1.0, 2.0, 3.0, 5.0], [1.0, 3.0, 2.0, 5.0])
    assert few["n"] == 4 and not few["trustworthy"] and "not trustworthy" in few["note"] and math.isfinite(few["r"])
    assert math.isnan(correlation([1.0, 2.0], [2.0, 1.0])["r"])
    flat = correlation([1.0, 2.0, 3.0, 4.0, 5.0], [3.0] * 5)
    assert math.isnan(flat["r"]) and "constant" in flat["note"] and not flat["trustworthy"]
    missing = correlation([1.0, np.nan, 3.0, 4.0, 5.0, 6.0], [1.0, 2.0, 2.0, 5.0, 4.0, 6.0])
    assert missing["n"] == 5


def test_hedges_g_and_its_interval_match_the_textbook_formula():
    high = np.array([4.1, 3.8, 4.5, 4.0, 3.9, 4.4])
    low = np.array([3.0, 3.4, 2.8, 3.1, 3.6])
    out = hedges_g(high, low)
    n1, n2 = len(high), len(low)
    sp = math.sqrt(((n1 - 1) * high.var(ddof=1) + (n2 - 1) * low.var(ddof=1)) / (n1 + n2 - 2))
    g = (high.mean() - low.mean()) / sp * (1 - 3 / (4 * (n1 + n2) - 9))
    se = math.sqrt((n1 + n2) / (n1 * n2) + g**2 / (2 * (n1 + n2)))
    crit = stats.t.ppf(0.975, n1 + n2 - 2)
    assert out["g"] == pytest.approx(g, rel=1e-3)  # pingouin's exact J uses gamma functions
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((out["g"] - crit * se, out["g"] + crit * se), rel=1e-3)
    assert (out["n_high"], out["n_low"], out["trustworthy"]) == (6, 5, True)
    assert out["mean_high"] == pytest.approx(high.mean())
    small = hedges_g([4.0, 5.0], [1.0, 2.0])
    assert not small["trustworthy"] and math.isfinite(small["g"])
    assert math.isnan(hedges_g([4.0], [1.0, 2.0])["g"])


def expressed_frame(rows: list[tuple[str, str, str, str, float]]) -> pd.DataFrame:
    """(rater, participant, persona target, trait, score) -> an expressed-scores table."""
    return pd.DataFrame([{"participant_id": p, "persona_id": p, "persona_target": t, "template_id": "t",
                          "option_order": "original", "temperature": 1.0, "repetition": 0, "rater": r,
                          "trait": tr, "score": s, "n_texts": 1, "n_ratings": 1} for r, p, t, tr, s in rows])


def test_pole_effects_compare_only_the_traits_own_poles():
    e = expressed_frame([("a", "h1", "E+", "E", 4.0), ("a", "h2", "E+", "E", 3.5), ("a", "l1", "E-", "E", 2.0),
                         ("a", "l2", "E-", "E", 2.5), ("a", "o1", "A+", "E", 9.0), ("a", "h1", "E+", "A", 1.0)])
    table = pole_effects(e)
    assert list(table["trait"]) == ["E"]  # A has no persona targeting its poles; A+'s E score is left out
    row = table.iloc[0]
    assert (row["n_high"], row["n_low"], row["mean_high"], row["mean_low"]) == (2, 2, 3.75, 2.25)
    assert row["g"] == pytest.approx(hedges_g([4.0, 3.5], [2.0, 2.5])["g"])


def test_self_vs_expressed_matches_on_participant_and_rater_agreement_pairs_raters():
    ids = [f"p{k}" for k in range(6)]
    expressed_a = [3.0, 3.2, 2.9, 3.8, 4.1, 2.0]
    expressed_b = [3.1, 3.0, 3.0, 3.9, 4.4, 2.2]
    rows = [("a", p, "", "E", s) for p, s in zip(ids, expressed_a)] + \
        [("b", p, "", "E", s) for p, s in zip(ids, expressed_b)]
    e = expressed_frame(rows)
    self_scores = pd.DataFrame({"participant_id": ids[::-1] + ["elsewhere"], "trait": "E",
                                "score": [1.0, 5.0, 4.0, 2.0, 3.0, 2.5, 9.0]})
    table = self_vs_expressed(e, self_scores).set_index("rater")
    own = dict(zip(self_scores["participant_id"], self_scores["score"]))
    assert table.loc["a", "n"] == 6
    assert table.loc["a", "r"] == pytest.approx(stats.pearsonr(expressed_a, [own[p] for p in ids]).statistic)
    agree = rater_agreement(e).iloc[0]
    assert (agree["rater_a"], agree["rater_b"], agree["n"]) == ("a", "b", 6)
    assert agree["r"] == pytest.approx(stats.pearsonr(expressed_a, expressed_b).statistic)
    assert agree["mean_difference"] == pytest.approx(np.mean(np.subtract(expressed_a, expressed_b)))


def test_expressed_scores_average_texts_and_rating_orders():
    bfi = load_inventory("bfi")
    frames = []
    for text_id, order, value in [("story#0", "original", 5.0), ("story#0", "reversed", 4.0),
                                  ("story#1", "original", 2.0), ("story#1", "reversed", 1.0)]:
        f = answers_frame(bfi, {i.id: value for i in bfi.items}, keyed_score=False)
        frames.append(f.assign(text_id=text_id, rating_order=order))
    e = expressed_scores(pd.concat(frames, ignore_index=True), observer_form(bfi)).set_index("trait")
    assert e.loc["E", "score"] == pytest.approx(3.0) and e.loc["E", "n_texts"] == 2 and e.loc["E", "n_ratings"] == 4
    assert set(PARTICIPANT_COLS) <= set(e.columns)


# -- bad behaviour config, named before any model work ---------------------------------------------

@pytest.mark.parametrize("override, message", [
    ("behaviour.copies=0", "behaviour.copies=0: must be >= 1"),
    ("behaviour.max_new_tokens=-3", "behaviour.max_new_tokens=-3"),
    ("behaviour.temperature=-1", "behaviour.temperature=-1"),
    ("behaviour.rating_orders=[shuffled]", "behaviour.rating_orders=[shuffled]: shuffled is not one of"),
    ("behaviour.prompts=[{id:story}]", "behaviour.prompts[0]"),
    ("behaviour.prompts=[{id:a,text:x},{id:a,text:y}]", "behaviour.prompts[1].id=a: listed more than once"),
    ("behaviour.prompts=[{id:'a#b',text:x}]", "behaviour.prompts[0].id='a#b'"),
    ("behaviour.rating_templates.likert='{text} {persona}'", "placeholder {persona} is not one of"),
    ("behaviour.rating_templates.likert='rate {item} {options}'", "never shows the text"),
    ("behaviour.self_report=/nonexistent/run", "behaviour.self_report=/nonexistent/run: is not a finished run"),
    ("behaviour.min_n=1", "behaviour.min_n=1: must be >= 2"),
    ("model@rater=clone_lora", "a rater is a plain model"),
    ("model@rater2=hf", "rater2.path=null"),
])
def test_bad_behaviour_config_is_named(override, message):
    from bench.config import validate

    with pytest.raises(ConfigError) as err:
        validate("behaviour", behaviour_cfg(override))
    assert message in str(err.value)


def test_the_command_takes_rater_as_a_model_entry_and_checks_it_first():
    from bench.commands import commands

    with pytest.raises(ConfigError, match=r"rater\.path=null: model=hf reads a local HF model folder"):
        commands()["behaviour"](["rater=hf"])
    with pytest.raises(ConfigError, match="behaviour.copies=0"):
        commands()["behaviour"](["behaviour.copies=0"])


def test_a_self_report_folder_of_another_plan_is_refused_before_model_work(tmp_path):
    from bench.pipelines.behaviour import behaviour

    other = tmp_path / "other-run"
    other.mkdir()
    pd.DataFrame({"participant_id": ["someone|else"], "trait": ["E"], "score": [3.0]}).to_parquet(
        other / "scores.parquet")
    with pytest.raises(ConfigError, match="none of its participants is in this plan"):
        behaviour(behaviour_cfg(f"behaviour.self_report={other}", f"results_dir={tmp_path}"), print_summary=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other-run"]  # nothing written


# -- one small real run ---------------------------------------------------------------------------

SMALL = ("persona=traits", "persona.ids=[E_high,E_low]", "templates=[describe]", "option_orders=[original]",
         "temperatures=[0.7]", "repetitions=1", "max_items=2", "batch_size=8", "behaviour.max_new_tokens=12",
         "behaviour.rating_orders=[original,reversed]", "progress=false")  # bfi_01 (E, +) and bfi_02 (A, -)
# 2 personas x 1 story: what the default suite can afford; the metrics' values are tested on known tables above
TWO_RATERS = (*SMALL, "model@rater2=smollm2")


@pytest.fixture(scope="module")
def small_behaviour(tmp_path_factory):
    from bench.pipelines.behaviour import behaviour

    cfg = behaviour_cfg(*TWO_RATERS, f"results_dir={tmp_path_factory.mktemp('behaviour')}")
    return cfg, behaviour(cfg, print_summary=False)


def test_one_command_writes_texts_ratings_and_the_report(small_behaviour):
    cfg, out = small_behaviour
    texts = pd.read_parquet(out / "texts.parquet")
    assert len(texts) == 2 and texts["participant_id"].is_unique
    assert (texts["text_sha256"] == [hashlib.sha256(t.encode()).hexdigest() for t in texts["text"]]).all()
    assert texts["generation_seed"].nunique() == 2 and (texts["max_new_tokens"] == 12).all()
    assert {"mean_word_length", "type_token_ratio"} <= set(texts.columns)
    ratings = pd.read_parquet(out / "ratings.parquet")
    n_valid = int((~texts["invalid"]).sum())
    assert len(ratings) == 2 * n_valid * 2 * 2  # raters x texts x rating orders x items
    probs = np.stack(ratings["option_probs"].to_numpy())
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert np.allclose(probs @ np.arange(1, 6), ratings["answer"])
    reverse = ratings["keyed"] < 0
    assert np.allclose(ratings.loc[reverse, "score"], 6 - ratings.loc[reverse, "answer"])
    expressed = pd.read_parquet(out / "expressed_scores.parquet")
    assert {"participant_id", "persona_id", "trait", "score", "rater"} <= set(expressed.columns)
    assert set(expressed["rater"]) == {"smollm2", "smollm2-2"}
    self_dir = json.loads((out / "provenance.json").read_text())["self_report_run"]
    self_ids = set(pd.read_parquet(f"{self_dir}/scores.parquet")["participant_id"])
    assert set(expressed["participant_id"]) == self_ids == set(texts["participant_id"])


def test_the_report_has_self_vs_expressed_poles_and_rater_agreement(small_behaviour):
    _, out = small_behaviour
    m = json.loads((out / "metrics.json").read_text())["behaviour"]
    rows = m["self_vs_expressed"]
    assert {(r["rater"], r["trait"]) for r in rows} == {(rater, t) for rater in ("smollm2", "smollm2-2")
                                                        for t in ("E", "A")}
    assert all(r["n"] == 2 and r["trustworthy"] is False and r["r"] is None and "at least 3" in r["note"]
               for r in rows)  # 2 participants: shown, never trusted (the figures' values: tests above)
    assert [r["trait"] for r in m["pole_effects"] if r["rater"] == "smollm2"] == ["E"]
    poles = [r for r in m["pole_effects"] if r["rater"] == "smollm2"]
    assert (poles[0]["n_high"], poles[0]["n_low"], poles[0]["g"]) == (1, 1, None)
    # The same weights rate the same prompts: the two raters agree exactly.
    assert {r["trait"] for r in m["rater_agreement"]} == {"E", "A"}
    for r in m["rater_agreement"]:
        assert r["mean_difference"] == pytest.approx(0.0, abs=1e-9) and r["n"] == 2
    summary = (out / "summary.md").read_text()
    assert "Expressed vs self-reported" in summary and "Agreement between raters" in summary and "*" in summary


def test_texts_stay_in_the_folder_and_only_their_hashes_go_to_metrics(small_behaviour):
    _, out = small_behaviour
    texts = pd.read_parquet(out / "texts.parquet")
    published = (out / "metrics.json").read_text() + (out / "provenance.json").read_text()
    for t, h in zip(texts["text"], texts["text_sha256"]):
        assert h in published
        assert not t.strip() or t not in published


def test_a_killed_behaviour_run_resumes_with_nothing_lost_or_duplicated(small_behaviour):
    from bench.pipelines.behaviour import behaviour

    cfg, out = small_behaviour
    before_texts = pd.read_parquet(out / "texts.parquet")
    before = pd.read_parquet(out / "ratings.parquet")
    parts = sorted((out / "texts" / "parts").glob("part-*.parquet"))
    stamps = {p: p.stat().st_mtime_ns for p in parts}
    # a kill after a rating part but before its record: that unit alone is redone
    victim = sorted((out / "ratings" / "smollm2" / "parts").glob("part-*.parquet"))[0]
    victim.with_name(victim.name + ".json").unlink()
    with pytest.warns(UserWarning, match="moved to"):
        again = behaviour(cfg, print_summary=False)
    assert again == out
    assert {p: p.stat().st_mtime_ns for p in parts} == stamps  # no text was written again
    pd.testing.assert_frame_equal(pd.read_parquet(out / "texts.parquet"), before_texts)
    after = pd.read_parquet(out / "ratings.parquet")
    key = ["rater", "participant_id", "text_id", "rating_order", "item_id"]
    assert not after.duplicated(key).any()
    pd.testing.assert_frame_equal(after.sort_values(key).reset_index(drop=True),
                                  before.sort_values(key).reset_index(drop=True))


def test_an_existing_self_report_folder_is_read_by_path_reusing_every_part(small_behaviour):
    from bench.pipelines.behaviour import behaviour

    cfg, out = small_behaviour
    self_dir = json.loads((out / "provenance.json").read_text())["self_report_run"]
    parts = sorted(out.glob("*/**/part-*.parquet"))
    stamps = {p: p.stat().st_mtime_ns for p in parts}
    before = pd.read_parquet(out / "expressed_scores.parquet")
    cfg2 = behaviour_cfg(*TWO_RATERS, f"results_dir={out.parent}", f"behaviour.self_report={self_dir}",
                         "behaviour.min_n=3")
    assert behaviour(cfg2, print_summary=False) == out  # the texts and ratings do not depend on the report
    assert {p: p.stat().st_mtime_ns for p in parts} == stamps and len(parts) >= 3
    pd.testing.assert_frame_equal(pd.read_parquet(out / "expressed_scores.parquet"), before)
    m = json.loads((out / "metrics.json").read_text())["behaviour"]
    assert m["min_n"] == 3
    assert json.loads((out / "provenance.json").read_text())["report"]["self_report"] == self_dir
    assert compose()["persona"]["set"] == "none"  # the run config's own default is untouched


def test_the_leaderboard_shows_the_behaviour_run_and_the_texts_hashes_never_the_texts(small_behaviour, tmp_path):
    from bench.leaderboard import build_leaderboard

    _, out = small_behaviour
    board = build_leaderboard([str(out.parent)], str(tmp_path / "site"), title="t", plots=False)
    assert not board.skipped
    table = pd.read_csv(tmp_path / "site" / "leaderboard.csv")
    assert table.set_index("run").loc[out.name, "kind"] == "behaviour"
    assert "behaviour.by_trait.smollm2.E.r_self" in table.columns
    texts = pd.read_parquet(out / "texts.parquet")
    written = "".join(p.read_text(errors="replace") for p in (tmp_path / "site").rglob("*") if p.is_file())
    for t, h in zip(texts["text"], texts["text_sha256"]):
        assert h in written
        assert not t.strip() or t not in written


def test_texts_reach_metrics_only_when_asked():
    from bench.pipelines.behaviour import behaviour_metrics
    from bench.writing.stylometry import style_features

    bfi = load_inventory("bfi")
    texts = pd.DataFrame({"participant_id": ["p1", "p2"], "persona_id": ["a", "b"], "text_id": ["story#0"] * 2,
                          "text": ["I went out.", ""], "text_sha256": ["h1", "h2"], "n_words": [3, 0],
                          "invalid": [False, True]})
    texts = pd.concat([texts, pd.DataFrame([style_features([t]) for t in texts["text"]])], axis=1)
    empty = pd.DataFrame(columns=["participant_id", "trait", "score", "rater", "persona_target"])
    for publish in (False, True):
        cfg = {"behaviour": {"min_n": 5, "publish_texts": publish}}
        m = behaviour_metrics(cfg, texts, empty.assign(score=[]), empty[["participant_id", "trait", "score"]], bfi)
        b = m["behaviour"]
        assert b["text_sha256"] == {"p1 story#0": "h1", "p2 story#0": "h2"} and b["n_invalid_texts"] == 1
        assert ("texts" in b) is publish and ("I went out." in json.dumps(m)) is publish


def test_the_self_report_run_is_the_plain_run_of_the_same_overrides():
    """So `behaviour.self_report=run` lands in (and reuses) the folder `persona-bench run` makes, and a
    folder given by path holds the same participant ids."""
    from bench.config.tool_checks import behaviour_run_part
    from bench.results.provenance import config_hash

    held = behaviour_run_part(behaviour_cfg("seed=7", "persona=traits", "model@rater2=smollm2"))
    assert config_hash(held) == config_hash(compose("seed=7", "persona=traits"))
    with pytest.raises(ConfigError, match="setting of `persona-bench behaviour`"):
        compose("behaviour.copies=2")


@pytest.mark.parametrize("payload", ["{item}", "{persona} {0}", "{left.__class__.__mro__}", "}{ {{}}", "%s ${x}"])
def test_a_texts_braces_are_rated_verbatim(payload, smollm2_spec):
    """A participant's text (and a writing prompt) is data: its braces reach the rater as written."""
    from transformers import AutoTokenizer

    from bench.engines.rendering import PromptRenderer
    from bench.behaviour import Rater, rating_template

    bfi = load_inventory("bfi")
    form = observer_form(bfi)
    text = f"I told them {payload} and left."
    row = {"participant_id": "p", "persona_id": "x", "persona_target": "", "template_id": "t",
           "option_order": "original", "temperature": 1.0, "repetition": 0, "text_id": "story#0",
           "text_sha256": "h", "text": text}
    template = rating_template(behaviour_cfg()["behaviour"]["rating_templates"], "likert")
    renderer = PromptRenderer(AutoTokenizer.from_pretrained(smollm2_spec.path), "Answer: ")
    rater = Rater("r", "sha", form, bfi.items[:1], [row], ["original", "reversed"], template, renderer, 8)
    for j in range(len(rater.jobs)):
        _, prompt, _ = rater.render(j)
        assert text in prompt and "The person who wrote this text is someone who is talkative." in prompt
    shown = rater.render(1)[1]  # the reversed order shows the high pole first
    assert "1 = Agree strongly" in shown and "5 = Disagree strongly" in shown


def test_a_rater_that_gives_every_text_the_same_score_is_named():
    from bench.pipelines.behaviour import spread_notes

    rows = [{"rater": "smollm2", "trait": "E", "mean": 3.0, "std": 0.002, "n": 10},
            {"rater": "smollm2", "trait": "A", "mean": 3.4, "std": 0.4, "n": 10},
            {"rater": "smollm2", "trait": "C", "mean": 3.0, "std": None, "n": 1}]
    notes = spread_notes({"behaviour": {"expressed_means": rows}})
    assert len(notes) == 1 and "rater smollm2 gives E almost the same score" in notes[0] and "SD 0.002" in notes[0]
