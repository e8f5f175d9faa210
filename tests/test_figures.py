"""Per-run figures on real tiny runs of SmolLM2: written, non-empty, in both formats, linked from
summary.md, skipped with a reason when the run has no data for them, and the same bytes when drawn again
from the run folder (what the leaderboard does). `tables --format latex` on a real run parses."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from bench.cli import main
from bench.leaderboard.collect import RESPONSE_COLUMNS, read_run
from bench.results.figures import FIGURES, FOLDER, RunData, draw_figures

pytestmark = [pytest.mark.model]

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
