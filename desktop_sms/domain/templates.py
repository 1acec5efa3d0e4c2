"""Message templates with merge fields (docs/templates.md). Pure Python: no Qt, no SQL.

A template is text with fields in braces, e.g. ``Hello {client_first_name}``. Only the fields
in FIELDS exist; an unknown one is refused when the template is saved. When a text is filled
for one recipient, a field with no value blocks that recipient's text with a reason
("client first name is empty"): a text with a gap is never sent. ``{{`` and ``}}`` stand for
literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "FIELDS",
    "MAX_TEMPLATE_NAME",
    "FillResult",
    "TemplateError",
    "fields_in",
    "fill",
    "first_name",
    "validate_template",
]

# field → how a person reads it in a reason ("client first name is empty").
FIELDS: Final[dict[str, str]] = {
    "client_first_name": "client first name",
    "client_name": "client name",
    "case_number": "case number",
    "office_name": "office name",
    "office_phone": "office phone",
    "staff_name": "staff name",
    "event_title": "event title",
    "event_date": "event date",
    "event_time": "event time",
    "event_place": "event place",
}
MAX_TEMPLATE_NAME: Final = 80

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class TemplateError(ValueError):
    """A template that can't be saved; str() is a sentence to show the user."""


@dataclass(frozen=True)
class FillResult:
    """A template filled for one recipient: the text, or why it can't be sent."""

    text: str
    missing: tuple[str, ...] = ()  # field names with no value

    @property
    def ok(self) -> bool:
        return not self.missing

    @property
    def reason(self) -> str:
        """'client first name is empty' (several: 'event date, event place are empty')."""
        if not self.missing:
            return ""
        labels = [FIELDS.get(name, name.replace("_", " ")) for name in self.missing]
        return f"{', '.join(labels)} {'is' if len(labels) == 1 else 'are'} empty"


def fields_in(body: str) -> list[str]:
    """The merge fields a template uses, in order of first use (unknown ones included).

    Raises:
        TemplateError: a lone brace, or an empty ``{}``.
    """
    found: list[str] = []
    for match in _TOKEN.finditer(body):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if match.group(1) is None:
            raise TemplateError("The template has a lone brace; write {{ or }} for a brace "
                                "in the text, or {field_name} for a merge field.")
        name = match.group(1).strip()
        if not name:
            raise TemplateError("The template has an empty field {}; write a field name such "
                                "as {client_first_name}.")
        if name not in found:
            found.append(name)
    return found


def validate_template(name: str, body: str) -> tuple[str, str]:
    """The cleaned (name, body) of a template about to be saved.

    Raises:
        TemplateError: no name, a name over MAX_TEMPLATE_NAME, an empty body, or a field not
            in FIELDS (the sentence names it and lists the known ones).
    """
    clean_name = " ".join(name.split())
    if not clean_name:
        raise TemplateError("The template needs a name.")
    if len(clean_name) > MAX_TEMPLATE_NAME:
        raise TemplateError(f"The template name is too long (at most {MAX_TEMPLATE_NAME} "
                            "characters).")
    if not body.strip():
        raise TemplateError("The template's text is empty.")
    unknown = [f for f in fields_in(body) if f not in FIELDS]
    if unknown:
        raise TemplateError(
            f"The template uses {', '.join('{' + u + '}' for u in unknown)}, which "
            f"{'is not a merge field' if len(unknown) == 1 else 'are not merge fields'}; "
            "known fields: " + ", ".join("{" + f + "}" for f in FIELDS) + ".")
    return clean_name, body


def fill(body: str, values: Mapping[str, str | None]) -> FillResult:
    """Replace each field by its value (whitespace-trimmed); list the fields left empty.

    An unknown field is reported as missing too (a template saved before a field was removed).
    The returned text has empty fields left as they were typed, for display only.
    """
    missing: list[str] = []
    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(body):
        out.append(body[pos:match.start()])
        pos = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            out.append(token[0])
            continue
        name = (match.group(1) or "").strip()
        value = (values.get(name) or "").strip() if name in FIELDS else ""
        if not value:
            if name not in missing:
                missing.append(name)
            out.append(token)
            continue
        out.append(value)
    out.append(body[pos:])
    return FillResult("".join(out), tuple(missing))


def first_name(full_name: str) -> str:
    """The first word of a client's name ('Maria' of 'Maria Garcia'; '' when blank).

    A name written 'Garcia, Maria' gives the part after the comma.
    """
    name = " ".join(full_name.split())
    if "," in name:
        name = name.split(",", 1)[1].strip()
    return name.split(" ", 1)[0] if name else ""


_OFFSET_UNITS: Final = {"d": 24 * 60, "h": 60, "m": 1}


def parse_offsets(text: str) -> list[int]:
    """'1d,2h,30m' → [1440, 120, 30] (minutes before); '' → [].

    Raises:
        ValueError: a part that is not a whole number followed by d, h or m (a sentence).
    """
    out: list[int] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        if len(part) < 2 or part[-1] not in _OFFSET_UNITS or not part[:-1].isdigit():
            raise ValueError(f"'{part}' is not a reminder offset; use a number and d, h or m, "
                             "such as 1d,2h.")
        out.append(int(part[:-1]) * _OFFSET_UNITS[part[-1]])
    return out


def format_offsets(minutes: list[int]) -> str:
    """[1440, 120, 30] → '1d,2h,30m' (the largest unit that divides each)."""
    parts: list[str] = []
    for m in minutes:
        unit = next(u for u in ("d", "h", "m") if m % _OFFSET_UNITS[u] == 0)
        parts.append(f"{m // _OFFSET_UNITS[unit]}{unit}")
    return ",".join(parts)
