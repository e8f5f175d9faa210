"""Filling templates with user text: only the known placeholders are filled, and values are never read again.

A prompt template, a persona header or a population's `bio` is a template owned by the config; what goes
into it (item texts, stems, option labels, poles, persona texts, corpus passages, demographic labels) is
data. `str.format` on a user's text would run its braces as fields (`{persona}` a KeyError,
`{left.__class__.__mro__}` a look into Python objects), so nothing here formats user text: a template is
split once into literal text and placeholders, each placeholder must be a plain known name (no attribute,
index, conversion or format spec), and the values are joined in as they are.
"""

from __future__ import annotations

import string
from typing import Any, Iterable, Mapping

from bench.errors import BenchError

FORMATTER = string.Formatter()


class TemplateError(BenchError):
    """A template with an unknown placeholder, a format spec or an unmatched brace; named by where it is."""


def parts(template: str, allowed: Iterable[str], where: str) -> list[tuple[str, str | None]]:
    """(literal text, placeholder name or None) pieces of a template; `{{` and `}}` are literal braces."""
    allowed = tuple(allowed)
    names = ", ".join("{" + a + "}" for a in allowed)
    try:
        pieces = list(FORMATTER.parse(template))
    except ValueError as err:
        raise TemplateError(f"{where}: {template!r}: {err} (write {{{{ and }}}} for literal braces; "
                            f"placeholders: {names})") from None
    out = []
    for literal, field, spec, conversion in pieces:
        if field is not None and (field not in allowed or spec or conversion):
            shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise TemplateError(f"{where}: {template!r}: placeholder {shown} is not one of {names} "
                                "(write {{ and }} for literal braces)")
        out.append((literal, field))
    return out


def check_template(template: str, allowed: Iterable[str], where: str) -> str | None:
    """The problem with a template as one message, or None when it can be filled."""
    try:
        parts(template, allowed, where)
    except TemplateError as err:
        return str(err)
    return None


def fill(template: str, values: Mapping[str, Any], where: str = "template") -> str:
    """The template with each placeholder replaced by its value as text; the values' own braces stay."""
    return "".join(literal + ("" if field is None else str(values[field]))
                   for literal, field in parts(template, values, where))


def fill_text(text: str, placeholder: str, value: str) -> str:
    """A user's own text with one placeholder (an instrument's stem and its `{text}`) replaced; every
    other brace in either is literal, and the inserted value is not searched again."""
    return text.replace(placeholder, value)
