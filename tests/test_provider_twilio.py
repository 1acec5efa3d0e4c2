"""TwilioProvider: the real twilio client against the local Twilio-compatible server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from desktop_sms.providers.base import (
    BadCredentialsError,
    BodyTooLongError,
    InvalidNumberError,
    InvalidSenderError,
    MediaItem,
    MediaTooLargeError,
    NotCancelableError,
    NotFoundError,
    NotSmsCapableError,
    OptedOutError,
    ProviderError,
    RegionNotPermittedError,
    SchedulingError,
    TransientProviderError,
    UnknownProviderError,
)
from desktop_sms.providers.sandbox_server import ManualClock, SandboxServer
from desktop_sms.providers.twilio_provider import (
    TwilioProvider,
    api_base_url_from_env,
    provider_from_env_or,
    rewrite_url,
)
from tests.helpers.sandbox_fixtures import CLIENT_NUMBER, OFFICE_NUMBER

SERVICE_SID = "MG" + "ab" * 16


# --- sending and status progression --------------------------------------------------------

def test_send_returns_queued_message_with_utc_dates(twilio_provider: TwilioProvider,
                                                    sandbox_clock: ManualClock) -> None:
    msg = twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="Hello from the office")
    assert msg.sid.startswith("SM") and len(msg.sid) == 34
    assert msg.status == "queued"
    assert msg.direction == "outbound-api"
    assert (msg.from_, msg.to, msg.body) == (OFFICE_NUMBER, CLIENT_NUMBER, "Hello from the office")
    assert msg.date_created is not None and msg.date_created.tzinfo is not None
    assert msg.date_created.utcoffset() == timedelta(0)
    assert msg.date_created == sandbox_clock().replace(microsecond=0)
    assert msg.num_segments == 1 and msg.num_media == 0


def test_status_moves_on_the_server_clock(twilio_provider: TwilioProvider,
                                          sandbox_clock: ManualClock) -> None:
    sid = twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="x").sid
    seen = [twilio_provider.fetch(sid).status]
    for _ in range(3):
        sandbox_clock.advance(1.0)  # the fixture's progress_delay is one second per step
        seen.append(twilio_provider.fetch(sid).status)
    assert seen == ["queued", "sending", "sent", "delivered"]


def test_advance_all_finishes_everything(twilio_provider: TwilioProvider,
                                         sandbox_server: SandboxServer) -> None:
    sids = [twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body=str(i)).sid
            for i in range(3)]
    sandbox_server.advance_all()
    assert {twilio_provider.fetch(s).status for s in sids} == {"delivered"}


@pytest.mark.parametrize(("status", "code"), [("undelivered", 30003), ("failed", 30006)])
def test_chosen_numbers_end_undelivered_or_failed(twilio_provider: TwilioProvider,
                                                 sandbox_server: SandboxServer,
                                                 status: str, code: int) -> None:
    sandbox_server.set_delivery_outcome("+12125550199", status, code)
    sid = twilio_provider.send(to="+12125550199", from_=OFFICE_NUMBER, body="x").sid
    other = twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="x").sid
    sandbox_server.advance_all()
    msg = twilio_provider.fetch(sid)
    assert (msg.status, msg.error_code) == (status, code)
    assert msg.error_message
    assert twilio_provider.fetch(other).status == "delivered"


def test_long_unicode_body_counts_segments(twilio_provider: TwilioProvider) -> None:
    msg = twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="é" * 100 + "😀" * 20)
    assert msg.num_segments == 2


def test_send_through_messaging_service_without_from(twilio_provider: TwilioProvider) -> None:
    msg = twilio_provider.send(to=CLIENT_NUMBER, body="x", messaging_service_sid=SERVICE_SID)
    assert msg.messaging_service_sid == SERVICE_SID
    assert msg.from_


# --- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("to", "error", "code"), [
    ("+15005550001", InvalidNumberError, 21211),
    ("+15005550002", NotSmsCapableError, 21612),
    ("+15005550003", RegionNotPermittedError, 21408),
    ("+15005550004", OptedOutError, 21610),
    ("+15005550009", NotSmsCapableError, 21614),
    ("12345", InvalidNumberError, 21211),
])
def test_magic_to_numbers_give_twilios_errors(twilio_provider: TwilioProvider, to: str,
                                              error: type[ProviderError], code: int) -> None:
    with pytest.raises(error) as info:
        twilio_provider.send(to=to, from_=OFFICE_NUMBER, body="x")
    assert info.value.code == code
    assert info.value.status == 400
    assert not info.value.transient
    assert info.value.sentence and "Twilio" not in type(info.value).__name__


@pytest.mark.parametrize(("from_", "error", "code"), [
    ("+15005550001", InvalidSenderError, 21212),
    ("+15005550007", InvalidSenderError, 21606),
    ("+15005550008", TransientProviderError, 21611),
])
def test_magic_from_numbers(twilio_provider: TwilioProvider, from_: str,
                            error: type[ProviderError], code: int) -> None:
    with pytest.raises(error) as info:
        twilio_provider.send(to=CLIENT_NUMBER, from_=from_, body="x")
    assert info.value.code == code


def test_magic_success_sender(twilio_provider: TwilioProvider) -> None:
    assert twilio_provider.send(to=CLIENT_NUMBER, from_="+15005550006", body="x").status == "queued"


def test_body_too_long_and_empty(twilio_provider: TwilioProvider) -> None:
    with pytest.raises(BodyTooLongError) as info:
        twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="a" * 1601)
    assert info.value.code == 21617
    assert twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="a" * 1600).num_segments == 11
    with pytest.raises(UnknownProviderError) as empty:
        twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="")
    assert empty.value.code == 21602


def test_unowned_from_number_when_office_numbers_configured(
        twilio_provider: TwilioProvider, sandbox_server: SandboxServer) -> None:
    sandbox_server.set_incoming_numbers([OFFICE_NUMBER])
    with pytest.raises(InvalidSenderError) as info:
        twilio_provider.send(to=CLIENT_NUMBER, from_="+12125550111", body="x")
    assert info.value.code == 21606


def test_fetch_unknown_message_is_not_found(twilio_provider: TwilioProvider) -> None:
    with pytest.raises(NotFoundError) as info:
        twilio_provider.fetch("SM" + "0" * 32)
    assert (info.value.code, info.value.status) == (20404, 404)


# --- opt-out ----------------------------------------------------------------------------------

@pytest.mark.parametrize("stop_word", ["STOP", "  stop! ", "Unsubscribe.", "cancel", "END", "quit",
                                       "revoke", "OptOut", "stopall"])
def test_stop_blocks_sender_until_start(twilio_provider: TwilioProvider,
                                        sandbox_server: SandboxServer, stop_word: str) -> None:
    sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, stop_word)
    with pytest.raises(OptedOutError) as info:
        twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="x")
    assert info.value.code == 21610
    # the opt-out is per sender: another office number may still text
    assert twilio_provider.send(to=CLIENT_NUMBER, from_="+12125550101", body="x").status == "queued"
    sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "Start")
    assert twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="x").status == "queued"


def test_stop_inside_a_sentence_does_not_opt_out(twilio_provider: TwilioProvider,
                                                 sandbox_server: SandboxServer) -> None:
    sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "please stop by tomorrow")
    assert not sandbox_server.is_opted_out(OFFICE_NUMBER, CLIENT_NUMBER)
    assert twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="x").status == "queued"


# --- scheduling at Twilio -------------------------------------------------------------------

def test_schedule_and_cancel(twilio_provider: TwilioProvider, sandbox_clock: ManualClock) -> None:
    send_at = sandbox_clock() + timedelta(hours=1)
    msg = twilio_provider.send(to=CLIENT_NUMBER, body="later", messaging_service_sid=SERVICE_SID,
                               send_at=send_at)
    assert msg.status == "scheduled"
    assert msg.date_sent is None
    canceled = twilio_provider.cancel(msg.sid)
    assert canceled.status == "canceled"
    with pytest.raises(NotCancelableError) as info:
        twilio_provider.cancel(msg.sid)
    assert info.value.code == 30409


def test_send_at_is_converted_to_utc(twilio_provider: TwilioProvider,
                                     sandbox_clock: ManualClock) -> None:
    # 20 minutes ahead, written in UTC-10: unconverted, the wall-clock time sent as "Z" would be
    # ten hours in the past and Twilio would refuse it with 35114.
    hawaii = timezone(timedelta(hours=-10))
    send_at = (sandbox_clock() + timedelta(minutes=20)).astimezone(hawaii)
    msg = twilio_provider.send(to=CLIENT_NUMBER, body="x", messaging_service_sid=SERVICE_SID,
                               send_at=send_at)
    assert msg.status == "scheduled"
    sandbox_clock.advance(minutes=21)
    assert twilio_provider.fetch(msg.sid).status in {"queued", "sending", "sent", "delivered"}


def test_scheduled_message_goes_out_at_its_time(twilio_provider: TwilioProvider,
                                                sandbox_clock: ManualClock) -> None:
    send_at = sandbox_clock() + timedelta(minutes=30)
    sid = twilio_provider.send(to=CLIENT_NUMBER, body="x", messaging_service_sid=SERVICE_SID,
                               send_at=send_at).sid
    sandbox_clock.advance(minutes=29)
    assert twilio_provider.fetch(sid).status == "scheduled"
    sandbox_clock.advance(minutes=1, seconds=10)
    msg = twilio_provider.fetch(sid)
    assert msg.status == "delivered"
    assert msg.date_sent == send_at.replace(microsecond=0)
    with pytest.raises(NotCancelableError):
        twilio_provider.cancel(sid)


@pytest.mark.parametrize(("service", "delta", "code"), [
    (None, timedelta(hours=1), 35118),
    (SERVICE_SID, timedelta(minutes=5), 35115),
    (SERVICE_SID, timedelta(days=36), 35117),
])
def test_send_at_problems(twilio_provider: TwilioProvider, sandbox_clock: ManualClock,
                          service: str | None, delta: timedelta, code: int) -> None:
    with pytest.raises(SchedulingError) as info:
        twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="x",
                             messaging_service_sid=service, send_at=sandbox_clock() + delta)
    assert info.value.code == code


def test_cancel_of_a_sent_message_is_refused(twilio_provider: TwilioProvider) -> None:
    sid = twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="x").sid
    with pytest.raises(NotCancelableError):
        twilio_provider.cancel(sid)


# --- listing and paging --------------------------------------------------------------------

def test_list_follows_every_page_with_filters_kept(twilio_provider: TwilioProvider,
                                                   sandbox_server: SandboxServer,
                                                   sandbox_clock: ManualClock) -> None:
    expected = []
    for i in range(7):
        expected.append(sandbox_server.inject_inbound(f"+1212555020{i}", OFFICE_NUMBER, f"m{i}"))
        sandbox_server.inject_inbound(f"+1212555020{i}", "+12125550101", "other office")
        sandbox_clock.advance(60)
    sandbox_server.api_requests.clear()
    got = list(twilio_provider.list_messages(to=OFFICE_NUMBER, page_size=3))
    assert [m.sid for m in got] == list(reversed(expected))  # newest first, nothing else
    pages = [p for m, p in sandbox_server.api_requests if "/Messages.json" in p]
    assert len(pages) == 3
    assert all("To=%2B12125550100" in p for p in pages)
    assert all(m.direction == "inbound" and m.status == "received" for m in got)


def test_list_by_sender(twilio_provider: TwilioProvider, sandbox_server: SandboxServer) -> None:
    a = sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "a")
    sandbox_server.inject_inbound("+12125550124", OFFICE_NUMBER, "b")
    assert [m.sid for m in twilio_provider.list_messages(from_=CLIENT_NUMBER)] == [a]


def test_list_with_date_sent_on_or_after(twilio_provider: TwilioProvider,
                                         sandbox_server: SandboxServer) -> None:
    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 3, day, hour, 0, tzinfo=UTC)

    old = sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "old", date_sent=at(1, 23))
    early = sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "early", date_sent=at(2, 0))
    late = sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "late", date_sent=at(3, 12))
    got = list(twilio_provider.list_messages(to=OFFICE_NUMBER,
                                             date_sent_on_or_after=date(2026, 3, 2)))
    assert [m.sid for m in got] == [late, early]
    assert old not in {m.sid for m in got}
    assert got[0].date_sent == at(3, 12)


def test_list_when_empty(twilio_provider: TwilioProvider) -> None:
    assert list(twilio_provider.list_messages(to=OFFICE_NUMBER)) == []


def test_outbound_appears_in_listing(twilio_provider: TwilioProvider,
                                     sandbox_clock: ManualClock) -> None:
    sid = twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="same body").sid
    found = [m for m in twilio_provider.list_messages(
        to=CLIENT_NUMBER, date_sent_on_or_after=sandbox_clock().date()) if m.body == "same body"]
    assert [m.sid for m in found] == [sid]


# --- media ---------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def test_media_redirect_never_sends_credentials_to_media_host(
        twilio_provider: TwilioProvider, sandbox_server: SandboxServer) -> None:
    sid = sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "photo",
                                        media=[("image/png", PNG), ("application/pdf", b"%PDF-1")])
    msg = twilio_provider.fetch(sid)
    assert msg.num_media == 2
    items = twilio_provider.list_media(sid)
    assert [i.content_type for i in items] == ["image/png", "application/pdf"]
    assert all(i.message_sid == sid and not i.uri.endswith(".json") for i in items)
    sandbox_server.api_requests.clear()
    assert twilio_provider.download_media(items[0], max_bytes=10_000) == PNG
    assert twilio_provider.download_media(items[1], max_bytes=10_000) == b"%PDF-1"
    assert len(sandbox_server.media_requests) == 2
    for headers in sandbox_server.media_requests:
        assert "authorization" not in {k.lower() for k in headers}
    # the API host was asked (with credentials, or it would have answered 401) and redirected
    assert [m for m, _ in sandbox_server.api_requests] == ["GET", "GET"]


def test_media_content_needs_credentials_at_the_api(sandbox_server: SandboxServer) -> None:
    sid = sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "x", media=[("image/png", PNG)])
    good = TwilioProvider(*sandbox_server.credentials, api_base_url=sandbox_server.base_url)
    item = good.list_media(sid)[0]
    bad = TwilioProvider(sandbox_server.credentials[0], "", api_base_url=sandbox_server.base_url)
    with pytest.raises(BadCredentialsError):
        bad.download_media(item, max_bytes=10_000)
    assert sandbox_server.media_requests == []


def test_media_over_the_cap_is_refused(twilio_provider: TwilioProvider,
                                       sandbox_server: SandboxServer) -> None:
    sid = sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "x", media=[("image/png", PNG)])
    item = twilio_provider.list_media(sid)[0]
    with pytest.raises(MediaTooLargeError):
        twilio_provider.download_media(item, max_bytes=len(PNG) - 1)
    assert twilio_provider.download_media(item, max_bytes=len(PNG)) == PNG


def test_media_gone_at_storage(twilio_provider: TwilioProvider,
                               sandbox_server: SandboxServer) -> None:
    sid = sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "x", media=[("image/png", PNG)])
    item = twilio_provider.list_media(sid)[0]
    sandbox_server.set_faults(media_404=1)
    with pytest.raises(NotFoundError):
        twilio_provider.download_media(item, max_bytes=10_000)
    assert twilio_provider.download_media(item, max_bytes=10_000) == PNG


def test_unknown_media_is_not_found(twilio_provider: TwilioProvider,
                                    sandbox_server: SandboxServer) -> None:
    sid = sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "x")
    with pytest.raises(NotFoundError):
        twilio_provider.download_media(MediaItem("ME" + "0" * 32, sid, "image/png"), 100)


def test_list_media_of_unknown_message(twilio_provider: TwilioProvider) -> None:
    with pytest.raises(NotFoundError):
        twilio_provider.list_media("SM" + "1" * 32)


# --- faults --------------------------------------------------------------------------------

def test_rate_limit_gives_retry_after(twilio_provider: TwilioProvider,
                                      sandbox_server: SandboxServer) -> None:
    sandbox_server.set_faults(rate_limit=1, retry_after=7)
    with pytest.raises(TransientProviderError) as info:
        twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="x")
    assert (info.value.status, info.value.code, info.value.retry_after) == (429, 20429, 7.0)
    assert info.value.transient
    assert twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="x").status == "queued"


def test_rate_limit_on_a_later_page(twilio_provider: TwilioProvider,
                                    sandbox_server: SandboxServer) -> None:
    for i in range(5):
        sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, str(i))
    stream = twilio_provider.list_messages(to=OFFICE_NUMBER, page_size=2)
    next(stream)
    sandbox_server.set_faults(rate_limit=1, retry_after=3)
    with pytest.raises(TransientProviderError) as info:
        list(stream)  # the client raises a plain TwilioException for the non-200 page
    assert (info.value.status, info.value.code, info.value.retry_after) == (429, 20429, 3.0)


def test_server_error_is_transient(twilio_provider: TwilioProvider,
                                   sandbox_server: SandboxServer) -> None:
    sandbox_server.set_faults(server_error=1)
    with pytest.raises(TransientProviderError) as info:
        twilio_provider.fetch("SM" + "0" * 32)
    assert info.value.status == 500


def test_dropped_connection_is_transient(twilio_provider: TwilioProvider,
                                         sandbox_server: SandboxServer) -> None:
    sandbox_server.set_faults(drop_connection=1)
    with pytest.raises(TransientProviderError) as info:
        twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="x")
    assert info.value.code is None
    assert not sandbox_server.messages()


def test_time_out_is_transient(sandbox_server: SandboxServer) -> None:
    provider = TwilioProvider(*sandbox_server.credentials, api_base_url=sandbox_server.base_url,
                              timeout=0.2)
    sandbox_server.set_faults(latency_ms=1000)
    with pytest.raises(TransientProviderError) as info:
        provider.fetch("SM" + "0" * 32)
    assert "in time" in info.value.sentence
    sandbox_server.clear_faults()


def test_nothing_listening_is_transient() -> None:
    server = SandboxServer().start()
    url = server.base_url
    server.stop()
    provider = TwilioProvider("AC" + "1" * 32, "token", api_base_url=url, timeout=2)
    with pytest.raises(TransientProviderError):
        provider.fetch("SM" + "0" * 32)
    check = provider.test_credentials([OFFICE_NUMBER])
    assert not check.ok and check.network_error and not check.bad_credentials


# --- credentials ---------------------------------------------------------------------------

def test_bad_credentials_with_a_configured_pair() -> None:
    sid, token = "AC" + "c" * 32, "the-right-token"
    with SandboxServer(account_sid=sid, auth_token=token,
                       incoming_numbers=[OFFICE_NUMBER]) as server:
        wrong = TwilioProvider(sid, "wrong", api_base_url=server.base_url)
        with pytest.raises(BadCredentialsError) as info:
            wrong.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="x")
        assert (info.value.status, info.value.code) == (401, 20003)
        check = wrong.test_credentials([OFFICE_NUMBER])
        assert not check.ok and check.bad_credentials and check.problems

        other = TwilioProvider("AC" + "d" * 32, token, api_base_url=server.base_url)
        with pytest.raises(BadCredentialsError):
            list(other.list_messages())

        right = TwilioProvider(sid, token, api_base_url=server.base_url)
        check = right.test_credentials([OFFICE_NUMBER, "+12125550177"])
        assert not check.ok and not check.bad_credentials and not check.network_error
        assert check.missing_numbers == ["+12125550177"]
        assert "+12125550177" in check.problems[0]
        assert right.test_credentials([OFFICE_NUMBER]).ok
        assert right.test_credentials([OFFICE_NUMBER]).account_name


def test_any_pair_accepted_without_a_configured_pair(sandbox_server: SandboxServer) -> None:
    provider = TwilioProvider("AC" + "e" * 32, "whatever", api_base_url=sandbox_server.base_url)
    assert provider.test_credentials([OFFICE_NUMBER]).ok
    not_a_sid = TwilioProvider("nope", "whatever", api_base_url=sandbox_server.base_url)
    assert not_a_sid.test_credentials([]).bad_credentials


def test_each_account_sees_only_its_messages(sandbox_server: SandboxServer,
                                             twilio_provider: TwilioProvider) -> None:
    sid = twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="x").sid
    other = TwilioProvider("AC" + "e" * 32, "t", api_base_url=sandbox_server.base_url)
    assert list(other.list_messages()) == []
    with pytest.raises(NotFoundError):
        other.fetch(sid)


# --- the client's other routes: delete and redaction ------------------------------------------

def test_delete_and_redact_through_the_client(twilio_provider: TwilioProvider,
                                              sandbox_server: SandboxServer) -> None:
    client = twilio_provider._client  # the official client, for routes the product does not use
    sid = twilio_provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="secret").sid
    sandbox_server.advance_all()
    assert client.messages(sid).update(body="").body == ""
    assert client.messages(sid).delete() is True
    with pytest.raises(NotFoundError):
        twilio_provider.fetch(sid)


# --- configuration -------------------------------------------------------------------------

def test_api_base_url_from_env() -> None:
    assert api_base_url_from_env({}) == "https://api.twilio.com"
    assert api_base_url_from_env({"DESKTOP_SMS_TWILIO_API_URL": "http://127.0.0.1:8099/"}) == \
        "http://127.0.0.1:8099"


def test_provider_from_env(monkeypatch: pytest.MonkeyPatch, sandbox_server: SandboxServer) -> None:
    monkeypatch.setenv("DESKTOP_SMS_TWILIO_API_URL", sandbox_server.base_url)
    provider = provider_from_env_or(*sandbox_server.credentials)
    assert provider.api_base_url == sandbox_server.base_url
    assert provider.test_credentials([]).ok


@pytest.mark.parametrize(("url", "expected"), [
    ("https://api.twilio.com/2010-04-01/Accounts/AC1.json?x=1",
     "http://127.0.0.1:8099/2010-04-01/Accounts/AC1.json?x=1"),
    ("https://messaging.twilio.com/v1/Services", "http://127.0.0.1:8099/v1/Services"),
    ("https://api.sydney.au1.twilio.com/2010-04-01/x", "http://127.0.0.1:8099/2010-04-01/x"),
    ("https://example.com/x", "https://example.com/x"),
])
def test_rewrite_url(url: str, expected: str) -> None:
    assert rewrite_url(url, "http://127.0.0.1:8099") == expected


def test_rewrite_keeps_a_path_prefix() -> None:
    assert rewrite_url("https://api.twilio.com/2010-04-01/a", "https://proxy.local/twilio/") == \
        "https://proxy.local/twilio/2010-04-01/a"


def test_every_request_has_a_time_out(twilio_provider: TwilioProvider,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    session = twilio_provider.http_client.session
    original = session.send

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(kwargs.get("timeout"))
        return original(*args, **kwargs)

    monkeypatch.setattr(session, "send", spy)
    list(twilio_provider.list_messages())
    twilio_provider.test_credentials([OFFICE_NUMBER])
    assert seen and all(t == 5.0 for t in seen)
