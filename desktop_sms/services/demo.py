"""Demo data for `desktop-sms --demo`: a few users and about fifty matters in every stage."""

from __future__ import annotations

import random
import struct
import zlib
from datetime import date, timedelta

from sqlalchemy import select

from desktop_sms.db.models import Matter, OutboundMessage
from desktop_sms.domain.reminders import ReminderSpec
from desktop_sms.providers.base import MediaItem, ProviderMessage
from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.services.matters import MatterInput

DEMO_PASSWORD = "demo-password"
OFFICE_NUMBER = "+12125550100"
FIRST = ["Maria", "James", "Aisha", "Wei", "Carlos", "Fatima", "John", "Priya", "Luis", "Grace",
         "Omar", "Hannah", "Dmitri", "Keisha", "Tomás", "Mei", "Samuel", "Nadia", "Kofi", "Ruth"]
LAST = ["Garcia", "Smith", "Khan", "Chen", "Rodriguez", "Ali", "Johnson", "Patel", "Martinez",
        "Okafor", "Nguyen", "Brown", "Ivanov", "Washington", "Lopez", "Kim", "Cohen", "Haddad"]


def seed_demo(services: Services, today: date | None = None, *, history: bool = True) -> Actor:
    """Fill an empty database with demo users and matters (and, with history, texts, replies
    and tasks: see seed_history); returns the demo admin."""
    rng = random.Random(2026)
    today = today or services.clock().date()
    admin = services.users.add(None, "admin", "Alex Admin", mobile="+1 212 555 0190",
                               role="admin", password=DEMO_PASSWORD)
    actor = admin.actor()
    staff = [
        services.users.add(actor, "pat", "Pat Paralegal", mobile="+1 212 555 0191",
                           password=DEMO_PASSWORD),
        services.users.add(actor, "sam", "Sam Attorney", mobile="+1 212 555 0192",
                           password=DEMO_PASSWORD),
        services.users.add(actor, "ivy", "Ivy Intake", password=DEMO_PASSWORD),
    ]
    services.settings.set(actor, "office_numbers", OFFICE_NUMBER)
    usernames = [admin.username] + [u.username for u in staff]
    stages = ["prescreen"] * 6 + ["intake"] * 14 + ["open"] * 18 + ["closed"] * 8 + ["rejected"] * 4
    with services.db.transaction() as s:
        for i, stage in enumerate(stages):
            intake = today - timedelta(days=rng.randint(5, 700)) if stage != "prescreen" else None
            opened = (min(intake + timedelta(days=rng.randint(3, 40)), today)
                      if intake and stage in ("open", "closed") else None)  # never in the future
            mobile = f"+1 212 555 01{i + 10:02d}" if i % 9 != 5 else None
            home = f"(212) 555-01{(i * 7) % 50 + 50:02d}" if i % 4 == 0 else None
            name = f"{FIRST[i % len(FIRST)]} {LAST[(i * 5) % len(LAST)]}"
            services.matters.upsert(s, actor, MatterInput(
                case_number=f"{(intake or today).year % 100:02d}-{100120 + i:06d}",
                client_name=name, stage=stage, mobile=mobile, home=home, intake_date=intake,
                date_opened=opened,
                primary_username=None if stage == "prescreen" else usernames[i % len(usernames)]))
        # Family phone shared by two cases: replies from it land per the matching mode.
        services.matters.upsert(s, actor, MatterInput(
            case_number=f"{today.year % 100:02d}-100200", client_name="Rosa Garcia", stage="intake",
            mobile="+1 212 555 0110", intake_date=today - timedelta(days=2),
            primary_username="pat"))
    seed_consent_demo(services, actor)
    if history:
        seed_history(services, actor)
    return actor


def seed_consent_demo(services: Services, actor: Actor) -> int:
    """Consent on the first case (written) and a text scheduled for tomorrow 10:00 in the
    client's time, so a STOP from the Simulated phone visibly cancels it. Returns its id."""
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    matter = next(r for r in services.matters.page("Maria Garcia", limit=10)
                  if r.client_name == "Maria Garcia" and r.mobile)
    detail = services.matters.detail(matter.id)
    services.consent.record(actor, matter.id, "yes", "written", "signed at intake (demo)")
    zone = ZoneInfo("America/New_York")
    tomorrow = services.clock().astimezone(zone).date() + timedelta(days=1)
    when = datetime.combine(tomorrow, time(10, 0), tzinfo=zone)
    return services.outbound.send(actor, matter.id, detail.mobile_raw or "",
                                  "Reminder: your appointment is tomorrow at 10:00.", when)


# --- a realistic texting history (docs/conversations.md) ----------------------------------
def demo_png(width: int = 48, height: int = 32) -> bytes:
    """A small real PNG (a blue page with a darker band), made without Qt."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + b"".join(
        bytes((29, 95, 168)) if height // 3 <= y < 2 * height // 3 else bytes((216, 232, 251))
        for _x in range(width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class DemoMedia:
    """Stands in for the provider when the demo files its replies: one photo per message."""

    def __init__(self, photos: dict[str, bytes]) -> None:
        self.photos = photos

    def list_media(self, message_sid: str) -> list[MediaItem]:
        return ([MediaItem(f"ME{message_sid[2:]}", message_sid, "image/png")]
                if message_sid in self.photos else [])

    def download_media(self, media: MediaItem, max_bytes: int) -> bytes:
        return self.photos[media.message_sid]


def seed_history(services: Services, actor: Actor) -> None:
    """Texts and replies on a few of pat's and sam's cases: delivered, failed, scheduled and
    missed texts, replies (one with a photo), an unmatched reply, a STOP, and tasks with
    reminders. Times are relative to the services' clock."""
    now = services.clock()
    users = {u.username: u.id for u in services.users.list()}
    with services.db.session() as s:
        by_mobile = {m.mobile_e164: m for m in s.scalars(select(Matter).where(
            Matter.mobile_e164.in_([f"+1212555{n:04d}" for n in (119, 120, 131, 132, 135)])))}
    maria, james, grace, omar, carlos = (by_mobile.get(f"+1212555{n:04d}")
                                         for n in (119, 120, 131, 132, 135))
    if None in (maria, james, grace, omar, carlos):
        return
    assert maria and james and grace and omar and carlos
    for m in (maria, james, grace, omar, carlos):
        services.consent.record(actor, m.id, "yes", "written", "signed at intake (demo)")
    seq = iter(range(1, 1000))

    def first(matter: Matter) -> str:
        return matter.client_name.split()[0]

    def sent(matter: Matter, author: str, body: str, ago: timedelta, state: str = "delivered",
             error: tuple[int, str] | None = None) -> None:
        at = now - ago
        n = next(seq)
        with services.db.transaction() as s:
            s.add(OutboundMessage(
                kind="client", matter_id=matter.id, author_id=users[author],
                to_raw=matter.mobile_raw or "", to_e164=matter.mobile_e164 or "",
                from_number=OFFICE_NUMBER, body=body, state=state, send_at=at,
                created_at=at - timedelta(seconds=30), attempts=1 if state != "scheduled" else 0,
                provider_sid=f"SMdemo{n:026d}" if state in ("sent", "delivered", "undelivered")
                else None, provider_status=state if state != "scheduled" else None,
                sent_at=at if state in ("sent", "delivered", "undelivered") else None,
                status_updated_at=at, error_code=error[0] if error else None,
                error_message=error[1] if error else None))

    photos: dict[str, bytes] = {}

    def reply(sender: str, body: str, ago: timedelta, photo: bool = False) -> None:
        sid = f"SMdemoin{next(seq):024d}"
        if photo:
            photos[sid] = demo_png()
        services.inbound.ingest.ingest(ProviderMessage(
            sid=sid, direction="inbound", from_=sender, to=OFFICE_NUMBER, body=body,
            status="received", date_sent=now - ago, num_media=1 if photo else 0),
            DemoMedia(photos))  # type: ignore[arg-type]

    day = timedelta(days=1)
    sent(maria, "pat", f"Hello {first(maria)}, this is Pat from the office. Your intake appointment is "
         "confirmed for Thursday at 10:00. Reply to this number with any questions.", 6 * day)
    reply(maria.mobile_e164 or "", "Thank you! Should I bring my lease?", 6 * day - timedelta(
        hours=1))
    sent(maria, "pat", "Yes please, and any letters from your landlord.", 6 * day - timedelta(
        hours=2))
    reply(maria.mobile_e164 or "", "Here is the last letter they sent me", 2 * day, photo=True)
    sent(james, "sam", f"{first(james)}, the court moved your hearing to next Monday at 9:30.", 3 * day)
    reply(james.mobile_e164 or "", "OK. Do I need to be there in person?", 3 * day - timedelta(
        minutes=40))
    sent(grace, "pat", f"{first(grace)}, please sign and return the retainer when you can.", 4 * day,
         state="failed", error=(30003, "The phone could not be reached (switched off or out of "
                                       "coverage)."))
    sent(grace, "pat", f"{first(grace)}, a reminder about the retainer.", 3 * day, state="sent")
    sent(omar, "sam", f"{first(omar)}, we filed your motion today.", 5 * day)
    reply(omar.mobile_e164 or "", "STOP", 5 * day - timedelta(hours=3))
    sent(carlos, "pat", f"{first(carlos)}, your deposition prep is tomorrow at 14:00.", 2 * day,
         state="missed", error=None)
    sent(carlos, "pat", f"{first(carlos)}, please call us about the settlement offer.", -day,
         state="scheduled")
    reply("+13125550188", "Hi, is this the law office? My neighbour gave me this number.",
          timedelta(hours=5))  # matches no case: needs review
    reply(james.mobile_e164 or "", "Also, can my sister come with me?", timedelta(hours=1))

    for title, matter, due, who in (
            (f"Call {first(maria)} about the landlord's letter", maria, now + day, "pat"),
            (f"Prepare {first(james)} for the hearing", james, now + 4 * day, "sam")):
        services.calendar.create_task(actor, title, due, matter_id=matter.id,
                                      attendee_ids=[users[who]],
                                      reminders=[ReminderSpec.before(1, "hours")])
