"""Crash injection with real processes (issue 9): a desktop SIGKILLed while sending or polling,
then restarted, leaves every text sent exactly once and every reply filed exactly once.

Counted twice: at the Twilio-compatible local server (what the client's phone would get) and in
the database. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from desktop_sms.db.models import CaseNote, Document, InboundMessage, OutboundMessage, PollCursor
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.services.container import Services
from tests.reliability.workers import CLIENT, OFFICE, STRANGER, run_worker, setup_office

pytestmark = pytest.mark.reliability

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"
LEASE_OVER = str(int(timedelta(minutes=3).total_seconds()))  # the default lease is 2 minutes


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    """A local server on the real clock (the workers run on the real clock too)."""
    with SandboxServer(port=0, progress_delay=0.2) as srv:
        yield srv


@pytest.fixture
def office(db_url: str) -> Iterator[Services]:
    services = setup_office(db_url)
    yield services
    services.close()


def outbound_at_server(server: SandboxServer) -> list[dict[str, str]]:
    return [m for m in server.messages() if m["direction"].startswith("outbound")]


def states(services: Services) -> dict[int, tuple[str, str | None]]:
    with services.db.session() as s:
        return {m.id: (m.state, m.provider_sid) for m in s.scalars(select(OutboundMessage))}


@pytest.mark.parametrize("crash_at", ["claim", "accept"])
def test_dispatcher_killed_mid_send_then_restarted_sends_each_text_once(
        office: Services, db_url: str, server: SandboxServer, crash_at: str) -> None:
    staff = office.users.get("pat").actor()
    matter_id = office.matters.by_number("25-000001").id
    bodies = [f"crash-{crash_at} text {i}" for i in range(5)]
    ids = [office.outbound.send(staff, matter_id, CLIENT, b) for b in bodies]
    api = server.base_url

    # The desktop dies on its third send: after the claim (a), or after Twilio took it (b).
    # (The dispatcher claims in chunks and sends on several threads, so which rows are left
    # claimed is not fixed; what must hold is checked for every row.)
    code, _, _ = run_worker("dispatch", "--db", db_url, "--api", api,
                            "--crash-at", crash_at, "--crash-on", "3")
    assert code == -signal.SIGKILL
    after_crash = states(office)
    stuck = {i for i in ids if after_crash[i][0] == "sending"}
    at_server = Counter(m["body"] for m in outbound_at_server(server))
    assert stuck and max(at_server.values(), default=1) == 1
    assert {after_crash[i][0] for i in ids} <= {"sent", "sending", "queued"}
    if crash_at == "accept":  # Twilio holds a text the database does not know was sent
        assert any(bodies[ids.index(i)] in at_server for i in stuck)
    else:  # a claimed text never reached Twilio
        assert any(bodies[ids.index(i)] not in at_server for i in stuck)

    # Restarted while the dead desktop's lease still holds: its claimed texts are left alone.
    code, report, err = run_worker("dispatch", "--db", db_url, "--api", api)
    assert code == 0, err
    assert report is not None and report["reconciled"] == []
    assert {i for i, (state, _) in states(office).items() if state == "sending"} == stuck
    assert Counter(m["body"] for m in outbound_at_server(server)) - at_server == Counter(
        bodies[ids.index(i)] for i in ids if after_crash[i][0] == "queued")

    # Restarted after the lease ran out: reconciled against the server, then finished.
    code, report, err = run_worker("dispatch", "--db", db_url, "--api", api,
                                   "--clock-offset", LEASE_OVER)
    assert code == 0, err
    assert report is not None and sorted(report["reconciled"]) == sorted(stuck)
    assert sorted(report["sent"]) == sorted(i for i in stuck
                                            if bodies[ids.index(i)] not in at_server)

    server_msgs = outbound_at_server(server)
    assert Counter(m["body"] for m in server_msgs) == Counter(bodies)  # each exactly once
    sid_of_body = {m["body"]: m["sid"] for m in server_msgs}
    final = states(office)
    for message_id, body in zip(ids, bodies, strict=True):
        assert final[message_id] == ("sent", sid_of_body[body])


@pytest.mark.parametrize("crash_at", ["filed", "commit"])
def test_poller_killed_mid_poll_then_restarted_files_each_reply_once(
        office: Services, db_url: str, server: SandboxServer, crash_at: str) -> None:
    start = office.clock() - timedelta(hours=2)
    injected: dict[str, str] = {}
    for i in range(8):
        sender = STRANGER if i % 3 == 2 else CLIENT
        media = [("image/jpeg", JPEG)] if i % 4 == 0 else None
        sid = server.inject_inbound(sender, OFFICE, f"reply {i}",
                                    date_sent=start + timedelta(minutes=i), media=media)
        injected[sid] = sender
    api = server.base_url

    # Killed after the third reply was committed, or inside the third reply's commit.
    code, _, _ = run_worker("poll", "--db", db_url, "--api", api,
                            "--crash-at", crash_at, "--crash-on", "3")
    assert code == -signal.SIGKILL
    with office.db.session() as s:
        stored = s.scalar(select(func.count()).select_from(InboundMessage))
        cursor = s.get(PollCursor, OFFICE)
        notes = s.scalar(select(func.count()).select_from(CaseNote))
    assert stored == (3 if crash_at == "filed" else 2)  # the uncommitted one left nothing
    assert cursor is None  # the cursor never moved past what was not filed
    assert notes == 2  # replies 0 and 1 are from the client; reply 2 needs review

    code, report, err = run_worker("poll", "--db", db_url, "--api", api)
    assert code == 0, err
    assert report is not None and report["errors"] == []
    assert len(report["new"]) == 8 - stored

    with office.db.session() as s:
        rows = list(s.scalars(select(InboundMessage)))
        notes_per_body = Counter(s.scalars(select(CaseNote.body)))
        documents = s.scalar(select(func.count()).select_from(Document))
    assert Counter(r.provider_sid for r in rows) == Counter(injected.keys())  # each exactly once
    from_client = [f"reply {i}" for i in range(8) if i % 3 != 2]
    assert notes_per_body == Counter(from_client)  # one note each, none twice
    assert documents == sum(1 for i in range(8) if i % 4 == 0 and i % 3 != 2)
    assert {r.provider_sid for r in rows if r.needs_review} == {
        sid for sid, sender in injected.items() if sender == STRANGER}
