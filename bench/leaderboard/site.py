"""Write the leaderboard: index.html + assets + one page per run, leaderboard.md/.csv/.json.

Every value that reaches HTML goes through Jinja2 autoescaping (model names, persona texts, config
values, file paths, error messages); charts are SVG files shown with <img>, which never runs script.
The pages load only files next to them, so the folder works from file:// and any static host.
"""

from __future__ import annotations

import html
import json
import math
import re
import shutil
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from bench.leaderboard import plots
from bench.leaderboard.collect import RunRecord, Skipped
from bench.leaderboard.table import (
    BASE_SECTIONS,
    KEY,
    headline_columns,
    label,
    safe_config,
)
from bench.mappings import flatten

HERE = Path(__file__).parent
RECORD_SECTIONS = [("Trait scores", "trait_summary"), ("Internal consistency", "reliability"),
                   ("Prompt sensitivity (Kruskal-Wallis across templates)", "prompt_sensitivity"),
                   ("Option-order symmetry (reversed minus original)", "option_order_symmetry"),
                   ("Trait shift of high- vs low-pole personas", "trait_target_shift")]


def fmt(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    return str(x) if isinstance(x, int) else f"{x:.3f}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=fmt, label=label)
    return env


def _plain(x):
    """NaN -> None and numpy scalars -> Python, for templates and JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x.item() if hasattr(x, "item") and not isinstance(x, (str, bytes)) else x


def _label_first(record: dict) -> dict:
    """A metrics row with its naming columns (trait, persona...) first."""
    first = [k for k in ("trait", "persona_id", "template_id", "option_order", "temperature") if k in record]
    return {**{k: record[k] for k in first}, **{k: v for k, v in record.items() if k not in first}}


def page_names(table: pd.DataFrame) -> list[str]:
    """A file name per run from its folder name, unique even when two roots hold equal names."""
    names, seen = [], set()
    for run in table["run"]:
        base = re.sub(r"[^A-Za-z0-9_.+-]+", "_", str(run)).strip("._") or "run"
        name, k = base, 2
        while name in seen:
            name, k = f"{base}-{k}", k + 1
        seen.add(name)
        names.append(name)
    return names


def _markdown_cell(x) -> str:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return fmt(x)
    return html.escape("" if x is None else str(x)).replace("|", "\\|").replace("\n", " ")


def write_markdown(table: pd.DataFrame, columns: list[str], path: Path, skipped: list[Skipped]) -> None:
    shown = table[columns].astype(object).map(lambda v: _markdown_cell(_plain(v)))
    shown.columns = [_markdown_cell(label(c)) for c in columns]
    align = ["right" if pd.api.types.is_numeric_dtype(table[c]) else "left" for c in columns]
    text = "# persona-bench leaderboard\n\n" + shown.to_markdown(index=False, disable_numparse=True,
                                                                 colalign=align) + "\n"
    if skipped:
        text += "\nSkipped run folders:\n\n" + "".join(f"- `{s.path.name}`: {_markdown_cell(s.reason)}\n" for s in skipped)
    path.write_text(text)


def _run_page(env, rec: RunRecord, row: dict, page: str, out: Path, headline: list[str], title: str,
              version: str, draw: bool) -> None:
    charts = []
    if draw:
        folder = out / "runs" / page
        for name, made in [("trait profile", plots.trait_profile(rec.metrics, folder / "profile.svg")),
                           ("answer distribution", plots.answer_distribution(rec.answers, rec.fidelity,
                                                                              folder / "answers.svg")),
                           ("temperature curves", plots.temperature_curves(rec.scores, rec.metrics,
                                                                            folder / "temperature.svg"))]:
            if made is not None:
                charts.append((name, f"{page}/{made.name}"))
    m = rec.metrics
    sections = [(name, [_label_first(r) for r in m[key] if isinstance(r, dict)]) for name, key in RECORD_SECTIONS
                if isinstance(m.get(key), list) and m[key]]
    extras = [("ICC across repetitions (pooled)", flatten((m.get("icc_repetitions") or {}).get("pooled"), lists="drop")),
              ("Invalid and refusal rates", flatten(m.get("invalid_rates"), lists="drop"))]
    if isinstance(m.get("mbti"), dict):
        extras.append(("MBTI", flatten(m["mbti"], lists="drop")))
    extras += [(section, flatten(value, lists="drop")) for section, value in m.items()
               if section not in BASE_SECTIONS and isinstance(value, dict)]
    persona = (rec.config.get("persona") or {}).get("personas")
    personas = [p for p in persona if isinstance(p, dict)] if isinstance(persona, list) else []
    text = env.get_template("run.html.j2").render(
        title=title, version=version, root="../", row=row, metrics=m, key=KEY, notes=rec.notes, charts=charts,
        headline=[c for c in headline if c not in (*KEY, "run", "variant")], sections=sections,
        extras=[(n, v) for n, v in extras if v], personas=safe_config(personas),
        provenance=sorted(flatten(rec.provenance, lists="drop").items()),
        config_yaml=yaml.safe_dump(safe_config(rec.config), sort_keys=False, allow_unicode=True))
    (out / "runs" / f"{page}.html").write_text(text)


def write_site(table: pd.DataFrame, records: list[RunRecord], skipped: list[Skipped], out: Path,
               title: str = "persona-bench leaderboard", draw: bool = True, version: str = "") -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for owned in ("runs", "assets"):  # ours: rebuilt each time so no stale run page survives
        shutil.rmtree(out / owned, ignore_errors=True)
    (out / "runs").mkdir()
    shutil.copytree(HERE / "assets", out / "assets")
    headline = headline_columns(table)
    rows = [{k: _plain(v) for k, v in r.items()} for r in table.to_dict(orient="records")]
    pages = page_names(table) if len(table) else []
    env = _environment()
    for rec, row, page in zip(records, rows, pages):
        _run_page(env, rec, row, page, out, headline, title, version, draw)
        row["_page"] = page
    choices = {col: sorted({str(r[col]) for r in rows}) for col in KEY}
    (out / "index.html").write_text(env.get_template("index.html.j2").render(
        title=title, version=version, root="", key=KEY, columns=headline, rows=rows, choices=choices,
        skipped=skipped))
    (out / ".nojekyll").write_text("")
    write_markdown(table, headline, out / "leaderboard.md", skipped)
    table.to_csv(out / "leaderboard.csv", index=False)
    payload = {"key": KEY, "columns": list(table.columns), "headline_columns": headline,
               "runs": [{k: v for k, v in r.items() if k != "_page"} for r in rows],
               "skipped": [{"path": str(s.path), "reason": s.reason} for s in skipped]}
    (out / "leaderboard.json").write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")
