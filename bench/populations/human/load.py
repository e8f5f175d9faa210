"""One entry point for every human reference: a shipped name or a spec dispatched on its `kind`."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from bench.instruments import load_inventory
from bench.populations.human.answer_table import TableCheck, check_answer_csv, load_answer_csv
from bench.populations.human.bfi import load_psych_bfi
from bench.populations.human.model import GroupCounts, HumanDataError, HumanResponses
from bench.populations.human.opinionqa import load_opinionqa
from bench.populations.human.sav import load_pew_sav

REFERENCES = ("psych_bfi",)
KINDS = ("psych_bfi", "opinionqa", "sav", "csv")


def load_reference(spec: str | Mapping, check_only: bool = False) -> HumanResponses | GroupCounts | TableCheck:
    """A reference by name ("psych_bfi") or by spec: {"kind": "opinionqa"|"sav"|"csv", "path": ..., ...}.

    sav/csv specs take the loader's keyword arguments; "survey"/"instrument" may be an inventory
    name or path (loaded with load_inventory). `check_only`: a csv table is checked in chunks, with the
    same checks, and only its counts come back (`persona-bench validate` of a table of millions of rows).
    """
    if isinstance(spec, str):
        if spec in ("psych_bfi", "psych::bfi", "bfi"):
            return load_psych_bfi()
        raise HumanDataError(f"unknown human reference {spec!r}; available: {', '.join(REFERENCES)} "
                             f"or a mapping with kind one of {', '.join(KINDS)}")
    if not isinstance(spec, Mapping):
        raise HumanDataError(f"human reference spec {spec!r} must be a name or a mapping")
    args = dict(spec)
    kind = args.pop("kind", None)
    if kind == "psych_bfi":
        return load_psych_bfi(**args)
    if kind not in KINDS:
        raise HumanDataError(f"human reference spec: field 'kind': {kind!r} is not one of {', '.join(KINDS)}")
    if "path" not in args:
        raise HumanDataError(f"human reference spec (kind {kind!r}): field 'path' missing")
    path = args.pop("path")
    try:
        if kind == "opinionqa":
            return load_opinionqa(path, **args)
        for key in ("survey", "instrument"):
            if isinstance(args.get(key), (str, Path)):
                args[key] = load_inventory(args[key])
        if kind == "sav":
            return load_pew_sav(path, **args)
        return (check_answer_csv if check_only else load_answer_csv)(path, **args)
    except TypeError as exc:
        raise HumanDataError(f"human reference spec (kind {kind!r}, path {path}): {exc}") from None
