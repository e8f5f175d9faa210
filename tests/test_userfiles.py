"""The bounded readers every user and run-folder file goes through."""

from __future__ import annotations

import pytest

from bench.resources import CONF_DIR, INVENTORY_DIR, SURVEY_DIR
from bench.userfiles import UserFileError, load_yaml, parse_yaml, read_jsonl

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))


def test_an_alias_bomb_is_refused_fast_and_named(tmp_path):
    f = tmp_path / "config.yaml"
    f.write_text(BOMB)
    with pytest.raises(UserFileError, match=rf"{f}: its aliases \(\*name\) expand to 490,329,064 values, over the limit"):
        load_yaml(f)
    small = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcd", "bcde"))
    assert len(load_yaml_text(small)["e"]) == 9  # 9^5 leaves: big but bounded, it loads


def load_yaml_text(text: str):
    return parse_yaml(text, "t.yaml")


def test_a_few_aliases_still_load():
    assert parse_yaml("a: &x [1, 2]\nb: *x\n", "f") == {"a": [1, 2], "b": [1, 2]}


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    f = tmp_path / "inv.yaml"
    f.write_bytes(b"#" * 2048)
    with pytest.raises(UserFileError, match="2,048 bytes, over the 1,024-byte limit"):
        load_yaml(f, limit=1024)


def test_missing_folder_and_bad_yaml_are_named(tmp_path):
    with pytest.raises(UserFileError, match="nope.yaml: YAML file not found"):
        load_yaml(tmp_path / "nope.yaml")
    with pytest.raises(UserFileError, match="not a file"):
        load_yaml(tmp_path)
    (tmp_path / "bad.yaml").write_text("a: [1, 2\n")
    with pytest.raises(UserFileError, match=r"bad.yaml: not valid YAML"):
        load_yaml(tmp_path / "bad.yaml")


def test_every_shipped_yaml_passes_the_caps():
    """The caps, and no key twice in one mapping: load_yaml refuses a duplicate key (see below)."""
    files = [*INVENTORY_DIR.glob("*.yaml"), *SURVEY_DIR.glob("*.yaml"), *CONF_DIR.rglob("*.yaml")]
    assert len(files) > 40
    for f in files:
        load_yaml(f)


@pytest.mark.parametrize("text, message", [
    ("id: a\nname: x\nid: b\n", "key 'id' appears twice in one mapping (lines 1 and 3)"),
    ("items:\n  - {id: e1, text: x, id: e2}\n", "key 'id' appears twice in one mapping (line 2)"),
    ("scale:\n  values: [1, 2]\n  values: [1, 2, 3]\n", "key 'values' appears twice in one mapping (lines 2 and 3)"),
    ("1: a\n1.0: b\n", "key 1.0 appears twice in one mapping (lines 1 and 2)"),  # equal keys, written two ways
], ids=["top", "flow", "nested", "equal-numbers"])
def test_a_duplicate_key_is_refused_by_file_key_and_line(tmp_path, text, message):
    f = tmp_path / "mine.yaml"
    f.write_text(text)
    with pytest.raises(UserFileError) as err:
        load_yaml(f)
    assert str(err.value) == f"{f}: {message}; YAML would keep only the last value: give the key once"


def test_a_merge_key_may_be_overridden():
    text = "base: &b {sd: 1, n: 10}\nE:\n  <<: *b\n  sd: 2\n"
    assert parse_yaml(text, "f") == {"base": {"sd": 1, "n": 10}, "E": {"sd": 2, "n": 10}}


def test_jsonl_names_file_and_line(tmp_path):
    f = tmp_path / "backstories.jsonl"
    f.write_text('{"id": "a"}\n\n{"id": "b"}\n{"id": "c", "te')
    with pytest.raises(UserFileError, match=r"backstories.jsonl: line 4: not valid JSON"):
        read_jsonl(f)
    f.write_text('{"id": "a"}\n[1]\n')
    with pytest.raises(UserFileError, match="line 2: expected a JSON object, got list"):
        read_jsonl(f)
    f.write_text('{"id": "a"}\n{"id": "b"}\n')
    assert [r["id"] for r in read_jsonl(f)] == ["a", "b"]
