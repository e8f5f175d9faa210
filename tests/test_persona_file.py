"""Personas from a user's file (`persona=file persona.path=...`, issue 26): every bad file refused before any run
folder or model work, named by file, row and value; `persona.ids` and the seeded `persona.n` sample on it; a user's
own config groups on Hydra's search path; and one tiny run on the embedded model whose rows carry the file's ids."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.conftest import cli_in_process, compose

from bench.commands.hydra_jobs import checked_configs
from bench.config import validate
from bench.errors import ConfigError
from bench.personas import build_personas
from bench.personas.file import check_persona_file
from bench.results.layout import RESPONSES

SMALL = ("max_items=2", "repetitions=1", "temperatures=[1.0]", "templates=[describe]", "option_orders=[original]",
         "progress=false")
THREE = [{"id": "calm", "text": "You are calm and steady.", "target": "N-", "age": 34},
         {"id": "worried", "text": "You worry a lot.", "target": "N+", "age": 51},
         {"id": "curious", "text": "You love new ideas.", "age": 27}]


def jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def population(tmp_path, n: int = 12) -> str:
    return jsonl(tmp_path / "people.jsonl", [{"id": f"p{k:02d}", "text": f"You are person {k}."} for k in range(n)])


FILE_SET = compose("persona=file", "persona.path=/p.jsonl")


def personas_of(**persona) -> list[str]:
    """The ids the run would ask, `persona` set over the shipped file config (built as a run builds them)."""
    cfg = {**FILE_SET, "persona": {**FILE_SET["persona"], **persona}}
    return [p.id for p in build_personas(cfg, None)]


# Each bad file: (file name, bytes, extra overrides, what the message must name: file is added, row and value)
BAD_FILES = {
    "missing file": ("absent.jsonl", None, (), ["persona.path=", "absent.jsonl: does not exist"]),
    "unknown extension": ("people.txt", b"id,text\na,You are a.\n", (), ["must end in .jsonl", "'.txt'"]),
    "bad encoding": ("latin.csv", "id,text\na,You are calm.\nb,Vous \u00eates caf\u00e9.\n".encode("latin-1"), (),
                     ["not UTF-8 text: byte 32 (0xea, row 3 of the file)", "persona.encoding="]),
    "a bad JSON line": ("torn.jsonl", b'{"id": "a", "text": "x"}\n{"id": "b", "te\n', (), ["line 2: not valid JSON"]),
    "no id column": ("noid.csv", b"name,text\na,You are a.\n", (), ["no 'id' column in any row (found: name, text)"]),
    "no text column": ("notext.jsonl", b'{"id": "a", "bio": "x"}\n', ("persona.attributes=[bio]",),
                       ["no 'text' column in any row"]),
    "an empty id": ("emptyid.csv", b"id,text\na,You are a.\n,You are b.\n", (), ["row 3: 'id': '' is empty"]),
    "a duplicate id": ("dup.jsonl", b'{"id": "a", "text": "x"}\n\n{"id": "a", "text": "y"}\n', (),
                       ["line 3: 'id': 'a' is duplicated (first at line 1)"]),
    "an empty text": ("emptytext.yaml", b"- {id: a, text: 'You are a.'}\n- {id: b, text: ''}\n", (),
                      ["entry 2: 'text': '' is empty"]),
    "an unknown column": ("extra.csv", b"id,text,agee\na,You are a.,3\n", ("persona.attributes=[age]",),
                          ["row 2: unknown column 'agee' (allowed: id, text, target, age", "column 'age' (named in "
                           "persona.attributes) is not in the file"]),
    "an empty file": ("empty.jsonl", b"", (), ["empty file: no personas"]),
    "a header only": ("header.csv", b"id,text\n", (), ["no personas"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_persona_file_is_named_before_any_run_folder(tmp_path, case):
    name, content, extra, expected = BAD_FILES[case]
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    results = tmp_path / "results"
    proc = cli_in_process("run", *SMALL, "persona=file", f"persona.path={path}", *extra, f"results_dir={results}",
                          cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    assert not results.exists()  # refused before a run folder is made (and before any model work)
    assert str(path) in proc.stderr
    for part in expected:
        assert part in proc.stderr, (part, proc.stderr)


def test_every_problem_of_a_file_is_listed_at_once_and_validate_checks_it(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("id,text\na,You are a.\na,\n,You are c.\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        validate("config", compose("persona=file", f"persona.path={path}"))
    message = str(err.value)
    assert message.startswith(f"persona.path={path}: 3 problems in the persona file:")
    for line in ("row 3: 'id': 'a' is duplicated (first at row 2)", "row 3: 'text': '' is empty",
                 "row 4: 'id': '' is empty"):
        assert f"{path}: {line}" in message
    proc = cli_in_process("validate", str(path), population(tmp_path), jsonl(tmp_path / "demo.jsonl", THREE))
    assert proc.returncode == 2
    assert f"{path}: persona file: row 3: 'id': 'a' is duplicated" in proc.stderr
    assert "people.jsonl: ok (persona file 12 personas)" in proc.stdout
    assert "demo.jsonl: ok (persona file 3 personas); note: column(s) age: a run refuses them unless " \
           "persona.attributes names them" in proc.stdout
    assert check_persona_file(str(tmp_path / "nothere.csv"))[0] == ["persona file not found"]


def test_ids_target_and_demographic_columns_come_from_the_file(tmp_path):
    path = jsonl(tmp_path / "demo.jsonl", THREE)
    cfg = validate("config", compose("persona=file", f"persona.path={path}", "persona.attributes=[age]"))
    calm, worried, curious = build_personas(cfg, None)
    assert (calm.id, calm.target, calm.text, calm.attributes) == ("calm", "N-", "You are calm and steady.",
                                                                  (("age", "34"),))
    assert curious.target == "" and worried.attributes == (("age", "51"),)
    assert personas_of(path=path, attributes=["age"], ids=["curious", "calm"]) == ["curious", "calm"]
    table = tmp_path / "demo.tsv"
    pd.DataFrame(THREE).to_csv(table, sep="\t", index=False)
    assert personas_of(path=str(table), attributes=["age"]) == ["calm", "worried", "curious"]
    with pytest.raises(ConfigError, match=r"persona.ids: unknown id\(s\) 'nobody'"):
        validate("config", compose("persona=file", f"persona.path={path}", "persona.attributes=[age]",
                                   "persona.ids=[nobody]"))


def test_a_seeded_sample_is_the_same_personas_whatever_the_file_order(tmp_path):
    path = population(tmp_path)
    first = personas_of(path=path, n=5, seed=7)
    assert len(set(first)) == 5 and first == sorted(first)  # drawn without replacement, kept in the file's order
    assert personas_of(path=path, n=5, seed=7) == first
    assert personas_of(path=path, n=5, seed=8) != first
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("".join(reversed(open(path).read().splitlines(keepends=True))))
    assert sorted(personas_of(path=str(shuffled), n=5, seed=7)) == first
    assert personas_of(path=path, n=12) == [f"p{k:02d}" for k in range(12)]
    with pytest.raises(ConfigError, match=r"persona.n=13: more than the 12 personas of .*people.jsonl"):
        validate("config", compose("persona=file", f"persona.path={path}", "persona.n=13"))
    with pytest.raises(ConfigError, match="give persona.ids or persona.n, not both"):
        validate("config", compose("persona=file", f"persona.path={path}", "persona.n=2", "persona.ids=[p01]"))


def test_a_users_config_group_on_the_search_path(tmp_path):
    path = population(tmp_path, 4)
    conf = tmp_path / "conf"
    (conf / "persona").mkdir(parents=True)
    (conf / "persona" / "mine.yaml").write_text(f"set: file\npath: {path}\n")  # only what it uses
    # the shipped config, extended
    (conf / "persona" / "some.yaml").write_text(f"defaults: [file, _self_]\npath: {path}\nn: 2\n")
    [mine] = checked_configs("config", [f"hydra.searchpath=[file://{conf}]", "persona=mine"])
    assert mine["persona"] == {"set": "file", "path": path}
    assert [p.id for p in build_personas(mine, None)] == ["p00", "p01", "p02", "p03"]
    [some] = checked_configs("config", ["--config-dir", str(conf), "persona=some", "seed=3"])
    assert some["persona"]["n"] == 2 and some["persona"]["seed"] == 0 and some["seed"] == 3
    with pytest.raises(ConfigError, match="Could not find 'persona/mine'"):
        checked_configs("config", ["persona=mine"])


def test_the_shipped_file_config_validates_and_asks_for_its_path():
    from bench.resources import CONF_DIR

    proc = cli_in_process("validate", str(CONF_DIR / "persona" / "file.yaml"))
    assert proc.returncode == 0, proc.stderr
    assert "ok (persona set file); note: persona.path is not set" in proc.stdout
    with pytest.raises(ConfigError, match=r"persona.path: missing mandatory value \(\?\?\?\)"):
        compose("persona=file")


@pytest.mark.slow  # an end-to-end run (docs/testing.md): ~60 s on the shared 2 cores, the model loaded by hf_engine
def test_a_tiny_run_from_a_file_on_a_users_search_path(tmp_path, hf_engine):
    """The one end-to-end case: a 3-persona .jsonl named by the user's own persona config, through `persona-bench
    run` (Hydra's main), on the session's embedded model; the responses carry the file's ids."""
    path = jsonl(tmp_path / "three.jsonl", THREE)
    (tmp_path / "conf" / "persona").mkdir(parents=True)
    (tmp_path / "conf" / "persona" / "mine.yaml").write_text(f"defaults: [file, _self_]\npath: {path}\n"
                                                            "attributes: [age]\n")
    results = tmp_path / "results"
    proc = cli_in_process("run", *SMALL, f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "persona=mine",
                          f"results_dir={results}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [run_dir] = results.iterdir()
    assert "-three-logprob-" in run_dir.name  # the file's stem names the persona set
    responses = pd.read_parquet(run_dir / RESPONSES)
    assert list(dict.fromkeys(responses["persona_id"])) == ["calm", "worried", "curious"]
    assert len(responses) == 3 * 2
