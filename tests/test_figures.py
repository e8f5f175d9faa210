"""Per-run figures on real tiny runs of SmolLM2: written, non-empty, in both formats, linked from
summary.md, skipped with a reason when the run has no data for them, and the same bytes when drawn again
from the run folder (what the leaderboard does). `tables --format latex` on a real run parses.

Then what the figures and summary tables show, drawn from planted score tables (no model): the profile on
the score range with a distinct colour and marker per persona and the targets marked, the type figure at 16
personas with its title clear of the headers, the survey table and the label-mass line."""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from bench.cli import main
from bench.instruments import load_inventory, validate_inventory
from bench.leaderboard.collect import RESPONSE_COLUMNS, read_run
from bench.metrics.paper_tables import paper_tables
from bench.metrics.tables import score_range
from bench.metrics.tables import SCORE_COLS
from bench.metrics.trust import LOW_LABEL_MASS
from bench.results.figures import (
    FIGURES,
    FOLDER,
    RANGE_MARGIN,
    STYLE,
    TARGET_COLOR,
    RunData,
    draw_figures,
    question_distributions,
    trait_profile,
    type_distribution,
)
from bench.results.summary import label_mass_line, survey_table

# the tests on real runs get the `model` marker from the `finished_runs` fixture (tests/conftest.py)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(finished_runs):
    """The session's BFI run at one temperature, and its MBTI run with two type personas at two temperatures (4
    items: one per dichotomy, so every letter is scored; the truncation warning is expected). Read only."""
    return {"bfi": finished_runs.path("bfi"), "mbti": finished_runs.path("mbti")}


def written(run_dir) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in (run_dir / FOLDER).iterdir():
        out.setdefault(f.stem, set()).add(f.suffix[1:])
    return out


def check_file(path) -> None:
    data = path.read_bytes()
    assert len(data) > 1000, path
    if path.suffix == ".png":
        assert data.startswith(PNG_MAGIC), path
    else:
        root = ET.fromstring(data)
        assert root.tag.endswith("svg") and len(list(root.iter())) > 20, path


def test_every_run_writes_its_figures_in_both_formats(runs):
    want = {"bfi": {"profile", "answers", "positions"}, "mbti": {"profile", "answers", "positions", "types",
                                                                  "temperature"}}
    for name, run_dir in runs.items():
        found = written(run_dir)
        assert set(found) == want[name], name
        assert all(fmts == {"png", "svg"} for fmts in found.values()), found
        for f in (run_dir / FOLDER).iterdir():
            check_file(f)


def test_summary_links_the_figures_and_says_which_were_not_drawn(runs):
    bfi = (runs["bfi"] / "summary.md").read_text()
    links = re.findall(r"\]\((figures/[^)]+)\)", bfi)
    assert sorted(links) == sorted(f"figures/{n}.{f}" for n in ("profile", "answers", "positions") for f in ("png", "svg"))
    assert all((runs["bfi"] / link).is_file() for link in links)
    assert f"- {FIGURES['types'][0]}: not a type inventory" in bfi
    assert f"- {FIGURES['temperature'][0]}: one temperature only (T=0)" in bfi
    mass = re.search(r"probability mass on the option labels: mean ([\d.]+), min [\d.]+ \((.+)\)", bfi)
    assert ("low mass" in mass.group(2)) == (float(mass.group(1)) < LOW_LABEL_MASS), mass.group(0)
    ranges = json.loads((runs["bfi"] / "metrics.json").read_text())["score_range"]
    assert [(r["trait"], r["min"], r["max"]) for r in ranges] == [(t, 1.0, 5.0) for t in "EACNO"]
    mbti = (runs["mbti"] / "summary.md").read_text()
    assert "(figures/types.svg)" in mbti and "(figures/temperature.png)" in mbti
    assert "## Type accuracy per persona x temperature" in mbti and "| E/I" in mbti


def test_the_type_figure_counts_what_the_paper_table_holds(runs):
    metrics = json.loads((runs["mbti"] / "metrics.json").read_text())
    dist = pd.DataFrame(metrics["paper_tables"]["type_distribution"])
    scores = pd.read_parquet(runs["mbti"] / "scores.parquet")
    # 2 personas x 2 temperatures x (1 template x 2 orders x 1 repetition) participants
    assert dist.groupby(["persona_id", "temperature"])["count"].sum().to_dict() == {
        (p, t): 2 for p in ("ISTJ", "ENFP") for t in (0.0, 1.0)}
    letters = scores.pivot_table(index="participant_id", columns="trait", values="letter", aggfunc="first")
    found = letters[["IE", "SN", "FT", "JP"]].apply("".join, axis=1)
    assert sorted(dist["type"].repeat(dist["count"])) == sorted(found)
    assert "mbti.accuracy" in {w["figure"] for w in metrics["warnings"]}  # truncated: expected


def test_drawing_again_from_the_run_folder_gives_the_same_bytes(runs):
    for run_dir in runs.values():
        rec = read_run(run_dir)  # as the leaderboard reads it: responses with RESPONSE_COLUMNS only
        assert list(rec.answers.columns) == RESPONSE_COLUMNS
        again = draw_figures(RunData(rec.metrics, rec.scores, rec.answers, rec.fidelity))
        for name, files in again.files.items():
            for fmt, blob in files.items():
                assert blob == (run_dir / FOLDER / f"{name}.{fmt}").read_bytes(), (run_dir.name, name, fmt)


def test_tables_latex_on_a_real_run_parses_as_a_tabular(runs, capsys):
    assert main(["tables", str(runs["mbti"]), "--format", "latex"]) == 0
    out = capsys.readouterr().out
    blocks = re.findall(r"\\begin\{tabular\}\{([lrc]+)\}(.*?)\\end\{tabular\}", out, re.S)
    assert len(blocks) == 4  # trait scores, type accuracy, per-dichotomy accuracy, type distribution
    for spec, body in blocks:
        rows = [line for line in body.splitlines() if line.rstrip().endswith(r"\\")]
        assert len(rows) == 1 + 4 and all(line.count("&") == len(spec) - 1 for line in rows)
    assert main(["tables", str(runs["bfi"]), "--table", "type_accuracy"]) == 2
    assert "type tables need a type inventory" in capsys.readouterr().err
    assert main(["tables", str(runs["bfi"]), str(runs["mbti"]), "--table", "trait_scores"]) == 0
    stacked = capsys.readouterr().out
    assert f"smollm2 ({runs['bfi'].name})" in stacked and f"smollm2 ({runs['mbti'].name})" in stacked


def test_a_metrics_file_from_before_the_figures_data_says_so():
    old = {"trait_summary": [{"trait": "IE", "mean": 24.0}], "mbti": {"accuracy": {}}, "position_bias": {"identified": False}}
    drawn = draw_figures(RunData(old))
    assert not drawn.files
    assert "sweep rerun" in drawn.skipped["types"] and "sweep rerun" in drawn.skipped["positions"]
    assert drawn.skipped["profile"] == "the run holds no trait scores"


# -- what the figures show, from planted score tables --------------------------------------------------

TYPES = ["".join(c) for c in itertools.product("IE", "SN", "FT", "JP")]  # the 16 MBTI types
# 10 pole personas (E_high: "E+", ...) and 6 without a target: 16, the most a figure draws
POLE_PERSONAS = [(f"{t}_{p}", f"{t}{'+' if p == 'high' else '-'}") for t in "EACNO" for p in ("high", "low")]
BFI_PERSONAS = POLE_PERSONAS + [(f"role_{k}", "") for k in range(6)]


def planted_scores(inventory, personas, templates=2, temps=(0.0,), reps=1, seed=0) -> pd.DataFrame:
    """A score table as score_participants writes it: every persona x template x temperature x repetition a
    participant, its scores drawn across the whole score range (two templates give t intervals far wider
    than the scale: what the figure must not stretch its axis for)."""
    rng = np.random.default_rng(seed)
    ranges = {r["trait"]: r for r in score_range(inventory)}
    dich = {d.id: d for d in inventory.dichotomies}
    rows = []
    for pid, ((persona, target), tpl, temp, rep) in enumerate(
            itertools.product(personas, range(templates), temps, range(reps))):
        for trait, r in ranges.items():
            score = float(rng.uniform(r["min"], r["max"]))
            letter = (dich[trait].high if score > dich[trait].cutoff else dich[trait].low) if trait in dich else None
            rows.append([f"p{pid}", persona, target, f"t{tpl}", "original", temp, rep, trait, score, 4, 4, letter])
    return pd.DataFrame(rows, columns=SCORE_COLS)


def run_data(inventory, scores) -> RunData:
    """What a run folder gives the figures: metrics.json's score range and paper tables, the score table."""
    tables = {k: v.to_dict(orient="records") for k, v in paper_tables(scores, inventory).items()}
    return RunData({"trait_summary": [{}], "score_range": score_range(inventory), "paper_tables": tables}, scores)


def laid_out(fig):
    """The figure laid out as it is saved, and a renderer to measure its artists with."""
    FigureCanvasAgg(fig)
    with mpl.rc_context(STYLE):
        fig.draw_without_rendering()
    return fig.canvas.get_renderer()


def drawn(drawer, data):
    with mpl.rc_context(STYLE):
        return drawer(data)


def dots(ax) -> list:
    """The persona dots: the lines labelled for the legend."""
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def hollow(ax) -> list:
    return [line for line in ax.get_lines() if line.get_markerfacecolor() == "none"]


@pytest.fixture(scope="module")
def bfi16():
    inv = load_inventory("bfi")
    return run_data(inv, planted_scores(inv, BFI_PERSONAS, templates=3))


@pytest.fixture(scope="module")
def mbti16():
    inv = load_inventory("mbti")
    return run_data(inv, planted_scores(inv, [(t, t) for t in TYPES], reps=3))


def test_score_range_is_what_each_rule_can_score():
    assert score_range(load_inventory("bfi"))[0] == {"trait": "E", "min": 1.0, "max": 5.0, "min_pole": "E-",
                                                     "max_pole": "E+"}
    assert score_range(load_inventory("mbti"))[0] == {"trait": "IE", "min": 8.0, "max": 40.0, "min_pole": "I",
                                                      "max_pole": "E"}  # 30 + 8 items keyed +-1 on 1..5
    summed = validate_inventory({
        "id": "s", "name": "S", "version": 1, "source": "s", "licence": "l", "kind": "likert", "scoring": "sum",
        "scale": {"values": [1, 2, 3, 4], "labels": ["a", "b", "c", "d"]}, "traits": {"E": "E", "A": "A"},
        "items": [{"id": f"i{k}", "text": "x", "trait": "E" if k < 3 else "A", "keyed": "+-"[k % 2]}
                  for k in range(5)]})
    assert [(r["trait"], r["min"], r["max"]) for r in score_range(summed)] == [("E", 3.0, 12.0), ("A", 2.0, 8.0)]
    scores = planted_scores(summed, BFI_PERSONAS[:3])
    fig = drawn(trait_profile, RunData({"trait_summary": [{}], "score_range": score_range(summed)}, scores))
    laid_out(fig)
    assert [ax.get_ylim() for ax in fig.axes] == [pytest.approx((3 - 0.45, 12 + 0.45)), pytest.approx((2 - 0.3, 8.3))]


def test_profile_at_16_personas_stays_on_the_scale_with_a_style_and_target_each(bfi16):
    table = bfi16.scores.groupby(["persona_id", "trait"])["score"]
    assert (table.mean() + 2 * table.std()).max() > 5.5  # a plain t interval over 3 conditions leaves the scale
    fig = drawn(trait_profile, bfi16)
    laid_out(fig)
    (ax,) = fig.axes
    pad = RANGE_MARGIN * 4
    assert ax.get_ylim() == pytest.approx((1 - pad, 5 + pad))  # never stretched by an interval
    segments = [seg for coll in ax.collections for seg in coll.get_segments()]
    assert len(segments) == 16 * 5  # every persona x trait has its interval, bounded by the scale itself
    for seg in segments:
        assert 1 <= seg[:, 1].min() and seg[:, 1].max() <= 5
    assert not any(str(line.get_marker()) in (r"$\uparrow$", r"$\downarrow$") for line in ax.get_lines())
    styles = {(line.get_color(), line.get_marker()) for line in dots(ax)}
    assert len(dots(ax)) == len(styles) == 16
    assert len(fig.legends[0].get_texts()) == 16
    traits = [t.get_text() for t in ax.get_xticklabels()]
    by_persona = {line.get_label(): line for line in dots(ax)}
    marks = hollow(ax)
    assert len(marks) == len(POLE_PERSONAS)  # one mark per persona with a target, none for the others
    for (persona, target), mark in zip(POLE_PERSONAS, marks):
        dot = by_persona[persona]
        assert (mark.get_color(), mark.get_marker()) == (dot.get_color(), dot.get_marker())
        x, y = mark.get_xdata()[0], mark.get_ydata()[0]
        assert y == (5.0 if target.endswith("+") else 1.0)
        assert x == pytest.approx(dot.get_xdata()[traits.index(target[0])])
    assert "hollow: the persona's target pole" in fig.get_supxlabel()


def test_profile_from_a_metrics_file_without_a_score_range_spans_the_means(bfi16):
    scores = bfi16.scores[bfi16.scores["persona_id"].isin(["E_high", "role_0"])]
    fig = drawn(trait_profile, RunData({"trait_summary": [{}]}, scores))
    means = scores.groupby(["persona_id", "trait"])["score"].mean()
    pad = RANGE_MARGIN * (means.max() - means.min())
    assert fig.axes[0].get_ylim() == pytest.approx((means.min() - pad, means.max() + pad))
    assert "score range not in metrics.json" in fig.get_supxlabel() and not hollow(fig.axes[0])


def test_profile_marks_each_letter_of_a_type_target(mbti16):
    fig = drawn(trait_profile, mbti16)
    (ax,) = fig.axes
    assert ax.get_ylim() == pytest.approx((8 - 1.6, 40 + 1.6))
    dichotomies = [t.get_text() for t in ax.get_xticklabels()]
    assert dichotomies == ["IE", "SN", "FT", "JP"]
    marks = {(line.get_color(), line.get_marker()): line for line in hollow(ax)}
    assert len(marks) == 16 and all(len(m.get_xdata()) == 4 for m in marks.values())  # every letter a pole
    for dot in dots(ax):
        ends = marks[dot.get_color(), dot.get_marker()].get_ydata()
        # the low end is the dichotomy's first letter (I, S, F, J), the high end its second (E, N, T, P)
        assert list(ends) == [8.0 if letter in "ISFJ" else 40.0 for letter in dot.get_label()], dot.get_label()
        assert list(marks[dot.get_color(), dot.get_marker()].get_xdata()) == list(dot.get_xdata())


def test_type_figure_at_16_personas_marks_the_target_and_keeps_the_title_clear(mbti16):
    fig = drawn(type_distribution, mbti16)
    renderer = laid_out(fig)
    axes = np.array(fig.axes).reshape(16, 1)
    (title,) = [t.get_window_extent(renderer) for t in fig.get_children()
                if isinstance(t, mpl.text.Text) and t.get_text() == fig.get_suptitle()]
    headers = [ax.title.get_window_extent(renderer) for ax in axes[0]]
    assert [ax.get_title() for ax in axes[0]] == ["T=0"]
    assert not any(title.overlaps(h) for h in headers) and title.y0 >= max(h.y1 for h in headers)
    legend = fig.legends[0].get_window_extent(renderer)
    assert not any(legend.overlaps(ax.get_tightbbox(renderer)) for ax in fig.axes)
    types = [t.get_text() for t in axes[-1, 0].get_xticklabels()]
    assert sorted(types) == sorted(TYPES)  # every target on the axis, found or not
    for row, persona in zip(axes, TYPES):
        assert row[0].get_ylabel().startswith(f"{persona}\n(n=6")
        for ax in row:
            (shade,) = [p for p in ax.patches if p.get_alpha() == 0.15]  # the target's column
            assert shade.get_x() + shade.get_width() / 2 == pytest.approx(types.index(persona))
            bars = [p for p in ax.patches if p is not shade]
            assert [mpl.colors.to_hex(b.get_facecolor()) == TARGET_COLOR for b in bars] == [t == persona for t in types]


def test_questions_figure_and_survey_table_show_only_asked_questions():
    rows = [{"item_id": q, "option": o, "share": s, "share_ci_low": None, "share_ci_high": None}
            for q, shares in (("Q1", (0.25, 0.75)), ("Q2", (1.0, 0.0)), ("Q3", (None, None)))
            for o, s in zip(("yes", "no"), shares)]  # Q3 not asked (max_items): no share
    fig = drawn(question_distributions, RunData({"question_distributions": rows}))
    assert [ax.get_title() for ax in fig.axes if ax.axison] == ["Q1", "Q2"]
    text = "\n".join(survey_table(rows, {"Q1", "Q2"}))
    assert "Q3" not in text and "[95% CI]" not in text and re.search(r"\|\s+share\s+\|", text)
    assert "(no interval: fewer than" in text
    rows[0].update(share_ci_low=0.1, share_ci_high=0.4)
    text = "\n".join(survey_table(rows, {"Q1", "Q2"}))
    assert re.search(r"\|\s+share \[95% CI\]\s+\|", text) and "0.250 [0.100, 0.400]" in text and "no interval" not in text


def test_label_mass_line_says_low_only_under_the_threshold():
    assert LOW_LABEL_MASS == 0.5
    high = label_mass_line(pd.Series([0.97, 0.99]))
    assert high.startswith("probability mass on the option labels: mean 0.980, min 0.970 (")
    assert "low" not in high and "something else" not in high
    low = label_mass_line(pd.Series([0.2, 0.4]))
    assert low == ("probability mass on the option labels: mean 0.300, min 0.200 "
                   "(low mass: the model wanted to say something else)")
