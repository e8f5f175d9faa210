"""Construct validity (#14 part 2): MTMM on simulated data with a planted structure, the Campbell-Fiske
checks passing and failing where planted, bad validity configs and behaviour files named, and one tiny
real BFI-44 x IPIP-120 run on SmolLM2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.config import validate
from bench.config.load import compose as compose_config
from bench.engines import EnginePool
from bench.errors import ConfigError
from bench.metrics.mtmm import mtmm
from bench.pipelines.validity import ValidityError, behaviour_scores, validity

TRAITS = list("EACNO")
# planted latent trait intercorrelations (what the "same pattern" check must find in every triangle)
LATENT = np.array([[1.0, 0.3, 0.2, -0.3, 0.25],
                   [0.3, 1.0, 0.3, -0.2, 0.1],
                   [0.2, 0.3, 1.0, -0.35, 0.05],
                   [-0.3, -0.2, -0.35, 1.0, -0.1],
                   [0.25, 0.1, 0.05, -0.1, 1.0]])


def simulate(loadings: dict[str, float], n: int = 6000, method_factor: float = 0.0, seed: int = 11) -> pd.DataFrame:
    """Scores = loading * latent trait + method_factor * a factor shared by every trait of one method + noise,
    scaled to unit variance: the same trait across methods a and b correlates loading_a * loading_b."""
    rng = np.random.default_rng(seed)
    latent = rng.multivariate_normal(np.zeros(5), LATENT, size=n)
    rows = []
    for method, a in loadings.items():
        shared = rng.standard_normal(n)[:, None]
        noise = np.sqrt(1 - a ** 2 - method_factor ** 2)
        x = a * latent + method_factor * shared + noise * rng.standard_normal((n, 5))
        rows.append(pd.DataFrame({"participant_id": np.repeat(np.arange(n), 5).astype(str), "method": method,
                                  "trait": np.tile(TRAITS, n), "score": x.ravel()}))
    return pd.concat(rows, ignore_index=True)


def test_planted_convergent_and_discriminant_correlations_are_recovered():
    loadings = {"bfi": 0.9, "ipip120": 0.8, "behaviour": 0.6}
    res = mtmm(simulate(loadings))
    pairs = res["pairs"]
    conv = pairs[pairs["kind"] == "convergent"]
    assert len(conv) == 5 * 3
    for row in conv.itertuples():
        planted = loadings[row.method_1] * loadings[row.method_2]
        assert abs(row.r - planted) < 0.05, (row.trait_1, row.method_1, row.method_2, row.r, planted)
        assert row.ci_low < row.r < row.ci_high and row.p_greater < 1e-10
    hthm = pairs[pairs["kind"] == "heterotrait_heteromethod"]
    for row in hthm.itertuples():
        planted = loadings[row.method_1] * loadings[row.method_2] * LATENT[TRAITS.index(row.trait_1),
                                                                          TRAITS.index(row.trait_2)]
        assert abs(row.r - planted) < 0.05
    want = np.mean([a * b for a, b in [(0.9, 0.8), (0.9, 0.6), (0.8, 0.6)]])
    assert res["mean_r"]["convergent"] == pytest.approx(want, abs=0.02)
    cf = res["campbell_fiske"]
    assert cf["convergent_significant"]["holds"] and cf["convergent_significant"]["comparisons"] == 15
    assert cf["convergent_above_heterotrait_heteromethod"]["holds"]
    assert cf["convergent_above_heterotrait_monomethod"]["holds"]
    assert cf["same_trait_pattern"]["holds"] and cf["same_trait_pattern"]["min_r"] > 0.8


def test_every_pair_is_scipys_pearson_with_its_interval():
    long = simulate({"a": 0.7, "b": 0.5}, n=60, seed=2)
    res = mtmm(long)
    wide = long.pivot_table(index="participant_id", columns=["method", "trait"], values="score")
    for row in res["pairs"].sample(8, random_state=0).itertuples():
        ref = stats.pearsonr(wide[(row.method_1, row.trait_1)], wide[(row.method_2, row.trait_2)])
        ci = ref.confidence_interval()
        assert (row.r, row.ci_low, row.ci_high) == pytest.approx((ref.statistic, ci.low, ci.high))
        assert row.n == 60
        assert res["matrix"].loc[(row.method_1, row.trait_1), (row.method_2, row.trait_2)] == pytest.approx(row.r)


def test_a_strong_method_factor_fails_the_monomethod_check():
    res = mtmm(simulate({"a": 0.5, "b": 0.5}, method_factor=0.8))
    cf = res["campbell_fiske"]
    assert res["mean_r"]["heterotrait_monomethod"] > res["mean_r"]["convergent"]
    assert not cf["convergent_above_heterotrait_monomethod"]["holds"]
    assert cf["convergent_above_heterotrait_monomethod"]["passed"] == 0
    assert cf["convergent_above_heterotrait_heteromethod"]["holds"]  # the method factor is not shared across methods


def test_unrelated_methods_fail_the_convergent_check():
    long = simulate({"a": 0.8, "b": 0.8}, n=200)
    b = long["method"] == "b"
    long.loc[b, "score"] = np.random.default_rng(5).permutation(long.loc[b, "score"].to_numpy())
    cf = mtmm(long)["campbell_fiske"]
    assert not cf["convergent_significant"]["holds"]


def test_traits_measured_by_one_method_only_are_left_out():
    long = simulate({"a": 0.8, "b": 0.8}, n=50)
    long = long[~((long["method"] == "b") & (long["trait"] == "O"))]
    assert mtmm(long)["traits"] == list("EACN")


# -- bad input ------------------------------------------------------------------------------------

def vcompose(*overrides: str) -> dict:
    return compose_config("validity", list(overrides))


@pytest.mark.parametrize("overrides,field,why", [
    (["validity.inventories=[bfi]"], "validity.inventories=[bfi]", "two or more"),
    (["validity.inventories=[bfi,nope]"], "validity.inventories=[bfi, nope]", "nope is not a shipped inventory"),
    (["validity.inventories=[bfi,atp_w92]"], "validity.inventories=[bfi, atp_w92]", "atp_w92 is a survey"),
    (["validity.inventories=[bfi,/no/such.yaml]"], "validity.inventories", "inventory file not found"),
    (["+validity.trait_map.ipip50={E: X}"], "validity.trait_map.ipip50", "not one of validity.inventories"),
    (["+validity.trait_map.bfi={Q: E}"], "validity.trait_map.bfi", "Q: not a trait of bfi"),
    (["+validity.trait_map.bfi={E: A}"], "validity.trait_map.bfi", "A: two traits of bfi mapped to one name"),
    (["validity.behaviour=/no/expressed_scores.parquet"], "validity.behaviour", "does not exist"),
    (["validity.alpha=1.5"], "validity.alpha=1.5", "must be < 1"),
])
def test_bad_validity_config_is_named(overrides, field, why):
    with pytest.raises(ConfigError) as err:
        validate("validity", vcompose(*overrides))
    assert field in str(err.value) and why in str(err.value)


def test_the_default_validity_config_is_valid_and_its_run_config_has_no_validity_keys():
    cfg = vcompose()
    validate("validity", cfg)
    assert cfg["validity"]["inventories"] == ["bfi", "ipip120"]
    assert "validity" not in compose_config("config", [])


def test_bad_behaviour_files_are_named(tmp_path):
    good = pd.DataFrame({"participant_id": ["p1", "p2"], "persona_id": ["a", "b"], "trait": ["E", "E"],
                         "score": [3.0, 4.0], "rater": ["smollm2", "smollm2"]})
    torn = tmp_path / "torn.parquet"
    torn.write_bytes(b"PAR1 not really")
    with pytest.raises(ValidityError, match=r"validity.behaviour=.*torn.parquet: not a readable parquet"):
        behaviour_scores(str(torn), {"p1"}, {})
    short = tmp_path / "short.parquet"
    good.drop(columns=["rater"]).to_parquet(short)
    with pytest.raises(ValidityError, match=r"short.parquet: missing column\(s\) rater"):
        behaviour_scores(str(short), {"p1"}, {})
    words = tmp_path / "words.parquet"
    good.assign(score=["high", "low"]).to_parquet(words)
    with pytest.raises(ValidityError, match=r"column 'score' is \w+, not numbers"):
        behaviour_scores(str(words), {"p1"}, {})
    other = tmp_path / "other.parquet"
    good.to_parquet(other)
    with pytest.raises(ValidityError, match="no participant_id in common"):
        behaviour_scores(str(other), {"x"}, {})
    with pytest.raises(ValidityError, match="torn.parquet: not a readable parquet"):  # before any run
        validity(vcompose("validity.behaviour=" + str(torn), f"results_dir={tmp_path / 'results'}"))
    assert not (tmp_path / "results").exists()
    two = tmp_path / "two.parquet"
    pd.concat([good, good.assign(rater="judge", score=[1.0, 2.0])]).to_parquet(two)
    table, sha = behaviour_scores(str(two), {"p1", "p2"}, {"E": "Extraversion"})
    assert set(table["method"]) == {"behaviour:smollm2", "behaviour:judge"} and set(table["trait"]) == {"Extraversion"}
    assert len(sha) == 64


# -- one tiny real run ----------------------------------------------------------------------------

@pytest.mark.slow  # the inner loop (-m 'not slow') stays under 6 minutes
def test_bfi_by_ipip120_on_smollm2(tmp_path):
    cfg = vcompose("persona=traits", "persona.ids=[E_high,E_low,N_high]", "templates=[describe]",
                   "temperatures=[1.0]", "repetitions=3", "option_orders=[original]", "max_items=5",
                   "progress=false", f"results_dir={tmp_path}")
    with EnginePool() as pool:  # a pool of its own, as the `validity` command holds one
        out = validity(cfg)
    assert pool.loads == 1  # two inventories, two runs, one model load
    assert out.name.startswith("validity-smollm2-bfi+ipip120-traits-")
    result = json.loads((out / "validity.json").read_text())
    assert result["methods"] == ["bfi", "ipip120"] and result["n_participants"] == 9
    assert set(result["traits"]) == set("EACNO")
    prov = result["provenance"]["inventories"]
    assert set(prov) == {"bfi", "ipip120"} and all(len(v["sha256"]) == 64 for v in prov.values())
    # the convergent r of E is the Pearson r of the two runs' E scores over the same participants
    runs = {m: pd.read_parquet(f"{v['run']}/scores.parquet") for m, v in prov.items()}
    e = pd.concat({m: s[s["trait"] == "E"].set_index("participant_id")["score"] for m, s in runs.items()}, axis=1)
    [pair] = [p for p in result["pairs"] if p["kind"] == "convergent" and p["trait_1"] == "E"]
    if e.std().min() > 0:
        assert pair["r"] == pytest.approx(stats.pearsonr(e["bfi"], e["ipip120"]).statistic)
    matrix = pd.read_csv(out / "mtmm.csv", index_col=0)
    assert matrix.shape == (10, 10) and list(matrix.columns[:2]) == ["bfi:E", "bfi:A"]
    summary = (out / "summary.md").read_text()
    assert "![MTMM heatmap](mtmm.png)" in summary and "## Campbell-Fiske checks" in summary
    assert (out / "mtmm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "validity_config.yaml").is_file() and not (out / "config.yaml").exists()  # not a run folder
    again = validity(cfg)  # the runs resume (nothing to compute), the analysis is the same
    assert again == out and json.loads((out / "validity.json").read_text())["pairs"] == result["pairs"]


@pytest.mark.usefixtures("full_bootstrap")  # coverage: the product's own bootstrap size
def test_mean_r_intervals_cover_the_planted_means_resampling_personas():
    """60 personas x 3 near-copy repetitions: the 95% cluster-bootstrap intervals of the mean convergent and
    discriminant r cover the planted values, and are seeded."""
    loadings = {"bfi": 0.9, "ipip120": 0.7}
    base = simulate(loadings, n=60, seed=3)
    rng = np.random.default_rng(4)
    long = pd.concat([base.assign(participant_id="p" + base["participant_id"] + f"|t|original|1.0|{rep}",
                                  score=base["score"] + 0.1 * rng.standard_normal(len(base))) for rep in range(3)],
                     ignore_index=True)
    res = mtmm(long, seed=9)
    means = res["mean_r"]
    a, b = loadings.values()
    tri = [(i, j) for i in range(5) for j in range(i + 1, 5)]
    planted = {"convergent": a * b,
               "heterotrait_heteromethod": a * b * np.mean([LATENT[i, j] for i, j in tri]),
               "heterotrait_monomethod": np.mean([(a * a + b * b) / 2 * LATENT[i, j] for i, j in tri])}
    # discriminant: 20 heteromethod and 20 monomethod pairs, equally weighted
    planted["discriminant"] = (planted["heterotrait_heteromethod"] + planted["heterotrait_monomethod"]) / 2
    for kind, value in planted.items():
        assert means[f"{kind}_ci_low"] <= value <= means[f"{kind}_ci_high"], (kind, value, means)
        assert means[f"{kind}_ci_low"] <= means[kind] <= means[f"{kind}_ci_high"]
    assert means["convergent_ci_high"] - means["convergent_ci_low"] < 0.2
    assert mtmm(long, seed=9)["mean_r"] == means
    few = long[long["participant_id"].str.split("|").str[0].isin(["p0", "p1", "p2", "p3"])]
    assert np.isnan(mtmm(few)["mean_r"]["convergent_ci_low"])  # 4 personas: no bootstrap interval
