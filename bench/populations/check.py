"""Checks of a population config file (conf/population/*.yaml or a user's own), every problem at once.

A run reads these fields only when it reaches the fidelity step, after the model work; `validate FILE`
finds a wrong kind, a missing file or an attribute that maps to no option before that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.instruments.fields import is_int, is_num, number_problem
from bench.populations.human import KINDS
from bench.templates import check_template

FIELDS = ("name", "reference", "instrument", "missing", "demographics", "attributes", "sample", "temperature",
          "split_half", "seed", "path")
# reference fields per kind (the loader's arguments); `instrument` and `missing` are the population's own
REFERENCE_FIELDS = {
    "psych_bfi": ("kind", "source"),
    "opinionqa": ("kind", "path", "attributes"),
    "sav": ("kind", "path", "weight_column", "demographic_columns", "respondent_column"),
    "csv": ("kind", "path", "columns", "match", "sep", "encoding", "respondent_column", "weight_column",
            "demographic_columns", "value_map"),
}
NO_REFERENCE = ("none", "auto")
ATTRIBUTE_FIELDS = ("column", "values", "bins", "bio", "portray")
MISSING = "???"  # Hydra's mandatory value: given on the command line


def resolved_path(value: str) -> tuple[Path | None, str | None]:
    """A path as the run would see it (`${oc.env:...}` interpolations resolved), or the reason it is not one."""
    if "${" not in value:
        return Path(value).expanduser(), None
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return Path(str(OmegaConf.to_container(OmegaConf.create({"p": value}), resolve=True)["p"])).expanduser(), None
    except OmegaConfBaseException as err:
        return None, f"cannot be resolved ({str(err).splitlines()[0]})"


def present(path: Path) -> bool:
    """Whether something is at `path`; a path the system cannot look up (too long, no permission) is not there."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def check_population(data: dict, prefix: str = "") -> tuple[list[str], list[str]]:
    """(problems, notes): each problem names the field and its value; notes say what is left to the command line."""
    from bench.instruments import InventoryError, available_inventories, load_inventory, resolve_inventory_path
    from bench.resources import SURVEY_DIR

    problems, notes = [], []
    bad = problems.append

    def f(name: str) -> str:
        return f"field '{prefix}{name}'"

    for key in data:
        if key == "defaults" and not prefix:  # the Hydra defaults list naming its typed schema
            continue
        if key not in FIELDS:
            bad(f"{f(key)}: unknown field (allowed: {', '.join(FIELDS)})")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        bad(f"{f('name')}: {name!r} must be a non-empty string" if "name" in data else f"{f('name')}: missing")
    if name in NO_REFERENCE:
        return problems, notes

    ref = data.get("reference")
    if "reference" not in data:
        bad(f"{f('reference')}: missing (a mapping with kind one of {', '.join(KINDS)})")
    elif not isinstance(ref, dict):
        bad(f"{f('reference')}: {ref!r} must be a mapping with kind one of {', '.join(KINDS)}")
    else:
        kind = ref.get("kind")
        if kind not in KINDS:
            bad(f"{f('reference.kind')}: {kind!r} is not one of {', '.join(KINDS)}")
        for key in ref:
            if key in ("instrument", "survey", "missing"):
                bad(f"{f('reference.' + key)}: write it at the population's top level ({key}: {ref[key]}), not "
                    "inside 'reference'")
            elif kind in REFERENCE_FIELDS and key not in REFERENCE_FIELDS[kind]:
                bad(f"{f('reference.' + key)}: unknown field for kind {kind!r} (allowed: "
                    f"{', '.join(REFERENCE_FIELDS[kind])})")
        if ref.get("match") not in (None, "id", "text"):
            bad(f"{f('reference.match')}: {ref['match']!r} is not one of id, text")
        path = ref.get("path")
        if kind in ("opinionqa", "sav", "csv") and "path" not in ref:
            bad(f"{f('reference.path')}: missing (kind {kind!r} reads a file or folder)")
        if path == MISSING:
            notes.append(f"{prefix}reference.path is {MISSING}: give {prefix or 'population.'}reference.path=<...> "
                         "on the command line")
        elif path is not None:
            if not isinstance(path, str):
                bad(f"{f('reference.path')}: {path!r} must be a path")
            else:
                where, why = resolved_path(path)
                if why:
                    bad(f"{f('reference.path')}: {path!r} {why}")
                elif not present(where):
                    shown = path if str(where) == path else f"{path!r} (resolved: {where})"
                    bad(f"{f('reference.path')}: {shown} does not exist")

    instrument = data.get("instrument")
    if "instrument" not in data:
        bad(f"{f('instrument')}: missing (the inventory or survey the human answers line up with)")
    elif not isinstance(instrument, str):
        bad(f"{f('instrument')}: {instrument!r} must be an inventory id or the path of an inventory file")
    else:
        try:
            resolve_inventory_path(instrument)
        except InventoryError as err:
            why = str(err).split(": ", 1)[-1] if ("/" in instrument or instrument.endswith((".yaml", ".yml"))) \
                else "is not a shipped instrument"
            bad(f"{f('instrument')}: {instrument!r} {why} (an inventory id: "
                f"{', '.join(available_inventories())}; or the path of your inventory file)")
    missing = data.get("missing")
    if missing is not None and not (isinstance(missing, list) and all(is_num(c) or isinstance(c, str) for c in missing)):
        bad(f"{f('missing')}: {missing!r} must be a list of answer codes that mean no answer, e.g. [0, 99]")

    survey = None
    demographics = data.get("demographics")
    if demographics is not None:
        surveys = sorted(p.stem for p in SURVEY_DIR.glob("*.yaml"))
        if not isinstance(demographics, str) or demographics not in surveys:
            bad(f"{f('demographics')}: {demographics!r} is not a shipped survey ({', '.join(surveys)})")
        else:
            try:
                survey = load_inventory(demographics)
            except InventoryError as err:
                bad(f"{f('demographics')}: {demographics!r}: {str(err).splitlines()[0]}")

    attributes = data.get("attributes")
    if attributes is not None:
        if demographics is None:
            bad(f"{f('attributes')}: given without 'demographics' (the survey whose options the attributes map to)")
        if not isinstance(attributes, dict) or not attributes:
            bad(f"{f('attributes')}: {attributes!r} must be a mapping of demographic question id -> "
                f"{{{', '.join(ATTRIBUTE_FIELDS)}}}")
        else:
            for qid, spec in attributes.items():
                problems += check_attribute(qid, spec, survey, f"{prefix}attributes.{qid}")

    for key in ("sample", "split_half"):
        if key in data and not (is_int(data[key]) and data[key] >= 1):
            bad(f"{f(key)}: {data[key]!r} must be a whole number >= 1")
    if "temperature" in data and not (is_num(data["temperature"]) and data["temperature"] >= 0):
        bad(f"{f('temperature')}: {data['temperature']!r} {number_problem(data['temperature'], 'a number >= 0')}")
    if "seed" in data and not is_int(data["seed"]):
        bad(f"{f('seed')}: {data['seed']!r} must be a whole number")
    return problems, notes


def check_attribute(qid: Any, spec: Any, survey, where: str) -> list[str]:
    """One demographic attribute: its column, how values map to the survey question's option labels."""
    out = []
    bad = out.append
    item = None
    if survey is not None:
        try:
            item = survey.item(str(qid))
        except KeyError:
            bad(f"field '{where}': {qid!r} is not a question of survey {survey.id} "
                f"({', '.join(it.id for it in survey.items)})")
    if not isinstance(spec, dict):
        bad(f"field '{where}': {spec!r} must be a mapping with {', '.join(ATTRIBUTE_FIELDS)}")
        return out
    for key in spec:
        if key not in ATTRIBUTE_FIELDS:
            bad(f"field '{where}.{key}': unknown field (allowed: {', '.join(ATTRIBUTE_FIELDS)})")
    if "column" in spec and not isinstance(spec["column"], (str, int)):
        bad(f"field '{where}.column': {spec['column']!r} must be a column name")
    if "values" in spec and "bins" in spec:
        bad(f"field '{where}': give 'values' or 'bins', not both")
    labels = set(item.scale.labels) if item is not None else None
    values = spec.get("values")
    if values is not None:
        if not isinstance(values, dict) or not values:
            bad(f"field '{where}.values': {values!r} must be a mapping of code -> option label")
        elif labels is not None:
            for code, label in values.items():
                if label not in labels:
                    bad(f"field '{where}.values.{code}': {label!r} is not an option of question {qid} "
                        f"({', '.join(map(repr, item.scale.labels))})")
    bins = spec.get("bins")
    if bins is not None:
        if not isinstance(bins, dict) or not bins:
            bad(f"field '{where}.bins': {bins!r} must be a mapping of option label -> [low, high]")
        else:
            for label, rng in bins.items():
                if not (isinstance(rng, list) and len(rng) == 2 and all(is_num(v) for v in rng) and rng[0] <= rng[1]):
                    bad(f"field '{where}.bins.{label}': {rng!r} must be [low, high], finite numbers with low <= high "
                        "(an open end: a bound past every value, e.g. 200 for an age)")
                if labels is not None and label not in labels:
                    bad(f"field '{where}.bins': {label!r} is not an option of question {qid} "
                        f"({', '.join(map(repr, item.scale.labels))})")
    for key in ("bio", "portray"):
        text = spec.get(key)
        if text is None:
            continue
        if not isinstance(text, str):
            bad(f"field '{where}.{key}': {text!r} must be a string")
            continue
        problem = check_template(text, ("label",), f"field '{where}.{key}'")
        if problem:
            bad(problem)
    return out
