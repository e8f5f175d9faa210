"""Model comparison (#15 part 4): the comparison's pure functions against scipy, statsmodels and pingouin on
made tables; misuse named before model work; and two real model entries (SmolLM2 fp32 from its package,
and the same weights as an `hf` folder in bfloat16, a genuinely different numeric model) compared end to
end on a tiny BFI design, then again (both runs reused), then as run folders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep

from bench.config import validate
from bench.config.load import compose as compose_config
from bench.errors import BenchError, ConfigError
from bench.instruments import inventory_from_config, inventory_node
from bench.metrics import comparison as cmp
from bench.pipelines.compare import CompareError, compare, design_difference
from bench.results.provenance import config_hash
from bench.results.run_folder import run_dir_for
from tests.conftest import model_folder

BFI = inventory_from_config(inventory_node("bfi"))
ITEMS = [it for it in BFI.items if it.trait in ("E", "A")][:8]  # 4 E and 4 A items


def made_scores(shift: float, n_personas: int = 8, seed: int = 0) -> pd.DataFrame:
    """Trait scores of n personas x 2 templates x 2 orders x 2 repetitions, E and A."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_personas):
        for tpl in ("t1", "t2"):
            for order in ("original", "reversed"):
                for rep in range(2):
                    for trait in ("E", "A"):
                        rows.append({"participant_id": f"p{p}|{tpl}|{order}|0|{rep}", "persona_id": f"p{p}",
                                     "persona_target": None, "template_id": tpl, "option_order": order,
                                     "temperature": 0.0, "repetition": rep, "trait": trait,
                                     "score": 3 + p % 3 * 0.4 + shift * (trait == "E") + rng.normal(0, 0.3)})
    return pd.DataFrame(rows)


def made_responses(pull: float, n_personas: int = 6, seed: int = 0) -> pd.DataFrame:
    """Item responses with option distributions over both orders; `pull` moves mass to shown position 1."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_personas):
        level = rng.normal(0, 1)
        for order in ("original", "reversed"):
            perm = list(range(5)) if order == "original" else list(range(4, -1, -1))
            for item in ITEMS:
                logits = -0.5 * (np.arange(5) - (2 + level * item.keyed + rng.normal(0, 0.7))) ** 2
                shown = np.exp(logits[perm])
                shown[0] *= np.exp(pull)
                shown /= shown.sum()
                probs = np.zeros(5)
                probs[perm] = shown  # canonical order
                answer = float(probs @ np.arange(1, 6))
                rows.append({"participant_id": f"p{p}|t|{order}|0|0", "persona_id": f"p{p}", "persona_target": None,
                             "template_id": "t", "option_order": order, "temperature": 0.0, "repetition": 0,
                             "item_id": item.id, "option_permutation": perm, "option_probs": list(probs),
                             "parsed_option": int(np.argmax(shown)) + 1, "invalid": False,
                             "answer": answer, "score": answer if item.keyed > 0 else 6 - answer,
                             "label_mass": float(np.clip(0.9 - 0.1 * pull + rng.normal(0, 0.02), 0, 1))})
    return pd.DataFrame(rows)


# -- the pure functions ----------------------------------------------------------------------------

def test_trait_comparison_is_welch_over_persona_means():
    a, b = made_scores(0.0, seed=1), made_scores(0.6, seed=2)
    table = cmp.trait_comparison({"a": a, "b": b})
    row = table[(table["trait"] == "E") & (table["model"] == "b")].iloc[0]
    ma = a[a["trait"] == "E"].groupby("persona_id")["score"].mean()
    mb = b[b["trait"] == "E"].groupby("persona_id")["score"].mean()
    res = stats.ttest_ind(mb, ma, equal_var=False)
    ci = res.confidence_interval(0.95)
    assert row["diff"] == pytest.approx(mb.mean() - ma.mean())
    assert (row["diff_ci_low"], row["diff_ci_high"]) == pytest.approx((ci.low, ci.high))
    assert row["p"] == pytest.approx(res.pvalue) and row["p"] < 0.05
    assert row["n"] == 8 and row["mean"] == pytest.approx(mb.mean())
    lo, hi = stats.t.interval(0.95, 7, loc=mb.mean(), scale=stats.sem(mb))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi))
    ref = table[table["model"] == "a"]
    assert ref["diff"].isna().all() and ref["p"].isna().all()  # the reference has no difference from itself
    same = table[(table["trait"] == "A") & (table["model"] == "b")].iloc[0]
    assert same["p"] > 0.05  # A was not shifted


def test_persona_profiles_welch_over_conditions():
    a, b = made_scores(0.0, seed=3), made_scores(0.5, seed=4)
    table = cmp.persona_profiles({"a": a, "b": b})
    assert len(table) == 8 * 2 * 2
    row = table[(table["persona_id"] == "p2") & (table["trait"] == "E") & (table["model"] == "b")].iloc[0]

    def conds(s):
        sub = s[(s["persona_id"] == "p2") & (s["trait"] == "E")]
        return sub.groupby(["template_id", "option_order"])["score"].mean().to_numpy()

    res = stats.ttest_ind(conds(b), conds(a), equal_var=False)
    assert row["n"] == 4 and row["p"] == pytest.approx(res.pvalue)
    assert row["diff"] == pytest.approx(conds(b).mean() - conds(a).mean())


def test_accuracy_comparison_against_statsmodels_and_a_hand_z_test():
    table = cmp.accuracy_comparison({"a": (12, 40), "b": (25, 40)})
    b = table.iloc[1]
    p1, p2, pooled = 25 / 40, 12 / 40, 37 / 80
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (2 / 40))
    assert b["p"] == pytest.approx(2 * stats.norm.sf(abs(z)))
    lo, hi = confint_proportions_2indep(25, 40, 12, 40, method="newcomb", compare="diff")
    assert (b["diff_ci_low"], b["diff_ci_high"]) == pytest.approx((lo, hi)) and lo < b["diff"] < hi
    assert b["diff"] == pytest.approx(13 / 40)
    assert table.iloc[0]["ci_low"] < 12 / 40 < table.iloc[0]["ci_high"]
    none = cmp.accuracy_comparison({"a": (0, 10), "b": (0, 10)}).iloc[1]
    assert none["diff"] == 0 and np.isnan(none["p"])  # no variance: no z-test, not a p of 1


def test_alpha_difference_is_pingouins_difference_with_a_paired_bootstrap():
    a, b = made_responses(0.0, n_personas=8, seed=5), made_responses(0.0, n_personas=8, seed=6)
    table = cmp.alpha_difference(b, a, BFI, seed=3)
    row = table[table["trait"] == "E"].iloc[0]

    def alpha(r):
        sub = r[r["item_id"].isin([i.id for i in ITEMS if i.trait == "E"])]
        return pg.cronbach_alpha(sub.pivot_table(index="participant_id", columns="item_id", values="score"))[0]

    assert row["diff"] == pytest.approx(alpha(b) - alpha(a))
    assert row["n_personas"] == 8 and row["diff_ci_low"] <= row["diff"] <= row["diff_ci_high"]
    same = cmp.alpha_difference(a, a, BFI, seed=3).iloc[0]
    assert same["diff"] == 0 and same["diff_ci_low"] == same["diff_ci_high"] == 0  # same personas drawn for both
    few = cmp.alpha_difference(b.query("persona_id in ['p0','p1','p2','p3']"),
                               a.query("persona_id in ['p0','p1','p2','p3']"), BFI)
    assert np.isnan(few["diff_ci_low"]).all()  # 4 personas: no bootstrap interval


def test_position_shares_and_chi_square_against_scipy():
    a, b = made_responses(0.0, seed=7), made_responses(3.0, seed=8)
    shares = {"a": cmp.position_shares(a, BFI, seed=1), "b": cmp.position_shares(b, BFI, seed=1)}
    sb = shares["b"][shares["b"]["option_order"] == "reversed"]
    rev = b[b["option_order"] == "reversed"]
    by_pos = np.sum([np.asarray(p)[perm] for p, perm in zip(rev["option_probs"], rev["option_permutation"])], axis=0)
    assert sb["share"].to_numpy() == pytest.approx(by_pos / by_pos.sum())
    assert sb["mass"].sum() == pytest.approx(len(rev))
    assert (sb["ci_low"] <= sb["share"]).all() and (sb["share"] <= sb["ci_high"]).all()
    assert sb["share"].iloc[0] > shares["a"]["share"].iloc[0]  # the pull to position 1 shows
    test = cmp.position_test(shares)
    row = test[test["option_order"] == "reversed"].iloc[0]
    sa = shares["a"][shares["a"]["option_order"] == "reversed"]
    expected = stats.chi2_contingency(np.vstack([sb["mass"], sa["mass"]]), correction=False)
    assert row["chi2"] == pytest.approx(expected.statistic) and row["p"] == pytest.approx(expected.pvalue)
    assert row["dof"] == 4 and row["p"] < 0.05


def test_label_mass_and_warnings():
    a, b = made_responses(0.0, seed=9), made_responses(5.0, seed=10)
    mass = cmp.label_mass_comparison({"a": a, "b": b})
    ma, mb = (r.groupby("persona_id")["label_mass"].mean() for r in (a, b))
    assert mass.iloc[1]["p"] == pytest.approx(stats.ttest_ind(mb, ma, equal_var=False).pvalue)
    assert mass.iloc[1]["diff"] == pytest.approx(mb.mean() - ma.mean())
    assert mass.iloc[1]["diff"] < 0
    found = cmp.comparison_warnings({"a": {"warnings": [{"figure": "reliability[E]", "reason": "r"}]}, "b": {}},
                                    {"a": 6, "b": 3}, mass)
    figures = [w["figure"] for w in found]
    assert "a: reliability[E]" in figures and "b: label mass" in figures  # b's mean mass is under 0.5
    assert any(w["figure"].startswith("b: alpha difference") for w in found)


def test_design_difference_names_the_field():
    base = compose_config("config", ["inventory=bfi", "persona=traits"])
    other = compose_config("config", ["inventory=bfi", "persona=traits", "model=hf", "model.path=/tmp",
                                      "batch_size=4", "engine=vllm"])
    assert design_difference(base, other) is None  # model and engine are not the design
    field, a, b = design_difference(base, compose_config("config", ["inventory=bfi", "persona=traits",
                                                                    "temperatures=[0.0]"]))
    assert field == "temperatures" and a == [0.0, 0.7, 1.0] and b == [0.0]


# -- misuse ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    (["compare.models=[smollm2]"], "compare.models=[smollm2]: give two or more models"),
    (["compare.models=[smollm2,nope]"], "compare.models[1]=nope: nope is not a model entry"),
    (["compare.models=[smollm2,smollm2]"], "smollm2 named twice: give each its own label"),
    (["compare.models=[smollm2,{model:hf}]"], "compare.models[1] (hf): model.path=null"),
    (["compare.models=[smollm2,{model:hf,path:/tmp,paht:1}]"], "compare.models[1] (hf): model hf: paht"),
    (["compare.models=[smollm2]", "compare.runs=[/no/such/run]"], "compare.runs[0]=/no/such/run: does not exist"),
    (["compare.models=[smollm2]", "compare.runs=[/tmp]"], "compare.runs[0]=/tmp: is not a finished run folder"),
    (["compare.models=[smollm2,{model:hf,path:HF}]", "compare.alpha=1.5"], "compare.alpha=1.5"),
    (["compare.models=[smollm2,{model:hf,path:/tmp}]"], "compare.models[1] (hf): model.path=/tmp: will not load"),
])
def test_bad_compare_config_is_named(overrides, message, tmp_path):
    hf = str(model_folder(tmp_path / "hf"))  # a folder the model check takes (HF in the overrides)
    with pytest.raises(ConfigError, match=None) as err:
        validate("compare", compose_config("compare", [o.replace("path:HF", f"path:{hf}") for o in overrides]))
    assert message in str(err.value)


def test_cli_aliases_and_error(tmp_path):
    from bench.cli import main

    assert main(["compare", "models=[smollm2,unknown_model]", f"results_dir={tmp_path}"]) == 2
    assert not any(tmp_path.iterdir())  # refused before any folder


# -- end to end: two real model entries ------------------------------------------------------------

TINY = ["inventory=bfi", "persona=traits", "persona.ids=[E_high,E_low,A_high,A_low,C_high]", "max_items=3",
        "repetitions=1", "temperatures=[1.0]", "templates=[describe]", "option_orders=[original,reversed]",
        "batch_size=16", "progress=false"]


@pytest.fixture(scope="module")
def compared(tmp_path_factory, smollm2_spec):
    results = tmp_path_factory.mktemp("compare")
    models = f"compare.models=[smollm2,{{model:hf,path:'{smollm2_spec.path}',dtype:bfloat16,label:smollm2_bf16}}]"
    cfg = compose_config("compare", [*TINY, models, f"results_dir={results}"])
    out = compare(cfg)
    return cfg, out, results


@pytest.mark.slow
def test_two_models_compared_end_to_end(compared):
    cfg, out, results = compared
    assert out.name.startswith("compare-") and out.parent == results
    data = json.loads((out / "compare.json").read_text())
    assert data["models"] == ["smollm2", "smollm2_bf16"]
    runs = data["provenance"]["runs"]
    assert runs["smollm2"]["model"]["dtype"] == "float32" and runs["smollm2_bf16"]["model"]["dtype"] == "bfloat16"
    path = runs["smollm2_bf16"]["model"]["path"]
    alone = {"smollm2": compose_config("config", [*TINY, f"results_dir={results}"]),
             "smollm2_bf16": compose_config("config", [*TINY, "model=hf", f"model.path={path}", "model.dtype=bfloat16",
                                                       f"results_dir={results}"])}
    for label, run_cfg in alone.items():  # each run is the one `persona-bench run` makes alone: same hash, folder
        assert runs[label]["config_hash"] == config_hash(run_cfg)
        assert str(run_dir_for(run_cfg)) == runs[label]["folder"]
    traits = pd.DataFrame(data["traits"])
    assert set(traits["trait"]) == {"E", "A", "C"} and set(traits["model"]) == {"smollm2", "smollm2_bf16"}
    assert (traits["n"] == 5).all()
    # real scores from each run: the means are the runs' own persona means
    scores = pd.read_parquet(runs["smollm2_bf16"]["folder"] + "/scores.parquet")
    e = scores[scores["trait"] == "E"].groupby("persona_id")["score"].mean().mean()
    assert traits.query("trait == 'E' and model == 'smollm2_bf16'")["mean"].iloc[0] == pytest.approx(e)
    shares = pd.DataFrame(data["position_shares"])
    assert set(shares["option_order"]) == {"original", "reversed"}
    assert shares.groupby(["model", "option_order"])["share"].sum().to_numpy() == pytest.approx(1.0)
    assert len(data["position_test"]) == 2 and all(0 <= r["p"] <= 1 for r in data["position_test"])
    mass = pd.DataFrame(data["label_mass"])
    assert (mass["mean"] > 0).all() and (mass["mean"] <= 1).all() and mass["ci_low"].notna().all()
    text = (out / "summary.md").read_text()
    assert "smollm2 vs smollm2_bf16" in text and "## Position bias" in text and "## Label mass" in text
    norms = pd.DataFrame(data["human_norms"])  # BFI carries human norms: each run's distance from them
    own = json.loads(open(runs["smollm2"]["folder"] + "/metrics.json").read())["human_norms"]["rows"]
    assert norms.query("model == 'smollm2' and trait == 'E'")["value"].iloc[0] == pytest.approx(
        next(r["diff_sd"] for r in own if r["trait"] == "E"))
    table = pd.read_csv(out / "comparison.csv")
    assert {"traits", "profiles", "position_shares", "label_mass"} <= set(table["section"])


@pytest.mark.slow
def test_compare_again_reuses_the_runs(compared, capsys):
    cfg, out, results = compared
    before = {p: p.stat().st_mtime_ns for p in results.glob("*/parts/*.parquet")}
    assert len({p.parent.parent for p in before}) == 2
    again = compare(cfg)
    assert again == out
    assert {p: p.stat().st_mtime_ns for p in results.glob("*/parts/*.parquet")} == before  # no model work redone
    assert "smollm2 vs smollm2_bf16" in capsys.readouterr().out


@pytest.mark.slow
def test_compare_run_folders_and_refuse_mismatched(compared, tmp_path):
    cfg, out, results = compared
    runs = json.loads((out / "compare.json").read_text())["provenance"]["runs"]
    folders = [runs["smollm2"]["folder"], runs["smollm2_bf16"]["folder"]]
    by_folders = compare(compose_config("compare", [f"compare.runs=[{folders[0]},{folders[1]}]",
                                                    f"results_dir={tmp_path}"]))
    again = json.loads((by_folders / "compare.json").read_text())
    assert again["models"] == ["smollm2", "hf"]
    first = json.loads((out / "compare.json").read_text())
    assert [r["diff"] for r in again["traits"]] == pytest.approx([r["diff"] for r in first["traits"]], nan_ok=True)
    # a run of another design: its folder copied, its saved config changed to fewer personas
    other = tmp_path / "other"
    shutil.copytree(folders[1], other)
    saved = (other / "config.yaml").read_text().replace("  - C_high\n", "", 1)
    (other / "config.yaml").write_text(saved)
    with pytest.raises(CompareError, match=r"different designs: persona\.ids=\[E_high, E_low, A_high, A_low, "
                                           r"C_high\] in smollm2, persona\.ids=\[E_high, E_low, A_high, A_low\]"):
        compare(compose_config("compare", [f"compare.runs=[{folders[0]},{other}]", f"results_dir={tmp_path}"]))
    with pytest.raises(BenchError, match="does not exist"):
        compare(compose_config("compare", [f"compare.runs=[{folders[0]},{tmp_path / 'gone'}]"]))


@pytest.mark.slow
def test_compare_from_the_command_line(compared):
    """Through `persona-bench compare` itself (a Hydra job that composes each model entry inside it): a
    model entry whose run exists already plus a finished run folder, so no model work."""
    from tests.conftest import cli_in_process

    cfg, out, results = compared
    runs = json.loads((out / "compare.json").read_text())["provenance"]["runs"]
    done = cli_in_process("compare", "models=[smollm2]", f"runs=[{runs['smollm2_bf16']['folder']}]", *TINY,
                          f"results_dir={results}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "smollm2 vs hf" in done.stdout


def test_summary_shows_type_accuracy_and_fidelity_side_by_side():
    from pathlib import Path

    from bench.pipelines.compare import analyse, long_table, summary

    runs = {}
    for label, (hits, wd) in {"a": (12, 0.40), "b": (25, 0.25)}.items():
        metrics = {"mbti": {"accuracy": {"n": 40, "exact": hits / 40}},
                   "fidelity": {"method": "traits", "mean_wd": wd, "mean_wd_ci_low": wd - 0.1, "mean_wd_ci_high": wd + 0.1},
                   "warnings": []}
        runs[label] = {"folder": Path(f"/runs/{label}"), "metrics": metrics, "scores": made_scores(0.0, seed=hits),
                       "responses": made_responses(0.0, seed=hits)}
    result = analyse(runs, BFI, seed=0)
    result["design"] = "made"
    acc = result["type_accuracy"].set_index("model")
    assert acc.loc["b", "diff"] == pytest.approx(13 / 40) and acc.loc["b", "p"] < 0.05
    fid = result["fidelity"].set_index("model")
    assert fid.loc["b", "value"] == 0.25 and fid.loc["a", "ci_high"] == pytest.approx(0.5)
    text = summary(result, runs, Path("/out"), 0.05)
    assert "## Type accuracy" in text and "0.325 [" in text  # b minus a, with Newcombe's interval
    assert "## Human fidelity" in text and "0.250 [0.150, 0.350]" in text
    assert {"type_accuracy", "fidelity", "alpha_difference"} <= set(long_table(result)["section"])


@pytest.mark.slow
def test_the_two_embedded_models_side_by_side_and_on_the_leaderboard(tmp_path, smollm2_spec, gemma_spec):
    """The README's first example at tiny size: SmolLM2 (chat) and the base Gemma 3 270M (plain prompts)
    on BFI-44 with trait personas, compared, then both on one leaderboard."""
    from bench.leaderboard import build_leaderboard

    cfg = compose_config("compare", [*TINY, "compare.models=[smollm2,gemma3_270m]", f"results_dir={tmp_path / 'runs'}"])
    out = compare(cfg)
    data = json.loads((out / "compare.json").read_text())
    assert data["models"] == ["smollm2", "gemma3_270m"]
    runs = data["provenance"]["runs"]
    formats = {label: json.loads(open(r["folder"] + "/provenance.json").read())["prompt_format"]
               for label, r in runs.items()}
    assert formats == {"smollm2": "chat", "gemma3_270m": "plain"}
    traits = pd.DataFrame(data["traits"])
    gemma = traits[traits["model"] == "gemma3_270m"]
    assert len(gemma) == 3 and gemma["diff"].notna().all() and gemma["p"].between(0, 1).all()
    mass = pd.DataFrame(data["label_mass"]).set_index("model")
    assert mass.loc["gemma3_270m", "mean"] > 0.5  # the plain cue puts most of the mass on the digits
    text = (out / "summary.md").read_text()
    assert "smollm2 vs gemma3_270m" in text and "## Trait scores" in text
    stacked = pd.DataFrame(data["paper_tables"]["trait_scores"])  # the paper table, one block per model
    assert set(stacked["model"]) == {"smollm2", "gemma3_270m"}
    # 2 conditions per persona (one template, two orders): too few for an interval, and each row says so
    assert stacked["ci_low"].isna().all() and stacked["warning"].str.startswith("no interval").all()
    board = build_leaderboard([tmp_path / "runs"], tmp_path / "site", plots=False)
    models = {rec.config["model"]["id"] for rec in board.runs}
    assert models == {"smollm2", "gemma3_270m"}
    index = (tmp_path / "site" / "index.html").read_text()
    assert "gemma3_270m" in index and "smollm2" in index
