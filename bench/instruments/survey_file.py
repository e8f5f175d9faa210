"""Surveys as instruments: Pew-style questions, each with its own categorical options.

A survey file sits beside the inventories (`surveys/*.yaml`, or a user's own path) and loads into the
same `Inventory` dataclass with kind "survey", so plans, prompts, engines and the response table
treat it like any instrument. What differs is per question: the options, which of them are ordinal
(and where they sit on the ordinal axis) and which are refusals, their codes in the source data, and
which reorderings the question allows.

    - id: LIFEFIFTY_W92
      text: "In general, would you say life in America today is better, worse, ...?"
      topic: society                   # optional grouping, reported like a trait
      randomize: reverse               # none | reverse (default) | shuffle; refusals always stay last
      options:
        - Better                       # a plain label: code and ordinal = its position
        - {label: Worse, ordinal: 3}
        - {label: About the same, ordinal: 2}
        - {label: Refused, code: 99, refusal: true}
"""

from __future__ import annotations

from typing import Any

from bench.instruments.fields import MAX_OPTIONS, MIN_OPTIONS, check_header
from bench.instruments.fields import is_num as _num, number_problem
from bench.instruments.fields import nonempty_str as _text
from bench.instruments.model import Inventory, Item, Scale

REQUIRED = ("id", "name", "version", "source", "licence", "kind", "items")
OPTIONAL = ("notes", "topics")
ITEM_FIELDS = ("id", "text", "options", "topic", "randomize")
OPTION_FIELDS = ("label", "code", "ordinal", "refusal")
RANDOMIZE = ("none", "reverse", "shuffle")


def build_survey(data: dict, errors: list[str]) -> Inventory | None:
    """Validate a parsed survey file, one message per problem naming the item and field."""
    err = errors.append
    version = check_header(data, REQUIRED, OPTIONAL, errors)
    topics = data.get("topics") or {}
    if not isinstance(topics, dict) or not all(_text(k) and _text(v) for k, v in topics.items()):
        err(f"field 'topics': {topics!r} must be a mapping of code -> name")
        topics = {}

    raw = data.get("items")
    items: list[Item] = []
    if "items" in data and (not isinstance(raw, list) or not raw):
        err(f"field 'items': {raw!r} must be a non-empty list of questions")
        raw = []
    seen: set[str] = set()
    for n, it in enumerate(raw or [], 1):
        item = _question(it, n, topics, seen, err)
        if item is not None:
            items.append(item)
    if errors:
        return None
    used = []
    for it in items:
        if it.trait and it.trait not in used:
            used.append(it.trait)
    traits = tuple((t, str(topics.get(t, t))) for t in used)
    return Inventory(id=data["id"], name=data["name"], version=str(version), source=data["source"],
                     licence=data["licence"], kind="survey", scale=None, traits=traits, scoring="none",
                     items=tuple(items), stem="{text}")


def _question(it: Any, n: int, topics: dict, seen: set[str], err) -> Item | None:
    if not isinstance(it, dict):
        err(f"question #{n}: {it!r} must be a mapping with id, text, options")
        return None
    qid = str(it["id"]) if isinstance(it.get("id"), (str, int)) and not isinstance(it.get("id"), bool) else None
    if not qid or not qid.strip():
        err(f"question #{n}: field 'id': {it.get('id')!r} must be a non-empty string")
        return None
    where = f"question {qid!r}"
    if qid in seen:
        err(f"{where}: field 'id': {qid!r} is duplicated")
    seen.add(qid)
    ok = [True]

    def bad(msg: str) -> None:
        ok[0] = False
        err(f"{where}: {msg}")

    for f in it:
        if f not in ITEM_FIELDS:
            bad(f"unknown field {f!r} (allowed: {', '.join(ITEM_FIELDS)})")
    if not _text(it.get("text")):
        bad(f"field 'text': {it.get('text', 'missing')!r} must be the question wording")
    randomize = it.get("randomize", "reverse")
    if randomize not in RANDOMIZE:
        bad(f"field 'randomize': {randomize!r} is not one of {', '.join(RANDOMIZE)}")
    topic = it.get("topic", "")
    if topic and not _text(topic):
        bad(f"field 'topic': {topic!r} must be a string")
    elif topic and topics and topic not in topics:
        bad(f"field 'topic': {topic!r} is not declared in 'topics' ({', '.join(sorted(topics))})")
    scale = _options(it.get("options"), where, bad)
    if not ok[0] or scale is None:
        return None
    return Item(id=qid, trait=str(topic or ""), keyed=1, text=it["text"], scale=scale, randomize=randomize)


def _options(raw: Any, where: str, bad) -> Scale | None:
    if not isinstance(raw, list) or len(raw) < MIN_OPTIONS:
        bad(f"field 'options': {raw!r} must be a list of at least {MIN_OPTIONS} options")
        return None
    if len(raw) > MAX_OPTIONS:
        bad(f"field 'options': {len(raw)} options; option labels are the digits 1-{MAX_OPTIONS}, "
            f"so at most {MAX_OPTIONS}")
        return None
    labels, codes, ordinal = [], [], []
    substantive = 0
    for k, opt in enumerate(raw, 1):
        spec = {"label": opt} if isinstance(opt, str) else opt
        if not isinstance(spec, dict):
            bad(f"option #{k}: {opt!r} must be a label or a mapping with {', '.join(OPTION_FIELDS)}")
            return None
        unknown = [f for f in spec if f not in OPTION_FIELDS]
        if unknown:
            bad(f"option #{k}: unknown field(s) {unknown} (allowed: {', '.join(OPTION_FIELDS)})")
            return None
        label, refusal = spec.get("label"), spec.get("refusal", False)
        if not _text(label):
            bad(f"option #{k}: field 'label': {label!r} must be a non-empty string")
            return None
        if not isinstance(refusal, bool):
            bad(f"option {label!r}: field 'refusal': {refusal!r} must be true or false")
            return None
        code = spec.get("code", k)
        if not _num(code):
            bad(f"option {label!r}: field 'code': {code!r} {number_problem(code)}")
            return None
        if refusal:
            if "ordinal" in spec:
                bad(f"option {label!r}: a refusal has no 'ordinal' value")
                return None
            ordinal.append(None)
        else:
            if ordinal and ordinal[-1] is None:
                bad(f"option {label!r}: refusal options must come after every substantive option")
                return None
            substantive += 1
            value = spec.get("ordinal", substantive)
            if not _num(value):
                bad(f"option {label!r}: field 'ordinal': {value!r} {number_problem(value)}")
                return None
            ordinal.append(float(value))
        labels.append(label)
        codes.append(float(code))
    if substantive < 1:
        bad("field 'options': every option is a refusal")
        return None
    for name, values in (("label", labels), ("code", codes)):
        dup = sorted({str(v) for v in values if values.count(v) > 1})
        if dup:
            bad(f"field 'options': {name}(s) {', '.join(dup)} listed more than once")
            return None
    return Scale(values=tuple(range(1, len(labels) + 1)), labels=tuple(labels), ordinal=tuple(ordinal),
                 codes=tuple(codes))


def substantive_permutation(scale: Scale, order: str, randomize: str, rng_permutation) -> tuple[int, ...]:
    """The shown order of a question's options: reorder only the substantive options, refusals last.

    order is the participant's option order; randomize is what the question allows. A question that
    allows only "reverse" maps a "shuffled" participant to one of its two orders (rng decides).
    """
    n = len(scale.values)
    k = sum(1 for r in scale.refusals if not r)
    head, tail = list(range(k)), list(range(k, n))
    if order == "original" or randomize == "none":
        return tuple(range(n))
    if order == "reversed" or (order == "shuffled" and randomize == "reverse"):
        if order == "shuffled" and rng_permutation(2)[0] == 0:
            return tuple(range(n))
        return tuple(head[::-1] + tail)
    return tuple([head[i] for i in rng_permutation(k)] + tail)
