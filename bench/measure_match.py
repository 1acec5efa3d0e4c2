"""Matcher per mode: p50/p99 per message, and the ratio to a hand-written SQL floor.

The floor answers the same question with ONE indexed SQL statement per message, run on the
raw driver cursor of the same connection (no ORM, no Core compilation, no Python rules):
a UNION ALL of the mode's rules in priority order, each an ORDER BY … LIMIT 1, for the
single-matter modes; a UNION of "texted N" and "mobile is N" for all_related. Matcher and
floor are timed interleaved on the same senders, so drift on a noisy machine hits both.
The ratio is matcher p99 / floor p99; the medians' ratio is in the JSON detail, and so is
the same statement run through SQLAlchemy `text()` (what the driver-plus-SQLAlchemy layer
costs before any query is built), and the matcher's p99 in thread CPU time (immune to the
preemption that inflates wall-clock p99 on a shared machine).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import phonenumbers
from sqlalchemy import func, select, text

from bench.common import Figure, median, percentile
from bench.datagen import BenchData
from desktop_sms.db.database import Database
from desktop_sms.db.models import Matter, OutboundMessage
from desktop_sms.services.matcher import InboundMatcher

MODES = ("all_related", "most_recent_intake", "most_recently_opened", "most_recent_outbound")

# :n is the sender's same-line key, compared with the stored keys as the matcher does.
_ACCEPTED = ("to_key = :n AND sent_at <= :t AND provider_sid IS NOT NULL "
             "AND matter_id IS NOT NULL AND kind != 'reminder'")
_RULE_SQL = {
    "out": f"SELECT matter_id AS mid FROM outbound_messages WHERE {_ACCEPTED} "
           "ORDER BY sent_at DESC, id DESC LIMIT 1",
    "intake": "SELECT id AS mid FROM matters WHERE (mobile_key = :n OR home_key = :n) "
              "AND intake_date IS NOT NULL ORDER BY intake_date DESC, id DESC LIMIT 1",
    "opened": "SELECT id AS mid FROM matters WHERE (mobile_key = :n OR home_key = :n) "
              "AND date_opened IS NOT NULL ORDER BY date_opened DESC, id DESC LIMIT 1",
}
_CHAINS = {
    "most_recent_intake": ("intake", "out", "opened"),
    "most_recently_opened": ("opened", "out", "intake"),
    "most_recent_outbound": ("out", "opened", "intake"),
}


def floor_sql(mode: str) -> str:
    """The one hand-written statement answering `mode` for sender :n at time :t."""
    if mode == "all_related":
        return (f"SELECT DISTINCT matter_id FROM outbound_messages WHERE {_ACCEPTED} "
                "UNION SELECT id FROM matters WHERE mobile_key = :n")
    parts = [f"SELECT {i} AS pri, mid FROM ({_RULE_SQL[rule]}) AS r{i}"
             for i, rule in enumerate(_CHAINS[mode], 1)]
    return f"SELECT mid FROM ({' UNION ALL '.join(parts)}) AS u ORDER BY pri LIMIT 1"


def senders(db: Database, data: BenchData, n: int, seed: int = 7) -> list[tuple[str, datetime]]:
    """Who texts in: repliers to a recent text, matters' numbers, hot numbers, strangers."""
    rng = random.Random(seed)
    out: list[tuple[str, datetime]] = []
    with db.session() as s:
        max_out = int(s.scalar(select(func.max(OutboundMessage.id))) or 0)
        ids = rng.sample(range(1, max_out + 1), min(max_out, int(n * 0.6)))
        for to, sent_at in s.execute(select(OutboundMessage.to_e164, OutboundMessage.sent_at)
                                     .where(OutboundMessage.id.in_(ids),
                                            OutboundMessage.kind == "client")):
            out.append((to, sent_at + timedelta(minutes=rng.randrange(1, 600))))
        max_m = int(s.scalar(select(func.max(Matter.id))) or 0)
        mids = rng.sample(range(1, max_m + 1), min(max_m, int(n * 0.25)))
        for mobile, home in s.execute(select(Matter.mobile_e164, Matter.home_e164)
                                      .where(Matter.id.in_(mids))):
            number = mobile or home
            if number:
                out.append((number, data.data_end))
        hot = list(s.scalars(select(Matter.mobile_e164).where(Matter.mobile_e164.is_not(None))
                             .group_by(Matter.mobile_e164)
                             .order_by(func.count().desc()).limit(20)))
    for _ in range(int(n * 0.1)):
        if hot:
            out.append((rng.choice(hot), data.data_end))
    while len(out) < n:
        e164 = f"+1917{rng.randrange(2000000, 9999999)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(e164)):
            out.append((e164, data.data_end))
    rng.shuffle(out)
    return out[:n]


def _driver_sql(sql: str, is_sqlite: bool) -> str:
    if is_sqlite:
        return sql
    return sql.replace(":n", "%(n)s").replace(":t", "%(t)s")


def _bind_time(t: datetime, is_sqlite: bool) -> Any:
    naive = t.astimezone(UTC).replace(tzinfo=None)
    # SQLAlchemy stores SQLite datetimes as this text; compare text with text.
    return naive.strftime("%Y-%m-%d %H:%M:%S.%f") if is_sqlite else naive


def measure_match(data: BenchData, prefix: str = "", log: Any = print) -> list[Figure]:
    """match_p50/p99_ms.<mode>, match_floor_p99_ms.<mode>, match_floor_ratio.<mode>."""
    db = Database(data.url)
    figures: list[Figure] = []
    try:
        sample = senders(db, data, data.size.match_samples)
        matcher = InboundMatcher(db)
        for mode in MODES:
            sql = _driver_sql(floor_sql(mode), db.is_sqlite)
            p99s: list[float] = []
            p50s: list[float] = []
            f99s: list[float] = []
            f50s: list[float] = []
            sa50s: list[float] = []
            cpu99s: list[float] = []
            text_stmt = text(floor_sql(mode))
            mismatches = 0
            with db.session() as s:
                cur = s.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
                for rep in range(data.size.match_repeats + 1):  # the first pass warms caches
                    times: list[float] = []
                    floor: list[float] = []
                    via_sa: list[float] = []
                    cpu: list[float] = []
                    for i, (number, when) in enumerate(sample):
                        params = {"n": number, "t": _bind_time(when, db.is_sqlite)}
                        # Alternate which side runs first: the second one finds this number's
                        # pages already in cache, which would flatter whichever always goes last.
                        if i % 2:
                            f0 = time.perf_counter_ns()
                            cur.execute(sql, params)
                            rows = cur.fetchall()
                            floor.append((time.perf_counter_ns() - f0) / 1e6)
                        c0 = time.thread_time_ns()
                        t0 = time.perf_counter_ns()
                        decisions = matcher.match(s, number, when, mode)
                        t1 = time.perf_counter_ns()
                        cpu.append((time.thread_time_ns() - c0) / 1e6)
                        times.append((t1 - t0) / 1e6)
                        if not i % 2:
                            f0 = time.perf_counter_ns()
                            cur.execute(sql, params)
                            rows = cur.fetchall()
                            floor.append((time.perf_counter_ns() - f0) / 1e6)
                        t2 = time.perf_counter_ns()
                        s.execute(text_stmt, params).all()
                        t3 = time.perf_counter_ns()
                        via_sa.append((t3 - t2) / 1e6)
                        if rep == 0 and {d.matter_id for d in decisions} != {r[0] for r in rows}:
                            mismatches += 1
                    if rep == 0:
                        continue
                    p99s.append(percentile(times, 99))
                    p50s.append(median(times))
                    f99s.append(percentile(floor, 99))
                    f50s.append(median(floor))
                    sa50s.append(median(via_sa))
                    cpu99s.append(percentile(cpu, 99))
                cur.close()
            p99, p50, f99, f50 = median(p99s), median(p50s), median(f99s), median(f50s)
            detail = {"p50_ms": round(p50, 4), "floor_p50_ms": round(f50, 4),
                      "median_ratio": round(p50 / f50, 3) if f50 else None,
                      "floor_via_sqlalchemy_text_p50_ms": round(median(sa50s), 4),
                      "thread_cpu_p99_ms": round(median(cpu99s), 4),
                      "samples": len(sample), "repeats": data.size.match_repeats,
                      "disagreements_with_floor": mismatches}
            figures += [
                Figure(f"{prefix}match_p50_ms.{mode}", p50, "ms", ""),
                Figure(f"{prefix}match_p99_ms.{mode}", p99, "ms", "<= 2 ms", detail),
                Figure(f"{prefix}match_floor_p99_ms.{mode}", f99, "ms", ""),
                Figure(f"{prefix}match_floor_ratio.{mode}", p99 / f99 if f99 else float("nan"),
                       "x (p99/p99)", "<= 3x", {"median_ratio": detail["median_ratio"]}),
            ]
            log(f"  match {mode}: p50 {p50:.3f} ms, p99 {p99:.3f} ms, floor p99 {f99:.3f} ms"
                f"{f', {mismatches} disagreements' if mismatches else ''}")
    finally:
        db.dispose()
    return figures
