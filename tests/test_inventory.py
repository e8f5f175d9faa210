"""Shipped inventories match their sources; malformed files fail with errors that name what is wrong."""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import random
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bench.instruments import InventoryError, load_inventory
from bench.resources import INVENTORY_DIR

SHARED = Path(os.environ.get("PERSONA_BENCH_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def shared(rel: str) -> Path:
    """A reference file from the shared data folder; skip when it is not on this machine."""
    path = SHARED / rel
    if not path.is_file():
        pytest.skip(f"shared reference data not found: {path}")
    return path


# ---------------------------------------------------------------- shipped files

@pytest.mark.parametrize(
    "name, n_items, per_trait",
    [
        ("bfi", 44, {"E": 8, "A": 9, "C": 9, "N": 8, "O": 10}),
        ("ipip25", 25, dict.fromkeys("EACNO", 5)),
        ("ipip50", 50, dict.fromkeys("EACNO", 10)),
        ("ipip120", 120, dict.fromkeys("EACNO", 24)),
        ("mbti", 32, dict.fromkeys(["IE", "SN", "FT", "JP"], 8)),
    ],
)
def test_shipped_inventory_loads(name, n_items, per_trait):
    inv = load_inventory(name)
    assert inv.id == name
    assert len(inv.items) == n_items
    assert Counter(it.trait for it in inv.items) == per_trait
    assert [code for code, _ in inv.traits] == list(per_trait)
    assert inv.path == str(INVENTORY_DIR / f"{name}.yaml")
    assert inv.sha256 == hashlib.sha256(Path(inv.path).read_bytes()).hexdigest()
    assert all(it.keyed in (1, -1) for it in inv.items)
    assert isinstance(inv.version, str) and inv.source and inv.licence


def test_every_shipped_file_is_listed_in_readme():
    readme = (INVENTORY_DIR / "README.md").read_text()
    for path in INVENTORY_DIR.glob("*.yaml"):
        assert f"`{path.stem}`" in readme


def test_bfi_matches_psychobench():
    qs = json.loads(shared("items/psychobench/questionnaires.json").read_text())
    src = next(q for q in qs if q["name"] == "BFI")
    inv = load_inventory("bfi")
    reversed_ = {int(it.id.split("_")[1]) for it in inv.items if it.keyed == -1}
    assert reversed_ == set(src["reverse"]) and len(reversed_) == 16
    for n, it in enumerate(inv.items, 1):
        text = src["questions"][str(n)]
        assert it.text == text[0].lower() + text[1:]
    for cat in src["categories"]:
        code = {"Extraversion": "E", "Agreeableness": "A", "Conscientiousness": "C", "Neuroticism": "N",
                "Openness": "O"}[cat["cat_name"]]
        assert {int(it.id[4:]) for it in inv.items if it.trait == code} == set(cat["cat_questions"])
    assert inv.stem.format(text=inv.items[0].text) == "I see myself as someone who is talkative."


def test_bfi_file_carries_the_psychobench_norms():
    norms = yaml.safe_load((INVENTORY_DIR / "bfi.yaml").read_text())["norms"]
    assert norms["n"] == 6076
    assert norms["E"] == {"mean": 3.25, "sd": 0.90} and norms["O"] == {"mean": 3.92, "sd": 0.66}


def test_ipip25_matches_bfi_dictionary():
    rows = {r["variable"]: r for r in csv.DictReader(shared("psych_bfi/bfi_dictionary.csv").open())}
    inv = load_inventory("ipip25")
    assert [it.id for it in inv.items] == [f"{t}{i}" for t in "ACENO" for i in range(1, 6)]
    for it in inv.items:
        row = rows[it.id]
        assert it.text == row["Item"]
        assert it.trait == it.id[0]
        # The dictionary keys N as Emotional Stability (-1); the inventory reports Neuroticism (+).
        expected = -int(row["Keying"]) if it.trait == "N" else int(row["Keying"])
        assert it.keyed == expected
    assert inv.scale.values == (1, 2, 3, 4, 5, 6)


def test_ipip50_keys_as_published():
    inv = load_inventory("ipip50")
    assert [it.trait for it in inv.items] == list("EACNO") * 10
    # ipip.ori.org: negatively keyed items; for factor IV that is Emotional Stability, so N flips.
    minus = {"E": {6, 16, 26, 36, 46}, "A": {2, 12, 22, 32}, "C": {8, 18, 28, 38}, "N": {9, 19}, "O": {10, 20, 30}}
    for n, it in enumerate(inv.items, 1):
        assert it.keyed == (-1 if n in minus[it.trait] else 1), it.id
    assert inv.items[0].text == "Am the life of the party." and inv.items[49].text == "Am full of ideas."
    assert {inv.items[8].text, inv.items[18].text} == {"Am relaxed most of the time.", "Seldom feel blue."}


def test_ipip120_matches_source_and_facets():
    inv = load_inventory("ipip120")
    assert Counter(it.facet for it in inv.items) == {f"{t}{i}": 4 for t in "NEOAC" for i in range(1, 7)}
    assert all(it.facet[0] == it.trait for it in inv.items)
    src = json.loads(shared("items/ipip_neo_120/questions_en.json").read_text())
    for n, (it, q) in enumerate(zip(inv.items, src, strict=True), 1):
        assert it.id == f"ipip120_{n:03d}"
        assert (it.text, it.trait, it.facet) == (q["text"], q["domain"], f"{q['domain']}{q['facet']}")
        assert it.keyed == {"plus": 1, "minus": -1}[q["keyed"]]


# Published OEJTS 1.2 scoring (Qn = answer 1..5 to item n; > 24 gives the second letter).
OEJTS_FORMULAS = {
    "IE": "30 - Q3 - Q7 - Q11 + Q15 - Q19 + Q23 + Q27 - Q31",
    "SN": "12 + Q4 + Q8 + Q12 + Q16 + Q20 - Q24 - Q28 + Q32",
    "FT": "30 - Q2 + Q6 + Q10 - Q14 - Q18 + Q22 - Q26 - Q30",
    "JP": "18 + Q1 + Q5 - Q9 + Q13 - Q17 + Q21 - Q25 + Q29",
}
OEJTS_LETTERS = {"IE": "IE", "SN": "SN", "FT": "FT", "JP": "JP"}


def _formula(expr: str, answers: dict[int, int]) -> int:
    return eval(re.sub(r"Q(\d+)", lambda m: str(answers[int(m.group(1))]), expr))  # digits and +/- only


def test_oejts_formulas_match_source_file():
    src = json.loads(shared("items/oejts/oejts_items.json").read_text())
    assert src["scoring"] == OEJTS_FORMULAS
    assert "24" in src["cutoff"]
    inv = load_inventory("mbti")
    for it in inv.items:
        q = next(s for s in src["items"] if f"oejts_{s['q']:02d}" == it.id)
        assert (it.left, it.right, it.trait, it.keyed) == (q["left"], q["right"], q["dimension"], q["sign"])


@pytest.mark.parametrize("seed", ["ones", "fives", "threes", 0, 1, 2, 3])
def test_oejts_dichotomy_scoring_equals_published_formulas(seed):
    if isinstance(seed, int):
        rng = random.Random(seed)
        answers = {n: rng.randint(1, 5) for n in range(1, 33)}
    else:
        answers = dict.fromkeys(range(1, 33), {"ones": 1, "fives": 5, "threes": 3}[seed])
    inv = load_inventory("mbti")
    for d in inv.dichotomies:
        score = d.constant + sum(it.keyed * answers[int(it.id[6:])] for it in inv.items if it.trait == d.id)
        letter = d.high if score > d.cutoff else d.low
        expected = _formula(OEJTS_FORMULAS[d.id], answers)
        assert score == expected
        assert letter == OEJTS_LETTERS[d.id][expected > 24]


def test_oejts_right_pole_direction():
    """Answer 5 on a '+' item moves toward E/N/T/P, as the notes in mbti.yaml say."""
    inv = load_inventory("mbti")
    assert [(d.id, d.low, d.high, d.cutoff) for d in inv.dichotomies] == [
        ("IE", "I", "E", 24), ("SN", "S", "N", 24), ("FT", "F", "T", 24), ("JP", "J", "P", 24)]
    party = inv.item("oejts_15")  # left: worn out by parties, right: fired up by parties
    assert party.trait == "IE" and party.keyed == 1 and "fired up" in party.right


# ---------------------------------------------------------------- loader behaviour

def test_unknown_name_lists_available():
    with pytest.raises(InventoryError) as exc:
        load_inventory("no_such_inventory")
    msg = str(exc.value)
    assert "no_such_inventory" in msg and "bfi" in msg and "ipip120" in msg and "mbti" in msg


def test_missing_path():
    with pytest.raises(InventoryError, match="not found"):
        load_inventory("/nonexistent/dir/mine.yaml")


def _likert() -> dict:
    return {
        "id": "mini", "name": "Mini", "version": "1", "source": "test", "licence": "none", "kind": "likert",
        "stem": "I {text}", "scale": {"values": [1, 2, 3], "labels": ["no", "maybe", "yes"]},
        "traits": {"E": "Extraversion", "N": "Neuroticism"}, "scoring": "mean",
        "items": [
            {"id": "m_01", "text": "talk a lot.", "trait": "E", "keyed": "+"},
            {"id": "m_02", "text": "worry.", "trait": "N", "keyed": "-"},
        ],
    }


def _bipolar() -> dict:
    return {
        "id": "bip", "name": "Bip", "version": "1", "source": "test", "licence": "none", "kind": "bipolar",
        "scale": {"values": [1, 2, 3, 4, 5], "labels": ["a", "b", "c", "d", "e"]},
        "traits": {"IE": "I/E"}, "scoring": "dichotomy",
        "dichotomies": {"IE": {"low": "I", "high": "E", "constant": 6, "cutoff": 6}},
        "items": [
            {"id": "b_01", "left": "quiet", "right": "loud", "trait": "IE", "keyed": "+"},
            {"id": "b_02", "left": "parties", "right": "books", "trait": "IE", "keyed": "-"},
        ],
    }


def _write(tmp_path: Path, data, name: str = "bad_inv.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def _error(tmp_path: Path, data) -> str:
    path = _write(tmp_path, data)
    with pytest.raises(InventoryError) as exc:
        load_inventory(str(path))
    msg = str(exc.value)
    assert "bad_inv.yaml" in msg
    return msg


def test_minimal_files_load(tmp_path):
    inv = load_inventory(_write(tmp_path, _likert(), "mini.yaml"))
    assert [it.keyed for it in inv.items] == [1, -1] and inv.stem == "I {text}"
    bip = load_inventory(str(_write(tmp_path, _bipolar(), "bip.yaml")))
    assert bip.dichotomies[0].high == "E" and bip.items[1].left == "parties"


def test_version_number_and_int_keys_are_coerced(tmp_path):
    text = yaml.safe_dump(_likert(), sort_keys=False).replace("version: '1'", "version: 1.0")
    text = text.replace("keyed: +", "keyed: 1").replace("keyed: '+'", "keyed: 1").replace("keyed: '-'", "keyed: -1")
    inv = load_inventory(_write(tmp_path, text, "coerce.yml"))
    assert inv.version == "1.0" and [it.keyed for it in inv.items] == [1, -1]


def _set(path: str, value):
    """Mutation that sets data[a][b]... = value (an int in the path indexes a list); DELETE removes."""
    def mutate(d):
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        target = d
        for k in keys[:-1]:
            target = target[k]
        if value is DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
        return d
    return mutate


DELETE = object()

LIKERT_CASES = [
    # (case id, mutation, substrings the message must contain)
    ("top-level-list", lambda d: [d], ["top level must be a mapping"]),
    ("top-level-empty", lambda d: "", ["top level must be a mapping", "empty file"]),
    *[(f"missing-{f}", _set(f, DELETE), [f"missing required field '{f}'"])
      for f in ("id", "name", "version", "source", "licence", "kind", "scale", "traits", "scoring", "items")],
    ("unknown-field", _set("colour", "red"), ["unknown field 'colour'"]),
    ("kind", _set("kind", "slider"), ["field 'kind'", "'slider'", "'likert', 'bipolar'"]),
    ("version-type", _set("version", ["x"]), ["field 'version'", "['x']"]),
    ("name-empty", _set("name", ""), ["field 'name'", "''"]),
    ("scale-not-mapping", _set("scale", [1, 2, 3]), ["field 'scale'", "[1, 2, 3]"]),
    ("scale-order", _set("scale.values", [1, 3, 2]), ["field 'scale.values'", "[1, 3, 2]", "increasing"]),
    ("scale-dup", _set("scale.values", [1, 1, 2]), ["field 'scale.values'", "[1, 1, 2]", "distinct"]),
    ("scale-not-int", _set("scale.values", [1, 2.5, 3]), ["field 'scale.values'", "2.5", "integers"]),
    ("scale-one", lambda d: {**d, "scale": {"values": [1], "labels": ["x"]}},
     ["field 'scale.values'", "[1]", "at least 2"]),
    ("labels-not-str", _set("scale.labels", ["no", 2, "yes"]), ["field 'scale.labels'", "['no', 2, 'yes']"]),
    ("labels-length", _set("scale.labels", ["no", "yes"]), ["field 'scale.labels'", "2 labels for 3 values"]),
    ("traits-list", _set("traits", ["E", "N"]), ["field 'traits'", "['E', 'N']", "mapping"]),
    ("traits-name", _set("traits.E", ["x"]), ["field 'traits'", "'E'", "['x']"]),
    ("trait-unused", _set("traits.O", "Openness"), ["field 'traits'", "'O'", "no items"]),
    ("scoring", _set("scoring", "median"), ["field 'scoring'", "'median'", "'mean', 'sum', 'dichotomy'"]),
    ("dichotomy-no-block", _set("scoring", "dichotomy"), ["field 'dichotomies'", "None", "required"]),
    ("dichotomies-with-mean", _set("dichotomies", {"E": {}}), ["field 'dichotomies'", "'mean'"]),
    ("stem", _set("stem", "I see myself as"), ["field 'stem'", "'I see myself as'", "{text}"]),
    ("norms", _set("norms", [1]), ["field 'norms'", "[1]"]),
    ("items-empty", _set("items", []), ["field 'items'", "[]", "non-empty list"]),
    ("items-not-list", _set("items", {"a": 1}), ["field 'items'", "{'a': 1}"]),
    ("item-not-mapping", _set("items.1", "oops"), ["item #2", "'oops'", "mapping"]),
    ("item-id-missing", _set("items.1.id", DELETE), ["item #2", "field 'id'", "missing"]),
    ("item-id-empty", _set("items.1.id", ""), ["item #2", "field 'id'", "''"]),
    ("item-id-dup", _set("items.1.id", "m_01"), ["item 'm_01'", "field 'id'", "'m_01'", "duplicated"]),
    ("item-trait", _set("items.1.trait", "Q"), ["item 'm_02'", "field 'trait'", "'Q'", "not a declared trait"]),
    ("item-trait-missing", _set("items.1.trait", DELETE), ["item 'm_02'", "field 'trait'", "missing"]),
    ("item-keyed", _set("items.1.keyed", "*"), ["item 'm_02': field 'keyed': '*' is not one of '+', '-'"]),
    ("item-keyed-int", _set("items.1.keyed", 2), ["item 'm_02'", "field 'keyed'", "2"]),
    ("item-keyed-bool", _set("items.1.keyed", True), ["item 'm_02'", "field 'keyed'", "True"]),
    ("item-keyed-missing", _set("items.0.keyed", DELETE), ["item 'm_01'", "field 'keyed'", "missing"]),
    ("item-text-missing", _set("items.1.text", DELETE), ["item 'm_02'", "field 'text'", "missing"]),
    ("item-text-empty", _set("items.1.text", "  "), ["item 'm_02'", "field 'text'", "'  '"]),
    ("item-left-on-likert", _set("items.0.left", "x"), ["item 'm_01'", "field 'left'", "'x'", "bipolar"]),
    ("item-unknown-field", _set("items.0.txet", "x"), ["item 'm_01'", "unknown field 'txet'"]),
    ("item-facet", _set("items.0.facet", ["E1"]), ["item 'm_01'", "field 'facet'", "['E1']"]),
]

BIPOLAR_CASES = [
    ("no-dichotomies", _set("dichotomies", DELETE), ["field 'dichotomies'", "None", "required"]),
    ("dichotomies-list", _set("dichotomies", ["IE"]), ["field 'dichotomies'", "['IE']"]),
    *[(f"dichotomy-missing-{f}", _set(f"dichotomies.IE.{f}", DELETE), ["dichotomy 'IE'", f"missing field '{f}'"])
      for f in ("low", "high", "constant", "cutoff")],
    ("dichotomy-cutoff-str", _set("dichotomies.IE.cutoff", "high"), ["dichotomy 'IE'", "field 'cutoff'", "'high'"]),
    ("dichotomy-low-empty", _set("dichotomies.IE.low", ""), ["dichotomy 'IE'", "field 'low'", "''"]),
    ("dichotomy-unknown", _set("dichotomies.IE.pivot", 3), ["dichotomy 'IE'", "unknown field 'pivot'"]),
    ("dichotomy-not-trait", _set("dichotomies.SN", {"low": "S", "high": "N", "constant": 0, "cutoff": 0}),
     ["dichotomy 'SN'", "not declared in 'traits'"]),
    ("trait-not-dichotomy", _set("traits.XX", "extra"), ["field 'traits'", "'XX'", "not a declared dichotomy"]),
    ("item-not-dichotomy", _set("items.1.trait", "SN"),
     ["item 'b_02'", "field 'trait'", "'SN'", "not a declared dichotomy"]),
    ("item-no-right", _set("items.1.right", DELETE), ["item 'b_02'", "field 'right'", "missing"]),
    ("item-left-empty", _set("items.0.left", ""), ["item 'b_01'", "field 'left'", "''"]),
    ("item-text-on-bipolar", _set("items.0.text", "hi"), ["item 'b_01'", "field 'text'", "'hi'", "likert"]),
]


@pytest.mark.parametrize("case, mutate, expected", LIKERT_CASES, ids=[c[0] for c in LIKERT_CASES])
def test_likert_errors(tmp_path, case, mutate, expected):
    msg = _error(tmp_path, mutate(copy.deepcopy(_likert())))
    for s in expected:
        assert s in msg, f"{s!r} not in {msg!r}"


@pytest.mark.parametrize("case, mutate, expected", BIPOLAR_CASES, ids=[c[0] for c in BIPOLAR_CASES])
def test_bipolar_errors(tmp_path, case, mutate, expected):
    msg = _error(tmp_path, mutate(copy.deepcopy(_bipolar())))
    for s in expected:
        assert s in msg, f"{s!r} not in {msg!r}"


def test_yaml_syntax_error_names_file(tmp_path):
    msg = _error(tmp_path, "id: bfi\nitems: [unclosed\n")
    assert "not valid YAML" in msg


def test_all_errors_reported_one_per_line(tmp_path):
    d = _likert()
    d["kind"] = "slider"
    d["items"][0]["keyed"] = "*"
    d["items"][1]["trait"] = "Q"
    lines = _error(tmp_path, d).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(str(tmp_path / "bad_inv.yaml")) for line in lines)
    assert any("'slider'" in ln for ln in lines)
    assert any("item 'm_01'" in ln and "'*'" in ln for ln in lines)
    assert any("item 'm_02'" in ln and "'Q'" in ln for ln in lines)
