"""Hostile but fair input: every file a user hands persona-bench, wrong in turn.

Each case writes real files into tmp_path and asserts either a named error (a BenchError whose message
names the file, the field and the value) or the correct result; never a bare exception, never a
traceback from the command line. Prompts are rendered with the real SmolLM2 tokenizer, so a brace in
user text is checked where it would do harm: in the text the model reads.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO, cli_in_process, compose

from bench.errors import BenchError
from bench.instruments import InventoryError, load_inventory

TIMEOUT = 600
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
DEEP = "items: " + "[" * 100_000 + "]" * 100_000 + "\n"


def repo_state() -> str:
    """What git sees in the worktree (ignored build output left out): a test must not change it."""
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO,
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module", autouse=True)
def nothing_written_outside_tmp_path():
    before = repo_state()
    yield
    assert repo_state() == before, "a bad-input test wrote into the repository"


def named(exc_info, *parts) -> str:
    """The error's message, checked to name each part (file, field, value) and to be a BenchError."""
    msg = str(exc_info.value)
    assert isinstance(exc_info.value, BenchError), type(exc_info.value)
    for p in parts:
        assert str(p) in msg, f"{p!r} not in {msg!r}"
    return msg


# ---------------------------------------------------------------------------------------------------
# inventories

LIKERT = {
    "id": "tiny", "name": "Tiny", "version": "1", "source": "tests", "licence": "CC0", "kind": "likert",
    "stem": "I am someone who {text}",
    "scale": {"values": [1, 2, 3, 4, 5], "labels": ["No", "Rather no", "Neither", "Rather yes", "Yes"]},
    "traits": {"E": "Extraversion", "A": "Agreeableness"}, "scoring": "mean",
    "items": [{"id": "e1", "text": "is talkative.", "trait": "E", "keyed": "+"},
              {"id": "a1", "text": "is kind.", "trait": "A", "keyed": "-"}],
}
BIPOLAR = {
    "id": "pairs", "name": "Pairs", "version": "1", "source": "tests", "licence": "CC0", "kind": "bipolar",
    "scale": {"values": [1, 2, 3, 4, 5], "labels": ["Left", "Rather left", "Between", "Rather right", "Right"]},
    "traits": {"IE": "I/E"}, "scoring": "dichotomy",
    "dichotomies": {"IE": {"low": "I", "high": "E", "constant": 10, "cutoff": 12}},
    "items": [{"id": "p1", "left": "quiet", "right": "loud", "trait": "IE", "keyed": "+"}],
}


def write(tmp_path, data, name="inv.yaml"):
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def with_(base, path, value):
    """A copy of `base` with the dotted `path` set to `value` (or removed for the `DROP` marker)."""
    data = copy.deepcopy(base)
    keys = path.split(".")
    target = data
    for k in keys[:-1]:
        target = target[int(k)] if isinstance(target, list) else target[k]
    last = int(keys[-1]) if isinstance(target, list) else keys[-1]
    if value is DROP:
        del target[last]
    else:
        target[last] = value
    return data


DROP = object()
REQUIRED = ("id", "name", "version", "source", "licence", "kind", "scale", "traits", "scoring", "items")


@pytest.mark.parametrize("field", REQUIRED)
def test_inventory_without_a_required_field_names_it(tmp_path, field):
    path = write(tmp_path, with_(LIKERT, field, DROP))
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    named(err, path, f"missing required field {field!r}")


WRONG = [
    ("id", [1], "field 'id': [1] must be a non-empty string"),
    ("name", "", "field 'name': '' must be a non-empty string"),
    ("version", [], "field 'version': [] must be a string or number"),
    ("kind", "ranking", "field 'kind': 'ranking' is not one of"),
    ("stem", "I am someone who", "field 'stem': 'I am someone who' must be a string containing '{text}'"),
    ("stem", 7, "field 'stem': 7"),
    ("scale", "1-5", "field 'scale': '1-5' must be a mapping"),
    ("scale.values", ["a", "b"], "field 'scale.values': ['a', 'b'] must be a list of integers"),
    ("scale.values", [1, 1, 2, 3, 4], "must be distinct and increasing"),
    ("scale.labels", ["No", "Yes"], "field 'scale.labels': 2 labels for 5 values"),
    ("scale.labels", ["No", "", "x", "y", "z"], "field 'scale.labels'"),
    ("traits", [], "field 'traits': [] must be a non-empty mapping"),
    ("scoring", "median", "field 'scoring': 'median' is not one of"),
    ("items", {}, "field 'items': {} must be a non-empty list"),
    ("items", [], "field 'items': [] must be a non-empty list"),
    ("items.0", "is talkative", "item #1: 'is talkative' must be a mapping"),
    ("items.0.trait", "X", "item 'e1': field 'trait': 'X' is not a declared trait"),
    ("items.0.keyed", "*", "item 'e1': field 'keyed': '*' is not one of '+', '-'"),
    ("items.0.keyed", True, "item 'e1': field 'keyed': True is not one of"),
    ("items.0.text", "", "item 'e1': field 'text': '' must be a non-empty string"),
    ("items.0.text", ["is", "talkative"], "item 'e1': field 'text': ['is', 'talkative']"),
    ("items.0.left", "quiet", "item 'e1': field 'left': 'quiet' is only used by bipolar items"),
    ("items.0.colour", "red", "item 'e1': unknown field 'colour'"),
    ("items.1.id", "e1", "item 'e1': field 'id': 'e1' is duplicated"),
    ("items.1.id", None, "item #2: field 'id': None must be a non-empty string"),
    ("extra", 1, "unknown field 'extra'"),
    ("norms", {"n": 100, "E": {"mean": float("nan"), "sd": float("inf")}},
     "field 'norms.E': mean=nan, sd=inf: mean a finite number, sd a finite number > 0"),
    ("norms", {"n": 100, "E": {"mean": float("-inf"), "sd": 0.5}}, "field 'norms.E': mean=-inf: mean a finite number"),
]


@pytest.mark.parametrize("field, value, message", WRONG, ids=[f"{f}={v!r}" for f, v, _ in WRONG])
def test_inventory_field_wrong_in_turn_is_named(tmp_path, field, value, message):
    path = write(tmp_path, with_(LIKERT, field, value))
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    named(err, path, message)


SCALES = [([], "must have at least 2 options"), ([1], "[1] must have at least 2 options"),
          (list(range(1, 11)), "10 options; a prompt labels options with the digits 1-9"),
          (list(range(1, 13)), "12 options; a prompt labels options with the digits 1-9"),
          (list(range(0, 11)), "11 options")]


@pytest.mark.parametrize("base", [LIKERT, BIPOLAR], ids=["likert", "bipolar"])
@pytest.mark.parametrize("values, message", SCALES, ids=[f"{len(v)}-options" for v, _ in SCALES])
def test_a_scale_the_prompt_cannot_label_is_refused_when_read(tmp_path, base, values, message):
    data = with_(base, "scale", {"values": values, "labels": [f"option {v}" for v in values]})
    path = write(tmp_path, data)
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    named(err, path, "field 'scale.values'", message)


@pytest.mark.parametrize("n", [2, 9])
def test_two_to_nine_options_load(tmp_path, n):
    data = with_(LIKERT, "scale", {"values": list(range(1, n + 1)), "labels": [f"o{v}" for v in range(n)]})
    assert len(load_inventory(write(tmp_path, data)).scale.values) == n


FILES = [
    ("top-level-list", yaml.safe_dump([LIKERT]), "top level must be a mapping of fields, got a list"),
    ("empty", "", "top level must be a mapping of fields, got an empty file"),
    ("scalar", "just a sentence\n", "top level must be a mapping of fields, got a str"),
    ("not-utf8", b"id: \xff\xfe tiny\n", "not valid YAML"),
    ("binary", bytes(range(256)) * 4, "not valid YAML"),
    ("tabs", "id: tiny\nitems:\n\t- {id: e1}\n", "not valid YAML"),
    ("syntax", "id: [tiny\nname: x\n", "not valid YAML"),
    ("alias-bomb", BOMB, "refused as an alias bomb"),
    ("deep", DEEP, "nested over 64 deep"),
    ("two-documents", "id: a\n---\nid: b\n", "not valid YAML"),
    ("duplicate-key", "id: tiny\n" + yaml.safe_dump(LIKERT, sort_keys=False),
     "key 'id' appears twice in one mapping (lines 1 and 2); YAML would keep only the last value"),
    ("duplicate-nested-key", yaml.safe_dump(LIKERT, sort_keys=False).replace("  trait: E\n", "  trait: E\n  trait: A\n"),
     "key 'trait' appears twice in one mapping (lines 28 and 29)"),
]


@pytest.mark.parametrize("content, message", [f[1:] for f in FILES], ids=[f[0] for f in FILES])
def test_a_bad_inventory_file_is_named(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    named(err, path, message)


@pytest.mark.parametrize("field", ["constant", "cutoff"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_a_dichotomy_threshold_of_nan_or_inf_is_named(tmp_path, field, value):
    path = write(tmp_path, with_(BIPOLAR, f"dichotomies.IE.{field}", value))
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    named(err, path, f"field {field!r}: {value!r} must be a number, finite (not nan or inf)")


def test_a_huge_inventory_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # a 50 MB file, sparse: refused by its size, before it is read
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    named(err, path, "52,428,800 bytes, over the 8,388,608-byte limit")


def test_a_folder_instead_of_an_inventory_is_named(tmp_path):
    (tmp_path / "inv.yaml").mkdir()
    with pytest.raises(InventoryError) as err:
        load_inventory(tmp_path / "inv.yaml")
    named(err, tmp_path / "inv.yaml", "is a folder, not an inventory file")


def test_a_byte_order_mark_is_read_as_utf8(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + yaml.safe_dump(LIKERT, allow_unicode=True).encode())
    assert load_inventory(path).id == "tiny"


# ---------------------------------------------------------------------------------------------------
# surveys

SURVEY = {"id": "s", "name": "S", "version": "1", "source": "tests", "licence": "CC0", "kind": "survey",
          "items": [{"id": "Q1", "text": "How is life?", "options": ["Good", "Bad", {"label": "Refused",
                                                                                  "code": 99, "refusal": True}]}]}
SURVEY_WRONG = [
    ("items.0.options", ["Only"], "question 'Q1': field 'options': ['Only'] must be a list of at least 2"),
    ("items.0.options", [f"o{i}" for i in range(10)], "question 'Q1': field 'options': 10 options"),
    ("items.0.options", [f"o{i}" for i in range(12)], "question 'Q1': field 'options': 12 options"),
    ("items.0.options", "Good, Bad", "question 'Q1': field 'options': 'Good, Bad'"),
    ("items.0.options", ["Good", "Good"], "label(s) Good listed more than once"),
    ("items.0.options", [{"label": "No", "refusal": True}, "Yes"], "refusal options must come after"),
    ("items.0.options", ["Yes", {"label": "No", "code": "two"}], "option 'No': field 'code': 'two' must be a number"),
    ("items.0.randomize", "sometimes", "question 'Q1': field 'randomize': 'sometimes' is not one of"),
    ("items.0.text", "", "question 'Q1': field 'text': '' must be the question wording"),
    ("items", [SURVEY["items"][0], SURVEY["items"][0]], "question 'Q1': field 'id': 'Q1' is duplicated"),
    ("items", "Q1", "field 'items': 'Q1' must be a non-empty list"),
    ("items.0.options", ["Good", {"label": "Bad", "ordinal": float("nan")}],
     "option 'Bad': field 'ordinal': nan must be a number, finite (not nan or inf)"),
    ("items.0.options", ["Good", {"label": "Bad", "ordinal": float("inf")}],
     "option 'Bad': field 'ordinal': inf must be a number, finite (not nan or inf)"),
    ("items.0.options", ["Good", {"label": "Bad", "code": float("nan")}],
     "option 'Bad': field 'code': nan must be a number, finite (not nan or inf)"),
]


@pytest.mark.parametrize("field, value, message", SURVEY_WRONG, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(SURVEY_WRONG)])
def test_survey_field_wrong_in_turn_is_named(tmp_path, field, value, message):
    path = write(tmp_path, with_(SURVEY, field, value), "survey.yaml")
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    named(err, path, message)


def test_a_nine_option_survey_question_loads(tmp_path):
    path = write(tmp_path, with_(SURVEY, "items.0.options", [f"o{i}" for i in range(9)]), "survey.yaml")
    assert len(load_inventory(path).items[0].scale.labels) == 9


# ---------------------------------------------------------------------------------------------------
# user text is data: braces reach the prompt literally

PAYLOADS = ["{persona}", "{0}", "{left.__class__.__mro__}", "{{}}", "}{", "{item}", "{options}", "%s", "${x}"]


@pytest.fixture(scope="module")
def renderer_and_prompts():
    from transformers import AutoTokenizer

    from bench.administration import PromptRenderer
    from bench.engines import resolve_model

    cfg = compose()
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(cfg["model"]).path)
    return PromptRenderer(tokenizer, cfg["prompt"]["answer_prefix"]), cfg["prompt"]


def rendered(renderer_and_prompts, inventory, personas) -> list[tuple[str, str]]:
    """(item id, prompt) for every prompt of a small plan (each template, item and option order) as the
    model would read it."""
    from bench.administration import build_plan, select_templates
    from bench.administration.prompts import messages_for, question_text

    renderer, prompt_cfg = renderer_and_prompts
    templates = select_templates(prompt_cfg, inventory.kind, None)
    plan = build_plan(inventory, personas, templates, ["original", "reversed"], [0.0], 1, seed=0)
    out = []
    for p in plan.participants:
        for item in plan.items:
            q = question_text(inventory, p, item, plan.option_permutation(p, item))
            out.append((item.id, renderer.render(messages_for(p, [q], [], renderer.answer_prefix, item.id))[0]))
    return out


def instrument_with(tmp_path, field: str, payload: str):
    """An instrument file whose `field` carries the payload; what the prompt must show verbatim."""
    from bench.personas import Persona

    persona = (Persona("none", "", ""),)
    if field == "item text":
        return with_(LIKERT, "items.0.text", f"likes {payload} a lot."), persona, f"likes {payload} a lot."
    if field == "stem":
        return with_(LIKERT, "stem", f"Honestly {payload}: {{text}}"), persona, f"Honestly {payload}: is talkative."
    if field == "scale label":
        return with_(LIKERT, "scale.labels.2", f"a {payload}"), persona, f"= a {payload}"
    if field == "left pole":
        return with_(BIPOLAR, "items.0.left", f"quiet {payload}"), persona, f"quiet {payload}"
    if field == "right pole":
        return with_(BIPOLAR, "items.0.right", f"loud {payload}"), persona, f"loud {payload}"
    if field == "bipolar label":
        return with_(BIPOLAR, "scale.labels.0", f"{payload} left"), persona, f"= {payload} left"
    if field == "survey question":
        return with_(SURVEY, "items.0.text", f"How is {payload}?"), persona, f"How is {payload}?"
    if field == "survey option":
        return with_(SURVEY, "items.0.options.0", f"Good {payload}"), persona, f"= Good {payload}"
    if field == "persona text":
        return LIKERT, (Persona("p", "", f"You are {payload} and proud."),), f"You are {payload} and proud."
    raise AssertionError(field)


FIELDS = ["item text", "stem", "scale label", "left pole", "right pole", "bipolar label", "survey question",
          "survey option", "persona text"]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("field", FIELDS)
def test_braces_in_user_text_reach_the_prompt_verbatim(tmp_path, renderer_and_prompts, field, payload):
    data, personas, expected = instrument_with(tmp_path, field, payload)
    inventory = load_inventory(write(tmp_path, data))
    prompts = rendered(renderer_and_prompts, inventory, personas)
    first = [text for item_id, text in prompts if item_id == inventory.items[0].id]
    assert first and all(expected in text for text in first)  # every template, both option orders
    assert not any("<class" in text for _, text in prompts)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_braces_in_corpus_passages_and_names_reach_the_prompt(tmp_path, renderer_and_prompts, payload):
    from bench.personas.text import corpus_personas

    folder = tmp_path / "writing"
    folder.mkdir()
    (folder / "a.txt").write_text(f"I am talkative {payload} at parties.")
    (folder / "b.txt").write_text(f"Kindness matters {payload} to me.")
    inventory = load_inventory(write(tmp_path, LIKERT))
    cfg = {"kind": "rag", "set": "rag", "corpus": {"path": str(folder)}, "k": 2, "name": f"Ann {payload}",
           "header": "You are {name}. Here is what you wrote:"}
    prompts = rendered(renderer_and_prompts, inventory, corpus_personas(cfg, inventory))
    for _, text in prompts:
        assert f"You are Ann {payload}. Here is what you wrote:" in text
        assert f"talkative {payload} at parties." in text and f"Kindness matters {payload} to me." in text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_braces_in_demographic_labels_reach_the_prompt(tmp_path, renderer_and_prompts, payload):
    from bench.personas import Persona
    from bench.personas.demographic import demographic_text

    survey = load_inventory("bfi_demographics")
    pop = {"attributes": {"GENDER": {"bio": "My gender: {label}.", "portray": "who is {label}"},
                          "AGE": {}}}
    profile = pd.Series({"GENDER": f"F {payload}", "AGE": f"{payload} years"})
    bio = demographic_text(profile, pop, survey, "bio")
    portray = demographic_text(profile, pop, survey, "portray")
    assert bio == f"My gender: F {payload}. {payload} years"
    assert portray == f"Answer the following questions as if you were a person who is F {payload}, {payload} years."
    inventory = load_inventory(write(tmp_path, LIKERT))
    prompts = rendered(renderer_and_prompts, inventory, (Persona("bio:1", "", bio),))
    assert prompts and all(bio in text for _, text in prompts)


TEMPLATES = [("{persona}", "placeholder {persona} is not one of"),
             ("{item.__class__.__mro__}", "placeholder {item.__class__.__mro__} is not one of"),
             ("{item!r}", "placeholder {item!r}"), ("{n:>5}", "placeholder {n:>5}"), ("{0}", "placeholder {0}"),
             ("Say {item", "expected '}'"), ("a } b {item}", "Single '}'")]


@pytest.mark.parametrize("text, message", TEMPLATES, ids=[t for t, _ in TEMPLATES])
def test_a_prompt_template_may_name_only_its_placeholders(text, message):
    from bench.administration import select_templates

    with pytest.raises(BenchError) as err:
        select_templates({"likert": [{"id": "mine", "text": text}]}, "likert", None)
    named(err, "prompt template 'mine' (likert)", message)


def test_literal_braces_in_a_template_are_written_doubled(renderer_and_prompts):
    from bench.administration import select_templates
    from bench.templates import fill

    (t,) = select_templates({"likert": [{"id": "json", "text": 'Reply as {{"answer": n}}: {item}'}]}, "likert", None)
    assert fill(t.text, {"item": "{x}", "left": "", "right": "", "options": "", "n": 5}) == 'Reply as {"answer": n}: {x}'


# ---------------------------------------------------------------------------------------------------
# persona sets and population configs


def test_persona_set_with_braces_keeps_them_and_duplicate_ids_are_named():
    from bench.personas.check import check_persona_set
    from bench.personas.sets import expand_personas

    texts = [{"id": str(i), "text": f"You are {p}."} for i, p in enumerate(PAYLOADS)]
    problems, _ = check_persona_set({"set": "mine", "personas": texts})
    assert problems == []
    assert [p.text for p in expand_personas({"personas": texts})] == [f"You are {p}." for p in PAYLOADS]
    problems, _ = check_persona_set({"set": "mine", "personas": texts + [{"id": "0", "text": "again"}]})
    assert problems == ["field 'personas' entry '0': 'id': '0' is duplicated"]


@pytest.mark.parametrize("header, message", [
    ("You are {persona}.", "placeholder {persona} is not one of {name}"),
    ("You are {name.__class__}.", "placeholder {name.__class__} is not one of {name}"),
    ("You are {name", "expected '}'"),
])
def test_a_persona_header_may_name_only_name(header, message):
    from bench.personas.check import check_persona_set

    problems, _ = check_persona_set({"set": "rag", "kind": "rag", "corpus": {"path": "x"}, "header": header})
    assert len(problems) == 1 and "field 'header'" in problems[0] and message in problems[0]


@pytest.mark.parametrize("key", ["bio", "portray"])
@pytest.mark.parametrize("text", ["I am {persona}.", "I am {label.__class__}.", "I am {label"])
def test_a_population_bio_may_name_only_label(key, text):
    from bench.populations.check import check_attribute

    problems = check_attribute("GENDER", {key: text}, load_inventory("bfi_demographics"), "attributes.GENDER")
    assert len(problems) == 1 and f"field 'attributes.GENDER.{key}'" in problems[0] and "{label}" in problems[0]


def test_validate_names_duplicate_persona_ids_in_a_file(tmp_path):
    from bench.tools.filecheck import check_file

    path = write(tmp_path, {"set": "mine", "personas": [{"id": "a", "text": "{x}"}, {"id": "a", "text": "y"}]},
                 "personas.yaml")
    report = check_file(str(path))
    assert report.kind == "persona set" and report.problems == ["field 'personas' entry 'a': 'id': 'a' is duplicated"]


# ---------------------------------------------------------------------------------------------------
# human reference data: CSV, .sav, OpinionQA folders


def reference(spec):
    from bench.populations.human import load_reference

    return load_reference(spec)


CSV_CASES = [
    ("missing-column", "id,A1\n1,3\n", {"A1": "A1", "A2": "A2"}, "column 'A2' (item 'A2') not found"),
    ("not-a-number", "A1\n3\nthree\n", {"A1": "A1"}, "column 'A1': value 'three' (line 3) is not a number"),
    ("off-the-scale", "A1\n3\n7\n", {"A1": "A1"}, "column 'A1': value 7 (respondent 2) is not one of"),
    ("not-utf8", b"A1\n3\n\xff\xfe\n", {"A1": "A1"}, "not UTF-8 text"),
    ("torn-quote", 'A1,A2\n3,"4\n', {"A1": "A1"}, "not a readable CSV file"),
    ("empty", "", {"A1": "A1"}, "not a readable CSV file"),
    ("columns-a-list", "A1\n3\n", ["A1"], "field 'columns': ['A1'] must map item ids to CSV columns"),
    ("unknown-item", "X9\n3\n", {"X9": "X9"}, "item id(s) ['X9'] are not in instrument 'ipip25'"),
    # pandas would read the second A1 as "A1.1" and the first would silently be the item's column
    ("duplicate-column", "A1,A2,A1\n3,4,5\n", {"A1": "A1"},
     "column 'A1' appears twice in the header (columns 1 and 3); give each column its own name"),
    ("duplicate-column-tsv", "A2\tA1\tA1\n3\t4\t5\n", {"A1": "A1"}, "column 'A1' appears twice in the header (columns 2 and 3)"),
]


@pytest.mark.parametrize("content, columns, message", [c[1:] for c in CSV_CASES], ids=[c[0] for c in CSV_CASES])
def test_human_reference_csv_is_named(tmp_path, content, columns, message):
    path = write(tmp_path, content, "answers.csv")
    with pytest.raises(BenchError) as err:
        reference({"kind": "csv", "path": str(path), "columns": columns, "instrument": "ipip25"})
    named(err, path, message)


def big_table(path, rows: int, seed: int = 0, ids: bool = False):
    """A population table shaped like psych::bfi (the 25 ipip25 items, gender, education, age); at 3,000,000
    rows it is the issue's 171 MB file (docs/performance.md, "Validating large files")."""
    import numpy as np

    rng = np.random.default_rng(seed)
    cols = {f"{t}{i}": rng.integers(1, 7, rows) for t in "ACENO" for i in range(1, 6)}
    cols.update(gender=rng.integers(1, 3, rows), education=rng.integers(1, 6, rows), age=rng.integers(14, 90, rows))
    frame = pd.DataFrame(cols)
    if ids:
        frame.insert(0, "pid", [f"p{k}" for k in range(rows)])
    frame.to_csv(path, index=False)
    return path


def test_a_large_table_is_checked_in_chunks_as_the_run_reads_it(tmp_path, capsys):
    from bench.populations.human.answer_table import check_answer_csv, load_answer_csv

    path = big_table(tmp_path / "big.csv", 2_000)
    whole = load_answer_csv(path, instrument=load_inventory("ipip25"), missing=[6])
    checked = check_answer_csv(path, instrument=load_inventory("ipip25"), missing=[6], rows=300)
    assert (checked.n, checked.n_items, checked.blanked) == (whole.n, whole.n_items, whole.blanked) == (2_000, 25, whole.blanked)
    assert whole.blanked > 0
    assert "big.csv: 2,000 rows read (100%)" in capsys.readouterr().err  # the progress line
    # a bad cell in a later chunk: the same message as the whole read, the file's own line number
    lines = path.read_text().splitlines()
    lines[1500] = lines[1500].replace(lines[1500].split(",")[0], "three", 1)
    path.write_text("\n".join(lines) + "\n")
    for load in (lambda: load_answer_csv(path, instrument=load_inventory("ipip25")),
                 lambda: check_answer_csv(path, instrument=load_inventory("ipip25"), rows=300)):
        with pytest.raises(BenchError) as err:
            load()
        named(err, path, "column 'A1': value 'three' (line 1501) is not a number")
    # a respondent id repeated in another chunk
    ids = big_table(tmp_path / "ids.csv", 1_000, ids=True)
    lines = ids.read_text().splitlines()
    lines[900] = "p3," + lines[900].split(",", 1)[1]
    ids.write_text("\n".join(lines) + "\n")
    with pytest.raises(BenchError) as err:
        check_answer_csv(ids, instrument=load_inventory("ipip25"), respondent_column="pid", rows=300)
    named(err, ids, "column 'pid': respondent id 'p3' is duplicated")


def test_validate_checks_a_large_population_table_with_progress(tmp_path):
    path = big_table(tmp_path / "big.csv", 3_000)
    pop = write(tmp_path, {"name": "big", "reference": {"kind": "csv", "path": str(path)}, "instrument": "ipip25"},
                "pop.yaml")
    out = cli_in_process("validate", str(pop), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"{pop}: ok (population config big: 3,000 respondents x 25 items)" in out.stdout
    assert f"{path}: 3,000 rows read (100%)" in out.stderr


def test_human_reference_csv_loads_when_right(tmp_path):
    path = write(tmp_path, "A1,A2\n3,4\n6,\n", "answers.csv")
    human = reference({"kind": "csv", "path": str(path), "columns": {"A1": "A1", "A2": "A2"}, "instrument": "ipip25"})
    assert human.n == 2 and human.answers.loc["1", "A2"] == 4 and pd.isna(human.answers.loc["2", "A2"])


@pytest.mark.parametrize("kind", ["csv", "sav"])
def test_a_folder_as_a_human_reference_file_is_named(tmp_path, kind):
    folder = tmp_path / f"wave.{kind}"
    folder.mkdir()
    (folder / "junk.bin").write_bytes(os.urandom(64))
    spec = {"kind": kind, "path": str(folder), "columns": {"A1": "A1"}, "instrument": "ipip25"} if kind == "csv" else \
        {"kind": kind, "path": str(folder), "survey": "atp_w92"}
    with pytest.raises(BenchError) as err:
        reference(spec)
    named(err, folder, "is a folder, not")


@pytest.mark.parametrize("content", [os.urandom(2048), b"$FL2@(#) SPSS DATA FILE" + b"\0" * 200, b""],
                         ids=["random", "torn-header", "empty"])
def test_a_garbage_sav_is_named(tmp_path, content):
    path = write(tmp_path, content, "wave.sav")
    with pytest.raises(BenchError) as err:
        reference({"kind": "sav", "path": str(path), "survey": "atp_w92"})
    named(err, path, "not a readable SPSS .sav file")


INFO = ('key,question,option_mapping,option_ordinal\n'
        'Q1,"How is life?","{1.0: \'Good\', 2.0: \'Bad\', 99.0: \'Refused\'}","[1, 2]"\n')
OPINIONQA = [
    ("no-info", None, {"CREGION_data.json": "{}"}, "info.csv: file not found"),
    ("info-not-utf8", b"key\n\xff\n", {}, "not UTF-8 text"),
    ("info-missing-column", "key,question\nQ1,x\n", {}, "column 'option_mapping' missing"),
    ("mapping-not-literal", INFO.replace("{1.0: 'Good'", "{1.0: Good"), {"CREGION_data.json": "{}"},
     "column 'option_mapping'"),
    ("mapping-text-codes", INFO.replace("1.0: 'Good'", "'a': 'Good'"), {"CREGION_data.json": "{}"},
     "must map numeric codes to labels"),
    ("no-data", INFO, {}, "no {ATTR}_data.json files"),
    ("torn-json", INFO, {"CREGION_data.json": '{"Q1": {"Northeast": {"Good": 3, "Ba'}, "CREGION_data.json: not valid JSON"),
    ("json-not-utf8", INFO, {"CREGION_data.json": b'{"Q1": "\xff"}'}, "CREGION_data.json: not UTF-8 text"),
    ("json-a-list", INFO, {"CREGION_data.json": "[1, 2]"}, "top level must be a mapping"),
    ("unknown-question", INFO, {"CREGION_data.json": '{"Q9": {}}'}, "question 'Q9' is not in info.csv"),
    ("negative-count", INFO, {"CREGION_data.json": '{"Q1": {"Northeast": {"Good": -3}}}'},
     "count -3 must be a non-negative number"),
    ("unknown-option", INFO, {"CREGION_data.json": '{"Q1": {"Northeast": {"Great": 3}}}'}, "option 'Great' is not one of"),
]


@pytest.mark.parametrize("info, files, message", [c[1:] for c in OPINIONQA], ids=[c[0] for c in OPINIONQA])
def test_opinionqa_folder_is_named(tmp_path, info, files, message):
    wave = tmp_path / "American_Trends_Panel_W92"
    wave.mkdir()
    if info is not None:
        write(wave, info, "info.csv")
    for name, content in files.items():
        write(wave, content, name)
    with pytest.raises(BenchError) as err:
        reference({"kind": "opinionqa", "path": str(wave)})
    named(err, wave, message)


def test_opinionqa_folder_loads_when_right(tmp_path):
    wave = tmp_path / "w"
    wave.mkdir()
    write(wave, INFO, "info.csv")
    write(wave, '{"Q1": {"Northeast": {"Good": 3, "Bad": 1}, "South": {"Refused": 2}}}', "CREGION_data.json")
    counts = reference({"kind": "opinionqa", "path": str(wave)})
    assert list(counts.counts_of("Q1")) == [3.0, 1.0, 2.0]


# ---------------------------------------------------------------------------------------------------
# corpora


def corpus(path, **kw):
    from bench.writing.corpus import load_corpus

    return load_corpus(str(path), **kw)


def test_an_empty_corpus_folder_is_named(tmp_path):
    with pytest.raises(BenchError) as err:
        corpus(tmp_path)
    named(err, tmp_path, "no .txt or .md files in it")


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG\r\n\x1a\n" + os.urandom(64), "not UTF-8 text (byte 1)"),
    (b"plain words\x00\x01\x02", "holds NUL bytes (byte 12): a binary file"),
], ids=["png", "nul"])
def test_a_binary_txt_in_a_corpus_folder_is_named(tmp_path, content, message):
    (tmp_path / "ok.txt").write_text("fine words")
    (tmp_path / "bad.txt").write_bytes(content)
    with pytest.raises(BenchError) as err:
        corpus(tmp_path)
    named(err, tmp_path / "bad.txt", message)


INVISIBLE = {"empty": b"", "whitespace": b" \t\r\n\n  ", "control": b" \x01\x02\x07\x0b\x1f\x7f\n",
             "zero-width": "\u200b\u200d\ufeff \u2028".encode()}


@pytest.mark.parametrize("content", INVISIBLE.values(), ids=INVISIBLE)
def test_a_corpus_whose_only_document_shows_nothing_is_named(tmp_path, content):
    (tmp_path / "only.txt").write_bytes(content)
    with pytest.raises(BenchError) as err:
        corpus(tmp_path)
    named(err, tmp_path, "no document holds any text (1 empty or only whitespace and control characters: only.txt)")


def test_an_empty_document_beside_others_is_left_out_and_named(tmp_path):
    from bench.writing.corpus import EmptyDocuments

    (tmp_path / "a.txt").write_text("real words")
    for name, content in INVISIBLE.items():
        (tmp_path / f"{name}.txt").write_bytes(content)
    with pytest.warns(EmptyDocuments, match=r"4 of 5 documents are empty or only whitespace and control characters, "
                                            r"left out: control.txt, empty.txt, whitespace.txt, zero-width.txt"):
        assert corpus(tmp_path).texts == ["real words"]


def test_a_corpus_table_of_invisible_texts_is_named(tmp_path):
    from bench.writing.corpus import EmptyDocuments

    path = write(tmp_path, 'text\n"\x01\x02"\n" \x07\u200b "\n', "c.csv")
    with pytest.raises(BenchError) as err:
        corpus(path)
    named(err, path, "column 'text' holds no non-empty text (row 1, row 2: only whitespace and control characters)")
    path = write(tmp_path, 'text\n"\x01\x02"\nhello\n', "c.csv")
    with pytest.warns(EmptyDocuments, match="1 of 2 documents are empty or only whitespace and control characters, "
                                            "left out: row 1"):
        assert corpus(path).texts == ["hello"]


def test_a_byte_order_mark_in_a_txt_is_dropped(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfHello {name} there")
    assert corpus(tmp_path).texts == ["Hello {name} there"]


TABLES = [
    ("no-text-column", "body\nhello\n", ".csv", {}, "field 'text_column': column 'text' not found; columns are body"),
    ("csv-not-utf8", b"text\n\xff\xfe\n", ".csv", {}, "not UTF-8 text"),
    ("csv-torn-quote", 'text\n"hello\n', ".csv", {}, "not a readable CSV file"),
    ("csv-empty", "", ".csv", {}, "not a readable CSV file"),
    ("jsonl-torn", '{"text": "a"}\n{"text": "b"}\n{"text": "c', ".jsonl", {}, "line 3: not valid JSON"),
    ("jsonl-not-object", '{"text": "a"}\n["b"]\n', ".jsonl", {}, "line 2: expected a JSON object, got list"),
    ("jsonl-not-utf8", b'{"text": "a"}\n{"text": "\xff"}\n', ".jsonl", {}, "line 2: not UTF-8 text"),
    ("jsonl-text-a-mapping", '{"text": {"a": 1}}\n', ".jsonl", {}, "row 1: field 'text': {'a': 1} must be text"),
    ("jsonl-deep", "[" * 100_000 + "]" * 100_000 + "\n", ".jsonl", {}, "line 1: JSON nested too deep"),
    ("bad-date", "text,date\nhi,yesterday-ish\n", ".csv", {"date_column": "date"}, "row 1: field 'date': 'yesterday-ish'"),
    ("docx", "text\n", ".docx", {}, "expected a folder of .txt/.md files, a .jsonl or .csv file"),
    ("duplicate-column", "text,author,text\nhi,a,there\n", ".csv", {}, "column 'text' appears twice in the header"),
]


@pytest.mark.parametrize("content, suffix, kw, message", [t[1:] for t in TABLES], ids=[t[0] for t in TABLES])
def test_a_bad_corpus_table_is_named(tmp_path, content, suffix, kw, message):
    path = write(tmp_path, content, f"corpus{suffix}")
    with pytest.raises(BenchError) as err:
        corpus(path, **kw)
    named(err, path, message)


def test_a_jsonl_corpus_with_braces_and_a_bom_loads_as_written(tmp_path):
    path = write(tmp_path, b'\xef\xbb\xbf{"text": "a {persona}"}\n\n{"text": "b \\u2028 }{"}\n', "c.jsonl")
    assert corpus(path).texts == ["a {persona}", "b \u2028 }{"]


# ---------------------------------------------------------------------------------------------------
# self-reports

REPORTS = [
    ("scale-strings", "scale: [low, high]\ntraits: {E: 3}\n", "field 'scale': ['low', 'high'] must be [low, high]"),
    ("scale-reversed", "scale: [5, 1]\ntraits: {E: 3}\n", "field 'scale': [5, 1]"),
    ("scale-three", "scale: [1, 3, 5]\ntraits: {E: 3}\n", "field 'scale': [1, 3, 5]"),
    ("out-of-scale", "scale: [0, 100]\ntraits: {E: 120}\n", "field 'traits.E': 120 outside scale [0, 100]"),
    ("out-of-inventory-scale", "traits: {E: 7}\n", "field 'traits.E': 7 outside the inventory's scale [1, 5]"),
    ("unknown-trait", "traits: {X: 3}\n", "field 'traits.X': 'X' is not a trait of the inventory (E, A, C, N, O)"),
    ("not-a-number", "traits: {E: high}\n", "field 'traits.E': 'high' is not a number"),
    ("a-boolean", "traits: {E: yes}\n", "field 'traits.E': 'True' is not a number"),
    ("nan", "traits: {E: .nan}\n", "field 'traits.E': nan is not a finite number"),
    ("traits-a-list", "traits: [3, 4]\n", "field 'traits': [3, 4] must map trait codes to numbers"),
    ("unknown-field", "trait: {E: 3}\n", "unknown field(s) 'trait'"),
    ("mbti", "mbti: XYZW\n", "field 'mbti': 'XYZW' is not a type"),
    ("top-level-list", "- E: 3\n", "expected a mapping (author, scale, traits, mbti or authors), got a list"),
    ("empty", "", "got an empty file"),
    ("alias-bomb", BOMB, "refused as an alias bomb"),
    ("authors-a-list", "authors: [ann, bob]\n", "field 'authors': ['ann', 'bob'] must map author ids"),
]


@pytest.mark.parametrize("content, message", [r[1:] for r in REPORTS], ids=[r[0] for r in REPORTS])
def test_a_bad_self_report_is_named(tmp_path, content, message):
    from bench.writing.corpus import load_self_reports

    path = write(tmp_path, content, "me.yaml")
    with pytest.raises(BenchError) as err:
        load_self_reports(str(path), (1.0, 5.0), ("E", "A", "C", "N", "O"))
    named(err, path, message)


@pytest.mark.parametrize("content, message", [
    ("name,E\nann,3\n", "field 'author': column missing; columns are name, E"),
    ("author,E\nann,3\nann,4\n", "field 'author': 'ann' is listed more than once"),
    ("author,E\nann,9\n", "field 'traits.E': 9 outside the inventory's scale"),
    ("author,Q\nann,3\n", "field 'traits.Q': 'Q' is not a trait"),
    (b"author,E\n\xff,3\n", "not UTF-8 text"),
], ids=["no-author", "duplicate-author", "off-scale", "unknown-trait", "not-utf8"])
def test_a_bad_self_report_csv_is_named(tmp_path, content, message):
    from bench.writing.corpus import load_self_reports

    path = write(tmp_path, content, "reports.csv")
    with pytest.raises(BenchError) as err:
        load_self_reports(str(path), (1.0, 5.0), ("E", "A", "C", "N", "O"))
    named(err, path, message)


def test_a_self_report_on_its_own_scale_maps_onto_the_inventory(tmp_path):
    from bench.writing.corpus import load_self_reports

    path = write(tmp_path, "author: ann\nscale: [0, 100]\ntraits: {E: 100, N: 0}\n", "me.yaml")
    assert load_self_reports(str(path), (1.0, 6.0), ("E", "N"))["ann"].trait_scores == {"E": 6.0, "N": 1.0}


# ---------------------------------------------------------------------------------------------------
# the real command line: named errors, no traceback, nothing written outside tmp_path


def bench_cli(tmp_path, *args, real: bool = False):
    """`persona-bench ...` from inside tmp_path: the CLI's main in this process, or (real) a `python -m bench`
    process running this checkout's code."""
    if real:
        env = {**os.environ, "PYTHONPATH": str(REPO), "PERSONA_BENCH_DEBUG": ""}
        proc = subprocess.run([sys.executable, "-m", "bench", *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=TIMEOUT, env=env)
    else:
        proc = cli_in_process(*args, cwd=tmp_path)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


def cli_case(tmp_path, name):
    """The files one command-line case points at, and its arguments."""
    runs = f"results_dir={tmp_path / 'results'}"
    if name == "inventory.path bomb":
        path = write(tmp_path, BOMB, "bomb.yaml")
        return ["plan", "--no-time", f"inventory.path={path}", runs], [path, "alias bomb"]
    if name == "inventory.path deep":
        path = write(tmp_path, DEEP, "deep.yaml")
        return ["plan", "--no-time", f"inventory.path={path}", runs], [path, "nested over 64 deep"]
    if name == "inventory.path 12 options":
        values = list(range(1, 13))
        path = write(tmp_path, with_(LIKERT, "scale", {"values": values, "labels": [f"o{v}" for v in values]}))
        return ["plan", "--no-time", f"inventory.path={path}", runs], [path, "field 'scale.values'", "12 options"]
    if name == "inventory.path folder":
        (tmp_path / "inv.yaml").mkdir()
        return ["plan", "--no-time", f"inventory.path={tmp_path / 'inv.yaml'}", runs], ["inv.yaml", "inventory"]
    if name == "population.reference.path garbage folder":
        folder = tmp_path / "garbage"
        folder.mkdir()
        (folder / "x.sav").write_bytes(os.urandom(512))
        return (["plan", "--no-time", "inventory=atp_w92", "persona=demographic", "population=atp_w92_sav",
                 f"population.reference.path={folder}", runs], [folder, "is a folder, not an SPSS .sav file"])
    if name == "population.reference.path garbage sav":
        path = write(tmp_path, os.urandom(512), "wave.sav")
        return (["plan", "--no-time", "inventory=atp_w92", "persona=demographic", "population=atp_w92_sav",
                 f"population.reference.path={path}", runs], [path, "not a readable SPSS .sav file"])
    if name == "validate bomb, deep, huge, folder":
        bomb, deep = write(tmp_path, BOMB, "bomb.yaml"), write(tmp_path, DEEP, "deep.yaml")
        huge = tmp_path / "huge.yaml"
        with open(huge, "wb") as fh:
            fh.truncate(50 * 1024 * 1024)
        (tmp_path / "folder.yaml").mkdir()
        return (["validate", str(bomb), str(deep), str(huge), str(tmp_path / "folder.yaml")],
                [f"{bomb}: its aliases", f"{deep}: lists and mappings nested over 64 deep",
                 f"{huge}: 52,428,800 bytes, over the", f"{tmp_path / 'folder.yaml'}: is a folder",
                 "4 problems in 4 of 4 files"])
    if name == "validate syntax error keeps line and column":
        path = write(tmp_path, "id: x\nitems:\n\t- a\n", "tabs.yaml")
        return ["validate", str(path)], [path, "not valid YAML", "line 3, column 1"]
    if name == "an accented unquoted override":  # Hydra's own parse error, with how quoting fixes it
        return (["plan", "--no-time", "persona=rag", "persona.corpus.authors=[anna,chloé]", runs],
                ["error: command line: LexerNoViableAltException: persona.corpus.authors=[anna,chloé] (at 'é', "
                 "character 34); quote a value that holds accents", 'key=[anna,"chloé"] (with single quotes around the '
                 "whole override for the shell), or escape the character with a backslash"])
    if name == "validate nan, inf and a duplicate key":
        nan, inf = float("nan"), float("inf")
        inv = write(tmp_path, with_(LIKERT, "norms", {"n": 100, "E": {"mean": nan, "sd": inf}}), "inv.yaml")
        survey = write(tmp_path, with_(SURVEY, "items.0.options", ["Good", {"label": "Bad", "ordinal": nan}]), "s.yaml")
        twice = write(tmp_path, "id: tiny\n" + yaml.safe_dump(LIKERT, sort_keys=False), "twice.yaml")
        pop = write(tmp_path, {"name": "mine", "reference": {"kind": "psych_bfi"}, "instrument": "ipip25",
                               "demographics": "bfi_demographics", "temperature": nan,
                               "attributes": {"AGE": {"column": "age", "bins": {"Under 18": [0, inf]}}}}, "pop.yaml")
        return (["validate", str(inv), str(survey), str(twice), str(pop)],
                [f"{inv}: inventory: field 'norms.E': mean=nan, sd=inf: mean a finite number",
                 f"{survey}: survey: question 'Q1': option 'Bad': field 'ordinal': nan must be a number, finite",
                 f"{twice}: key 'id' appears twice in one mapping (lines 1 and 2)",
                 f"{pop}: population config: field 'attributes.AGE.bins.Under 18': [0, inf] must be [low, high], finite",
                 f"{pop}: population config: field 'temperature': nan must be a number >= 0, finite (not nan or inf)",
                 "5 problems in 4 of 4 files"])
    raise AssertionError(name)


CLI = ["inventory.path bomb", "inventory.path deep", "inventory.path 12 options", "inventory.path folder",
       "population.reference.path garbage folder", "population.reference.path garbage sav",
       "validate bomb, deep, huge, folder", "validate syntax error keeps line and column",
       "validate nan, inf and a duplicate key", "an accented unquoted override"]


@pytest.mark.subprocess
@pytest.mark.parametrize("name", CLI)
def test_the_command_line_names_bad_input_without_a_traceback(tmp_path, name):
    args, parts = cli_case(tmp_path, name)
    # two cases run as a real process too: the interpreter's own exit 2, no traceback
    proc = bench_cli(tmp_path, *args, real=name in ("inventory.path bomb", "validate bomb, deep, huge, folder"))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    for p in parts:
        assert str(p) in proc.stderr, (p, proc.stderr)
    assert not (tmp_path / "results").exists()  # refused before a run folder is made


def test_compose_gives_the_quoting_hint_for_an_override_hydra_cannot_parse():
    with pytest.raises(BenchError) as err:
        compose("persona=rag", "persona.corpus.authors=[anna,chloé]")
    named(err, "LexerNoViableAltException: persona.corpus.authors=[anna,chloé] (at 'é', character 34)",
          'key=[anna,"chloé"]', "escape the character with a backslash")
    assert compose("persona=rag", 'persona.corpus.authors=[anna,"chloé"]')["persona"]["corpus"]["authors"] == ["anna", "chloé"]
