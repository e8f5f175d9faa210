"""Human reference data in one tidy form, for comparing persona populations with real people.

`load_reference` is the one entry point: a shipped name ("psych_bfi") or a spec whose `kind` picks
the loader, one module each: `bfi` (psych::bfi), `opinionqa` (group counts), `sav` (Pew ATP waves),
`answer_table` (any CSV/TSV/.sav/.parquet/.xlsx of answers). `model` holds the two shapes they
return (`HumanResponses`, `GroupCounts`) and the helpers they share. Every loader error is a
`HumanDataError` naming the file, the column or field and the bad value.
"""

from bench.populations.human.answer_table import load_answer_csv
from bench.populations.human.bfi import load_psych_bfi
from bench.populations.human.load import KINDS, REFERENCES, load_reference
from bench.populations.human.model import GroupCounts, HumanDataError, HumanResponses
from bench.populations.human.opinionqa import load_opinionqa
from bench.populations.human.sav import load_pew_sav

__all__ = ["GroupCounts", "HumanDataError", "HumanResponses", "KINDS", "REFERENCES", "load_answer_csv",
           "load_opinionqa", "load_pew_sav", "load_psych_bfi", "load_reference"]
