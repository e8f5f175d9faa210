"""PsychoBench's questionnaires.json (CUHK-ARISE/PsychoBench) as inventories: one scale of the file each.

The file is the user's (a path they give); persona-bench ships none of its wording. Each entry has
`scale` (PsychoBench reverses an answer as `scale - answer`, so the answer range is low..high with
low + high = scale), `reverse` (item numbers), `compute_mode` (AVG or SUM over a category's items),
`categories` (the sub-scales, each with its item numbers and `crowd` norms: mean, std, n per human
group), and a `prompt` whose wording names the answer range ("numbers from 0 to 4") and usually the
option labels. The range is read from that sentence and checked against `scale`; labels are read from
the prompt where it gives them, the rest are shown as "<value> of <low>-<high>". Items no category
names (the fillers of LOT-R and BSRI) are left out: PsychoBench asks them but never scores them.
The 16P entry is refused: its wording is proprietary and PsychoBench scores it on the publisher's site.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from bench.instruments.fields import MAX_OPTIONS, MIN_OPTIONS, is_int, is_num, nonempty_str
from bench.instruments.model import Inventory, InventoryError, Item, Norm, Scale
from bench.userfiles import UserFileError, read_bounded

REFUSED = {"16P": "16P is the 16Personalities test: its wording is proprietary and PsychoBench scores it by posting "
                  "the answers to 16personalities.com, so persona-bench neither runs nor ships it; use inventory=mbti "
                  "(the open OEJTS) for four letters"}
MODES = {"AVG": "mean", "SUM": "sum"}
MAX_JSON_BYTES = 8 * 1024 * 1024  # PsychoBench's file is 75 KB
RANGE = re.compile(r"numbers?\s+from\s+(\d+)\s+to\s+(\d+)", re.I)
# "1 denotes 'x'", "1 means 'x'", "1 = 'x'", "1: 'x'", '1 denotes "x"', "'1' to indicate 'YES'", "1 (x)"
QUOTED = re.compile(r"['\"]?(\d+)['\"]?\s*(?:denotes|means|=|:|to indicate)\s*(['\"])(.+?)\2", re.I)
BRACKETED = re.compile(r"(?<![\d.])(\d+)\s*\(([^()\d][^()]*)\)")
BARE = re.compile(r"(?<![\d.])(\d+)\s+denotes\s+([A-Za-z][A-Za-z ]*?)\s*(?=,|\.|;|$)")


def read_questionnaires(path: str | Path) -> tuple[list, bytes]:
    """The parsed file and its bytes, read bounded; damage is named by file."""
    p = Path(str(path)).expanduser()
    if p.is_dir():
        raise InventoryError(f"{path}: is a folder, not PsychoBench's questionnaires.json")
    if not p.is_file():
        raise InventoryError(f"{path}: file not found (PsychoBench's questionnaires.json)")
    try:
        raw = read_bounded(p, limit=MAX_JSON_BYTES, what="PsychoBench questionnaires file")
        data = json.loads(raw.decode("utf-8"))
    except UserFileError as err:
        raise InventoryError(str(err)) from None
    except UnicodeDecodeError:
        raise InventoryError(f"{path}: not UTF-8 text (PsychoBench's questionnaires.json is JSON)") from None
    except (ValueError, RecursionError) as err:
        raise InventoryError(f"{path}: not valid JSON ({str(err).splitlines()[0][:200]})") from None
    if not isinstance(data, list) or not all(isinstance(q, dict) and nonempty_str(q.get("name")) for q in data):
        raise InventoryError(f"{path}: top level must be a list of questionnaires, each with a 'name'")
    return data, raw


def psychobench_scales(path: str | Path) -> list[str]:
    """The scales of the file that persona-bench can run (16P left out)."""
    data, _ = read_questionnaires(path)
    return [q["name"] for q in data if q["name"] not in REFUSED]


def load_psychobench(path: str | Path, scale: str) -> Inventory:
    """One scale of the file as an Inventory with its norms; every problem named at once (file, scale, field)."""
    data, raw = read_questionnaires(path)
    if scale in REFUSED:
        raise InventoryError(f"{path}: scale {scale!r}: {REFUSED[scale]}")
    found = [q for q in data if q["name"] == scale]
    if not found:
        names = [q["name"] for q in data if q["name"] not in REFUSED]
        raise InventoryError(f"{path}: scale {scale!r} is not in the file; its scales: {', '.join(names)}")
    errors: list[str] = []
    inv = build_psychobench(found[0], errors)
    if errors:
        raise InventoryError("\n".join(f"{path}: scale {scale!r}: {e}" for e in errors))
    assert inv is not None
    sha = hashlib.sha256(raw).hexdigest()
    resolved = str(Path(str(path)).expanduser().resolve())
    return Inventory(**{**inv.__dict__, "path": resolved, "sha256": sha, "version": f"file sha256 {sha[:12]}",
                        "source": f"PsychoBench questionnaires.json (CUHK-ARISE/PsychoBench), scale {scale}, "
                                  f"read from {resolved}"})


def answer_range(q: dict, err) -> tuple[int, int] | None:
    """low..high from the prompt's "numbers from X to Y", checked against `scale` (PsychoBench's reverse
    is `scale - answer`, which is low + high - answer only when low + high == scale)."""
    top = q.get("scale")
    if not is_int(top):
        err(f"field 'scale': {top!r} must be an integer")
        return None
    for field in ("prompt", "inner_setting"):
        m = RANGE.search(str(q.get(field, "")))
        if m:
            low, high = int(m.group(1)), int(m.group(2))
            break
    else:
        err("field 'prompt': no 'numbers from <low> to <high>' sentence, so the answer range is unknown")
        return None
    if low + high != top:
        err(f"field 'scale': {top} does not fit the prompt's range {low}..{high} (PsychoBench reverses an answer "
            f"as scale - answer, so scale must be {low + high})")
        return None
    if not MIN_OPTIONS <= high - low + 1 <= MAX_OPTIONS:
        err(f"field 'prompt': range {low}..{high} has {high - low + 1} options; a prompt labels options with the "
            f"digits 1-{MAX_OPTIONS}, so {MIN_OPTIONS} to {MAX_OPTIONS}")
        return None
    return low, high


def option_labels(prompt: str, low: int, high: int) -> tuple[str, ...]:
    """Each answer's label from the prompt's own wording where it gives one; "<v> of <low>-<high>" (with
    the label after it, when only some are named) otherwise, so the option shown always says its value."""
    named: dict[int, str] = {}
    for pattern, g in ((QUOTED, 3), (BRACKETED, 2), (BARE, 2)):
        for m in pattern.finditer(prompt):
            v = int(m.group(1))
            if low <= v <= high and v not in named:
                named[v] = m.group(g).strip()
    if all(v in named for v in range(low, high + 1)):
        return tuple(named[v] for v in range(low, high + 1))
    return tuple(f"{v} of {low}-{high}" + (f": {named[v]}" if v in named else "") for v in range(low, high + 1))


def build_psychobench(q: dict, errors: list[str]) -> Inventory | None:
    """One PsychoBench questionnaire as an Inventory; each problem is added to `errors` (so a file reports all at
    once), None when it cannot be built."""
    err = errors.append
    name = q["name"]
    rng = answer_range(q, err)
    mode = q.get("compute_mode")
    if mode not in MODES:
        err(f"field 'compute_mode': {mode!r} is not one of {', '.join(MODES)}")
    questions = q.get("questions")
    if not isinstance(questions, dict) or not questions:
        err("field 'questions': must be a non-empty mapping of item number -> text")
        questions = {}
    texts: dict[int, str] = {}
    for key, text in questions.items():
        if not str(key).isdigit() or not nonempty_str(text):
            err(f"field 'questions.{key}': {text!r} must map an item number to a non-empty text")
        else:
            texts[int(key)] = text
    reverse = q.get("reverse", [])
    if not isinstance(reverse, list) or not all(is_int(r) for r in reverse):
        err(f"field 'reverse': {reverse!r} must be a list of item numbers")
        reverse = []
    for r in reverse:
        if texts and r not in texts:
            err(f"field 'reverse': item {r} is not in 'questions'")
    cats = q.get("categories")
    if not isinstance(cats, list) or not cats:
        err("field 'categories': must be a non-empty list of sub-scales (cat_name, cat_questions, crowd)")
        cats = []
    trait_of: dict[int, str] = {}
    traits: list[str] = []
    norms: list[Norm] = []
    for k, cat in enumerate(cats):
        where = f"field 'categories[{k}]'"
        if not isinstance(cat, dict) or not nonempty_str(cat.get("cat_name")):
            err(f"{where}: must be a mapping with a non-empty 'cat_name'")
            continue
        code = cat["cat_name"]
        where = f"category {code!r}"
        if code in traits:
            err(f"{where}: named twice")
            continue
        traits.append(code)
        members = cat.get("cat_questions")
        if not isinstance(members, list) or not members or not all(is_int(m) for m in members):
            err(f"{where}: field 'cat_questions': {members!r} must be a non-empty list of item numbers")
            members = []
        for m in members:
            if texts and m not in texts:
                err(f"{where}: item {m} is not in 'questions'")
            elif m in trait_of:
                err(f"{where}: item {m} is already in category {trait_of[m]!r} (an item scores one sub-scale)")
            else:
                trait_of[m] = code
        crowd = cat.get("crowd", [])
        if not isinstance(crowd, list):
            err(f"{where}: field 'crowd': {crowd!r} must be a list of human groups")
            crowd = []
        for j, g in enumerate(crowd):
            ok = (isinstance(g, dict) and nonempty_str(g.get("crowd_name")) and is_num(g.get("mean"))
                  and is_num(g.get("std")) and g["std"] > 0 and is_int(g.get("n")) and g["n"] >= 2)
            if not ok:
                err(f"{where}: field 'crowd[{j}]': {g!r} needs crowd_name, a finite mean, a finite std > 0 and an integer n >= 2")
                continue
            norms.append(Norm(trait=code, group=g["crowd_name"], mean=float(g["mean"]), sd=float(g["std"]),
                              n=int(g["n"]), source=f"PsychoBench questionnaires.json, {name} crowd norms"))
    if errors or rng is None:
        return None
    low, high = rng
    items = tuple(Item(id=f"{name}_{n:03d}", trait=trait_of[n], keyed=-1 if n in reverse else 1, text=texts[n])
                  for n in sorted(texts) if n in trait_of)
    return Inventory(
        id=f"psychobench-{name.lower()}", name=f"{name} (PsychoBench)", version="", source="", kind="likert",
        licence="the instrument's own terms, as its authors state them; the file is the user's and not shipped",
        scale=Scale(values=tuple(range(low, high + 1)), labels=option_labels(str(q.get("prompt", "")), low, high)),
        traits=tuple((t, t) for t in traits), scoring=MODES[mode], items=items, norms=tuple(norms),
    )
