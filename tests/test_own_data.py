"""Bring your own people (issue #16): each friction a user met with a human reference, a corpus or a
self-report of their own, reproduced on a small file made here, and now working or refused with a
message that says what to write instead."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import yaml

from bench.administration import Administrator, Template, build_plan
from bench.config import validate
from bench.errors import BenchError, ConfigError
from bench.instruments import load_inventory
from bench.metrics.distances import keyed_scores
from bench.personas import Persona
from bench.personas.text import corpus_personas
from bench.populations.human import HumanResponses, load_reference
from bench.populations.reference import expand_population, load_human
from bench.populations.reference_fidelity import population_fidelity
from bench.resources import INVENTORY_DIR
from bench.results.provenance import config_hash
from bench.results.summary import fidelity_text
from bench.tools.filecheck import check_file
from bench.writing.corpus import load_corpora, load_self_reports, select_corpora
from tests.conftest import compose, shared_data

IPIP25 = load_inventory("ipip25")


def csv_ref(path, **kw) -> HumanResponses:
    return load_reference({"kind": "csv", "path": str(path), "instrument": "ipip25", **kw})


# -- one table reader: separators, encodings, formats -----------------------------------------------

def test_a_tab_separated_file_is_read_detected_or_by_sep(tmp_path):
    path = tmp_path / "people.tsv"
    path.write_text("race\tage\tA1\tA2\nx\t30\t2\t5\ny\t41\t6\t1\n")
    for kw in ({}, {"sep": "tab"}, {"sep": "\\t"}):
        human = csv_ref(path, **kw)
        assert list(human.answers.columns) == ["A1", "A2"] and human.answers["A2"].tolist() == [5.0, 1.0]
    with pytest.raises(BenchError, match="field 'sep': 'tabs' must be one character or one of tab"):
        csv_ref(path, sep="tabs")
    semicolons = tmp_path / "people.csv"
    semicolons.write_text("A1;A2\n3;4\n")
    assert csv_ref(semicolons).answers.loc["1", "A2"] == 4


def test_a_cp1252_file_is_refused_naming_byte_row_and_the_fix_then_read_with_encoding(tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes("A1,name\n3,Zoe\n4,Ren\xe9e\n".encode("cp1252"))
    with pytest.raises(BenchError) as err:
        csv_ref(path)
    msg = str(err.value)
    assert str(path) in msg and "not UTF-8 text: byte 20 (0xe9, row 3 of the file)" in msg
    assert "encoding=cp1252" in msg
    assert csv_ref(path, encoding="cp1252").answers["A1"].tolist() == [3.0, 4.0]
    with pytest.raises(BenchError, match="'encoding': 'klingon' is not a known text encoding"):
        csv_ref(path, encoding="klingon")


def test_parquet_and_sav_tables_are_read_and_xlsx_names_its_package(tmp_path):
    import pyreadstat

    frame = pd.DataFrame({"A1": [1.0, 2.0, 6.0], "A2": [3.0, np.nan, 99.0]})
    frame.to_parquet(tmp_path / "p.parquet")
    pyreadstat.write_sav(frame, str(tmp_path / "p.sav"))
    for name in ("p.parquet", "p.sav"):
        human = csv_ref(tmp_path / name, missing=[99])
        assert human.answers["A1"].tolist() == [1.0, 2.0, 6.0] and human.answers["A2"].isna().tolist() == [0, 1, 1]
        assert human.blanked == 1
    (tmp_path / "p.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    if importlib.util.find_spec("openpyxl") is None:
        with pytest.raises(BenchError, match="needs the package openpyxl: pip install openpyxl"):
            csv_ref(tmp_path / "p.xlsx")
    else:
        with pytest.raises(BenchError, match="not a readable .xlsx file"):
            csv_ref(tmp_path / "p.xlsx")


# -- missing-answer codes, columns by id or by wording ----------------------------------------------

def test_a_zero_code_is_refused_with_how_to_declare_it_then_blanked_and_counted(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("A1,A2,A3\n0,3,99\n2,0,4\n5,6,1\n")
    with pytest.raises(BenchError) as err:
        csv_ref(path)
    assert "value 0 (respondent 1) is not one of [1, 2, 3, 4, 5, 6]" in str(err.value)
    assert "missing: [0]" in str(err.value) and "population.missing=[0]" in str(err.value)
    human = csv_ref(path, missing=[0, 99])
    assert human.blanked == 3
    assert human.answers.isna().sum().tolist() == [1, 1, 1] and human.answers.loc["3"].tolist() == [5, 6, 1]
    # on the command line, Hydra's own list grammar; refused where there is no table to blank
    assert compose("population.missing=[0,99]")["population"]["missing"] == [0, 99]
    with pytest.raises(ConfigError, match="population.missing=\\[0, 99\\]: .*population=psych_bfi has kind 'psych_bfi'"):
        validate("config", compose("inventory=ipip25", "population=psych_bfi", "population.missing=[0,99]"))


def test_columns_may_be_left_out_when_they_are_the_item_ids(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("pid,A1,C2,age\np1,2,3,30\np2,4,5,40\n")
    human = csv_ref(path, respondent_column="pid")
    assert list(human.answers.columns) == ["A1", "C2"] and list(human.answers.index) == ["p1", "p2"]
    other = tmp_path / "other.csv"
    other.write_text("q1,q2\n2,3\n")
    with pytest.raises(BenchError) as err:
        csv_ref(other)
    assert "no column is named after an item id of 'ipip25'" in str(err.value)
    assert "give columns: {item id: column}, or match: text" in str(err.value)


def test_match_text_pairs_columns_with_item_wording_and_reports_every_pairing(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("id,am indifferent to the feelings of others,Inquire about others wellbeing!,"
                    "MAKE FRIENDS EASILY,shoe size\n1,2,3,4,40\n2,5,5,6,41\n")
    human = csv_ref(path, match="text", respondent_column="id")
    pairs = {i: c for i, c, _ in human.pairing}
    assert pairs == {"A1": "am indifferent to the feelings of others", "A2": "Inquire about others wellbeing!",
                     "E4": "MAKE FRIENDS EASILY"}
    assert all(r >= 0.9 for _, _, r in human.pairing)
    assert human.answers["E4"].tolist() == [4.0, 6.0]
    with pytest.raises(BenchError, match="'match': 'wording' is not one of id, text"):
        csv_ref(path, match="wording")


# -- a population file of one's own -----------------------------------------------------------------

def population_file(tmp_path, body: dict, answers: str = "pid,A1,A2,A3,A4,A5\n1,2,3,4,5,6\n2,6,5,4,3,0\n"
                                                           "3,1,2,3,4,5\n4,3,3,3,3,3\n", name: str = "mine"):
    data = tmp_path / "answers.csv"
    data.write_text(answers)
    body = {"name": "mine", "reference": {"kind": "csv", "path": str(data), "respondent_column": "pid"},
            "instrument": "ipip25", **body}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_a_population_file_by_path_is_checked_named_and_counted(tmp_path):
    path = population_file(tmp_path, {"missing": [0]})
    report = check_file(str(path))
    assert not report.problems, report.problems
    assert "4 respondents x 5 items" in report.summary and any("1 cells hold a missing-answer code" in n
                                                               for n in report.notes)
    cfg = compose("inventory=ipip25", f"population.path={path}")
    validate("config", cfg)
    pop = expand_population(cfg)["population"]
    assert pop["name"] == "mine" and pop["path"] == str(path) and pop["split_half"] == 100
    assert load_human(pop).blanked == 1
    # the file's content is part of the run: its hash moves with it; defaults keep the old hash
    assert config_hash(expand_population(cfg)) != config_hash(compose("inventory=ipip25"))
    # the missing code on the command line replaces the file's
    no_code = population_file(tmp_path, {}, name="no_code")
    with pytest.raises(ConfigError, match="value 0 .*missing: \\[0\\]"):
        validate("config", compose("inventory=ipip25", f"population.path={no_code}"))
    cfg = compose("inventory=ipip25", f"population.path={no_code}", "population.missing=[0]")
    validate("config", cfg)
    assert load_human(expand_population(cfg)["population"]).blanked == 1


def test_a_population_files_instrument_is_an_id_or_a_path_and_mismatches_suggest_a_valid_override(tmp_path):
    inv_path = tmp_path / "my_inventory.yaml"
    inv_path.write_text(yaml.safe_dump({**yaml.safe_load((INVENTORY_DIR / "ipip25.yaml").read_text()), "id": "my25"}))
    by_path = population_file(tmp_path, {"instrument": str(inv_path), "missing": [0]})
    assert not check_file(str(by_path)).problems
    with pytest.raises(ConfigError) as err:
        validate("config", compose("inventory=ipip25", f"population.path={by_path}"))
    assert f"choose inventory=custom inventory.path={inv_path}" in str(err.value)
    validate("config", compose("inventory=custom", f"inventory.path={inv_path}", f"population.path={by_path}"))
    with pytest.raises(ConfigError, match="population psych_bfi lines up with instrument 'ipip25', not 'bfi': "
                                          "choose inventory=ipip25"):
        validate("config", compose("inventory=bfi", "population=psych_bfi"))
    # the old double meaning, refused with where to write it
    twice = population_file(tmp_path, {"reference": {"kind": "csv", "path": "x.csv", "instrument": "ipip25"}},
                            name="twice")
    problems = check_file(str(twice)).problems
    assert any("field 'reference.instrument': write it at the population's top level (instrument: ipip25)" in p
               for p in problems)
    with pytest.raises(ConfigError, match="population.path=.* is a whole population; drop population=psych_bfi"):
        validate("config", compose("inventory=ipip25", "population=psych_bfi", f"population.path={by_path}"))


# -- alphas: all items and the model's items, labelled; and in the printed summary -------------------

def test_human_alpha_over_the_whole_instrument_and_over_the_models_items(tmp_path):
    rng = np.random.default_rng(0)
    ids = [it.id for it in IPIP25.items]
    latent = rng.normal(size=(200, 5))
    raw = {it.id: np.clip(np.round(3.5 + latent[:, "ACENO".index(it.trait)] * (it.keyed or 1) +
                                   rng.normal(scale=0.8, size=200)), 1, 6) for it in IPIP25.items}
    human = HumanResponses("test", pd.DataFrame(raw, index=[str(i) for i in range(200)]))
    asked = ids[:13]  # max_items=13: A1-A5, C1-C5, E1-E3
    model = human.answers.iloc[:60][asked] + 0.0
    section, _ = population_fidelity(model, human, IPIP25, n_splits=3)
    keyed = keyed_scores(human.answers, IPIP25)
    assert section["alpha_human_full"]["O"] == pytest.approx(pg.cronbach_alpha(keyed[[f"O{i}" for i in range(1, 6)]])[0])
    assert section["alpha_human"]["E"] == pytest.approx(pg.cronbach_alpha(keyed[["E1", "E2", "E3"]])[0])
    assert section["alpha_human_full"]["E"] > section["alpha_human"]["E"]  # alpha grows with the items
    assert section["alpha_n_items"] == {"A": 5, "C": 5, "E": 3}
    assert section["alpha_n_items_full"] == {"A": 5, "C": 5, "E": 5, "N": 5, "O": 5}
    lo, hi = section["alpha_human_ci95"]["E"]
    assert lo < section["alpha_human"]["E"] < hi
    text = fidelity_text({"fidelity": {**section, "method": "none", "population": "mine", "temperature": 1.0,
                                       "missing_codes": [0], "human_missing_cells": 7}})
    assert "human, same items" in text and "human, all items" in text and "(5 items)" in text
    assert "human split-half (sd)" in text and "7 human cells blanked" in text
    assert f"{section['alpha_human_full']['O']:.3f}" in text


# -- corpora ----------------------------------------------------------------------------------------

def corpus_file(tmp_path, name="posts.tsv"):
    rows = [("#AUTHID", "NAME", "text")] + [("a1", "Ann Smith", f"ann writes post {i} about gardens") for i in range(3)] + \
        [("b2", "Bob Jones", f"bob writes post {i} about boats") for i in range(2)] + [("c3", "", "cy wrote once")]
    path = tmp_path / name
    path.write_text("\n".join("\t".join(r) for r in rows) + "\n")
    return path


def test_corpus_authors_min_documents_labels_and_a_hash_column(tmp_path):
    path = corpus_file(tmp_path)
    base = {"path": str(path), "text_column": "text", "author_column": "AUTHID"}  # '#AUTHID' without its '#'
    corpora, skipped = select_corpora(base)
    assert {a: len(c.documents) for a, c in corpora.items()} == {"a1": 3, "b2": 2, "c3": 1} and not skipped
    corpora, skipped = select_corpora({**base, "min_documents": 2})
    assert list(corpora) == ["a1", "b2"] and skipped == {"c3": 1}
    corpora, _ = select_corpora({**base, "authors": ["b2", "a1"]})
    assert list(corpora) == ["b2", "a1"]
    with pytest.raises(BenchError, match=r"field 'authors': \['zed'\] not found"):
        select_corpora({**base, "authors": ["zed"]})
    labelled = load_corpora(str(path), author_column="AUTHID", label_column="NAME")
    assert labelled["a1"].name == "Ann Smith" and labelled["c3"].name == "c3"
    # the persona addresses the person by the label, and the one-document author is skipped, not fatal
    personas = corpus_personas({"set": "profile", "kind": "profile", "k": 1, "header": "You are {name}.",
                                "corpus": {**base, "label_column": "NAME", "held_out": 0.3}}, IPIP25)
    assert [p.id for p in personas] == ["a1", "b2"] and personas[0].text.startswith("You are Ann Smith.")
    # on the command line: no quoting, and a cp1252 corpus read with its encoding
    cfg = compose("persona=profile", f"persona.corpus.path={path}", "persona.corpus.author_column=AUTHID",
                  "persona.corpus.authors=[a1,b2]", "persona.corpus.min_documents=2", "persona.corpus.sep=tab")
    validate("config", cfg)
    win = tmp_path / "win.csv"
    win.write_bytes("author,text\nz\xe9,caf\xe9 au lait\n".encode("cp1252"))
    with pytest.raises(BenchError, match="row 2 of the file.*encoding=cp1252"):
        load_corpora(str(win), author_column="author")
    assert list(load_corpora(str(win), author_column="author", encoding="cp1252")) == ["z\xe9"]


def test_self_reports_from_a_tsv(tmp_path):
    path = tmp_path / "reports.tsv"
    path.write_text("author\tE\tA\tmbti\na1\t4.5\t2\tENFP\nb2\t1\t3\t\n")
    reports = load_self_reports(str(path), (1.0, 5.0), ("E", "A", "C", "N", "O"))
    assert reports["a1"].trait_scores == {"E": 4.5, "A": 2.0} and reports["a1"].mbti == "ENFP"
    assert reports["b2"].mbti is None
    win = tmp_path / "reports.csv"
    win.write_bytes("author,E\nz\xe9,3\n".encode("cp1252"))
    with pytest.raises(BenchError, match="byte 11 .*row 2 of the file.*report.self_report_encoding=cp1252"):
        load_self_reports(str(win))
    assert list(load_self_reports(str(win), encoding="cp1252")) == ["z\xe9"]
    semi = tmp_path / "semicolons.csv"
    semi.write_text("author;E\na1;4.5\n")
    assert load_self_reports(str(semi), sep="semicolon")["a1"].trait_scores == {"E": 4.5}
    with pytest.raises(BenchError, match="field 'author': column missing"):  # the given separator is the one used
        load_self_reports(str(semi), sep="comma")


def test_self_report_reading_options_are_checked_and_leave_report_names_alone(tmp_path):
    from bench.pipelines.clone_report import report_run_name

    path = tmp_path / "reports.csv"
    path.write_text("author,E\na1,3\n")
    base = compose_clone(f"corpus.path={path}", f"report.self_report={path}")
    assert base["report"]["self_report_encoding"] is None and base["report"]["self_report_sep"] is None
    validate("clone", base)
    validate("clone", compose_clone(f"corpus.path={path}", f"report.self_report={path}", "report.self_report_sep=tab"))
    with pytest.raises(ConfigError, match="report.self_report_encoding.*nope.*not a known text encoding"):
        validate("clone", compose_clone(f"corpus.path={path}", f"report.self_report={path}",
                                        "report.self_report_encoding=nope"))
    with pytest.raises(ConfigError, match="report.self_report_sep.*::"):
        validate("clone", compose_clone(f"corpus.path={path}", f"report.self_report={path}", "report.self_report_sep=::"))
    set_ = compose_clone("corpus.path=/c", f"report.self_report={path}", "report.self_report_encoding=cp1252")
    older = {**base, "report": {k: v for k, v in base["report"].items() if not k.startswith("self_report_")}}
    # unset, the new fields leave the report's run name (its resume key) as it was before they existed
    assert report_run_name(base, "a1", "x") == report_run_name(older, "a1", "x")
    assert report_run_name(set_, "a1", "x") != report_run_name(base, "a1", "x")


def test_one_results_dir_for_the_clone_report():
    cfg = compose_clone("corpus.path=/c", "results_dir=/tmp/elsewhere")
    assert cfg["results_dir"] == "/tmp/elsewhere" and "results_dir" not in cfg["report"]
    with pytest.raises(ConfigError, match="report.results_dir.*results_dir=..., as every tool's do"):
        compose_clone("corpus.path=/c", "report.results_dir=/tmp/x")


def compose_clone(*overrides):
    from bench.config.load import compose as compose_config

    return compose_config("clone", overrides)


def test_one_authors_prompts_share_a_batch_when_personas_come_from_corpora():
    personas = [Persona(f"author{k}", "", f"You are author {k}.") for k in range(3)]
    templates = [Template("describe", "{stem}")]
    plan = build_plan(IPIP25, personas, templates, ["original"], [1.0], 1, 0, max_items=5)
    grouped = Administrator(plan, None, "logprob", batch_size=4, group_by_persona=True).units()
    plain = Administrator(plan, None, "logprob", batch_size=4).units()

    def personas_in(admin_units, admin):
        return [{admin.conditions[c][0].persona.id for c, _ in u.keys} for u in admin_units]

    admin = Administrator(plan, None, "logprob", batch_size=4, group_by_persona=True)
    assert all(len(s) == 1 for s in personas_in(grouped, admin))
    assert [len(u.keys) for u in grouped] == [4, 1] * 3
    assert any(len(s) > 1 for s in personas_in(plain, admin))  # other runs keep their batches
    assert sorted(k for u in grouped for k in u.keys) == sorted(k for u in plain for k in u.keys)


# -- end to end on the shared psych::bfi copy: a raw CSV to a fidelity section ----------------------

@pytest.mark.skipif(shared_data() is None or not (shared_data() / "psych_bfi" / "bfi.csv").is_file(),
                    reason="shared psych::bfi copy absent")
def test_a_raw_csv_population_runs_end_to_end_with_its_own_name(tmp_path, capsys):
    from bench.pipelines.run import run

    pop = tmp_path / "my_bfi.yaml"
    pop.write_text(yaml.safe_dump({"name": "my_bfi", "instrument": "ipip25",
                                   "reference": {"kind": "csv", "path": str(shared_data() / "psych_bfi" / "bfi.csv")},
                                   "split_half": 5}))
    cfg = compose("inventory=ipip25", f"population.path={pop}", "max_items=10", "templates=[describe]",
                  "option_orders=[original]", "temperatures=[1.0]", "repetitions=1", f"results_dir={tmp_path / 'r'}",
                  "progress=false")
    run_dir = run(cfg)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    fid = metrics["fidelity"]
    assert fid["population"] == "my_bfi" and fid["n_human"] == 2800 and fid["n_questions"] == 10
    assert fid["alpha_n_items"] == {"A": 5, "C": 5} and fid["alpha_n_items_full"]["O"] == 5
    assert fid["alpha_human_full"]["N"] == pytest.approx(0.814, abs=5e-4)  # psych's own figure
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["population"]["name"] == "my_bfi"
    printed = capsys.readouterr().out
    assert "population my_bfi" in printed and "human, all items" in printed
    assert not math.isnan(fid["mean_wd"])
