"""SMS segment counting as Twilio counts it (docs/product.md F2), and the message body limits.

Rules:

* GSM-7 when every character is in the GSM 03.38 default alphabet or its extension table:
  160 units in a single segment, 153 per part of a multi-part message; extension characters
  (``^ { } \\ [ ] ~ | €`` and form feed) cost two units (escape + character) and the pair is
  never split across parts.
* Otherwise UCS-2 for the whole text: 70 units single, 67 per part; a character outside the
  Basic Multilingual Plane costs two UTF-16 units and a surrogate pair is never split.
* A grapheme cluster is never split across parts. Clusters are the extended grapheme clusters
  of the current Unicode rules (UAX #29, https://unicode.org/reports/tr29/) as the maintained
  ``regex`` module's ``\\X`` finds them: combining marks, Hangul syllables written as jamo,
  emoji ZWJ sequences, skin tones, flags (regional indicator pairs), Indic conjuncts.
  A zero-width joiner between two letters does not join them (it stays with the letter before).
* CR LF is one cluster, so a ``\\r\\n`` that would straddle a part boundary moves whole to the
  next part: the count is then on the safe side (at most one part more than a carrier that
  splits the pair would bill), and a reply never shows a stray line break at a part's end.
* A single cluster longer than a whole part (pathological stacks of marks) is split between
  code points, still never inside a surrogate pair, since it could not be sent otherwise.

``characters`` is the length in code points (``len(text)``), which is also what the 1,600
character limit is checked against; it is not the count of user-perceived characters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal

import regex

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MAX_BODY_CHARS",
    "BodyError",
    "Encoding",
    "SegmentInfo",
    "count_segments",
    "grapheme_clusters",
    "SMART_CHARACTERS",
    "SmartCharacters",
    "is_gsm7",
    "plain_quotes",
    "smart_characters",
    "validate_body",
]

Encoding = Literal["GSM-7", "UCS-2"]

MAX_BODY_CHARS: Final = 1600

#: GSM 03.38 default alphabet, in table order (0x1B, the escape, is not a character).
GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
#: GSM 03.38 extension table: each costs an escape plus itself.
GSM7_EXTENSION: Final = frozenset("\f^{}\\[]~|€")

_GSM_SINGLE, _GSM_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67

_CLUSTER = regex.compile(r"\X")


@dataclass(frozen=True)
class SegmentInfo:
    """What the compose dialog's counter shows, and what billing will be."""

    characters: int
    encoding: Encoding
    units: int
    segments: int
    per_segment: int


class BodyError(ValueError):
    """A message body that cannot be sent; str() is a sentence to show the user."""


def is_gsm7(text: str) -> bool:
    """True when the whole text can be sent in GSM-7."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def grapheme_clusters(text: str) -> Iterator[str]:
    """Split text into user-perceived characters (extended grapheme clusters, ``regex`` ``\\X``)."""
    for match in _CLUSTER.finditer(text):
        yield match.group()


def _gsm_cost(ch: str) -> int:
    return 2 if ch in GSM7_EXTENSION else 1


def _ucs2_cost(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _pack(atoms: list[list[int]], capacity: int) -> int:
    """Count parts needed when each atom (a list of unsplittable unit costs) goes in whole.

    An atom goes whole into the current part or starts a new one; only an atom larger than a
    whole part is spread over parts, between its unsplittable pieces.
    """
    parts, used = 1, 0
    for atom in atoms:
        size = sum(atom)
        if used + size <= capacity:
            used += size
            continue
        if size <= capacity:
            parts, used = parts + 1, size
            continue
        for piece in atom:  # oversized cluster: split between code points only
            if used + piece > capacity:
                parts, used = parts + 1, 0
            used += piece
    return parts


def count_segments(text: str) -> SegmentInfo:
    """Count encoding, units and segments for a message body as Twilio bills it."""
    if is_gsm7(text):
        encoding: Encoding = "GSM-7"
        cost, single, part = _gsm_cost, _GSM_SINGLE, _GSM_PART
    else:
        encoding = "UCS-2"
        cost, single, part = _ucs2_cost, _UCS2_SINGLE, _UCS2_PART
    atoms = [[cost(c) for c in cluster] for cluster in grapheme_clusters(text)]
    units = sum(sum(a) for a in atoms)
    if units == 0:
        return SegmentInfo(len(text), encoding, 0, 0, single)
    if units <= single:
        return SegmentInfo(len(text), encoding, units, 1, single)
    return SegmentInfo(len(text), encoding, units, _pack(atoms, part), part)


def validate_body(text: str) -> None:
    """Refuse a body that is blank or longer than Twilio accepts, with a readable reason."""
    if not text.strip():
        raise BodyError("The message is empty. Type a message before sending.")
    if len(text) > MAX_BODY_CHARS:
        raise BodyError(
            f"The message is {len(text):,} characters long; "
            f"the limit is {MAX_BODY_CHARS:,} characters. Shorten it by {len(text) - MAX_BODY_CHARS:,}."
        )


# --- smart characters ----------------------------------------------------------------------
#
# Characters word processors and phones put in for plain ones (curly quotes, dashes, the
# ellipsis, unusual spaces) and the plain GSM-7 text they stand for. Twilio's Smart Encoding
# makes the same kind of replacement when it is on for a Messaging Service
# (https://www.twilio.com/docs/messaging/services/smart-encoding-char-list).
SMART_CHARACTERS: Final[dict[str, str]] = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u02bc": "'", "\u00b4": "'", "\u0060": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2015": "-", "\u2212": "-",
    "\u2010": "-", "\u2011": "-",
    "\u2026": "...",
    "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2004": " ", "\u2005": " ",
    "\u2006": " ", "\u2007": " ", "\u2008": " ", "\u2009": " ", "\u200a": " ",
    "\u202f": " ", "\u205f": " ", "\u3000": " ",
    "\u200b": "", "\ufeff": "", "\u2060": "",
}
_SMART_TABLE = str.maketrans(SMART_CHARACTERS)


@dataclass(frozen=True)
class SmartCharacters:
    """A text that is UCS-2 only because of smart characters, and what plain ones would cost.

    ``characters`` lists the smart characters found, in order of first appearance.
    """

    characters: tuple[str, ...]
    segments: int
    plain_segments: int
    plain_text: str

    def sentence(self) -> str:
        """'2 segments because of ’; with plain quotes: 1 segment' (for the counter)."""
        names = " ".join(_shown(c) for c in self.characters)
        return (f"{_plural(self.segments)} because of {names}; "
                f"with plain quotes: {_plural(self.plain_segments)}")


def _plural(segments: int) -> str:
    return "1 segment" if segments == 1 else f"{segments:,} segments"


def _shown(ch: str) -> str:
    """A smart character as people can see it (spaces named, not shown)."""
    if ch.isspace() or ch in "\u200b\ufeff\u2060":
        return "the non-breaking space" if ch == "\u00a0" else f"U+{ord(ch):04X}"
    return ch


def plain_quotes(text: str) -> str:
    """The text with smart characters replaced by their plain GSM-7 forms (see SMART_CHARACTERS)."""
    return text.translate(_SMART_TABLE)


def smart_characters(text: str) -> SmartCharacters | None:
    """What smart characters cost, or None when they cost nothing.

    Returns a value only when the text is UCS-2 and would be GSM-7 with the smart characters
    replaced; other UCS-2 text (Cyrillic, emoji) gains nothing from plain quotes.
    """
    if is_gsm7(text):
        return None
    plain = plain_quotes(text)
    if not is_gsm7(plain):
        return None
    found = tuple(dict.fromkeys(c for c in text if c in SMART_CHARACTERS))
    return SmartCharacters(found, count_segments(text).segments, count_segments(plain).segments,
                           plain)
