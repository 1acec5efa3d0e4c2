"""SMS segment counting as Twilio counts it (docs/product.md F2) and the body limits."""

from __future__ import annotations

import pytest

from desktop_sms.domain.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_BODY_CHARS,
    BodyError,
    count_segments,
    grapheme_clusters,
    validate_body,
)

EMOJI = "\U0001f600"  # 😀, outside the BMP: two UTF-16 units
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦: 11 units
FLAG_US = "\U0001f1fa\U0001f1f8"  # 🇺🇸: two regional indicators, 4 units
THUMB_DARK = "\U0001f44d\U0001f3ff"  # 👍🏿: thumb + skin tone, 4 units
HANGUL_JAMO = "\u1100\u1161\u11a8"  # 각 written as three jamo: one syllable, 3 units
HEALTH_WORKER = "\U0001f469\u200d\u2695\ufe0f"  # 👩‍⚕️: emoji ZWJ sequence, 5 units
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"  # 14 units
KSSA = "\u0915\u094d\u0937"  # क्ष: Devanagari conjunct, one cluster of 3 units


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments", "per_segment"),
    [
        pytest.param("", "GSM-7", 0, 0, 160, id="empty is zero segments"),
        pytest.param("a", "GSM-7", 1, 1, 160, id="one char"),
        pytest.param("a" * 160, "GSM-7", 160, 1, 160, id="160 GSM fits one"),
        pytest.param("a" * 161, "GSM-7", 161, 2, 153, id="161 GSM needs two parts of 153"),
        pytest.param("a" * 306, "GSM-7", 306, 2, 153, id="306 = 2x153"),
        pytest.param("a" * 307, "GSM-7", 307, 3, 153, id="307 spills into a third"),
        pytest.param("{" * 80, "GSM-7", 160, 1, 160, id="80 extension chars = 160 units"),
        pytest.param("{" * 81, "GSM-7", 162, 2, 153, id="81 extension chars = 162 units"),
        # 152 basic + '€' (2 units) would straddle 153: the escape pair moves whole to part 2.
        pytest.param("a" * 152 + "€" + "a" * 10, "GSM-7", 164, 2, 153, id="ext pair not split"),
        # 152 + 2 + 152 = 306 units would fit 2x153 if split; unsplit it needs three parts.
        pytest.param("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3, 153, id="ext pair forces 3rd"),
        pytest.param("a" * 151 + "€" + "a" * 153, "GSM-7", 306, 2, 153, id="ext pair at end fits"),
        pytest.param("é" * 160, "GSM-7", 160, 1, 160, id="é is GSM"),
        pytest.param("ñÑüÜöÖäÄà¿¡§ΔΩ£¥", "GSM-7", 16, 1, 160, id="accents and Greek in GSM"),
        pytest.param("\f", "GSM-7", 2, 1, 160, id="form feed is extension"),
        pytest.param("line\r\nbreak", "GSM-7", 11, 1, 160, id="CR LF are basic"),
        pytest.param("ж" * 70, "UCS-2", 70, 1, 70, id="70 Cyrillic fits one"),
        pytest.param("ж" * 71, "UCS-2", 71, 2, 67, id="71 Cyrillic needs two of 67"),
        pytest.param("ж" * 134, "UCS-2", 134, 2, 67, id="134 = 2x67"),
        pytest.param("ж" * 135, "UCS-2", 135, 3, 67, id="135 spills into a third"),
        pytest.param("a" * 159 + "ж", "UCS-2", 160, 3, 67, id="one non-GSM switches all"),
        pytest.param("{" * 70, "GSM-7", 140, 1, 160, id="70 braces GSM"),
        pytest.param("{" * 69 + "ж", "UCS-2", 70, 1, 70, id="extension costs 1 in UCS-2"),
        pytest.param("ç", "UCS-2", 1, 1, 70, id="lower-case c cedilla is not GSM"),
        pytest.param("’", "UCS-2", 1, 1, 70, id="curly apostrophe is not GSM"),
        pytest.param(EMOJI * 35, "UCS-2", 70, 1, 70, id="35 emoji = 70 units"),
        pytest.param(EMOJI * 36, "UCS-2", 72, 2, 67, id="36 emoji = 72 units"),
        # 66 + 2: the surrogate pair would straddle unit 67, so it moves whole to part 2.
        pytest.param("ж" * 66 + EMOJI + "ж" * 4, "UCS-2", 72, 2, 67, id="pair not split"),
        pytest.param("ж" * 66 + EMOJI + "ж" * 66, "UCS-2", 134, 3, 67, id="pair forces 3rd"),
        # 60 + family (11 units) straddles 67: the whole ZWJ sequence moves to part 2.
        pytest.param("ж" * 60 + FAMILY + "ж" * 60, "UCS-2", 131, 3, 67, id="ZWJ family not split"),
        pytest.param("ж" * 56 + FAMILY + "ж" * 67, "UCS-2", 134, 2, 67, id="ZWJ family fits"),
        pytest.param("ж" * 65 + FLAG_US + "ж", "UCS-2", 70, 1, 70, id="flag fits single"),
        # Split between its indicators it would fill 2x67 exactly; whole, it needs a third part.
        pytest.param("ж" * 65 + FLAG_US + "ж" * 65, "UCS-2", 134, 3, 67, id="flag not split"),
        pytest.param("ж" * 64 + THUMB_DARK + "ж" * 64, "UCS-2", 132, 3, 67, id="skin tone kept"),
        # 'e' + combining acute: two code points, one grapheme, not split at 66|67.
        pytest.param("ж" * 66 + "e\u0301" + "ж" * 66, "UCS-2", 134, 3, 67, id="combining kept"),
        # Hangul written as jamo is one syllable: split it would fill 2x67 exactly.
        pytest.param("ж" * 65 + HANGUL_JAMO + "ж" * 66, "UCS-2", 134, 3, 67, id="jamo kept"),
        pytest.param(HANGUL_JAMO * 23, "UCS-2", 69, 1, 70, id="23 jamo syllables fit one"),
        # A ZWJ between two letters joins nothing: "a‍" and "b" may go to different parts.
        pytest.param("ж" * 65 + "a\u200db" + "ж" * 65, "UCS-2", 133, 2, 67, id="ZWJ letters"),
        pytest.param("ж" * 64 + HEALTH_WORKER + "ж" * 65, "UCS-2", 134, 3, 67,
                     id="emoji ZWJ sequence kept"),
        pytest.param("ж" * 60 + ENGLAND + "ж" * 60, "UCS-2", 134, 3, 67, id="tag flag kept"),
        pytest.param(FLAG_US + "\U0001f1ec\U0001f1e7" + "ж" * 62, "UCS-2", 70, 1, 70,
                     id="two flags side by side"),
        pytest.param("ж" * 65 + KSSA + "ж" * 66, "UCS-2", 134, 3, 67, id="Indic conjunct kept"),
        pytest.param("สวัสดี" * 11, "UCS-2", 66, 1, 70, id="Thai with marks"),
        # CR LF is one cluster: at a part boundary the pair moves whole to the next part,
        # so 152 + 2 + 152 = 306 units takes three parts where a split pair would take two.
        pytest.param("a" * 152 + "\r\n" + "a" * 152, "GSM-7", 306, 3, 153, id="CRLF not split"),
        pytest.param("a" * 151 + "\r\n" + "a" * 153, "GSM-7", 306, 2, 153, id="CRLF at end fits"),
    ],
)
def test_segment_table(
    text: str, encoding: str, units: int, segments: int, per_segment: int
) -> None:
    info = count_segments(text)
    assert (info.encoding, info.units, info.segments, info.per_segment) == (
        encoding,
        units,
        segments,
        per_segment,
    )
    assert info.characters == len(text)


def test_characters_are_code_points_not_graphemes() -> None:
    assert count_segments(FAMILY).characters == 7
    assert count_segments(EMOJI).characters == 1


def test_gsm_alphabet_is_the_full_03_38_table() -> None:
    # 128 positions minus the escape; extension table has 9 printable characters + form feed.
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert count_segments("".join(sorted(GSM7_BASIC))).encoding == "GSM-7"


@pytest.mark.parametrize(
    ("text", "clusters"),
    [
        ("abc", ["a", "b", "c"]),
        ("e\u0301x", ["e\u0301", "x"]),
        (FAMILY + "a", [FAMILY, "a"]),
        (FLAG_US * 2 + "\U0001f1fa", [FLAG_US, FLAG_US, "\U0001f1fa"]),
        (THUMB_DARK + "!", [THUMB_DARK, "!"]),
        ("\u2764\ufe0f!", ["\u2764\ufe0f", "!"]),  # heart + emoji variation selector
        ("1\ufe0f\u20e3", ["1\ufe0f\u20e3"]),  # keycap: enclosing mark has combining class 0
        ("\r\n\n", ["\r\n", "\n"]),
        ("\u0301a", ["\u0301", "a"]),  # a leading mark stands alone
        (HANGUL_JAMO + "a", [HANGUL_JAMO, "a"]),
        ("a\u200db", ["a\u200d", "b"]),  # a ZWJ between letters joins nothing
        (HEALTH_WORKER + ENGLAND, [HEALTH_WORKER, ENGLAND]),
        (KSSA + "a", [KSSA, "a"]),
    ],
)
def test_grapheme_clusters(text: str, clusters: list[str]) -> None:
    assert list(grapheme_clusters(text)) == clusters


def test_oversized_cluster_is_split_between_code_points() -> None:
    zalgo = "a" + "\u0301" * 100  # one cluster of 101 units: cannot fit a 67-unit part
    assert count_segments(zalgo).segments == 2


def test_validate_body_accepts_up_to_the_limit() -> None:
    validate_body("Hello")
    validate_body("a" * MAX_BODY_CHARS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The message is empty. Type a message before sending."),
        (" \n\t ", "The message is empty. Type a message before sending."),
        (
            "a" * 1601,
            "The message is 1,601 characters long; the limit is 1,600 characters. Shorten it by 1.",
        ),
    ],
)
def test_validate_body_refuses(text: str, message: str) -> None:
    with pytest.raises(BodyError) as info:
        validate_body(text)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("text", "shown", "before", "after"), [
    ("It\u2019s " + "a" * 70, "’", 2, 1),
    ("\u201cHi\u201d \u2013 see you\u2026" + "a" * 60, "“ ” – …", 2, 1),
    ("a\u00a0b" + "a" * 75, "the non-breaking space", 2, 1),
    ("It\u2019s ok", "’", 1, 1),
])
def test_smart_characters_say_what_they_cost(text: str, shown: str, before: int,
                                             after: int) -> None:
    from desktop_sms.domain.segments import plain_quotes, smart_characters

    advice = smart_characters(text)
    assert advice is not None
    assert advice.sentence().startswith(
        f"{before} segment{'s' if before > 1 else ''} because of {shown}; with plain quotes: "
        f"{after} segment")
    assert advice.plain_text == plain_quotes(text)
    assert count_segments(advice.plain_text).encoding == "GSM-7"


@pytest.mark.parametrize("text", ["plain 'quotes'", "Привет \u2019", "\U0001f600 it\u2019s"])
def test_smart_characters_are_only_named_when_they_alone_make_ucs2(text: str) -> None:
    from desktop_sms.domain.segments import smart_characters

    assert smart_characters(text) is None
