"""Ingest, dispatch and the scheduled-text delay, through the real services and provider.

Every measurement talks HTTP to an in-process `SandboxServer` through the real
`TwilioProvider` (the official twilio client), exactly as the Sandbox mode does.
"""

from __future__ import annotations

import random
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from bench.common import OFFICE, Figure, median
from bench.datagen import BenchData
from bench.measure_match import senders
from desktop_sms.db.database import Database
from desktop_sms.db.models import Matter, OutboundMessage
from desktop_sms.providers.base import SmsProvider
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.scheduling.alarm import BackgroundWork
from desktop_sms.services.common import SYSTEM
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.credentials import CredentialStore
from desktop_sms.services.provider_factory import ProviderFactory


class NoCredentials(CredentialStore):
    """The bench never touches the OS keyring."""

    def get_token(self, account_sid: str) -> str | None:
        return None

    def set_token(self, account_sid: str, token: str) -> None:
        raise RuntimeError("the bench stores no tokens")

    def available(self) -> tuple[bool, str]:
        return False, "benchmark"


class FixedProviders(ProviderFactory):
    """Hands out one provider (pointed at the bench's local server)."""

    def __init__(self, make: Callable[[], SmsProvider]) -> None:  # noqa: D107
        self._make = make
        self._sandbox = None
        self._lock = threading.Lock()

    def mode(self) -> str:
        return "sandbox"

    def __call__(self) -> SmsProvider:
        return self._make()

    def close(self) -> None:
        pass


def small_png(side: int = 24) -> bytes:
    """A small valid PNG (a grey square), the 'photo of a document' of an MMS."""
    raw = b"".join(b"\x00" + bytes([(x * 7 + y * 3) % 256 for x in range(side)])
                   for y in range(side))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


@contextmanager
def local_office(url: str, latency_ms: int = 0) -> Iterator[tuple[Services, SandboxServer]]:
    """Services over the bench database, their provider on a fresh in-process local server."""
    server = SandboxServer(port=0, progress_delay=3600.0, incoming_numbers=[OFFICE]).start()
    if latency_ms:
        server.set_faults(latency_ms=latency_ms)
    sid, token = server.credentials
    provider = TwilioProvider(sid, token, api_base_url=server.base_url)
    db = Database(url)
    services = build_services(db, credentials=NoCredentials(),
                              providers=FixedProviders(lambda: provider))
    try:
        yield services, server
    finally:
        services.close()
        server.stop()


def inject_replies(server: SandboxServer, db: Database, data: BenchData, n: int,
                   mms_share: float, seed: int) -> None:
    """n replies from realistic senders over the last day; mms_share of them carry an image."""
    rng = random.Random(seed)
    png = small_png()
    now = datetime.now(UTC)
    for k, (number, _) in enumerate(senders(db, data, n, seed=seed)):
        media = [("image/png", png)] if rng.random() < mms_share else None
        server.inject_inbound(number, OFFICE, f"Reply {k}: thanks, see you Tuesday",
                              date_sent=now - timedelta(seconds=rng.randrange(1, 86_400)),
                              media=media)


def measure_ingest(data: BenchData, workdir: Path, profile: bool = False,
                   log: Any = print) -> list[Figure]:
    """ingest_msgs_per_s: the real Poller lists, matches and files N replies (10% MMS)."""
    n = data.size.ingest
    with local_office(data.url) as (services, server):
        inject_replies(server, services.db, data, n, 0.10, seed=11)
        profiler = _profiler(profile)
        t0 = time.perf_counter()
        report = services.poller.poll_once()
        elapsed = time.perf_counter() - t0
        _save_profile(profiler, workdir / "profile-ingest.html", log)
        filed = len(report.new_inbound_ids)
        # How much of it was the listing alone (the local server serializing pages)?
        provider = services.providers()
        since = (datetime.now(UTC) - timedelta(days=8)).date()
        t1 = time.perf_counter()
        listed = sum(1 for _ in provider.list_messages(to=OFFICE, date_sent_on_or_after=since))
        list_s = time.perf_counter() - t1
    detail = {"messages": n, "filed": filed, "listed": listed, "errors": report.errors[:3],
              "seconds": round(elapsed, 3), "listing_alone_s": round(list_s, 3),
              "needs_review": len(report.needs_review_ids)}
    log(f"  ingest: {filed}/{n} filed in {elapsed:.2f} s ({filed / elapsed:.0f}/s; "
        f"listing alone {list_s:.2f} s)")
    if filed != n or report.errors:
        log(f"  ingest WARNING: {detail}")
    return [Figure("ingest_msgs_per_s", filed / elapsed, "msgs/s", ">= 300/s", detail)]


def _queue_due(db: Database, n: int, send_at: datetime, state: str = "queued",
               seed: int = 5) -> list[int]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    with db.session() as s:
        rows = s.execute(select(Matter.id, Matter.mobile_e164)
                         .where(Matter.mobile_e164.is_not(None)).limit(max(n * 5, 50))).all()
    picked = [rows[rng.randrange(len(rows))] for _ in range(n)]
    with db.engine.begin() as conn:
        ids = []
        for mid, to in picked:
            ids.append(conn.execute(OutboundMessage.__table__.insert().values(
                kind="client", matter_id=mid, author_id=2, to_raw=to, to_e164=to,
                from_number=OFFICE, body="Your appointment is tomorrow at 10:00.", state=state,
                send_at=send_at, created_at=now, attempts=0)).inserted_primary_key[0])
    return [int(i) for i in ids]


def _settle(db: Database, ids: list[int]) -> None:
    """Mark the bench's sent texts delivered so later polls don't refresh their status."""
    with db.engine.begin() as conn:
        conn.execute(update(OutboundMessage).where(OutboundMessage.id.in_(ids))
                     .values(state="delivered", provider_status="delivered"))


def measure_dispatch(data: BenchData, workdir: Path, profile: bool = False,
                     log: Any = print) -> list[Figure]:
    """dispatch_msgs_per_s (N due texts, one run_due) and scheduled_delay_s (the alarm clock)."""
    n = data.size.dispatch
    figures: list[Figure] = []
    with local_office(data.url) as (services, server):
        db = services.db
        # Unpaced: this figure is the pipeline's own throughput (bulk measures the pace).
        services.settings.set(SYSTEM, "max_messages_per_second", "1000")
        ids = _queue_due(db, n, datetime.now(UTC) - timedelta(seconds=5))
        services.dispatcher.provider  # noqa: B018 - build the client outside the timing
        profiler = _profiler(profile)
        t0 = time.perf_counter()
        report = services.dispatcher.run_due()
        elapsed = time.perf_counter() - t0
        _save_profile(profiler, workdir / "profile-dispatch.html", log)
        sent = len(report.sent)
        at_server = sum(1 for m in server.messages() if m["direction"].startswith("outbound"))
        _settle(db, ids)
        log(f"  dispatch: {sent}/{n} sent in {elapsed:.2f} s ({sent / elapsed:.0f}/s)")
        figures.append(Figure("dispatch_msgs_per_s", sent / elapsed, "msgs/s", ">= 200/s",
                              {"messages": n, "sent": sent, "at_server": at_server,
                               "seconds": round(elapsed, 3), "errors": report.errors[:3]}))

        # Scheduled text: due a little ahead, woken by the real alarm clock.
        done = threading.Event()
        work = BackgroundWork(dispatch=services.dispatcher.run_due,
                              next_wakeup=services.dispatcher.next_wakeup,
                              on_dispatched=lambda _r: done.set())
        work.start()
        delays: list[float] = []
        try:
            for _ in range(data.size.scheduled_repeats):
                due = datetime.now(UTC) + timedelta(seconds=1.5)
                [mid] = _queue_due(db, 1, due, state="scheduled")
                work.wake(due)  # what OutboundService's caller does after scheduling
                deadline = time.monotonic() + 15
                sent_at = None
                while time.monotonic() < deadline:
                    with db.session() as s:
                        sent_at = s.scalar(select(OutboundMessage.sent_at)
                                           .where(OutboundMessage.id == mid))
                    if sent_at is not None:
                        break
                    time.sleep(0.01)
                delays.append((sent_at - due).total_seconds() if sent_at else float("inf"))
                _settle(db, [mid])
        finally:
            work.shutdown()
        value = median(delays)
        log(f"  scheduled: due → sent {', '.join(f'{d:.3f}' for d in delays)} s")
        figures.append(Figure("scheduled_delay_s", value, "s", "<= 1 s",
                              {"delays_s": [round(d, 4) for d in delays], "max_s": max(delays)}))
    return figures


def _profiler(enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from pyinstrument import Profiler
    except ImportError:
        return None
    profiler = Profiler(interval=0.0005)
    profiler.start()
    return profiler


def _save_profile(profiler: Any, path: Path, log: Any) -> None:
    if profiler is None:
        return
    profiler.stop()
    path.write_text(profiler.output_html())
    (path.with_suffix(".txt")).write_text(profiler.output_text(unicode=False, color=False))
    log(f"  profile written to {path} (and .txt)")
