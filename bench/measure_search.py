"""`message_search_p95_ms`: SMS → Search over every message (docs/conversations.md).

`ConversationService.search()` — the FTS5 trigram tables on SQLite, `pg_trgm` on PostgreSQL —
for a mix of queries a person types: a word in most texts, a rarer word-and-number pair, a
message number, the digits of a client's phone, and a miss. One warm-up pass, then the
queries repeated; p95 (and median) of the wall time of one call, which also reads the (up to
50) hits' rows and their cases, as the Search tab shows them.
"""

from __future__ import annotations

import random
import time
from typing import Any

from sqlalchemy import func, select

from bench.common import Figure, median, percentile
from bench.datagen import BenchData
from desktop_sms.db.database import open_database
from desktop_sms.db.models import InboundMessage, OutboundMessage, User
from desktop_sms.services.common import Actor
from desktop_sms.services.conversations import ConversationService
from desktop_sms.services.settings import SettingsService

TARGET = "<= 100 ms"


def measure_search(data: BenchData, log: Any = print, prefix: str = "") -> list[Figure]:
    """The p95 of one search over all the bench's messages."""
    rng = random.Random(7)
    t0 = time.perf_counter()
    db, _ = open_database(data.url)  # migrates: builds the search index on a cached file
    try:
        log(f"  database ready in {time.perf_counter() - t0:.1f} s (search index included)")
        with db.session() as s:
            user = s.scalar(select(User).where(User.active.is_(True),
                                               User.sms_access.is_(True)).limit(1))
            assert user is not None, "the bench data has no active user with SMS access"
            messages = int(s.scalar(select(func.count(OutboundMessage.id))) or 0) + int(
                s.scalar(select(func.count(InboundMessage.id))) or 0)
            numbers = list(s.scalars(select(InboundMessage.from_e164)
                                     .where(InboundMessage.from_e164.is_not(None)).limit(500)))
        actor = Actor(user.id, user.username)
        service = ConversationService(db, SettingsService(db))
        top = max(data.size.outbound, 10)
        queries = ["reminder", "case message", f"message {rng.randrange(top)}",
                   f"Reply {rng.randrange(max(data.size.inbound, 10))}", "zzqx nowhere"]
        queries += [n[-7:] for n in rng.sample(numbers, min(3, len(numbers)))]
        for q in queries:  # warm-up (page cache, statement cache)
            service.search(actor, q)
        repeats = max(4, 60 // len(queries))
        times: list[float] = []
        hits: dict[str, int] = {}
        for _ in range(repeats):
            for q in queries:
                started = time.perf_counter()
                found = service.search(actor, q)
                times.append((time.perf_counter() - started) * 1000)
                hits[q] = len(found)
        p95 = percentile(times, 95)
        log(f"  {len(times)} searches over {messages:,} messages: median "
            f"{median(times):.1f} ms, p95 {p95:.1f} ms")
        return [Figure(f"{prefix}message_search_p95_ms", p95, "ms", TARGET, {
            "messages": messages, "searches": len(times), "median_ms": round(median(times), 3),
            "max_ms": round(max(times), 3), "hits_per_query": hits,
            "backend": db.engine.dialect.name})]
    finally:
        db.dispose()
