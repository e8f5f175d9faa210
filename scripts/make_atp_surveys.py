"""Write bench/surveys/atp_w{34,92,99}.yaml (+ demographic question sets) from Anthology's question files.

Run once by a maintainer with the reference data at hand (python scripts/make_atp_surveys.py
../shared/data); the survey files it writes are what the project ships. Option codes and the
"Refused" option come from OpinionQA's info.csv where the wave is there (W34, W92); W99 uses
Pew's usual codes (1..k, Refused = 99).
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pandas as pd
import yaml

SOURCE = ("Pew Research Center American Trends Panel wave {w}: question wording and options as used by "
          "Anthology (Moon et al. 2024, github CannyLab/anthology @5f7c775, configs/surveys/questionnaire/ATP/"
          "ATP_W{w}_questions.yaml){codes}.")
LICENCE = ("Question files: BSD-3-Clause (Copyright (c) 2023 Canny Lab, UC Berkeley). Question wording is "
           "Pew Research Center's; Pew's data terms apply to the respondent data, which is not shipped.")


def _yaml(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)


def main(data: Path, out: Path) -> None:
    for w in ("34", "92", "99"):
        questions = yaml.safe_load((data / f"anthology_atp/ATP_W{w}_questions.yaml").read_text())["questions"]
        info_path = data / f"opinionqa/American_Trends_Panel_W{w}/info.csv"
        info = pd.read_csv(info_path).set_index("key") if info_path.exists() else None
        items = []
        for qid, q in questions.items():
            choices = [str(c) for c in q["choices"]]
            options: list = []
            if info is not None and qid in info.index:
                mapping = ast.literal_eval(info.loc[qid, "option_mapping"])
                by_label = {v: k for k, v in mapping.items()}
                if [v for v in mapping.values() if v != "Refused"] != choices:
                    raise SystemExit(f"W{w} {qid}: Anthology choices {choices} != OpinionQA {list(mapping.values())}")
                ordinals = ast.literal_eval(info.loc[qid, "option_ordinal"])
                for label, ordinal in zip(choices, ordinals):
                    options.append({"label": label, "code": int(by_label[label]), "ordinal": float(ordinal)})
                if "Refused" in by_label:
                    options.append({"label": "Refused", "code": int(by_label["Refused"]), "refusal": True})
            else:
                options = [{"label": c, "code": k} for k, c in enumerate(choices, 1)]
                options.append({"label": "Refused", "code": 99, "refusal": True})
            patterns = q.get("randomization_pattern") or []
            n = len(choices)
            if not q.get("allow_randomization"):
                randomize = "none"
            elif sorted(map(tuple, patterns)) == sorted([tuple(range(n)), tuple(reversed(range(n)))]):
                randomize = "reverse"
            else:
                raise SystemExit(f"W{w} {qid}: randomization pattern {patterns} is not forward/reverse")
            items.append({"id": qid, "text": " ".join(str(q["question_body"]).split()), "randomize": randomize,
                          "options": options})
        codes = " ; option codes, ordinal values and the Refused option from OpinionQA info.csv" if info is not None else ""
        doc = {"id": f"atp_w{w}", "name": f"Pew ATP W{w} questions (Anthology set)", "version": "1.0",
               "source": SOURCE.format(w=w, codes=codes), "licence": LICENCE, "kind": "survey",
               "notes": "Options in Pew's order; refusals last and never reordered. randomize: reverse = the "
                        "forward/reverse patterns Anthology used.",
               "items": items}
        (out / f"atp_w{w}.yaml").write_text(_yaml(doc))

        demo = json.loads((data / f"anthology_atp/ATP_W{w}_demographic_questions.json").read_text())
        ditems = []
        for qid, q in demo.items():
            choices = [(int(float(code)), str(label)) for code, label in q["choices"].items()]
            substantive = [(c, lab) for c, lab in choices if c != 99]
            refused = [(c, lab) for c, lab in choices if c == 99]
            if len(substantive) > 9:
                continue  # religion (12 options): option labels are the digits 1-9
            opts = [{"label": lab, "code": c} for c, lab in substantive]
            if len(substantive) + len(refused) <= 9:
                opts += [{"label": lab, "code": c, "refusal": True} for c, lab in refused]
            ditems.append({"id": qid, "text": str(q["question_body"]), "topic": str(q["topic"]),
                           "randomize": "none", "options": opts})
        ddoc = {"id": f"atp_w{w}_demographics", "name": f"Pew ATP W{w} demographic questions (Anthology set)",
                "version": "1.0",
                "source": (f"Anthology (github CannyLab/anthology @5f7c775) data/questions/ATP_W{w}_demographic_"
                           "questions.json: the demographic questions whose answers match virtual personas to "
                           "respondents. Pew codes kept."),
                "licence": LICENCE, "kind": "survey",
                "notes": "Religion (12 substantive options) is left out: option labels are the digits 1-9, and "
                         "Anthology's matching does not use it. Where 'Refused' would make a tenth option "
                         "(income) it is left out.",
                "items": ditems}
        (out / f"atp_w{w}_demographics.yaml").write_text(_yaml(ddoc))


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared/data", root / "bench" / "surveys")
