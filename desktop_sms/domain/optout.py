"""Opt-out and opt-in keywords in inbound texts (docs/product.md F10), matched the way carriers do."""

from __future__ import annotations

import unicodedata
from typing import Final, Literal

__all__ = ["OPT_IN_KEYWORDS", "OPT_OUT_KEYWORDS", "KeywordKind", "classify_keyword"]

KeywordKind = Literal["opt_out", "opt_in"]

OPT_OUT_KEYWORDS: Final = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_KEYWORDS: Final = frozenset({"START", "YES", "UNSTOP"})


def _is_trimmable(ch: str) -> bool:
    """Whitespace, punctuation, symbols (incl. emoji) and controls around a keyword."""
    return ch.isspace() or unicodedata.category(ch)[0] in ("P", "S", "Z", "C")


def _core(body: str) -> str:
    """The text with surrounding whitespace and punctuation removed, upper-cased."""
    start, end = 0, len(body)
    while start < end and _is_trimmable(body[start]):
        start += 1
    while end > start and _is_trimmable(body[end - 1]):
        end -= 1
    return body[start:end].upper()


def classify_keyword(body: str | None) -> KeywordKind | None:
    """Say whether the whole text is an opt-out or opt-in keyword ("Stop." yes, "please stop" no)."""
    if not body:
        return None
    word = _core(body)
    if word in OPT_OUT_KEYWORDS:
        return "opt_out"
    if word in OPT_IN_KEYWORDS:
        return "opt_in"
    return None
