"""The benchmark's own data: matters, users, outbound and inbound messages, bulk-inserted.

Realistic phone reuse (what makes matching interesting): returning clients and family members
share mobiles, a number is the mobile on one matter and the home phone on another, a few
"hot" numbers (a family phone, a shelter's phone) sit on dozens of matters, and texting is
skewed: most matters get a few texts, some get hundreds. Intake and opened dates spread over
ten years; prescreens have neither. Rows go in with Core `executemany` in chunks, never the
ORM per row. A SQLite file is built once per size and cached (keyed by size and version).
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
from sqlalchemy import Connection, Table, func, select, text

from bench.common import OFFICE, Size
from desktop_sms.db.database import Database, open_database
from desktop_sms.db.models import (
    Assignment,
    InboundMessage,
    Matter,
    OutboundMessage,
    Setting,
    User,
)

DATAGEN_VERSION = 1
CHUNK = 20_000
YEARS = 10
SEED = 20260
AREAS = ("212", "646", "718", "917", "347", "929", "332", "516", "914", "201")
FIRST = ("Maria", "James", "Aisha", "Wei", "Carlos", "Fatima", "John", "Priya", "Luis", "Grace",
         "Omar", "Hannah", "Dmitri", "Keisha", "Tomas", "Mei", "Samuel", "Nadia", "Kofi", "Ruth",
         "Ana", "David", "Yusuf", "Elena", "Jamal", "Sofia", "Andre", "Lena", "Victor", "Rosa",
         "Hector", "Chloe", "Ibrahim", "Julia", "Marcus", "Noor", "Pedro", "Tanya", "Wen", "Zoe")
LAST = ("Garcia", "Smith", "Khan", "Chen", "Rodriguez", "Ali", "Johnson", "Patel", "Martinez",
        "Okafor", "Nguyen", "Brown", "Ivanov", "Washington", "Lopez", "Kim", "Cohen", "Haddad",
        "Williams", "Jones", "Davis", "Miller", "Wilson", "Moore", "Taylor", "Anderson", "Thomas",
        "Jackson", "White", "Harris", "Martin", "Thompson", "Robinson", "Clark", "Lewis", "Lee",
        "Walker", "Hall", "Allen", "Young", "Hernandez", "King", "Wright", "Hill", "Scott",
        "Green", "Adams", "Baker", "Gonzalez", "Nelson", "Carter", "Mitchell", "Perez", "Roberts",
        "Turner", "Phillips", "Campbell", "Parker", "Evans", "Edwards")
STAGES = (("prescreen", 10), ("intake", 20), ("open", 30), ("closed", 30), ("rejected", 10))
STAFF = 8


@dataclass(frozen=True)
class BenchData:
    """A database filled for one size, and when its data ends (replies come after that)."""

    url: str
    size: Size
    data_end: datetime
    build_seconds: float  # 0 when it came from the cache


def cache_dir() -> Path:
    """Where built databases are kept between runs (DESKTOP_SMS_BENCH_CACHE overrides)."""
    path = Path(os.environ.get("DESKTOP_SMS_BENCH_CACHE")
                or Path(tempfile.gettempdir()) / "desktop-sms-bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def sqlite_bench_db(size: Size, workdir: Path, log: Any = print) -> BenchData:
    """A private copy of the cached SQLite database for `size` (built on first use)."""
    cached = cache_dir() / f"{size.name}-v{DATAGEN_VERSION}.sqlite3"
    built = 0.0
    if not cached.exists():
        log(f"building the {size.name} SQLite database (cached in {cached}) …")
        partial = cached.with_suffix(".partial")
        for p in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            p.unlink(missing_ok=True)
        t0 = time.perf_counter()
        db, _ = open_database(f"sqlite:///{partial}")
        try:
            fill(db, size)
        finally:
            db.dispose()
        raw = sqlite3.connect(partial)
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.close()
        os.replace(partial, cached)
        built = time.perf_counter() - t0
        log(f"  built in {built:.1f} s")
    target = workdir / "bench.sqlite3"
    shutil.copyfile(cached, target)
    url = f"sqlite:///{target}"
    return BenchData(url, size, data_end_of(url), built)


def postgres_bench_db(url: str, size: Size, log: Any = print) -> BenchData:
    """Fill the (empty, or earlier bench-filled) PostgreSQL database at url for `size`."""
    db, _ = open_database(url)
    marker = f"{size.name}-v{DATAGEN_VERSION}"
    built = 0.0
    try:
        with db.session() as s:
            have = s.scalar(select(Setting.value).where(Setting.key == "bench_data"))
            matters = int(s.scalar(select(func.count(Matter.id))) or 0)
        if have != marker:
            if matters and have is None:
                raise SystemExit(f"{url}: not an empty database and not one the bench filled; "
                                 "give an empty PostgreSQL database to --pg.")
            log(f"building the {size.name} PostgreSQL database …")
            t0 = time.perf_counter()
            with db.engine.begin() as conn:
                names = ", ".join(t.name for t in Matter.metadata.sorted_tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            fill(db, size)
            with db.engine.begin() as conn:
                conn.execute(Setting.__table__.insert(), [{
                    "key": "bench_data", "value": marker, "updated_at": datetime.now(UTC)}])
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
            built = time.perf_counter() - t0
            log(f"  built in {built:.1f} s")
    finally:
        db.dispose()
    return BenchData(url, size, data_end_of(url), built)


def data_end_of(url: str) -> datetime:
    """The latest outbound send time: the 'now' of the generated history."""
    db = Database(url)
    try:
        with db.session() as s:
            end = s.scalar(select(func.max(OutboundMessage.sent_at)))
    finally:
        db.dispose()
    return end or datetime.now(UTC)


# --- generation -------------------------------------------------------------------------------
class _Phones:
    """A pool of valid US numbers with the reuse patterns described above."""

    def __init__(self, rng: random.Random, hot: int) -> None:
        self.rng = rng
        self.used: list[str] = []
        self.hot = [self.new() for _ in range(hot)]

    def new(self) -> str:
        while True:
            area = self.rng.choice(AREAS)
            # One number in five is in 555-01xx so a phone filter like 212.555.01 finds rows.
            if self.rng.random() < 0.2:
                local = f"55501{self.rng.randrange(100):02d}"
            else:
                local = f"{self.rng.randrange(200, 1000)}{self.rng.randrange(10000):04d}"
            e164 = f"+1{area}{local}"
            if phonenumbers.is_valid_number(phonenumbers.parse(e164)):
                self.used.append(e164)
                return e164

    def reuse(self) -> str:
        """A number already on some matter, biased toward recent ones (family, returning)."""
        n = len(self.used)
        return self.used[max(0, n - 1 - int(n * self.rng.random() ** 3))] if n else self.new()

    def pick(self, reuse_p: float) -> str:
        r = self.rng.random()
        if r < 0.01:
            return self.rng.choice(self.hot)
        if r < 0.01 + reuse_p:
            return self.reuse()
        return self.new()

    def raw(self, e164: str) -> str:
        a, b, c = e164[2:5], e164[5:8], e164[8:]
        return self.rng.choice((f"({a}) {b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", f"{a}{b}{c}",
                                e164))


def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    tbl: Table = table.__table__
    for i in range(0, len(rows), CHUNK):
        conn.execute(tbl.insert(), rows[i:i + CHUNK])


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    buf: list[dict[str, Any]] = []
    for row in rows:
        buf.append(row)
        if len(buf) >= CHUNK:
            yield buf
            buf = []
    if buf:
        yield buf


def fill(db: Database, size: Size) -> None:
    """Users, settings, matters with assignments, outbound and inbound history."""
    rng = random.Random(SEED)
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.date()
    start = today - timedelta(days=365 * YEARS)
    span = (today - start).days
    phones = _Phones(rng, hot=max(5, size.matters // 2000))

    users = [{"id": 1, "username": "admin", "name": "Alex Admin", "role": "admin",
              "sms_access": True, "active": True, "created_at": now,
              "mobile_raw": "+1 212 555 0190", "mobile_e164": "+12125550190"}]
    for u in range(STAFF):
        users.append({"id": u + 2, "username": f"staff{u}", "name": f"{FIRST[u]} {LAST[-u - 1]}",
                      "role": "staff", "sms_access": True, "active": True, "created_at": now,
                      "mobile_raw": None, "mobile_e164": f"+1212555019{u % 10}"})
    settings = [{"key": "office_numbers", "value": OFFICE, "updated_at": now},
                {"key": "first_poll_lookback_days", "value": "7", "updated_at": now},
                # The bench measures the pipeline at whatever hour it runs; quiet hours would
                # hold every text sent at night (they are tested with injected clocks).
                {"key": "quiet_hours", "value": "off", "updated_at": now}]

    stage_pool = [s for s, w in STAGES for _ in range(w)]
    matters: list[dict[str, Any]] = []
    assignments: list[dict[str, Any]] = []
    for i in range(size.matters):
        mid = i + 1
        stage = rng.choice(stage_pool)
        # Newer matters have later dates (case numbers grow with time), with some jitter.
        base = start + timedelta(days=int(span * i / size.matters) + rng.randint(-30, 30))
        base = min(max(base, start), today)
        intake = None if stage == "prescreen" else base
        opened = None
        if stage in ("open", "closed") or (stage == "rejected" and rng.random() < 0.1):
            opened = min(base + timedelta(days=rng.randint(3, 60)), today)
        mobile = phones.pick(0.12) if rng.random() < 0.85 else None
        home = None
        if rng.random() < 0.3:
            home = phones.reuse() if rng.random() < 0.4 else phones.pick(0.05)
        created = datetime(base.year, base.month, base.day, 9, tzinfo=UTC) + timedelta(
            minutes=rng.randrange(600))
        matters.append({
            "id": mid, "case_number": f"{base.year % 100:02d}-{mid:06d}",
            "client_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "stage": stage,
            "mobile_raw": phones.raw(mobile) if mobile else None, "mobile_e164": mobile,
            "home_raw": phones.raw(home) if home else None, "home_e164": home,
            "intake_date": intake, "date_opened": opened,
            "consent": "yes" if rng.random() < 0.7 else "not_asked",
            "created_at": created, "updated_at": created,
        })
        if stage != "prescreen":
            ended = stage in ("closed", "rejected")
            assignments.append({
                "matter_id": mid, "user_id": 2 + rng.randrange(STAFF), "kind": "primary",
                "start_date": intake,
                "end_date": (min(base + timedelta(days=rng.randint(30, 700)), today)
                             if ended else None)})

    with db.engine.begin() as conn:
        _insert(conn, User, users)
        _insert(conn, Setting, settings)
        _insert(conn, Matter, matters)
        _insert(conn, Assignment, assignments)

    # Outbound: skewed over a shuffled set of texting matters (70% of matters text at all).
    texting = [m for m in matters if m["mobile_e164"] or m["home_e164"]]
    rng.shuffle(texting)
    texting = texting[: int(len(texting) * 0.7) or 1]
    sent_log: list[tuple[str, datetime]] = []

    def outbound_rows() -> Iterator[dict[str, Any]]:
        for k in range(size.outbound):
            if k % 100 == 99:  # a staff reminder: no matter, never a matching candidate
                to = f"+1212555019{rng.randrange(10)}"
                when = now - timedelta(minutes=rng.randrange(60 * 24 * 365 * YEARS))
                matter_id = None
                kind = "reminder"
            else:
                m = texting[int(len(texting) * rng.random() ** 2)]
                to = m["mobile_e164"] if m["mobile_e164"] and (
                    rng.random() < 0.9 or not m["home_e164"]) else m["home_e164"]
                first = m["created_at"]
                last = min(first + timedelta(days=730), now)
                when = first + (last - first) * rng.random()
                matter_id = m["id"]
                kind = "client"
                sent_log.append((to, when))
            yield {"kind": kind, "matter_id": matter_id, "author_id": 2 + k % STAFF,
                   "to_raw": to, "to_e164": to, "from_number": OFFICE,
                   "body": f"Reminder about your case, message {k}", "state": "delivered",
                   "send_at": when, "created_at": when, "attempts": 1,
                   "provider_sid": f"SM{k:032x}", "provider_status": "delivered",
                   "sent_at": when, "status_updated_at": when}

    with db.engine.begin() as conn:
        for chunk in _chunks(outbound_rows()):
            conn.execute(OutboundMessage.__table__.insert(), chunk)

    def inbound_rows() -> Iterator[dict[str, Any]]:
        for k in range(size.inbound):
            if rng.random() < 0.85 and sent_log:
                frm, when = rng.choice(sent_log)
                when = min(when + timedelta(minutes=rng.randrange(1, 3000)), now)
            else:
                frm = phones.reuse() if rng.random() < 0.5 else phones.new()
                when = now - timedelta(minutes=rng.randrange(60 * 24 * 365 * YEARS))
            yield {"provider_sid": f"SMb{k:031x}", "from_raw": frm, "from_e164": frm,
                   "to_number": OFFICE, "body": f"Reply {k}", "received_at": when,
                   "stored_at": when, "num_media": 0, "media_pending": False,
                   "needs_review": False, "matching_mode": "all_related"}

    with db.engine.begin() as conn:
        for chunk in _chunks(inbound_rows()):
            conn.execute(InboundMessage.__table__.insert(), chunk)
    if db.is_sqlite:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
