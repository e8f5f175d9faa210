"""Write the leaderboard: index.html + assets + one page per run, leaderboard.md/.csv/.json.

Each output is escaped for its own format. HTML: every value goes through Jinja2 autoescaping (model
names, persona texts, config values, file paths, error messages); charts are SVG files shown with
<img>, which never runs script. Markdown: a cell's backslashes, pipes and the characters that start
markup or HTML (` * _ [ ] < > & ~) are backslash-escaped and newlines become spaces, so a quote stays a
quote. CSV: pandas quoting, and a text cell starting with = + - @ (or a tab or carriage return) gets a
leading ' so a spreadsheet shows it as text instead of running it as a formula.
The pages load only files next to them, so the folder works from file:// and any static host.

The folder is the leaderboard's own (bench.results.outdir): it is checked before anything is written,
every file written is listed in `.persona-bench-site.json`, and a rebuild removes only files listed there.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from bench.leaderboard.collect import RunRecord, Skipped
from bench.leaderboard.table import (
    BASE_SECTIONS,
    KEY,
    headline_columns,
    interval_of,
    label,
    safe_config,
)
from bench.mappings import flatten
from bench.results import figures
from bench.results.outdir import OwnedFolder

SITE_MANIFEST = ".persona-bench-site.json"
TOOL = "persona-bench leaderboard"
CHARTS = tuple(f"{name}.{fmt}" for name in figures.FIGURES for fmt in figures.FORMATS)

HERE = Path(__file__).parent
RECORD_SECTIONS = [("Trait scores", "trait_summary"), ("Internal consistency", "reliability"),
                   ("Prompt sensitivity (Kruskal-Wallis across templates)", "prompt_sensitivity"),
                   ("Option-order symmetry (reversed minus original)", "option_order_symmetry"),
                   ("Trait shift of high- vs low-pole personas", "trait_target_shift"),
                   ("Answer shares by question (survey)", "question_distributions")]


def fmt(x) -> str:
    """A value as a table cell: numbers to 3 decimals, missing or non-finite ones as "-"."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    return str(x) if isinstance(x, int) else f"{x:.3f}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=fmt, label=label)
    env.globals.update(interval_of=interval_of, with_interval=with_interval)
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


MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&~|])")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def markdown_text(text: str) -> str:
    """Text safe in a Markdown table cell: special characters backslash-escaped, line breaks as spaces."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()) if text else "")


def _markdown_cell(x) -> str:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return fmt(x)
    return markdown_text("" if x is None else str(x))


def csv_cell(x):
    """A text cell a spreadsheet will not run as a formula: a leading ' before = + - @ tab CR."""
    return "'" + x if isinstance(x, str) and x.startswith(FORMULA_START) else x


def csv_text(table: pd.DataFrame) -> str:
    """The table as CSV with text cells made safe from spreadsheet formula injection."""
    safe = table.copy()
    for col in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[col]):
            safe[col] = safe[col].astype(object).map(csv_cell)
    return safe.to_csv(index=False)


def with_interval(value, interval) -> str:
    """A figure and its 95% interval as shown on the pages: "0.512 [0.401, 0.620]"."""
    return fmt(value) if interval is None or fmt(value) == "-" else f"{fmt(value)} [{fmt(interval[0])}, {fmt(interval[1])}]"


def markdown_text_of(table: pd.DataFrame, columns: list[str], skipped: list[Skipped]) -> str:
    """leaderboard.md: the table with intervals beside their numbers, cells escaped, and the skipped folders
    listed under it."""
    records = table.to_dict(orient="records")
    shown = pd.DataFrame({c: [with_interval(_plain(r[c]), interval_of(r, c))
                              if isinstance(_plain(r[c]), (int, float)) and not isinstance(r[c], bool)
                              and interval_of(r, c) else _markdown_cell(_plain(r[c])) for r in records]
                          for c in columns}, dtype=object)
    shown.columns = [_markdown_cell(label(c)) for c in columns]
    align = ["right" if pd.api.types.is_numeric_dtype(table[c]) else "left" for c in columns]
    text = "# persona-bench leaderboard\n\n" + shown.to_markdown(index=False, disable_numparse=True,
                                                                 colalign=align) + "\n"
    if skipped:
        text += "\nSkipped run folders:\n\n" + "".join(
            f"- {markdown_text(s.path.name)}: {markdown_text(s.reason)}\n" for s in skipped)
    return text


def _run_page(env, rec: RunRecord, row: dict, page: str, site: OwnedFolder, headline: list[str], title: str,
              version: str, draw: bool) -> None:
    charts, not_drawn = [], []
    if draw:
        drawn = figures.draw_figures(figures.RunData(rec.metrics, rec.scores, rec.answers, rec.fidelity))
        for name, files in drawn.files.items():
            for fmt, blob in files.items():
                site.write_bytes(f"runs/{page}/{name}.{fmt}", blob)
            charts.append((figures.FIGURES[name][0], {fmt: f"{page}/{name}.{fmt}" for fmt in files}))
        not_drawn = [(figures.FIGURES[name][0], why) for name, why in drawn.skipped.items()]
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
        not_drawn=not_drawn,
        headline=[c for c in headline if c not in (*KEY, "run", "variant")], sections=sections,
        extras=[(n, v) for n, v in extras if v], personas=safe_config(personas),
        provenance=sorted(flatten(rec.provenance, lists="drop").items()),
        config_yaml=yaml.safe_dump(safe_config(rec.config), sort_keys=False, allow_unicode=True))
    site.write_text(f"runs/{page}.html", text)


def site_files(pages: list[str]) -> list[str]:
    """Every file a build with these run pages may write (claimed in the manifest before the first)."""
    assets = [f"assets/{p.name}" for p in sorted((HERE / "assets").iterdir()) if p.is_file()]
    return ["index.html", ".nojekyll", "leaderboard.md", "leaderboard.csv", "leaderboard.json", *assets,
            *(f"runs/{p}.html" for p in pages), *(f"runs/{p}/{c}" for p in pages for c in CHARTS)]


def site_folder(out: Path, roots=()) -> OwnedFolder:
    """The leaderboard's output folder; refuses one that is, holds or sits in a runs folder or holds
    files the leaderboard did not write."""
    return OwnedFolder(out, TOOL, SITE_MANIFEST, inputs=roots, exclusive=True)


def write_site(table: pd.DataFrame, records: list[RunRecord], skipped: list[Skipped], out: Path,
               title: str = "persona-bench leaderboard", draw: bool = True, version: str = "",
               roots=()) -> list[str]:
    """Write the site into out (checked first, see site_folder); returns the stale files it removed."""
    site = site_folder(Path(out), roots)
    pages = page_names(table) if len(table) else []
    planned = site_files(pages)
    site.check(planned)
    site.claim(planned)
    for asset in sorted((HERE / "assets").iterdir()):
        if asset.is_file():
            site.write_bytes(f"assets/{asset.name}", asset.read_bytes())
    headline = headline_columns(table)
    rows = [{k: _plain(v) for k, v in r.items()} for r in table.to_dict(orient="records")]
    env = _environment()
    for rec, row, page in zip(records, rows, pages):
        _run_page(env, rec, row, page, site, headline, title, version, draw)
        row["_page"] = page
    choices = {col: sorted({str(r[col]) for r in rows}) for col in KEY}
    site.write_text("index.html", env.get_template("index.html.j2").render(
        title=title, version=version, root="", key=KEY, columns=headline, rows=rows, choices=choices,
        skipped=skipped))
    site.write_text(".nojekyll", "")
    site.write_text("leaderboard.md", markdown_text_of(table, headline, skipped))
    site.write_text("leaderboard.csv", csv_text(table))
    payload = {"key": KEY, "columns": list(table.columns), "headline_columns": headline,
               "runs": [{k: v for k, v in r.items() if k != "_page"} for r in rows],
               "skipped": [{"path": str(s.path), "reason": s.reason} for s in skipped]}
    site.write_text("leaderboard.json", json.dumps(payload, indent=1, allow_nan=False) + "\n")
    return site.finish()
