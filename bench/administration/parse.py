"""Parse a generated answer into an option position; never raises on model output.

Models answer "4", "4 = Agree a little", "I would choose 4", "Agree a little", or refuse. A
malformed answer is recorded as invalid (and refusals flagged) rather than guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CUE = re.compile(
    r"(?:answer(?:\s+is)?|choose|chose|choice(?:\s+is)?|select|pick|option|rating(?:\s+is)?|"
    r"rate(?:\s+(?:it|myself|this))?(?:\s+(?:as|a|an))?|would\s+say|i'd\s+say|go\s+with|"
    r"give\s+(?:it|myself|this)(?:\s+(?:a|an))?)"
    r"\s*[:=]?\s*(?:number\s+)?\(?(\d+)\b(?![.,]\d)(?!\s*(?:-|–|—|or|and|to)\s*\d)",
    re.IGNORECASE,
)
_OUT_OF = re.compile(r"(?<![\d.])(\d+)\s*(?:out\s+of|/)\s*\d+", re.IGNORECASE)  # "4 out of 5", "4/5"
_NUMBER = re.compile(r"(?<![\d.])(\d+)(?![\d.]*\d)")
_LEADING = re.compile(r"^\W*(\d+)\b(?![.,]\d)(?!\s*(?:-|–|—|or|and|to)\s*\d)", re.IGNORECASE)  # not "2 or 4", "1-5: 4"
_REFUSAL = re.compile(
    r"\b(?:i\s*(?:can(?:no|')t|cannot|am\s+not\s+able|'m\s+not\s+able|am\s+unable|'m\s+unable|"
    r"won't|will\s+not|do\s+not\s+have|don't\s+have|prefer\s+not|am\s+an\s+ai|'m\s+an\s+ai)|as\s+an\s+ai|"
    r"not\s+able\s+to\s+(?:answer|provide)|refuse|decline|no\s+personal\s+(?:opinions|feelings|experiences))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ParsedAnswer:
    """What a generated text said: the option position it picked (None when it named none) and whether it
    refused."""
    position: int | None  # 1-based option position as shown; None when invalid
    refusal: bool = False

    @property
    def valid(self) -> bool:
        """Whether the text named an option at all."""
        return self.position is not None


def parse_answer(text: str | None, option_labels: list[str]) -> ParsedAnswer:
    """Map a free-text answer to the shown option position (1..len(option_labels))."""
    n = len(option_labels)
    if not text or not text.strip():
        return ParsedAnswer(None)
    body = text.strip().replace("\u2019", "'")  # curly apostrophes: "I’m unable"

    def in_range(s: str) -> int | None:
        v = int(s)
        return v if 1 <= v <= n else None

    for pattern in (_LEADING, _CUE, _OUT_OF):
        m = pattern.search(body)
        if m and in_range(m.group(1)):
            return ParsedAnswer(int(m.group(1)))
    numbers = {int(x) for x in _NUMBER.findall(body) if in_range(x)}
    if len(numbers) == 1:
        return ParsedAnswer(numbers.pop())
    lowered = body.lower()
    hits = [i for i, label in enumerate(option_labels) if label and label.lower() in lowered]
    # The longest matching label wins ("Agree a little" over "Agree" when both match).
    if hits:
        best = max(hits, key=lambda i: len(option_labels[i]))
        rivals = [i for i in hits if i != best and option_labels[i].lower() not in option_labels[best].lower()]
        if not rivals:
            return ParsedAnswer(best + 1)
    return ParsedAnswer(None, refusal=bool(_REFUSAL.search(body)))
