"""Demo data for `desktop-sms --demo`: a few users and about fifty matters in every stage."""

from __future__ import annotations

import random
from datetime import date, timedelta

from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.services.matters import MatterInput

DEMO_PASSWORD = "demo-password"
OFFICE_NUMBER = "+12125550100"
FIRST = ["Maria", "James", "Aisha", "Wei", "Carlos", "Fatima", "John", "Priya", "Luis", "Grace",
         "Omar", "Hannah", "Dmitri", "Keisha", "Tomás", "Mei", "Samuel", "Nadia", "Kofi", "Ruth"]
LAST = ["Garcia", "Smith", "Khan", "Chen", "Rodriguez", "Ali", "Johnson", "Patel", "Martinez",
        "Okafor", "Nguyen", "Brown", "Ivanov", "Washington", "Lopez", "Kim", "Cohen", "Haddad"]


def seed_demo(services: Services, today: date | None = None) -> Actor:
    """Fill an empty database with demo users and matters; returns the demo admin."""
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
