"""Helper processes for the reliability tests: `python -m tests.reliability.workers CMD ...`.

Each command opens the database given by --db, builds the real services and talks to the
Twilio-compatible local server at --api with the real TwilioProvider. Faults are injected
from here, without product hooks: the provider or the ingest object handed to the services is
wrapped so the process SIGKILLs itself at the chosen point. The last line on stdout is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from desktop_sms.db.database import Database
from desktop_sms.db.models import OutboundMessage
from desktop_sms.providers.base import ProviderMessage, SmsProvider
from desktop_sms.providers.sandbox_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.common import utcnow
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.credentials import CredentialStore
from desktop_sms.services.ingest import InboundIngest, IngestResult
from desktop_sms.services.poller import Poller
from desktop_sms.services.provider_factory import ProviderFactory

CLIENT = "+12125550123"


def die() -> None:
    """Crash hard, as a power cut or a killed process would: no cleanup, no commit."""
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class _NoKeyring(CredentialStore):
    def get_token(self, account_sid: str) -> str | None:
        return None

    def set_token(self, account_sid: str, token: str) -> None:
        raise RuntimeError("no keyring in a worker")

    def available(self) -> tuple[bool, str]:
        return False, "no keyring in a worker"


class CrashingProvider(TwilioProvider):
    """TwilioProvider that kills its process on the Nth send, before or after Twilio accepted."""

    def __init__(self, api: str, crash_at: str | None, crash_on: int) -> None:
        super().__init__(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, api_base_url=api, timeout=10.0)
        self.crash_at = crash_at
        self.crash_on = crash_on
        self.sends = 0
        self._lock = threading.Lock()  # the dispatcher sends on several threads

    def send(self, **kwargs: Any) -> ProviderMessage:
        with self._lock:
            self.sends += 1
            nth = self.sends
        if self.crash_at == "claim" and nth == self.crash_on:
            die()  # claimed (state 'sending' committed), the provider never called
        accepted = super().send(**kwargs)
        if self.crash_at == "accept" and nth == self.crash_on:
            die()  # Twilio holds the text, the database still says 'sending'
        return accepted


class _FixedFactory(ProviderFactory):
    def __init__(self, services_settings: Any, make: Callable[[], SmsProvider]) -> None:
        super().__init__(services_settings, _NoKeyring())
        self._make = make

    def __call__(self) -> SmsProvider:
        return self._make()

    def close(self) -> None:
        pass


class CrashingIngest(InboundIngest):
    """Files replies; kills the process after the Nth is committed or inside the Nth's commit."""

    def __init__(self, base: InboundIngest, crash_at: str | None, crash_on: int) -> None:
        super().__init__(base.db, base.settings, base.clock, base.matcher)
        self.crash_at = crash_at
        self.crash_on = crash_on
        self.filed = 0
        self.armed = False
        if crash_at == "commit":
            event.listen(base.db.engine, "commit", self._on_commit)

    def _on_commit(self, _conn: Any) -> None:
        if self.armed:
            die()  # the Nth reply's transaction is written but not committed

    def ingest(self, message: ProviderMessage, provider: SmsProvider) -> IngestResult:
        self.armed = self.crash_at == "commit" and self.filed + 1 == self.crash_on
        result = super().ingest(message, provider)
        self.armed = False
        if result.created:
            self.filed += 1
            if self.crash_at == "filed" and self.filed == self.crash_on:
                die()  # the Nth reply is filed; the cursor was not moved
        return result


def open_services(db_url: str, api: str, clock_offset: float, desktop_id: str | None = None,
                  crash_at: str | None = None, crash_on: int = 0) -> tuple[Services, Poller]:
    """Real services over the database, on a clock shifted by clock_offset seconds."""
    offset = timedelta(seconds=clock_offset)

    def clock() -> datetime:
        return utcnow() + offset

    db = Database(db_url)
    services = build_services(db, clock, credentials=_NoKeyring())
    provider = CrashingProvider(api, crash_at if crash_at in ("claim", "accept") else None,
                                crash_on)
    factory = _FixedFactory(services.settings, lambda: provider)
    services.providers = factory
    services.dispatcher.provider_factory = factory
    if desktop_id:
        services.dispatcher.desktop_id = desktop_id
    ingest = CrashingIngest(services.inbound.ingest,
                            crash_at if crash_at in ("filed", "commit") else None, crash_on)
    poller = Poller(db, services.settings, factory, clock, ingest)
    return services, poller


def cmd_dispatch(args: argparse.Namespace) -> dict[str, Any]:
    services, _ = open_services(args.db, args.api, args.clock_offset, crash_at=args.crash_at,
                                crash_on=args.crash_on)
    # What `desktop-sms dispatch --once` does (cli.cmd_dispatch), on this process's clock.
    first = services.dispatcher.reconcile_on_startup()
    report = services.dispatcher.run_due()
    services.close()
    return {"reconciled": first.reconciled + report.reconciled, "sent": first.sent + report.sent,
            "failed": report.failed, "retried": report.retried, "errors": report.errors}


def cmd_poll(args: argparse.Namespace) -> dict[str, Any]:
    services, poller = open_services(args.db, args.api, args.clock_offset,
                                     crash_at=args.crash_at, crash_on=args.crash_on)
    report = poller.poll_once()
    services.close()
    return {"new": report.new_inbound_ids, "errors": report.errors}


def cmd_mixed(args: argparse.Namespace) -> dict[str, Any]:
    """One desktop's mixed work for --seconds: send, schedule, cancel, dispatch and poll."""
    services, poller = open_services(args.db, args.api, 0.0, desktop_id=args.name)
    rng = random.Random(args.seed)
    staff = services.users.get("pat").actor()
    admin = services.users.get("boss").actor()
    matter_id = services.matters.by_number("25-000001").id
    log: list[dict[str, Any]] = []
    deadline = time.monotonic() + args.seconds
    n = 0
    while time.monotonic() < deadline:
        roll = rng.random()
        if roll < 0.40:
            n += 1
            body = f"{args.name} text {n}"
            when = services.clock() + timedelta(seconds=90) if rng.random() < 0.15 else None
            mid = services.outbound.send(staff, matter_id, CLIENT, body, send_at=when)
            log.append({"op": "send", "id": mid, "body": body, "scheduled": when is not None})
        elif roll < 0.65:
            with services.db.session() as s:
                recent = list(s.scalars(select(OutboundMessage.id)
                                        .order_by(OutboundMessage.id.desc()).limit(8)))
            if recent:
                picked = rng.sample(recent, k=min(len(recent), rng.randint(1, 3)))
                for o in services.outbound.cancel(admin, picked):
                    log.append({"op": "cancel", "id": o.id, "canceled": o.canceled,
                                "reason": o.reason})
        elif roll < 0.88:
            report = services.dispatcher.run_due()
            log.append({"op": "dispatch", "sent": report.sent, "errors": report.errors})
        else:
            poll = poller.poll_once()
            log.append({"op": "poll", "new": poll.new_inbound_ids, "errors": poll.errors})
    services.close()
    return {"log": log}


def cmd_hold_lock(args: argparse.Namespace) -> dict[str, Any]:
    """Hold an exclusive SQLite lock until a line arrives on stdin (or stdin closes)."""
    conn = sqlite3.connect(args.path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    conn.close()
    return {"released": True}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.reliability.workers")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("dispatch", "poll", "mixed"):
        c = sub.add_parser(name)
        c.add_argument("--db", required=True)
        c.add_argument("--api", required=True)
        c.add_argument("--clock-offset", type=float, default=0.0,
                       help="seconds added to the real clock (lets a lease run out at once)")
        c.add_argument("--crash-at", choices=["claim", "accept", "filed", "commit"])
        c.add_argument("--crash-on", type=int, default=1)
        if name == "mixed":
            c.add_argument("--name", required=True)
            c.add_argument("--seconds", type=float, default=20.0)
            c.add_argument("--seed", type=int, default=0)
    lock = sub.add_parser("hold-lock")
    lock.add_argument("path")
    args = p.parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
        "dispatch": cmd_dispatch, "poll": cmd_poll, "mixed": cmd_mixed, "hold-lock": cmd_hold_lock}
    print(json.dumps(handlers[args.command](args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())


# --- helpers for the tests (run in the pytest process) ------------------------------------

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OFFICE = "+12125550100"
STRANGER = "+13125550177"
CASE = "25-000001"


def setup_office(db_url: str, clock: Callable[[], datetime] = utcnow) -> Services:
    """A migrated database with an admin, a staff member, the office number and one matter
    whose client (mobile CLIENT) has said yes to texts; services on the given clock."""
    from datetime import date

    from desktop_sms.db.database import open_database
    from desktop_sms.services.matters import MatterInput

    db, _ = open_database(db_url)
    services = build_services(db, clock, credentials=_NoKeyring())
    admin = services.users.add(None, "boss", "Office Manager", password="password1").actor()
    services.users.add(admin, "pat", "Pat Paralegal", password="password1")
    services.settings.set(admin, "office_numbers", OFFICE)
    # These workers run on the real clock (shifted): quiet hours would hold texts at night.
    services.settings.set(admin, "quiet_hours", "off")
    matter_id = services.matters.save(admin, MatterInput(
        CASE, "Maria Garcia", "intake", mobile="(212) 555-0123", intake_date=date(2026, 1, 5),
        primary_username="pat"))
    services.matters.set_consent(admin, matter_id, "yes")
    return services


def run_worker(*args: str, timeout: float = 120.0) -> tuple[int, dict[str, Any] | None, str]:
    """Run a worker to its end; (return code, its JSON report or None, stderr)."""
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "tests.reliability.workers", *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
                          check=False)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    report = json.loads(lines[-1]) if lines and proc.returncode == 0 else None
    return proc.returncode, report, proc.stderr
