"""Human norms (#14 part 3): Welch's t and the SD difference against scipy, PsychoBench's 13 scales read
from the shared questionnaires.json and scored as PsychoBench's own formulas score them, bad files named,
norms for BFI-44 and psych::bfi (ipip25), and one tiny real run with the norms table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.config import validate
from bench.errors import ConfigError
from bench.instruments import InventoryError, Norm, load_inventory, validate_inventory
from bench.instruments.psychobench_file import load_psychobench, psychobench_scales
from bench.metrics import score_participants
from bench.metrics.norms import norm_comparison, welch
from bench.metrics.tables import PARTICIPANT_COLS
from tests.conftest import compose, shared_data

SCALES = ["BFI", "EPQ-R", "DTDD", "BSRI", "CABIN", "ICB", "ECR-R", "GSE", "LOT-R", "LMS", "EIS", "WLEIS", "Empathy"]


def questionnaires() -> Path:
    root = shared_data()
    path = root / "items" / "psychobench" / "questionnaires.json" if root else None
    if path is None or not path.is_file():
        pytest.skip("shared PsychoBench questionnaires.json not available")
    return path


# -- Welch's t and the difference in human SD units, against scipy ---------------------------------

def test_welch_matches_scipy_on_raw_samples():
    rng = np.random.default_rng(3)
    model, human = rng.normal(3.0, 0.4, 37), rng.normal(3.3, 0.9, 500)
    ref = stats.ttest_ind(model, human, equal_var=False)
    got = welch(model.mean(), model.std(ddof=1), len(model), human.mean(), human.std(ddof=1), len(human))
    assert got["t"] == pytest.approx(ref.statistic, rel=1e-10)
    assert got["p"] == pytest.approx(ref.pvalue, rel=1e-8)
    assert got["df"] == pytest.approx(ref.df, rel=1e-10)
    ci = ref.confidence_interval(0.95)
    assert got["ci"] == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_norm_comparison_rows_against_scipy_and_numpy():
    scores = pd.DataFrame({"trait": ["E"] * 6 + ["A"] * 6,
                           "score": [3.0, 3.5, 4.0, 2.5, 3.0, 4.5, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]})
    norms = (Norm("E", "Crowd", 3.25, 0.90, 6076), Norm("E", "Men", 3.1, 0.8, 200), Norm("A", "Crowd", 3.64, 0.72, 6076),
             Norm("O", "Crowd", 3.92, 0.66, 6076))
    t = norm_comparison(scores, norms)
    e = np.array([3.0, 3.5, 4.0, 2.5, 3.0, 4.5])
    for row, (mean, sd, n) in zip(t.iloc[:2].itertuples(), [(3.25, 0.90, 6076), (3.1, 0.8, 200)]):
        ref = stats.ttest_ind_from_stats(e.mean(), e.std(ddof=1), 6, mean, sd, n, equal_var=False)
        assert row.welch_t == pytest.approx(ref.statistic) and row.p == pytest.approx(ref.pvalue)
        assert row.diff_sd == pytest.approx((e.mean() - mean) / sd)
        assert row.model_sd == pytest.approx(e.std(ddof=1)) and row.model_n == 6 and row.trusted
        assert row.diff_sd_ci_low < row.diff_sd < row.diff_sd_ci_high
    same, absent = t.iloc[2], t.iloc[3]
    assert same["diff_sd"] == pytest.approx((2.0 - 3.64) / 0.72)
    assert not same["trusted"] and math.isnan(same["welch_t"]) and "same score" in same["note"]
    assert absent["model_n"] == 0 and not absent["trusted"] and "fewer than 3" in absent["note"]


# -- the 13 PsychoBench scales -------------------------------------------------------------------

def psychobench_formula(q: dict, answers: dict[int, int]) -> dict[str, float]:
    """PsychoBench's own scoring (utils.convert_data + compute_statistics), written from its description:
    a reverse item counts scale - answer; a category is the SUM or the mean of its items."""
    out = {}
    for cat in q["categories"]:
        vals = [q["scale"] - answers[n] if n in q["reverse"] else answers[n] for n in cat["cat_questions"]]
        out[cat["cat_name"]] = float(sum(vals)) if q["compute_mode"] == "SUM" else float(np.mean(vals))
    return out


def hand_made_responses(inventory, answers_by_participant: dict[str, dict[int, int]]) -> pd.DataFrame:
    """Responses as the administrator records them: score = the answer, reversed for '-' items by the scale."""
    rows = []
    for pid, answers in answers_by_participant.items():
        for it in inventory.items:
            a = answers[int(it.id.rsplit("_", 1)[1])]
            rows.append({"participant_id": pid, "persona_id": pid, "persona_target": None, "template_id": "t",
                         "option_order": "original", "temperature": 0.0, "repetition": 0, "item_id": it.id,
                         "invalid": False, "answer": float(a),
                         "score": float(a if it.keyed > 0 else inventory.scale.reverse(a))})
    return pd.DataFrame(rows)[[*PARTICIPANT_COLS, "item_id", "invalid", "answer", "score"]]


def test_the_13_scales_load_and_score_as_psychobench_does():
    path = questionnaires()
    data = {q["name"]: q for q in json.loads(path.read_text())}
    assert sorted(psychobench_scales(path)) == sorted(SCALES)
    for name in SCALES:
        inv = load_psychobench(path, name)
        q = data[name]
        low, high = inv.scale.low, inv.scale.high
        assert low + high == q["scale"] and 2 <= len(inv.scale.values) <= 9
        assert inv.scoring == {"AVG": "mean", "SUM": "sum"}[q["compute_mode"]]
        assert {t for t, _ in inv.traits} == {c["cat_name"] for c in q["categories"]}
        assert len(inv.norms) == sum(len(c["crowd"]) for c in q["categories"])
        width = high - low + 1
        sets = {"p1": {int(n): low + (int(n) * 7 + 3) % width for n in q["questions"]},
                "p2": {int(n): high - int(n) % width for n in q["questions"]}}
        scores = score_participants(hand_made_responses(inv, sets), inv)
        for pid, answers in sets.items():
            want = psychobench_formula(q, answers)
            got = scores[scores["participant_id"] == pid].set_index("trait")["score"].to_dict()
            assert got == pytest.approx(want, rel=1e-12), name


def test_known_shapes_of_the_file():
    path = questionnaires()
    epq, lot, bsri = (load_psychobench(path, s) for s in ("EPQ-R", "LOT-R", "BSRI"))
    assert epq.scale.values == (0, 1) and epq.scoring == "sum" and len(epq.items) == 100
    assert lot.scale.values == (0, 1, 2, 3, 4) and len(lot.items) == 6  # 4 fillers are never scored
    assert len(bsri.items) == 40 and {n.group for n in bsri.norms} >= {"Students (Women)", "Workers (Men)"}
    gse = load_psychobench(path, "GSE")
    assert [(n.mean, n.sd, n.n) for n in gse.norms] == [(29.55, 5.32, 19120)]


def test_16p_is_refused_by_name():
    path = questionnaires()
    with pytest.raises(InventoryError, match="16P.*proprietary"):
        load_psychobench(path, "16P")
    with pytest.raises(ConfigError, match=r"inventory.scale=16P: .*proprietary"):
        validate("config", compose("inventory=psychobench", f"inventory.path={path}", "inventory.scale=16P"))
    with pytest.raises(ConfigError, match=r"inventory.scale=NOPE: .*not in the file; its scales: Empathy, BFI"):
        validate("config", compose("inventory=psychobench", f"inventory.path={path}", "inventory.scale=NOPE"))


def damaged(tmp_path: Path, name: str, change) -> Path:
    """A copy of one scale (in tmp_path only) with one field changed."""
    q = next(q for q in json.loads(questionnaires().read_text()) if q["name"] == name)
    change(q)
    out = tmp_path / f"{name}.json"
    out.write_text(json.dumps([q]))
    return out


@pytest.mark.parametrize("name,change,message", [
    ("GSE", lambda q: q.update(scale=6), r"field 'scale': 6 does not fit the prompt's range 1..4"),
    ("GSE", lambda q: q.update(prompt="Rate them.", inner_setting=""), r"field 'prompt': no 'numbers from"),
    ("GSE", lambda q: q.update(compute_mode="MEDIAN"), r"field 'compute_mode': 'MEDIAN'"),
    ("GSE", lambda q: q["categories"][0]["crowd"][0].update(std=0), r"category 'Overall': field 'crowd\[0\]'"),
    ("GSE", lambda q: q["categories"][0]["cat_questions"].append(99), r"category 'Overall': item 99 is not in"),
    ("LOT-R", lambda q: q.update(reverse=[3, "7"]), r"field 'reverse'"),
    ("DTDD", lambda q: q.update(scale=12, prompt="numbers from 1 to 11"), r"range 1..11 has 11 options"),
])
def test_damaged_scale_is_named(tmp_path, name, change, message):
    path = damaged(tmp_path, name, change)
    with pytest.raises(InventoryError, match=message) as err:
        load_psychobench(path, name)
    assert str(path) in str(err.value) and f"scale {name!r}" in str(err.value)


@pytest.mark.parametrize("content,message", [
    (b"{not json", "not valid JSON"), (b'{"name": "GSE"}', "top level must be a list"),
    (b"\xff\xfe\x00", "not UTF-8"), (b"[" * 100000, "not valid JSON"),
])
def test_damaged_file_is_named(tmp_path, content, message):
    bad = tmp_path / "q.json"
    bad.write_bytes(content)
    with pytest.raises(InventoryError, match=message):
        load_psychobench(bad, "GSE")
    with pytest.raises(InventoryError, match="is a folder"):
        load_psychobench(tmp_path, "GSE")


# -- norms in inventory files and from human references ------------------------------------------

def test_bfi_ships_its_norms_with_their_source():
    inv = load_inventory("bfi")
    assert [(n.trait, n.mean, n.sd, n.n) for n in inv.norms] == [
        ("E", 3.25, 0.90, 6076), ("A", 3.64, 0.72, 6076), ("C", 3.45, 0.73, 6076), ("N", 3.32, 0.82, 6076),
        ("O", 3.92, 0.66, 6076)]
    assert all("PsychoBench" in n.source for n in inv.norms)


@pytest.mark.parametrize("norms,message", [
    ({"X": {"mean": 1, "sd": 1, "n": 10}}, r"field 'norms.X': not a trait code"),
    ({"E": {"mean": 1, "sd": 0, "n": 10}}, r"field 'norms.E': sd=0"),
    ({"E": {"mean": 1, "sd": 1}}, r"field 'norms.E': n=None"),
    ({"n": 50, "E": [{"mean": 1, "sd": 1, "group": "a"}, {"mean": "x", "sd": 1}]}, r"field 'norms.E'\[1\]: mean='x'"),
    ({"E": {"mean": 1, "sd": 1, "n": 9, "median": 2}}, r"unknown field\(s\) 'median'"),
])
def test_bad_norms_in_an_inventory_file_are_named(norms, message):
    data = {"id": "t", "name": "T", "version": 1, "source": "s", "licence": "l", "kind": "likert",
            "scale": {"values": [1, 2], "labels": ["no", "yes"]}, "traits": {"E": "Extraversion"},
            "scoring": "mean", "norms": norms, "items": [{"id": "i1", "text": "x", "trait": "E", "keyed": "+"}]}
    with pytest.raises(InventoryError, match=message):
        validate_inventory(data, "mine.yaml")


def test_psych_bfi_norms_for_ipip25_match_the_shared_csv():
    root = shared_data()
    if root is None or not (root / "psych_bfi" / "bfi.csv").is_file():
        pytest.skip("shared psych_bfi not available")
    from bench.populations.human import load_psych_bfi
    from bench.populations.reference import human_norms

    inv = load_inventory("ipip25")
    got = {n.trait: n for n in human_norms(load_psych_bfi(), inv)}
    frame = pd.read_csv(root / "psych_bfi" / "bfi.csv")
    keys = pd.read_csv(root / "psych_bfi" / "bfi_dictionary.csv").set_index("variable")["Keying"]
    for trait in "ACENO":
        cols = [c for c in keys.index if c.startswith(trait)]
        keyed = pd.DataFrame({c: frame[c] if keys[c] > 0 else 7 - frame[c] for c in cols})
        if trait == "N":  # the dictionary keys N1-N5 -1 (Emotional Stability); ipip25 reports Neuroticism: raw
            keyed = pd.DataFrame({c: frame[c] for c in cols})
        s = keyed.mean(axis=1).dropna()
        assert got[trait].mean == pytest.approx(s.mean(), rel=1e-12)
        assert got[trait].sd == pytest.approx(s.std(ddof=1), rel=1e-12) and got[trait].n == len(s) == 2800


# -- one tiny real command: a PsychoBench scale's norms table (BFI-44's norms take the same path) --

def test_norms_table_for_a_psychobench_scale(tmp_path):
    from bench.config.load import compose as compose_config
    from bench.pipelines.norms_table import norms_table

    path = questionnaires()
    cfg = compose_config("norms_table", ["norms_table.inventories=null", f"norms_table.path={path}",
                                         "norms_table.scales=[GSE]", "max_items=2", "templates=[describe]",
                                         "temperatures=[1.0]", "repetitions=4", "option_orders=[original]",
                                         "progress=false", f"results_dir={tmp_path}"])
    out = norms_table(cfg)
    table = pd.read_csv(out / "norms_table.csv")
    assert list(table["instrument"]) == ["psychobench:GSE"]
    gse = table[table["instrument"] == "psychobench:GSE"].iloc[0]
    folder = Path(gse["run"])
    assert "psychobench_GSE" in folder.name
    table_of_scores = pd.read_parquet(folder / "scores.parquet")
    scores = table_of_scores["score"].to_numpy(float)
    # personas are the units (issue #24): the 4 repetitions of one persona are averaged, not counted as people
    by_persona = table_of_scores.groupby("persona_id")["score"].mean().to_numpy(float)
    assert gse["model_n"] == len(by_persona) and gse["n_participants"] == 4
    assert gse["model_mean"] == pytest.approx(scores.mean())
    assert gse["diff_sd"] == pytest.approx((scores.mean() - 29.55) / 5.32)
    if len(by_persona) >= 3 and by_persona.std() > 0:
        ref = stats.ttest_ind_from_stats(by_persona.mean(), by_persona.std(ddof=1), len(by_persona), 29.55, 5.32,
                                         19120, equal_var=False)
        assert gse["welch_t"] == pytest.approx(ref.statistic)
    else:
        assert math.isnan(gse["p"]) and "too few for a test" in gse["note"]
    metrics = json.loads((folder / "metrics.json").read_text())["human_norms"]
    assert metrics["diff_sd"] == {"Overall / Crowd": pytest.approx(gse["diff_sd"])}  # the leaderboard's column
    summary = (folder / "summary.md").read_text()
    assert "## Against human norms" in summary and "| Overall | Crowd" in summary
    assert "| psychobench:GSE | Overall | Crowd" in (out / "norms_table.md").read_text()


def test_norms_table_config_is_checked_before_any_run(tmp_path):
    from bench.config.load import compose as compose_config

    path = questionnaires()
    for overrides, message in (
            (["norms_table.inventories=[ipip50]"], r"norms_table.inventories=\[ipip50\]: ipip50 has no norms"),
            (["norms_table.scales=[GSE]"], "norms_table.path=null"),
            ([f"norms_table.path={path}", "norms_table.scales=[GSE,16P]"], r"norms_table.scales=\[GSE, 16P\]: .*16P"),
            (["norms_table.inventories=null"], "norms_table.inventories=null: give instruments")):
        with pytest.raises(ConfigError, match=message):
            validate("norms_table", compose_config("norms_table", [*overrides, f"results_dir={tmp_path}"]))
    assert not any(tmp_path.iterdir())
