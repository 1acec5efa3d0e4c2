"""Property tests for phone normalisation and the segment counter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from desktop_sms.domain.phones import normalize, phone_search_variants, try_normalize
from desktop_sms.domain.segments import GSM7_BASIC, GSM7_EXTENSION, count_segments

# Real area codes, so every generated number is valid (not only possible).
AREA_CODES = ["212", "202", "206", "303", "305", "312", "404", "415", "617", "713", "718", "917"]

us_numbers = st.tuples(
    st.sampled_from(AREA_CODES),
    st.integers(200, 999).map(str),  # exchange NXX, N in 2-9
    st.integers(0, 9999).map(lambda n: f"{n:04d}"),
)

GSM_CHARS = sorted(GSM7_BASIC | GSM7_EXTENSION)
gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=400)
# Mix GSM, Cyrillic, combining marks, ZWJ, variation selectors, skin tones, flags and emoji so
# grapheme clusters and surrogate pairs occur often.
any_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(GSM_CHARS),
        st.sampled_from(["ж", "ç", "’", "\u0301", "\u200d", "\ufe0f", "\u20e3"]),
        st.sampled_from(["\U0001f600", "\U0001f468", "\U0001f3ff", "\U0001f1fa", "\U0001f1f8"]),
        st.characters(codec="utf-8"),
    ),
    max_size=300,
)


@given(us_numbers)
def test_three_spec_formats_agree_and_normalize_is_idempotent(parts: tuple[str, str, str]) -> None:
    area, exchange, line = parts
    expected = f"+1{area}{exchange}{line}"
    forms = [f"({area}) {exchange}-{line}", f"{area}.{exchange}.{line}", expected]
    assert {normalize(form) for form in forms} == {expected}
    assert normalize(expected) == expected
    assert phone_search_variants(forms[1]) == expected[1:]


@given(st.text(alphabet="0123456789 +-().", max_size=20))
def test_normalize_is_idempotent_on_whatever_it_accepts(raw: str) -> None:
    e164 = try_normalize(raw)
    if e164 is not None:
        assert normalize(e164) == e164


@given(gsm_text)
def test_gsm_only_text_is_never_ucs2(text: str) -> None:
    assert count_segments(text).encoding == "GSM-7"


@given(any_text)
def test_units_fit_in_the_segments(text: str) -> None:
    info = count_segments(text)
    assert info.units <= info.segments * info.per_segment
    assert (info.segments == 0) == (text == "")
    assert info.characters == len(text)
    if info.segments > 1:
        # Clusters are never split, so packing can waste space but never beat the ideal.
        assert info.segments >= -(-info.units // info.per_segment)


@given(any_text, st.one_of(st.sampled_from(GSM_CHARS), st.characters(codec="utf-8")))
def test_appending_never_reduces_segments(text: str, extra: str) -> None:
    assert count_segments(text + extra).segments >= count_segments(text).segments


@given(gsm_text)
def test_gsm_units_count_extension_twice(text: str) -> None:
    expected = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    assert count_segments(text).units == expected
