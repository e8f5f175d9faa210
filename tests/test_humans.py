"""A human reference on its own (`persona-bench humans`), the split-half estimate's interval and warning,
and the human norms of a run: whatever way the population names its instrument, on the items asked."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from bench.cli import main
from bench.instruments import load_inventory
from bench.metrics.distances import count_split_half_bounds, split_half_interval
from bench.populations.human import HumanResponses
from bench.populations.reference import human_norms, norms_group, population_instrument, read_population_file
from bench.populations.reference_fidelity import split_half_warnings
from tests.conftest import REPO, shared_data


def population_file(tmp_path, answers: str, instrument: str = "ipip25") -> str:
    data = tmp_path / "answers.csv"
    data.write_text(answers)
    body = {"name": "mine", "reference": {"kind": "csv", "path": str(data), "respondent_column": "pid"},
            "instrument": instrument}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(body))
    return str(path)


def test_humans_prints_psych_bfi_alphas_with_intervals_and_loads_no_model(tmp_path):
    root = shared_data()
    if root is None or not (root / "psych_bfi" / "bfi.csv").is_file():
        pytest.skip("shared psych_bfi not available")
    code = ("import sys; from bench.cli import main; "
            f"rc = main(['humans', 'population=psych_bfi', 'results_dir={tmp_path}']); "
            "heavy = [m for m in ('torch', 'transformers', 'vllm', 'bench.engines.transformers_engine') "
            "if m in sys.modules]; print('LOADED', heavy); sys.exit(rc)")
    env = {**os.environ, "PERSONA_BENCH_N_BOOT": "10", "PERSONA_BENCH_SHARED_DATA": str(root)}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout  # no engine library imported, so no model loaded
    rows = {}
    for line in done.stdout.splitlines():  # the first table: alpha and omega per trait
        if line.startswith("| "):
            rows.setdefault(line.split("|")[1].strip(), line)
    for trait, alpha in {"A": ".703", "C": ".727", "E": ".762", "N": ".814", "O": ".600"}.items():
        assert f"0{alpha} [" in rows[trait]  # alpha with its interval
    written = tmp_path / "humans-psych_bfi"
    assert {p.name for p in written.iterdir()} == {"humans.json", "humans.md"}
    fig = pd.read_json(written / "humans.json", typ="series")
    bound = fig["split_half"]["mean_tv"]
    assert bound["ci_low"] < bound["mean"] < bound["ci_high"] and bound["n"] == 100
    assert {n["trait"]: n["n"] for n in fig["norms"]} == dict.fromkeys("EACNO", 2800)


def test_humans_refuses_a_population_of_one_respondent_before_any_work(tmp_path, capsys):
    path = population_file(tmp_path, "pid,A1,A2,A3,A4,A5\n1,2,3,4,5,6\n")
    assert main(["humans", f"population={path}", f"results_dir={tmp_path / 'out'}"]) == 2
    err = capsys.readouterr().err
    assert "population mine: field 'reference'" in err and "answers.csv" in err and "1 usable respondent" in err
    assert not (tmp_path / "out").exists()
    assert main(["humans", "population=nobody"]) == 2
    assert "population=nobody: neither a shipped population" in capsys.readouterr().err
    assert main(["humans", "seed=1"]) == 2 and "give population=" in capsys.readouterr().err


def test_split_half_interval_holds_its_estimate_and_takes_the_splits_noise_out():
    rng = np.random.default_rng(0)
    # resamples whose means differ by sd 0.01 (the respondents), each split adding sd 0.05 (the splits)
    boot = 0.2 + rng.normal(0, 0.01, (400, 1)) + rng.normal(0, 0.05, (400, 2))
    lo, hi = split_half_interval(0.2, 0.05, 100, boot)
    half = 1.96 * np.sqrt(0.01**2 + 0.05**2 / 100)
    assert lo < 0.2 < hi and (hi - lo) / 2 == pytest.approx(half, rel=0.25)
    assert 0 < lo  # a distance's interval stays above 0
    assert np.isnan(split_half_interval(0.2, 0.05, 100, boot[:2])).all()  # too few resamples
    assert np.isnan(split_half_interval(0.2, 0.0, 100, np.full((50, 2), 0.2))).all()  # no spread at all


def test_count_split_half_estimates_keep_their_figures_and_gain_an_interval():
    inv = load_inventory("ipip25")
    scales = {q: inv.scale_of(inv.item(q)) for q in ("A1", "A2")}
    counts = {"A1": np.array([5, 10, 15, 10, 10, 10.0]), "A2": np.array([2, 8, 20, 20, 5, 5.0])}
    a = count_split_half_bounds(counts, scales, n_splits=30, seed=3, n_boot=30)
    b = count_split_half_bounds(counts, scales, n_splits=30, seed=3, n_boot=0)
    for k in a:  # the resamples come from their own generator: the splits' figures do not move
        assert (a[k]["mean"], a[k]["sd"]) == (b[k]["mean"], b[k]["sd"])
        assert a[k]["ci_low"] < a[k]["mean"] < a[k]["ci_high"] and np.isnan(b[k]["ci_low"])


def test_a_model_inside_the_split_half_interval_is_warned_about():
    section = {"method": "none", "n_human": 60, "mean_tv": 0.236, "mean_wd": 0.5,
               "human_lower_bound": {"mean_tv": {"mean": 0.240, "sd": 0.02, "ci_low": 0.230, "ci_high": 0.250},
                                     "mean_wd": {"mean": 0.3, "sd": 0.02, "ci_low": 0.28, "ci_high": 0.32}}}
    found = split_half_warnings(section)
    assert [w["figure"] for w in found] == ["fidelity[none].mean_tv"]
    assert "[0.230, 0.250] from 60 respondents" in found[0]["reason"]
    assert split_half_warnings({**section, "mean_tv": 0.197}) == []


def test_human_norms_follow_an_instrument_named_by_path_and_the_items_asked(tmp_path):
    rows = "pid,A1,A2,A3,A4,A5,C1\n" + "".join(f"{i},{1 + i % 6},{1 + (i * 2) % 6},{1 + (i * 5) % 6},3,{1 + i % 4},2\n"
                                                for i in range(1, 9))
    inv_path = str(REPO / "bench" / "inventories" / "ipip25.yaml")
    pop = read_population_file(population_file(tmp_path, rows, instrument=inv_path))
    inv = load_inventory("ipip25")
    assert population_instrument(pop) == inv.id  # the run compares ids, so a path finds its norms too
    from bench.populations.reference import load_human

    human = load_human(pop)
    assert norms_group(human, pop) == "mine"  # the population's name, not its file's path
    full = {n.trait: n for n in human_norms(human, inv, group="mine")}
    asked = {n.trait: n for n in human_norms(human, inv, ["A1", "A2", "C1"], group="mine")}
    keyed = pd.DataFrame({it.id: human.answers[it.id] if it.keyed > 0 else 7 - human.answers[it.id]
                          for it in inv.items if it.id in ("A1", "A2")})
    assert asked["A"].mean == pytest.approx(keyed.mean(axis=1).mean())  # only the items the model answered
    assert asked["A"].mean != pytest.approx(full["A"].mean) and asked["A"].group == "mine"
    assert set(asked) == {"A", "C"} and asked["C"].n == 8


def test_resampled_respondents_stay_distinct():
    h = HumanResponses("x", pd.DataFrame({"A1": [1.0, 2.0, 3.0]}, index=["a", "b", "c"]))
    r = h.resample([0, 0, 2])
    assert r.answers["A1"].tolist() == [1.0, 1.0, 3.0] and r.answers.index.is_unique
