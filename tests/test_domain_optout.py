"""Opt-out / opt-in keyword recognition in inbound texts (docs/product.md F10)."""

from __future__ import annotations

import pytest

from desktop_sms.domain.optout import OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS, classify_keyword


@pytest.mark.parametrize("word", sorted(OPT_OUT_KEYWORDS))
def test_every_opt_out_keyword_in_any_case(word: str) -> None:
    assert classify_keyword(word) == "opt_out"
    assert classify_keyword(word.lower()) == "opt_out"
    assert classify_keyword(word.capitalize()) == "opt_out"


@pytest.mark.parametrize("word", sorted(OPT_IN_KEYWORDS))
def test_every_opt_in_keyword_in_any_case(word: str) -> None:
    assert classify_keyword(word) == "opt_in"
    assert classify_keyword(f"  {word.lower()}. ") == "opt_in"


def test_keyword_lists_match_spec() -> None:
    spec_out = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
    assert sorted(OPT_OUT_KEYWORDS) == sorted(spec_out)
    assert sorted(OPT_IN_KEYWORDS) == sorted(["START", "YES", "UNSTOP"])


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("Stop.", "opt_out"),
        ("  stop!! ", "opt_out"),
        ("\nSTOP\n", "opt_out"),
        ('"stop"', "opt_out"),
        ("(Quit)", "opt_out"),
        ("stop 🛑", "opt_out"),
        ("Yes!", "opt_in"),
        ("¿start?", "opt_in"),
        ("please stop", None),
        ("stop texting me", None),
        ("STOP ALL", None),
        ("stopp", None),
        ("s.t.o.p", None),
        ("yes please", None),
        ("", None),
        ("   ", None),
        ("!!!", None),
        (None, None),
    ],
)
def test_whole_text_only(body: str | None, kind: str | None) -> None:
    assert classify_keyword(body) == kind
