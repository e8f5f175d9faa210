"""Coverage by simulation: does each reported 95% interval cover the planted truth 90-99% of the time?

Every test draws N_SETS planted data sets from a seeded generator, at a size the README's examples use
(most at its headline design: 10 personas x 2 templates x 2 option orders x 5 repetitions), computes the
interval with the project's own public function, and counts how often it holds the population value of
what it estimates (each test's docstring says how that truth is defined). No model, no run folder.

Where a method is known to miss at that size (an interval that counts repetitions as independent
people, a percentile bootstrap of a biased statistic), the test is `xfail(strict=True)` with the issue
item that fixes it: the band is never widened to let it pass, and the xfail turns into a failure the
day the method is fixed. Every measured rate goes into COVERAGE; `python -m pytest -n 0 -s
tests/test_coverage.py` prints the table that docs/uncertainty.md shows ("Coverage by simulation").

The tests run the bootstrap at the product's own size (`full_bootstrap`: N_BOOT, 200 resamples).
The kinds whose statistic is a model fit or a pandas table per resample (omega, the fidelity distances,
eta^2_H, the MTMM means, the position model, one pingouin ICC per condition) cost 20 s to 11 minutes each
on one core and run only with PERSONA_BENCH_COVERAGE=all; the rest take about 40 s together.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.instruments import Norm
from bench.metrics import icc_repetitions, mbti_accuracy, option_order_symmetry, pooled_icc, prompt_sensitivity, \
    question_distributions
from bench.metrics.compute import trait_summary
from bench.metrics.mtmm import mean_r_intervals
from bench.metrics.norms import norm_comparison
from bench.metrics.position import fit_position_model
from bench.metrics.reliability import cronbach_alpha
from tests.test_metrics import icc_a1_by_hand, likert_inventory

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("full_bootstrap")]

N_SETS = 200  # planted data sets per interval kind: a 95% rate is measured to about +-1.5 points
BAND = (0.90, 0.99)
LEVEL = 0.95
# the README's headline design: 10 personas (persona=traits) x 2 templates x 2 option orders x 5 repetitions
PERSONAS, TEMPLATES, ORDERS, REPS = 10, 2, 2, 5
HEADLINE = "10 personas x 2 templates x 2 orders x 5 reps"
RUN_ALL = os.environ.get("PERSONA_BENCH_COVERAGE", "") == "all"
needs_all = pytest.mark.skipif(not RUN_ALL, reason="20 s to 11 min per 200 sets at 200 resamples (a fit or a table per "
                               "resample): PERSONA_BENCH_COVERAGE=all")

COVERAGE: dict[tuple[str, str, str], tuple[int, float]] = {}  # (figure, interval, design) -> (intervals, rate)



def check(figure: str, method: str, design: str, lo, hi, truth) -> None:
    """Record the coverage of intervals [lo, hi] (NaN: a miss) of `truth`, then assert it is in BAND."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    covered = (lo <= truth) & (truth <= hi)
    rate = float(covered.mean())
    COVERAGE[(figure, method, design)] = (int(covered.size), rate)
    if os.environ.get("PERSONA_BENCH_COVERAGE_TABLE"):  # each row as it is measured (the whole table at the end)
        with open(os.environ["PERSONA_BENCH_COVERAGE_TABLE"] + ".rows", "a") as out:
            out.write(f"| {figure} | {method} | {design} | {covered.size} | {rate:.1%} |\n")
    assert covered.size >= N_SETS
    assert BAND[0] <= rate <= BAND[1], f"{figure} ({design}): {rate:.3f} of {covered.size} intervals cover the truth"


def coverage_table() -> str:
    """The measured coverage as the markdown table of docs/uncertainty.md."""
    lines = ["| figure | interval | design | intervals | coverage |", "|---|---|---|---|---|"]
    lines += [f"| {f} | {m} | {d} | {n} | {rate:.1%} |" for (f, m, d), (n, rate) in COVERAGE.items()]
    return "\n".join(lines)


@pytest.fixture(scope="module", autouse=True)
def print_coverage_table():
    """After the module's tests: the table (seen with -s)."""
    yield
    if COVERAGE:
        print("\n\nCoverage by simulation (95% intervals)\n" + coverage_table())
        if os.environ.get("PERSONA_BENCH_COVERAGE_TABLE"):  # a file for the docs' table
            with open(os.environ["PERSONA_BENCH_COVERAGE_TABLE"], "w") as out:
                out.write(coverage_table() + "\n")


# ------------------------------------------------------------------------------------------
# planted score tables: one trait per data set, so one call of the real function serves them all


def planted_scores(rng, n_sets: int, mu: float = 3.0, shift: float = 0.3, shift_sd: float = 0.0,
                   template_effect: float = 0.0) -> pd.DataFrame:
    """Trait scores of the headline design, data set k being trait `s<k>`: score = mu + persona level
    (SD 0.6) + template effect + option-order shift (the persona's own: mean `shift`, SD `shift_sd`) +
    condition noise (SD 0.3) + repetition noise (SD 0.05: near copies, as at low temperature)."""
    shape = (n_sets, PERSONAS, TEMPLATES, ORDERS, REPS)
    level = rng.normal(0, 0.6, (n_sets, PERSONAS, 1, 1, 1))
    own_shift = shift + rng.normal(0, shift_sd, (n_sets, PERSONAS, 1, 1, 1)) if shift_sd else shift
    tmpl = (np.arange(TEMPLATES) * template_effect).reshape(1, 1, -1, 1, 1)
    order = np.arange(ORDERS).reshape(1, 1, 1, -1, 1)
    score = (mu + level + tmpl + own_shift * order + rng.normal(0, 0.3, shape[:4] + (1,))
             + rng.normal(0, 0.05, shape))
    s, p, t, o, r = (a.ravel() for a in np.indices(shape))
    persona = np.char.add("p", p.astype(str))
    template = np.char.add("t", t.astype(str))
    option_order = np.where(o == 0, "original", "reversed")
    return pd.DataFrame({
        "participant_id": [f"{a}|{b}|{c}|1.0|{d}" for a, b, c, d in zip(persona, template, option_order, r)],
        "persona_id": persona, "persona_target": "", "template_id": template, "option_order": option_order,
        "temperature": 1.0, "repetition": r, "trait": np.char.add("s", s.astype(str)), "score": score.ravel()})


def by_set(table: pd.DataFrame, column: str = "trait") -> pd.DataFrame:
    """Rows of a per-trait table in data set order."""
    return table.set_index(column).loc[[f"s{k}" for k in range(N_SETS)]]


def test_trait_mean_t_over_personas_covers_the_population_mean():
    """trait_summary: Student t over the persona means. Truth: the planted population mean over the design's
    conditions, 3.0 plus half the order shift (half the conditions show the options reversed)."""
    rows = by_set(trait_summary(planted_scores(np.random.default_rng(101), N_SETS)))
    assert (rows["n_clusters"] == PERSONAS).all()
    check("trait mean", "t over persona means", HEADLINE, rows["ci_low"], rows["ci_high"], 3.0 + 0.3 / 2)


def test_option_order_shift_covers_the_planted_shift_when_personas_shift_alike():
    """option_order_symmetry: t over the persona x template pairs. Truth: the planted mean shift; every
    persona shifts alike, so its two pairs differ only by condition noise."""
    rows = by_set(option_order_symmetry(planted_scores(np.random.default_rng(102), N_SETS)))
    assert (rows["n_pairs"] == PERSONAS * TEMPLATES).all()
    check("option-order shift", "t over persona x template pairs", HEADLINE + ", one shift",
          rows["ci_low"], rows["ci_high"], 0.3)


def test_option_order_shift_covers_the_planted_shift_when_personas_shift_differently():
    """As above with each persona's own shift (SD 0.3 around 0.3): a persona's two template pairs share it,
    so 20 pairs are 10 independent units; at two templates the t interval still holds its level."""
    rows = by_set(option_order_symmetry(planted_scores(np.random.default_rng(103), N_SETS, shift_sd=0.3)))
    check("option-order shift", "t over persona x template pairs", HEADLINE + ", shift varies by persona",
          rows["ci_low"], rows["ci_high"], 0.3)


@needs_all  # about 90 s
def test_prompt_sensitivity_eta2_cluster_bootstrap_covers_the_population_eta2():
    """prompt_sensitivity: eta^2_H with a cluster bootstrap over personas. Truth: eta^2_H of the condition
    means of a very large planted population (200,000 personas: the statistic's limit)."""
    effect = 0.5
    big = planted_scores(np.random.default_rng(1), 1, template_effect=effect)  # the design's column layout
    rng = np.random.default_rng(2)
    n = 200_000
    level = rng.normal(0, 0.6, (n, 1, 1))
    cond = 3.0 + level + np.array([0.0, effect]).reshape(1, -1, 1) + np.array([0.0, 0.3]).reshape(1, 1, -1) \
        + rng.normal(0, 0.3, (n, TEMPLATES, ORDERS)) + rng.normal(0, 0.05 / np.sqrt(REPS), (n, TEMPLATES, ORDERS))
    h = stats.kruskal(*(cond[:, t, :].ravel() for t in range(TEMPLATES))).statistic
    truth = (h - TEMPLATES + 1) / (cond.size - TEMPLATES)
    assert len(big) == PERSONAS * TEMPLATES * ORDERS * REPS
    rows = by_set(prompt_sensitivity(planted_scores(np.random.default_rng(104), N_SETS, template_effect=effect),
                                     seed=7))
    check("prompt sensitivity eta²_H", "cluster bootstrap (expanded percentile)", HEADLINE, rows["eta2_ci_low"],
          rows["eta2_ci_high"], truth)


# ------------------------------------------------------------------------------------------
# proportions: type accuracy (Wilson), survey shares (cluster bootstrap)


def planted_types(rng, n_personas: int, n_answers: int, hit: float, persona_sd: float = 0.0) -> pd.DataFrame:
    """The type found per participant against its persona's target ENFP: each persona finds it with its own
    probability (logit(hit) + N(0, persona_sd)); its repetitions at T=0.01 give the same type."""
    p = 1 / (1 + np.exp(-(np.log(hit / (1 - hit)) + rng.normal(0, persona_sd, n_personas)))) if persona_sd \
        else np.full(n_personas, hit)
    found = np.repeat(rng.random(n_personas) < p, n_answers)  # one draw per persona, repeated: near copies
    return pd.DataFrame({"persona_id": np.repeat([f"p{i}" for i in range(n_personas)], n_answers),
                         "target": "ENFP", "type": np.where(found, "ENFP", "ISTJ")})


def test_type_accuracy_wilson_covers_the_hit_rate_with_one_answer_per_persona():
    """mbti_accuracy: Wilson over participants, 16 type personas answering once each. Truth: the planted
    probability that a persona's type is found."""
    rng = np.random.default_rng(105)
    ci = np.array([[mbti_accuracy(planted_types(rng, 16, 1, 0.7), list("EINT"))[k] for k in ("exact_ci_low",
                                                                                         "exact_ci_high")]
                   for _ in range(N_SETS)])
    check("type accuracy", "Wilson", "16 personas x 1 answer", ci[:, 0], ci[:, 1], 0.7)


def test_type_accuracy_wilson_covers_the_hit_rate_with_repeated_answers():
    """The README's type run (persona=mbti_types, T=0.01): 16 personas x 2 templates x 2 orders x 5
    repetitions, each persona's answers near copies, its hit probability its own (logit SD 1). Truth: the
    population hit rate, E over personas of their probability (integrated over the planted logit normal)."""
    rng = np.random.default_rng(106)
    z = np.random.default_rng(3).normal(0, 1, 1_000_000)
    truth = float(np.mean(1 / (1 + np.exp(-(np.log(0.7 / 0.3) + z)))))
    ci = []
    for _ in range(N_SETS):  # clustered by persona, as compute_metrics clusters a run's types (clusters_of)
        types = planted_types(rng, 16, TEMPLATES * ORDERS * REPS, 0.7, 1.0)
        ci.append([mbti_accuracy(types, list("EINT"), clusters=types["persona_id"])[k]
                   for k in ("exact_ci_low", "exact_ci_high")])
    ci = np.array(ci)
    check("type accuracy", "Wilson on the effective n (design effect)", "16 personas x 2 templates x 2 orders x 5 reps, T=0.01", ci[:, 0], ci[:, 1],
          truth)


def test_survey_shares_cluster_bootstrap_covers_the_population_shares():
    """question_distributions: each option's share with a cluster bootstrap over personas (headline design,
    sampled answers). Each persona answers from its own distribution (Dirichlet around the population's);
    truth: the population's distribution, the mean of the personas'. All 5 shares of a question count."""
    base = np.array([0.35, 0.25, 0.2, 0.12, 0.08])
    inv = dataclasses.replace(likert_inventory([("q1", "E", 1)]), kind="survey", traits=())
    rng = np.random.default_rng(107)
    n = TEMPLATES * ORDERS * REPS
    lo, hi = [], []
    for k in range(N_SETS):
        dist = rng.dirichlet(base * 10, PERSONAS)
        answers = np.array([rng.choice(5, size=n, p=d) for d in dist]).ravel() + 1
        persona = np.repeat([f"p{i}" for i in range(PERSONAS)], n)
        r = pd.DataFrame({"participant_id": [f"{p}|{j}" for p, j in zip(persona, np.tile(np.arange(n), PERSONAS))],
                          "persona_id": persona, "template_id": "t", "item_id": "q1", "option_probs": None,
                          "answer": answers.astype(float), "invalid": False})
        table = question_distributions(r, inv, seed=k)
        lo.append(table["share_ci_low"].to_numpy())
        hi.append(table["share_ci_high"].to_numpy())
    check("survey answer share", "cluster bootstrap (expanded percentile)", HEADLINE + ", sampled answers", lo, hi,
          np.broadcast_to(base, (N_SETS, 5)))


# ------------------------------------------------------------------------------------------
# reliability: Feldt alpha, ICC per condition, pooled ICC


def one_factor_alpha(loadings: np.ndarray, unique: np.ndarray) -> float:
    """Cronbach's alpha of the population covariance loadings loadings' + diag(unique)."""
    cov = np.outer(loadings, loadings) + np.diag(unique)
    k = len(loadings)
    return float(k / (k - 1) * (1 - np.trace(cov) / cov.sum()))


LOADINGS = np.array([0.8, 0.7, 0.6, 0.5, 0.7])
UNIQUE = np.array([0.5, 0.6, 0.7, 0.8, 0.6])


def one_factor_answers(rng, n_personas: int, per_persona: int, persona_share: float = 1.0) -> pd.DataFrame:
    """Participants x 5 items from one factor (LOADINGS, UNIQUE): the factor and unique parts are the persona's
    in `persona_share` of their variance and the participant's own in the rest, so the participants'
    covariance is the one-factor one whatever the share."""
    def part(shape_persona, shape_own):
        shared = np.repeat(rng.normal(size=shape_persona), per_persona, axis=0)
        own = rng.normal(size=shape_own)
        return np.sqrt(persona_share) * shared + np.sqrt(1 - persona_share) * own

    n = n_personas * per_persona
    factor = part((n_personas, 1), (n, 1))
    unique = part((n_personas, len(LOADINGS)), (n, len(LOADINGS))) * np.sqrt(UNIQUE)
    return pd.DataFrame(factor * LOADINGS + unique, columns=[f"q{j}" for j in range(len(LOADINGS))])


def test_feldt_alpha_covers_the_population_alpha_of_independent_respondents():
    """cronbach_alpha (pingouin, Feldt) on 60 independent respondents (the issue's human sample size).
    Truth: alpha of the planted population covariance."""
    rng = np.random.default_rng(108)
    ci = np.array([cronbach_alpha(one_factor_answers(rng, 60, 1))[1:] for _ in range(N_SETS)])
    check("Cronbach's alpha", "Feldt", "60 independent respondents", ci[:, 0], ci[:, 1],
          one_factor_alpha(LOADINGS, UNIQUE))


def test_feldt_alpha_covers_the_population_alpha_of_repeated_participants():
    """The headline design's 200 participants (10 personas x 20 conditions; 80% of each part is the
    persona's). Truth: alpha of the participants' population covariance (the same one-factor one). Feldt's
    n is the effective number of respondents, clustered by persona as reliability() clusters a run."""
    rng = np.random.default_rng(109)
    per = TEMPLATES * ORDERS * REPS
    persona = np.repeat(np.arange(PERSONAS), per)
    ci = np.array([cronbach_alpha(one_factor_answers(rng, PERSONAS, per, 0.8), persona)[1:] for _ in range(N_SETS)])
    check("Cronbach's alpha", "Feldt on the effective n", HEADLINE, ci[:, 0], ci[:, 1], one_factor_alpha(LOADINGS, UNIQUE))


def one_factor_omega(loadings: np.ndarray, unique: np.ndarray) -> float:
    """McDonald's omega total of the population one-factor model."""
    return float(loadings.sum() ** 2 / (loadings.sum() ** 2 + unique.sum()))


@needs_all  # about 11 min: a maximum-likelihood factor fit per resample
def test_omega_cluster_bootstrap_covers_the_population_omega():
    """reliability: omega with a cluster bootstrap over personas, the headline design's 200 participants
    (80% of each part the persona's). Truth: omega of the participants' population one-factor model."""
    from bench.metrics import reliability

    inv = likert_inventory([(f"q{j}", "E", 1) for j in range(len(LOADINGS))])
    rng = np.random.default_rng(117)
    per = TEMPLATES * ORDERS * REPS
    persona = np.repeat([f"p{i}" for i in range(PERSONAS)], per)
    lo, hi = [], []
    for k in range(N_SETS):
        wide = one_factor_answers(rng, PERSONAS, per, 0.8)
        wide.index = [f"{p}|{j}" for p, j in zip(persona, np.tile(np.arange(per), PERSONAS))]
        long = wide.rename_axis("participant_id").reset_index().melt("participant_id", var_name="item_id",
                                                                     value_name="score")
        long = long.assign(persona_id=long["participant_id"].str.split("|").str[0], persona_target="",
                           template_id="t", option_order="original", temperature=1.0, repetition=0, invalid=False)
        row = reliability(long, inv, seed=k).iloc[0]
        lo.append(row["omega_ci_low"])
        hi.append(row["omega_ci_high"])
    check("McDonald's omega", "cluster bootstrap (BCa, expanded)", HEADLINE, lo, hi, one_factor_omega(LOADINGS, UNIQUE))


ICC_ITEMS = 44  # BFI-44 answered in one condition
ICC_SD = {"item": 1.0, "repetition": 0.3, "noise": 0.7}


def repetition_table(rng, n_conditions: int, noise_sd) -> np.ndarray:
    """conditions x items x repetitions scores: item level + repetition offset + noise (two-way random)."""
    shape = (n_conditions, ICC_ITEMS, REPS)
    noise_sd = np.broadcast_to(np.asarray(noise_sd, float), (n_conditions,)).reshape(-1, 1, 1)
    return (rng.normal(0, ICC_SD["item"], shape[:2] + (1,)) + rng.normal(0, ICC_SD["repetition"], (shape[0], 1, REPS))
            + rng.normal(size=shape) * noise_sd)


@needs_all  # about 25 s
def test_icc_per_condition_pingouin_interval_covers_the_population_icc():
    """icc_repetitions: ICC(A,1) per condition with pingouin's interval, 44 items x 5 repetitions, each data
    set one condition. Truth: the planted two-way random model's ICC(A,1)."""
    x = repetition_table(np.random.default_rng(110), N_SETS, ICC_SD["noise"])
    c, i, r = (a.ravel() for a in np.indices(x.shape))
    responses = pd.DataFrame({"persona_id": np.char.add("s", c.astype(str)), "template_id": "t", "option_order":
                              "original", "temperature": 1.0, "repetition": r, "item_id": np.char.add("q", i.astype(str)),
                              "score": x.ravel(), "invalid": False})
    rows = icc_repetitions(responses)
    assert len(rows) == N_SETS
    sd = ICC_SD
    truth = sd["item"] ** 2 / (sd["item"] ** 2 + sd["repetition"] ** 2 + sd["noise"] ** 2)
    check("ICC(A,1) of one condition", "pingouin intraclass_corr CI", "44 items x 5 reps", rows["icc2_ci_low"],
          rows["icc2_ci_high"], truth)


def test_pooled_icc_cluster_bootstrap_covers_the_mean_icc_over_conditions():
    """pooled_icc: the mean ICC(A,1) over the headline design's 40 conditions (44 items x 5 repetitions
    each), cluster bootstrap over personas. Each persona has its own noise level (its conditions share it).
    Truth: the population mean of a condition's ICC(A,1) estimate (what the mean over conditions estimates),
    from 20,000 planted conditions. The ICCs are the ANOVA formula, checked against icc_repetitions."""
    rng = np.random.default_rng(111)
    n_cond = TEMPLATES * ORDERS

    def iccs(x: np.ndarray) -> np.ndarray:
        return np.array([icc_a1_by_hand(m) for m in x])

    def persona_noise(n):
        return np.repeat(rng.uniform(0.4, 1.2, n), n_cond)

    truth = float(iccs(repetition_table(np.random.default_rng(4), 20_000, np.random.default_rng(5).uniform(0.4, 1.2,
                                                                                                         20_000))).mean())
    persona = np.repeat([f"p{i}" for i in range(PERSONAS)], n_cond)
    template = np.tile(np.repeat(["t0", "t1"], ORDERS), PERSONAS)
    lo, hi = [], []
    for k in range(N_SETS):
        x = repetition_table(rng, PERSONAS * n_cond, persona_noise(PERSONAS))
        table = pd.DataFrame({"persona_id": persona, "template_id": template, "icc2": iccs(x)})
        if k == 0:  # the formula is the product's ICC(A,1)
            c, i, r = (a.ravel() for a in np.indices(x[:2].shape))
            long = pd.DataFrame({"persona_id": persona[c], "template_id": template[c], "option_order": ["original",
                                 "reversed"][0], "temperature": 1.0, "repetition": r, "item_id": i.astype(str),
                                 "score": x[:2].ravel(), "invalid": False})
            long["option_order"] = np.where(c % 2, "reversed", "original")
            assert icc_repetitions(long)["icc2"].to_numpy() == pytest.approx(table["icc2"][:2].to_numpy())
        out = pooled_icc(table, seed=k)
        lo.append(out["icc2_mean_ci_low"])
        hi.append(out["icc2_mean_ci_high"])
    check("mean ICC(A,1) over conditions", "cluster bootstrap (expanded percentile)", HEADLINE + ", 44 items", lo, hi, truth)


# ------------------------------------------------------------------------------------------
# against human norms (Welch)


def norm_sets(rng, n_personas: int, per_persona: int, persona_share: float):
    """Model trait scores (persona share of the variance `persona_share`) and a human group of 200 drawn
    from N(3.5, 0.7) summarised as its published norm. Truth: (model population mean 3.2 - 3.5) / norm SD."""
    persona = np.repeat(rng.normal(0, np.sqrt(persona_share), n_personas), per_persona)
    score = 3.2 + 0.6 * (persona + rng.normal(0, np.sqrt(1 - persona_share), n_personas * per_persona))
    human = rng.normal(3.5, 0.7, 200)
    norm = Norm(trait="E", group="people", mean=float(human.mean()), sd=float(human.std(ddof=1)), n=200)
    return pd.DataFrame({"persona_id": np.repeat([f"p{i}" for i in range(n_personas)], per_persona), "trait": "E",
                         "score": score}), norm


def norms_coverage(seed: int, n_personas: int, per_persona: int, persona_share: float):
    rng = np.random.default_rng(seed)
    lo, hi, truth = [], [], []
    for _ in range(N_SETS):
        scores, norm = norm_sets(rng, n_personas, per_persona, persona_share)
        row = norm_comparison(scores, [norm]).iloc[0]
        lo.append(row["diff_sd_ci_low"])
        hi.append(row["diff_sd_ci_high"])
        truth.append((3.2 - 3.5) / norm.sd)
    return lo, hi, np.asarray(truth)


def test_norms_difference_welch_covers_the_planted_difference_with_one_participant_per_persona():
    """norm_comparison: Welch on the summary statistics, 10 personas answering once each against 200 people."""
    lo, hi, truth = norms_coverage(112, PERSONAS, 1, 0.0)
    check("difference from human norms (SD units)", "Welch", "10 personas x 1 answer vs 200 people", lo, hi, truth)


def test_norms_difference_welch_covers_the_planted_difference_with_repeated_participants():
    """The headline design's 200 participants against 200 people; 80% of a score's variance is its persona's:
    Welch over the 10 persona means (the participants are not the units)."""
    lo, hi, truth = norms_coverage(113, PERSONAS, TEMPLATES * ORDERS * REPS, 0.8)
    check("difference from human norms (SD units)", "Welch over persona means", HEADLINE + " vs 200 people", lo, hi,
          truth)


# ------------------------------------------------------------------------------------------
# MTMM mean correlations (cluster bootstrap)


MTMM_TRAITS = list("OCEAN")
MTMM_RHO = 0.3  # correlation of any two traits' persona levels
MTMM_NOISE = {"persona": 0.3, "participant": 0.2}  # variances of the method-specific parts


def mtmm_wide(rng, n_personas: int, per_persona: int) -> pd.DataFrame:
    """Participants x (method, trait): a persona's trait levels (unit variance, pairwise correlation
    MTMM_RHO) + a persona x method part + a participant's own part, for methods bfi and ipip."""
    cov = np.full((5, 5), MTMM_RHO) + (1 - MTMM_RHO) * np.eye(5)
    levels = np.repeat(rng.multivariate_normal(np.zeros(5), cov, n_personas), per_persona, axis=0)
    cols, data = [], []
    for method in ("bfi", "ipip"):
        own = np.repeat(rng.normal(0, np.sqrt(MTMM_NOISE["persona"]), (n_personas, 5)), per_persona, axis=0)
        data.append(levels + own + rng.normal(0, np.sqrt(MTMM_NOISE["participant"]), levels.shape))
        cols += [(method, t) for t in MTMM_TRAITS]
    ids = [f"p{p}|describe|original|1.0|{r}" for p in range(n_personas) for r in range(per_persona)]
    return pd.DataFrame(np.hstack(data), index=ids, columns=pd.MultiIndex.from_tuples(cols))


def mtmm_coverage(seed: int, n_personas: int, per_persona: int, name: str) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    lo, hi = [], []
    for k in range(N_SETS):
        out = mean_r_intervals(mtmm_wide(rng, n_personas, per_persona), seed=k)
        lo.append(out[f"{name}_ci_low"])
        hi.append(out[f"{name}_ci_high"])
    return lo, hi


MTMM_R = {"convergent": 1 / (1 + sum(MTMM_NOISE.values())), "discriminant_abs": MTMM_RHO / (1 + sum(MTMM_NOISE.values()))}
VALIDITY = "the README's validity run: 10 personas x 2 reps"


ABS_BIAS = ("a mean |r| of small correlations is biased away from 0 by the absolute value, and no bootstrap of "
            "it recovers mean |rho| (BCa: 8.5% at 10 personas, 81% at 60); issue 24 item 2, open")
BIASED_DISTANCE = ("WD and TV of a 10-persona population are biased upward (sampling noise adds distance) "
                   "and BCa does not undo it (WD 69%, TV 45.5%, Frobenius 87.5%); issue 24 item 2, open")


@needs_all  # about 30 s each
@pytest.mark.parametrize("name", ["convergent",
                                  pytest.param("discriminant_abs", marks=pytest.mark.xfail(strict=True, reason=ABS_BIAS))])
def test_mtmm_mean_r_cluster_bootstrap_covers_the_population_correlations(name):
    """mean_r_intervals at the README's validity example (persona=traits, repetitions=2: 10 personas x 2
    participants, 2 methods x 5 traits). Truth: the participants' population correlations, 1 / (1 + method
    variance) for the same trait in two methods, MTMM_RHO times that for two traits; both are biased at 10
    personas (a correlation, an absolute value)."""
    lo, hi = mtmm_coverage(114, PERSONAS, 2, name)
    check(f"MTMM mean {name.replace('_abs', ' |r|')} r", "cluster bootstrap (BCa, expanded)", VALIDITY, lo, hi,
          MTMM_R[name])


@needs_all  # about 50 s each
@pytest.mark.parametrize("name", ["convergent",
                                  pytest.param("discriminant_abs", marks=pytest.mark.xfail(strict=True, reason=ABS_BIAS))])
def test_mtmm_mean_r_cluster_bootstrap_covers_the_population_correlations_at_60_personas(name):
    """The same at 60 personas x 3 repetitions (tests/test_validity.py's size): the mean |r| holds its level,
    the mean convergent r covers on BCa (91%; 89% on percentiles)."""
    lo, hi = mtmm_coverage(115, 60, 3, name)
    check(f"MTMM mean {name.replace('_abs', ' |r|')} r", "cluster bootstrap (BCa, expanded)", "60 personas x 3 reps",
          lo, hi, MTMM_R[name])


# ------------------------------------------------------------------------------------------
# position effect (normal approximation of the position model)


POSITION_B = np.array([-0.5, -0.2, 0.0, 0.2, 0.5])  # antisymmetric: what mirror orders identify
POSITION_ITEMS = 10


def position_table(rng, n_personas: int, per_order: int, persona_sd: float) -> pd.DataFrame:
    """The choice table (item, order, option, shown position, answer count) of sampled answers from
    softmax(a_item + persona's own a + POSITION_B[shown position]), options shown in original and reversed
    order, `per_order` answers per persona, item and order."""
    k = len(POSITION_B)
    a = rng.normal(0, 1, (POSITION_ITEMS, k))
    rows = []
    for order, perm in (("original", np.arange(k)), ("reversed", np.arange(k)[::-1])):
        where = np.argsort(perm)  # the shown position of each option
        logits = a[None] + rng.normal(0, persona_sd, (n_personas, POSITION_ITEMS, k)) + POSITION_B[where]
        p = np.exp(logits - logits.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        counts = rng.multinomial(per_order, p)  # persona x item x option
        persona, item, option = (a.ravel() for a in np.indices(counts.shape))
        rows.append(pd.DataFrame({"persona_id": np.char.add("p", persona.astype(str)),
                                  "item_id": np.char.add("i", item.astype(str)), "order": ",".join(map(str, perm)),
                                  "option": option, "position": where[option], "n": counts.ravel().astype(float)}))
    return pd.concat(rows, ignore_index=True)


@needs_all  # about 90 s: an L-BFGS fit per set
def test_position_effect_interval_covers_the_planted_effect():
    """fit_position_model's effect interval on the headline design (10 items; each persona's preferences
    its own, SD 1 around the item's). Truth: what the pooled fit estimates, the population-averaged effect
    (personas who differ attenuate the planted softmax(b): 0.118 against 0.142), from one fit on 3,000
    planted personas. The covariance is cluster-robust over personas with t(G - 1) quantiles (before, the
    inverse information counted every answer as independent: 48.5%)."""
    truth = fit_position_model(position_table(np.random.default_rng(7), 3000, TEMPLATES * REPS, 1.0),
                               len(POSITION_B))["effect"]
    rng = np.random.default_rng(116)
    ci = np.array([fit_position_model(position_table(rng, PERSONAS, TEMPLATES * REPS, 1.0), len(POSITION_B))["effect_ci"]
                   for _ in range(N_SETS)])
    check("position effect", "parametric draws, cluster-robust covariance", HEADLINE + ", 10 items", ci[:, 0], ci[:, 1],
          truth)


# ------------------------------------------------------------------------------------------
# fidelity to a human reference: WD, TV, Frobenius (cluster bootstrap of the model population)


FIDELITY_QUESTIONS = 4
FIDELITY_CUTS = np.array([-1.2, -0.4, 0.4, 1.2])  # a latent answer -> options 1..5


def fidelity_answers(rng, n_personas: int, per_persona: int) -> pd.DataFrame:
    """A model population's sampled answers (participant x question, 1..5) from one latent factor (loading
    0.7) whose persona share is 80%: a planted population with both answer shares and correlations."""
    n = n_personas * per_persona
    latent = one_factor_like(rng, n_personas, per_persona, n)
    return pd.DataFrame(np.searchsorted(FIDELITY_CUTS, latent + 0.3).astype(float) + 1,
                        columns=[f"q{j}" for j in range(FIDELITY_QUESTIONS)])


def one_factor_like(rng, n_personas: int, per_persona: int, n: int) -> np.ndarray:
    def part(cols):
        shared = np.repeat(rng.normal(size=(n_personas, cols)), per_persona, axis=0)
        return np.sqrt(0.8) * shared + np.sqrt(0.2) * rng.normal(size=(n, cols))
    return 0.7 * part(1) + np.sqrt(1 - 0.49) * part(FIDELITY_QUESTIONS)


@needs_all  # about 4 min: a per-question table per resample
@pytest.mark.xfail(strict=True, reason=BIASED_DISTANCE)
def test_fidelity_distances_cluster_bootstrap_cover_the_population_distances():
    """distance_intervals on the issue's case: the headline design's 200 participants (10 personas) against a
    fixed human reference (uniform answers, uncorrelated questions). Truth: each distance between the
    planted model population (1,000,000 participants, the population's own shares and correlations) and
    the humans. WD and TV are far from 0 here; Frobenius is biased upward at 10 personas."""
    from bench.metrics.distances import answer_table_distances, frobenius, ordinal_frame, weighted_correlation
    from bench.populations.fidelity import distance_intervals

    inv = likert_inventory([(f"q{j}", "E", 1) for j in range(FIDELITY_QUESTIONS)])
    scales = {it.id: inv.scale_of(it) for it in inv.items}
    qs = list(scales)
    human = {q: np.full(5, 0.2) for q in qs}
    human_corr = pd.DataFrame(np.eye(len(qs)), index=qs, columns=qs)
    big = fidelity_answers(np.random.default_rng(6), 1_000_000, 1)
    uniform = pd.DataFrame({q: np.arange(1.0, 6.0) for q in qs})  # five people: every option once
    truth, _ = answer_table_distances(big, None, uniform, None, qs, scales)
    fro = frobenius(weighted_correlation(ordinal_frame(big, scales)), human_corr)
    truth.update(fro)
    per = TEMPLATES * ORDERS * REPS
    rng = np.random.default_rng(118)
    names = ["mean_wd", "mean_tv", "frobenius", "frobenius_normalized"]
    lo, hi = {n: [] for n in names}, {n: [] for n in names}
    for k in range(N_SETS):
        answers = fidelity_answers(rng, PERSONAS, per)
        ids = [f"p{i // per}|{i % per}" for i in range(len(answers))]
        long = answers.assign(participant_id=ids).melt("participant_id", var_name="item_id", value_name="answer")
        long = long.assign(persona_id=long["participant_id"].str.split("|").str[0], template_id="t",
                           option_probs=None, invalid=False)
        ci = distance_intervals(long, inv, pd.Series(1.0, index=ids), human, scales, seed=k, human_corr=human_corr)
        for n in names:
            lo[n].append(ci[f"{n}_ci_low"])
            hi[n].append(ci[f"{n}_ci_high"])
    failures = []
    for n in names:
        try:
            check(f"fidelity {n}", "cluster bootstrap (BCa, expanded), humans fixed", HEADLINE, lo[n], hi[n], truth[n])
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, failures


# ------------------------------------------------------------------------------------------
# the human split-half estimate (its interval over the splits and the respondents)


SPLIT_QUESTIONS, SPLIT_OPTIONS, SPLIT_N = 10, 6, 60  # the case: 60 respondents


@needs_all  # about 8 min: 500 halvings per set
def test_split_half_interval_covers_the_expected_split_half_tv():
    """count_split_half_bounds at 60 respondents answering 10 six-option questions from planted
    distributions (a group-count reference). Truth: the split-half TV expected at that size, E over
    samples of 60 and their splits, from 5,000 planted samples with one split each."""
    from bench.instruments.model import Scale
    from bench.metrics.distances import count_split_half_bounds, question_distances

    rng = np.random.default_rng(118)
    probs = rng.dirichlet(np.full(SPLIT_OPTIONS, 2.0), SPLIT_QUESTIONS)
    scale = Scale(values=tuple(range(1, SPLIT_OPTIONS + 1)), labels=tuple(str(v) for v in range(1, SPLIT_OPTIONS + 1)))
    scales = {f"q{j}": scale for j in range(SPLIT_QUESTIONS)}

    def sample(draw):
        return {f"q{j}": draw.multinomial(SPLIT_N, probs[j]) for j in range(SPLIT_QUESTIONS)}

    truth_rng = np.random.default_rng(119)
    tvs = []
    for _ in range(5_000):
        counts = sample(truth_rng)
        a, b = {}, {}
        for q, c in counts.items():
            half = truth_rng.multivariate_hypergeometric(c, SPLIT_N // 2)
            a[q], b[q] = half / half.sum(), (c - half) / (c - half).sum()
        tvs.append(float(np.nanmean(question_distances(a, b, scales)["tv"])))
    truth = float(np.mean(tvs))
    lo, hi = [], []
    for k in range(N_SETS):
        out = count_split_half_bounds(sample(rng), scales, n_splits=100, seed=k)["mean_tv"]
        lo.append(out["ci_low"])
        hi.append(out["ci_high"])
    check("human split-half TV", "respondents resampled x splits, log-normal", "60 respondents x 10 questions (counts)",
          lo, hi, truth)
