"""Attacks on the inbound side from outside (issue 12): replies with fields nobody here wrote,
from the real sandbox server through the real TwilioProvider, on SQLite and PostgreSQL.

Promises checked (docs/set_aside.md): every well-formed reply around a hostile one is filed at
the first poll; a reply that can't be filed is set aside with a reason and listed in the
Received Log within MAX_FILING_ATTEMPTS polls; the cursor passes it; Try again files it when it
can be filed; nothing behaves differently on PostgreSQL than on SQLite.

Attacks that broke something (each failed before its fix): provider ids longer than their
column or holding NUL / lone surrogates (held the cursor for ever on PostgreSQL, never listed);
an attachment id longer than its column; an absurd num_media (unstorable on PostgreSQL, and Try
again then filed an empty shell, losing the text); a set-aside reply over 64 KB losing its
truncated mark on Try again; attachments announced but not yet listed (lost silently); a sid
repeated in one listing (attachments downloaded once per repeat); `messages --json` not showing
set-aside or truncated replies. See docs/set_aside.md for what held.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from desktop_sms.db.models import InboundMessage
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.container import Services
from desktop_sms.services.ingest import (
    MAX_FILING_ATTEMPTS,
    MAX_INBOUND_BODY_BYTES,
    SID_COLUMN_WIDTH,
    cap_body,
    media_count,
    storable_text,
    storage_key,
    was_cut,
)
from desktop_sms.services.poller import Poller
from tests.helpers.clock import FakeClock
from tests.reliability.workers import CLIENT, OFFICE, setup_office

pytestmark = pytest.mark.reliability


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def office(db_url: str, clock: FakeClock) -> Iterator[Services]:
    services = setup_office(db_url, clock)
    yield services
    services.close()


def _rekey(server: SandboxServer, sid: str, new_sid: str) -> None:
    """Give an injected message another id (a provider answering with ids of any shape)."""
    with server.state.lock:
        msg = server.state.messages.pop(sid)
        msg.sid = new_sid
        server.state.messages[new_sid] = msg


def _bodies(office: Services) -> list[str]:
    with office.db.session() as s:
        return sorted(s.scalars(select(InboundMessage.body)))


def _poll_until_settled(poller: Poller, clock: FakeClock) -> None:
    for _ in range(MAX_FILING_ATTEMPTS + 1):
        clock.advance(minutes=1)
        poller.poll_once()


@pytest.mark.parametrize("shape", ["long_sender", "long_sid", "long_sender_and_sid"])
def test_oversized_fields_never_hold_the_cursor_and_are_filed_or_listed(
        office: Services, clock: FakeClock, shape: str) -> None:
    """Fields longer than their columns (PostgreSQL enforces widths, SQLite doesn't)."""
    admin = office.users.get("boss").actor()
    with SandboxServer(port=0, clock=clock) as server:
        provider = TwilioProvider(*server.credentials, api_base_url=server.base_url, timeout=5.0)
        poller = Poller(office.db, office.settings, lambda: provider, clock, office.inbound.ingest)
        start = clock() - timedelta(minutes=30)
        server.inject_inbound(CLIENT, OFFICE, "good before", date_sent=start)
        sender = "+1" + "2" * 60 if "sender" in shape else CLIENT
        odd = server.inject_inbound(sender, OFFICE, "odd one", date_sent=start + timedelta(minutes=1))
        if "sid" in shape:
            _rekey(server, odd, "SM" + "a" * 70)
        server.inject_inbound(CLIENT, OFFICE, "good after", date_sent=start + timedelta(minutes=2))
        first = poller.poll_once()
        assert {"good before", "good after"} <= set(_bodies(office)), first.errors
        _poll_until_settled(poller, clock)
        filed = "odd one" in _bodies(office)
        listed = [r for r in office.inbound.received.set_aside_rows() if r.text == "odd one"]
        if "sid" in shape:
            # Not a Twilio SID (SM and 32 hex digits): refused as malformed and reported, never
            # stored under an id of our making (issue 12, reproduction 6).
            assert not filed and not listed
            assert any("could not be read" in e for e in first.errors), first.errors
        else:
            # The odd reply is either filed or set aside and listed with its text.
            assert filed or listed
        # The cursor has passed it, and a later reply is filed at the next poll without error.
        assert poller.cursor(OFFICE) is not None
        assert poller.cursor(OFFICE) >= start + timedelta(minutes=2)
        clock.advance(minutes=1)
        server.inject_inbound(CLIENT, OFFICE, "good later", date_sent=clock())
        later = poller.poll_once()
        assert len(later.new_inbound_ids) == 1
        if "sid" in shape:
            # Twilio still lists the unreadable record (the listing looks back a day): it is
            # reported again, and nothing else goes wrong.
            assert later.errors and all("could not be read" in e for e in later.errors)
        else:
            assert later.errors == []
        if listed:
            result = office.inbound.ingest.try_again(admin, listed[0].id, lambda: provider)
            assert result.created and "odd one" in _bodies(office)


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.mark.parametrize("odd_sids", [
    ["SM\x00" + "b" * 31],                        # NUL: PostgreSQL text can't hold it
    ["SM\ud800" + "c" * 31],                      # a lone surrogate (JSON allows "\ud800")
    ["SM" + "d" * 40 + "1", "SM" + "d" * 40 + "2"],  # long, and equal in their first 40
    ["SM" + "e" * 5000],                          # huge
])
def test_provider_ids_that_are_not_twilio_sids_are_refused_and_reported(
        office: Services, clock: FakeClock, odd_sids: list[str]) -> None:
    """A listed message whose id is not a Twilio SID is refused and reported, never stored
    (under its own id or an invented one); the replies around it are filed once each."""
    with SandboxServer(port=0, clock=clock) as server:
        provider = TwilioProvider(*server.credentials, api_base_url=server.base_url, timeout=5.0)
        poller = Poller(office.db, office.settings, lambda: provider, clock, office.inbound.ingest)
        start = clock() - timedelta(minutes=30)
        for n, odd_sid in enumerate(odd_sids):
            sid = server.inject_inbound(CLIENT, OFFICE, f"odd {n}",
                                        date_sent=start + timedelta(minutes=n))
            _rekey(server, sid, odd_sid)
        server.inject_inbound(CLIENT, OFFICE, "good after", date_sent=start + timedelta(minutes=9))
        first = poller.poll_once()
        assert any("could not be read" in e for e in first.errors), first.errors
        assert _bodies(office) == ["good after"]
        clock.advance(minutes=1)
        again = poller.poll_once()
        assert again.new_inbound_ids == []
        assert _bodies(office) == ["good after"]


def test_media_with_an_overlong_id_is_stored_with_its_reply(
        office: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """An attachment whose id is not a Twilio Media SID (here longer than its column) doesn't
    make its reply unfileable: the reply is filed at the first poll, the attachment is refused
    (never downloaded), recorded as given up with the reason, and the poll reports it once;
    the other attachment of the same reply is downloaded as usual."""
    from desktop_sms.db.models import InboundMedia

    with SandboxServer(port=0, clock=clock) as server:
        provider = TwilioProvider(*server.credentials, api_base_url=server.base_url, timeout=5.0)
        downloads: list[str] = []
        plain = provider.download_media

        def counted(media: object, max_bytes: int) -> bytes:
            downloads.append(str(getattr(media, "sid", "")))
            return plain(media, max_bytes)  # type: ignore[arg-type]

        monkeypatch.setattr(provider, "download_media", counted)
        poller = Poller(office.db, office.settings, lambda: provider, clock, office.inbound.ingest)
        sid = server.inject_inbound(CLIENT, OFFICE, "see photo", date_sent=clock() - timedelta(minutes=20),
                                    media=[("image/png", PNG), ("image/png", PNG)])
        with server.state.lock:
            server.state.messages[sid].media[0].sid = "ME" + "f" * 60
            good_media = server.state.messages[sid].media[1].sid
        report = poller.poll_once()
        assert len(report.new_inbound_ids) == 1
        assert [e for e in report.errors if "could not be read" in e] == report.errors
        assert len(report.errors) == 1 and "1 attachment(s)" in report.errors[0]
        assert downloads == [good_media]
        with office.db.session() as s:
            media = {m.provider_media_sid: m for m in s.scalars(select(InboundMedia))}
            assert set(media) == {good_media, storage_key("ME" + "f" * 60)}
            bad = media[storage_key("ME" + "f" * 60)]
            assert bad.provider_media_sid.startswith("~") and bad.data is None
            assert "not a Twilio Media SID" in (bad.fetch_error or "")
            assert media[good_media].data == PNG
            assert s.scalar(select(InboundMessage.media_pending)) is False
        clock.advance(minutes=1)
        again = poller.poll_once()
        assert again.errors == [] and downloads == [good_media]  # reported and tried once


def test_messages_json_lists_set_aside_and_truncated_replies(
        office: Services, clock: FakeClock, db_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`messages --json` (the command-line view of the Received Log) says which replies could
    not be filed, with the reason, and which were cut at 64 KB; Try again turns the set-aside
    entry into a received one."""
    import json

    from desktop_sms.cli import main
    from tests.test_set_aside import allow_poison, refuse_poison

    def listed() -> list[dict[str, object]]:
        capsys.readouterr()
        assert main(["--db", db_url, "messages", "--direction", "inbound", "--json"]) == 0
        rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
        return rows

    admin = office.users.get("boss").actor()
    with SandboxServer(port=0, clock=clock) as server:
        provider = TwilioProvider(*server.credentials, api_base_url=server.base_url, timeout=5.0)
        poller = Poller(office.db, office.settings, lambda: provider, clock, office.inbound.ingest)
        start = clock() - timedelta(minutes=30)
        server.inject_inbound(CLIENT, OFFICE, "poison pill", date_sent=start)
        server.inject_inbound(CLIENT, OFFICE, "é" * 40_000, date_sent=start + timedelta(minutes=1))
        refuse_poison(office.db)
        _poll_until_settled(poller, clock)
        rows = listed()
        by_status = {str(r["status"]): r for r in rows}
        assert set(by_status) == {"received", "set_aside"}
        aside = by_status["set_aside"]
        assert aside["body"] == "poison pill" and "poison refused" in str(aside["reason"])
        assert aside["cases"] == [] and aside["filing_attempts"] == MAX_FILING_ATTEMPTS
        long = by_status["received"]
        assert long["body_truncated"] is True
        assert len(str(long["body"]).encode()) <= MAX_INBOUND_BODY_BYTES
        allow_poison(office.db)
        failure_id = office.inbound.received.set_aside_rows()[0].id
        office.inbound.ingest.try_again(admin, failure_id, lambda: provider)
        after = listed()
        assert sorted(str(r["status"]) for r in after) == ["received", "received"]
        assert [r["body_truncated"] for r in after if r["body"] == "poison pill"] == [False]


def _answer_with(server: SandboxServer, target: str, /, **fields: object) -> None:
    """Make the server describe message `target` with these JSON fields (a provider answering
    with values nobody here wrote); calls chain."""
    plain = server.message_json

    def render(msg: object) -> dict[str, object]:
        out = plain(msg)  # type: ignore[arg-type]
        return {**out, **fields} if out.get("sid") == target else out

    server.message_json = render  # type: ignore[method-assign]


@pytest.mark.parametrize("num_media", ["99999999999", "2147483648", "-5"])
def test_absurd_media_counts_neither_block_nor_lose_the_reply(
        office: Services, clock: FakeClock, num_media: str) -> None:
    """A media count that is not a number of attachments (negative, beyond any column's
    range): the reply is still filed, once, at the first poll with its text; the count is
    taken as 0 and the poll reports it (the strict parser keeps the message, names the field)."""
    with SandboxServer(port=0, clock=clock) as server:
        provider = TwilioProvider(*server.credentials, api_base_url=server.base_url, timeout=5.0)
        poller = Poller(office.db, office.settings, lambda: provider, clock, office.inbound.ingest)
        start = clock() - timedelta(minutes=30)
        odd = server.inject_inbound(CLIENT, OFFICE, "odd count", date_sent=start)
        _answer_with(server, odd, num_media=num_media)
        server.inject_inbound(CLIENT, OFFICE, "good after", date_sent=start + timedelta(minutes=1))
        first = poller.poll_once()
        assert len(first.new_inbound_ids) == 2
        assert len(first.errors) == 1 and "num_media" in first.errors[0], first.errors
        assert _bodies(office) == ["good after", "odd count"]
        _poll_until_settled(poller, clock)
        assert _bodies(office) == ["good after", "odd count"]
        assert office.inbound.received.set_aside_rows() == []
        with office.db.session() as s:
            assert s.scalar(select(InboundMessage.num_media).where(
                InboundMessage.provider_sid == odd)) == 0


def _refuse_everywhere(db: object, on: bool) -> None:
    """The database refuses "poison" text in filed replies AND in the set-aside record, so only
    the provider id of such a reply can be kept."""
    from sqlalchemy import text

    from desktop_sms.db.database import Database
    from tests.test_set_aside import allow_poison, refuse_poison

    assert isinstance(db, Database)
    (refuse_poison if on else allow_poison)(db)
    with db.transaction() as s:
        sqlite = s.get_bind().dialect.name == "sqlite"
        if on and sqlite:
            s.execute(text("CREATE TRIGGER refuse_kept BEFORE UPDATE ON inbound_filing_failures "
                           "WHEN NEW.body LIKE '%poison%' "
                           "BEGIN SELECT RAISE(ABORT, 'poison refused'); END"))
            s.execute(text("CREATE TRIGGER refuse_kept2 BEFORE INSERT ON inbound_filing_failures "
                           "WHEN NEW.body LIKE '%poison%' "
                           "BEGIN SELECT RAISE(ABORT, 'poison refused'); END"))
        elif on:
            s.execute(text("CREATE TRIGGER refuse_kept BEFORE INSERT OR UPDATE ON "
                           "inbound_filing_failures FOR EACH ROW EXECUTE FUNCTION refuse_poison()"))
        elif sqlite:
            s.execute(text("DROP TRIGGER refuse_kept"))
            s.execute(text("DROP TRIGGER refuse_kept2"))
        else:
            s.execute(text("DROP TRIGGER refuse_kept ON inbound_filing_failures"))


def test_try_again_on_a_reply_whose_text_was_not_kept_fetches_it_from_the_provider(
        office: Services, clock: FakeClock) -> None:
    """Try again never files an empty shell in place of a text it never kept."""
    from desktop_sms.services.common import ServiceError

    admin = office.users.get("boss").actor()
    with SandboxServer(port=0, clock=clock) as server:
        provider = TwilioProvider(*server.credentials, api_base_url=server.base_url, timeout=5.0)
        poller = Poller(office.db, office.settings, lambda: provider, clock, office.inbound.ingest)
        start = clock() - timedelta(minutes=30)
        server.inject_inbound(CLIENT, OFFICE, "poison pill", date_sent=start)
        server.inject_inbound(CLIENT, OFFICE, "good after", date_sent=start + timedelta(minutes=1))
        _refuse_everywhere(office.db, True)
        poller.poll_once()
        _poll_until_settled(poller, clock)
        rows = office.inbound.received.set_aside_rows()
        assert len(rows) == 1 and rows[0].text == "" and rows[0].attempts == MAX_FILING_ATTEMPTS
        _refuse_everywhere(office.db, False)
        with pytest.raises(ServiceError, match="could not be kept"):
            office.inbound.ingest.try_again(admin, rows[0].id)
        assert _bodies(office) == ["good after"]
        result = office.inbound.ingest.try_again(admin, rows[0].id, lambda: provider)
        assert result.created and _bodies(office) == ["good after", "poison pill"]
        assert office.inbound.received.set_aside_rows() == []


def test_attachments_listed_late_are_still_fetched(office: Services, clock: FakeClock) -> None:
    """A reply announcing a picture whose attachment list is still empty when first polled
    (Twilio may still be storing it): the picture is fetched on a later poll, not lost; and
    after MEDIA_PENDING_LIMIT an attachment that never appears stops being asked for."""
    from desktop_sms.db.models import InboundMedia
    from desktop_sms.services.ingest import MEDIA_PENDING_LIMIT

    with SandboxServer(port=0, clock=clock) as server:
        provider = TwilioProvider(*server.credentials, api_base_url=server.base_url, timeout=5.0)
        poller = Poller(office.db, office.settings, lambda: provider, clock, office.inbound.ingest)
        sid = server.inject_inbound(CLIENT, OFFICE, "see photo",
                                    date_sent=clock() - timedelta(minutes=20),
                                    media=[("image/png", PNG)])
        with server.state.lock:
            later_media = server.state.messages[sid].media[:]
            server.state.messages[sid].media.clear()
        _answer_with(server, sid, num_media="1")
        odd = server.inject_inbound(CLIENT, OFFICE, "never comes",
                                    date_sent=clock() - timedelta(minutes=19))
        _answer_with(server, odd, num_media="2")
        first = poller.poll_once()
        assert first.errors == [] and len(first.new_inbound_ids) == 2
        with server.state.lock:
            server.state.messages[sid].media.extend(later_media)
        clock.advance(minutes=1)
        second = poller.poll_once()
        assert second.errors == [] and len(second.media_completed_ids) == 1
        with office.db.session() as s:
            assert list(s.scalars(select(InboundMedia.data))) == [PNG]
            assert s.scalar(select(InboundMessage.media_pending).where(
                InboundMessage.body == "see photo")) is False
            assert s.scalar(select(InboundMessage.media_pending).where(
                InboundMessage.body == "never comes")) is True
        clock.advance(seconds=MEDIA_PENDING_LIMIT.total_seconds())
        poller.poll_once()
        with office.db.session() as s:
            assert s.scalar(select(InboundMessage.media_pending).where(
                InboundMessage.body == "never comes")) is False


def test_a_set_aside_reply_over_64_kb_stays_marked_truncated_after_try_again(
        office: Services, clock: FakeClock) -> None:
    """The kept copy of a set-aside reply is cut at 64 KB like any reply; once filed by Try
    again it must still say it was cut (body_truncated and the case note's line)."""
    from desktop_sms.db.models import CaseNote
    from desktop_sms.services.ingest import TRUNCATED_NOTE
    from tests.test_set_aside import allow_poison, refuse_poison

    admin = office.users.get("boss").actor()
    with SandboxServer(port=0, clock=clock) as server:
        provider = TwilioProvider(*server.credentials, api_base_url=server.base_url, timeout=5.0)
        poller = Poller(office.db, office.settings, lambda: provider, clock, office.inbound.ingest)
        server.inject_inbound(CLIENT, OFFICE, "poison " + "z" * 100_000,
                              date_sent=clock() - timedelta(minutes=20))
        refuse_poison(office.db)
        _poll_until_settled(poller, clock)
        rows = office.inbound.received.set_aside_rows()
        assert len(rows) == 1
        allow_poison(office.db)
        office.inbound.ingest.try_again(admin, rows[0].id, lambda: provider)
        with office.db.session() as s:
            stored = s.scalars(select(InboundMessage)).one()
            assert stored.body_truncated is True
            assert len(stored.body.encode()) <= MAX_INBOUND_BODY_BYTES
            note = s.scalars(select(CaseNote.body)).one()
            assert note.endswith(TRUNCATED_NOTE)


def test_a_sid_repeated_in_one_listing_is_filed_and_downloaded_once(
        office: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider listing the same picture message many times in one poll: filed once, its
    attachments downloaded once (not once per repeat), and the repeats hold nothing back."""
    with SandboxServer(port=0, clock=clock) as server:
        provider = TwilioProvider(*server.credentials, api_base_url=server.base_url, timeout=5.0)
        downloads: list[str] = []
        plain = provider.download_media

        def counted(media: object, max_bytes: int) -> bytes:
            downloads.append(str(getattr(media, "sid", "")))
            return plain(media, max_bytes)  # type: ignore[arg-type]

        monkeypatch.setattr(provider, "download_media", counted)
        poller = Poller(office.db, office.settings, lambda: provider, clock, office.inbound.ingest)
        start = clock() - timedelta(minutes=30)
        sid = server.inject_inbound(CLIENT, OFFICE, "see photo", date_sent=start,
                                    media=[("image/png", PNG)])
        for n in range(5):
            repeat = server.inject_inbound(CLIENT, OFFICE, f"repeat {n}",
                                           date_sent=start + timedelta(seconds=n + 1),
                                           media=[("image/png", PNG)])
            _answer_with(server, repeat, sid=sid, body="see photo")
        server.inject_inbound(CLIENT, OFFICE, "good after", date_sent=start + timedelta(minutes=1))
        report = poller.poll_once()
        assert report.errors == [] and len(report.new_inbound_ids) == 2
        assert _bodies(office) == ["good after", "see photo"]
        assert len(downloads) == 1


# --- the pure parts, for ids and bodies of any shape -----------------------------------------


@given(st.text(max_size=200), st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_storage_key_fits_is_storable_stable_and_keeps_ids_apart(a: str, b: str) -> None:
    key = storage_key(a)
    assert len(key) <= SID_COLUMN_WIDTH and storable_text(key) == key
    assert storage_key(key) == key  # Try again re-files under the stored key
    if len(a) <= SID_COLUMN_WIDTH and storable_text(a) == a:
        assert key == a  # Twilio's ids are kept as they are
    if a != b:
        assert storage_key(b) != key


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=30_000))
@settings(max_examples=60, deadline=None)
def test_a_cut_body_is_always_recognised_as_cut(text: str) -> None:
    body, cut = cap_body(text * 3, limit=MAX_INBOUND_BODY_BYTES // 8)
    assert len(body.encode()) <= MAX_INBOUND_BODY_BYTES // 8
    if cut:
        assert was_cut(body, limit=MAX_INBOUND_BODY_BYTES // 8)


@given(st.one_of(st.none(), st.integers()))
def test_media_count_fits_an_integer_column(value: int | None) -> None:
    assert 0 <= media_count(value) <= 2_147_483_647
