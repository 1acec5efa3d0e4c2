"""Capture the README's screenshots from the real windows on demo data (offscreen, no display).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

A temporary SQLite database gets the demo users and matters (as `desktop-sms --demo` does),
a few texts sent through the in-process Sandbox (one to a wrong number, which fails), the
clients' replies (one with a photo, one from a number no case knows) pulled in by the poller,
two texts scheduled for later and a task with an SMS reminder. Then
the main window is built exactly as the application builds it and each view is grabbed once
its background loads have delivered. Nothing outside the temporary folder is touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QEventLoop, QIODevice, QRect, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QApplication, QWidget
from sqlalchemy import select

from desktop_sms import __version__
from desktop_sms.app import build_main_window
from desktop_sms.db.database import open_database
from desktop_sms.db.models import InboundMessage, Matter
from desktop_sms.domain.reminders import ReminderSpec
from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.credentials import CredentialStore
from desktop_sms.services.demo import OFFICE_NUMBER, seed_demo
from desktop_sms.ui.admin_integration import AdminIntegration
from desktop_sms.ui.dialogs.preferences_dialog import PreferencesDialog
from desktop_sms.ui.inbound_integration import inbound_integration_of
from desktop_sms.ui.outbound_integration import outbound_ui
from desktop_sms.ui.theme import app_icon, apply_style
from desktop_sms.ui.windows.home_page import HomePage
from desktop_sms.ui.windows.main_window import MainWindow
from desktop_sms.ui.windows.sms_page import SmsPage

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "docs" / "screenshots"
WINDOW_SIZE = (1200, 760)
MATTER_SIZE = (900, 800)
WAIT_SECONDS = 20.0
UNKNOWN_SENDER = "+13125550147"  # on no case, texted by nobody: lands in "needs review"
WRONG_NUMBER = "+15005550001"  # Twilio's magic "invalid number": a failed text in the Queue
STORY_START = clock_time(13, 20)  # UTC: morning in New York, so no quiet-hours warning
STORY_END = clock_time(15, 10)

SHOTS = ("main-window.png", "home.png", "compose.png", "sms-log.png", "queue.png",
         "received.png", "preferences.png", "preferences-telephony.png")

COMPOSE_TEXT = ("Hi {first}, this is Alex at the office. Your hearing is confirmed for "
                "Tuesday at 10:00, 60 Centre Street, room 412. Please bring your ID and the "
                "letter we mailed you. Reply here with any questions.")


ISOLATED_VARIABLES = ("DESKTOP_SMS_TWILIO_API_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
                      "DESKTOP_SMS_DATABASE_URL")


def isolate_environment(temp: Path) -> None:
    """No display needed; never the user's own data folder, settings, keyring or Twilio
    account; always the in-process Sandbox, whatever this shell has set."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["DESKTOP_SMS_DATA_DIR"] = str(temp / "data")
    os.environ["DESKTOP_SMS_CONFIG_DIR"] = str(temp / "config")
    for name in ISOLATED_VARIABLES:
        os.environ.pop(name, None)


class ScreenshotError(RuntimeError):
    """A view did not load as expected; the message says which."""


class MemoryCredentials(CredentialStore):
    """Never the OS keyring: a screenshot run must not read or write real secrets."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}

    def get_token(self, account_sid: str) -> str | None:
        return self._tokens.get(account_sid)

    def set_token(self, account_sid: str, token: str) -> None:
        self._tokens[account_sid] = token

    def available(self) -> tuple[bool, str]:
        return True, ""


class StoryClock:
    """The services' clock: real time moved by an offset, so the demo's texts and replies are
    minutes apart (as in an office) instead of all in one second. Time keeps running."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def set(self, when: datetime) -> None:
        """From now on the clock reads `when` (and runs on from there)."""
        self.offset = when - datetime.now(UTC)

    def advance(self, minutes: float) -> datetime:
        """Move the clock forward; returns the new time."""
        self.offset += timedelta(minutes=minutes)
        return self()


@dataclass
class Story:
    """What the demo data holds beyond seed_demo, for choosing what each shot shows."""

    conversation_matter: int  # texts both ways and a photo: the compose and SMS log shots
    photo_reply: int  # inbound id of the reply with a photo (selected in the Received Log)
    last_poll: object


# --- waiting without blind sleeps ---------------------------------------------------------
def wait_until(app: QApplication, done: Callable[[], bool], what: str,
               seconds: float = WAIT_SECONDS) -> None:
    """Run the event loop in short turns until done() holds; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        app.processEvents()
        if done():
            return
        if time.monotonic() > deadline:
            raise ScreenshotError(f"timed out after {seconds:.0f} s waiting for {what}")
        turn = QEventLoop()
        QTimer.singleShot(20, turn.quit)
        turn.exec()


def settle(app: QApplication, window: MainWindow, what: str) -> None:
    """Wait until the window's background runner has delivered everything (twice in a row:
    a delivered result may start a follow-up load, e.g. thumbnails)."""
    for _round in range(2):
        wait_until(app, lambda: not window.runner.is_busy(), what)
        turn = QEventLoop()
        QTimer.singleShot(50, turn.quit)
        turn.exec()
    app.processEvents()


def save(widget: QWidget, out: Path, name: str) -> Path:
    """Grab the widget (as painted now) into out/name."""
    pixmap = widget.grab()
    if pixmap.isNull() or pixmap.width() < 100:
        raise ScreenshotError(f"{name}: nothing was painted")
    path = out / name
    if not pixmap.save(str(path), "PNG"):
        raise ScreenshotError(f"{name}: could not write {path}")
    print(f"screenshots: {path.relative_to(REPO) if path.is_relative_to(REPO) else path} "
          f"({pixmap.width()}×{pixmap.height()})", flush=True)
    return path


# --- demo data ----------------------------------------------------------------------------
def letter_photo() -> bytes:
    """A PNG that looks like a phone photo of a letter (the client's MMS)."""
    image = QImage(480, 360, QImage.Format.Format_RGB32)
    image.fill(QColor("#6b7b8c"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#fbfaf5"))
    painter.drawRect(QRect(70, 24, 340, 320))
    painter.setPen(QPen(QColor("#1f2933")))
    font = QFont("DejaVu Sans")
    font.setPixelSize(20)
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(QRect(70, 44, 340, 30), Qt.AlignmentFlag.AlignCenter, "NOTICE OF HEARING")
    painter.setPen(QPen(QColor("#9aa5b1"), 5))
    for row in range(9):
        y = 100 + row * 24
        painter.drawLine(95, y, 385 - (row % 3) * 45, y)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def own_mobile_matters(services: Services, actor: Actor) -> list[tuple[int, str, str]]:
    """(id, client name, mobile) of open or intake matters where the demo admin is primary and
    no other matter shares the mobile: their replies have one home, and raise Home alerts."""
    with services.db.session() as s:
        rows = s.execute(select(Matter.id, Matter.client_name, Matter.mobile_e164, Matter.stage)
                         .where(Matter.mobile_e164.is_not(None)).order_by(Matter.id)).all()
    counts: dict[str, int] = {}
    for _id, _name, mobile, _stage in rows:
        counts[mobile] = counts.get(mobile, 0) + 1
    mine = {r.id for r in services.matters.page(mine_user_id=actor.user_id, limit=1000)}
    return [(m_id, name, mobile) for m_id, name, mobile, stage in rows
            if counts[mobile] == 1 and m_id in mine and stage in ("open", "intake")]


def make_story(services: Services, actor: Actor, clock: StoryClock) -> Story:
    """Texts, replies and scheduled texts, through the same services the application uses."""
    today = clock().date()
    clock.set(datetime.combine(today, STORY_START, UTC))
    chosen = own_mobile_matters(services, actor)
    if len(chosen) < 4:
        raise ScreenshotError("the demo data has too few matters for the screenshots")
    (main_id, main_name, main_mobile), second, third, fourth = chosen[:4]
    first = main_name.split()[0]
    server = services.providers.start_sandbox()
    for matter_id, *_ in chosen[:4]:
        services.consent.record(actor, matter_id, "yes", "verbal")

    def dispatch() -> None:
        report = services.dispatcher.run_due()
        if report.errors:
            raise ScreenshotError(f"dispatch: {'; '.join(report.errors)}")

    def poll() -> object:
        report = services.poller.poll_once()
        if report.errors:
            raise ScreenshotError(f"poll: {'; '.join(report.errors)}")
        return report

    # A conversation on the main matter: a text, a reply with a photo, an answer.
    services.outbound.send(actor, main_id, main_mobile,
                           f"Hi {first}, this is Alex at the office. Did you receive the "
                           "letter from the court? If so, could you send us a photo of it?")
    services.outbound.send(actor, second[0], second[2],
                           "Reminder: please sign and return the retainer agreement this week.")
    clock.advance(4)
    services.outbound.send(actor, third[0], third[2],
                           "Your documents are ready for pick-up at the front desk.")
    clock.advance(1)
    services.outbound.send(actor, third[0], WRONG_NUMBER,  # a typo in the To box
                           "Please call the office about your appointment.")
    dispatch()
    photo_sid = server.inject_inbound(main_mobile, OFFICE_NUMBER,
                                      "Yes, it came yesterday. Here it is.",
                                      date_sent=clock.advance(22),
                                      media=[("image/png", letter_photo())])
    server.inject_inbound(second[2], OFFICE_NUMBER, "Signed it, I'll drop it off on Friday.",
                          date_sent=clock.advance(9))
    server.inject_inbound(UNKNOWN_SENDER, OFFICE_NUMBER,
                          "Hello, my neighbor gave me this number. I need help with my lease.",
                          date_sent=clock.advance(17))
    clock.advance(2)
    poll()
    clock.advance(6)
    services.outbound.send(actor, main_id, main_mobile,
                           "Thank you, we have it. We'll call you before the hearing.")
    dispatch()
    server.inject_inbound(main_mobile, OFFICE_NUMBER, "Great, thanks!",
                          date_sent=clock.advance(3))
    clock.set(datetime.combine(today, STORY_END, UTC))
    report = poll()

    # Later: two texts waiting in the queue, and a task with an SMS reminder for Home.
    now = clock()
    services.outbound.send(actor, fourth[0], fourth[2],
                           "Reminder: your consultation is tomorrow at 9:30.",
                           send_at=now + timedelta(days=1, hours=2))
    services.outbound.send(actor, main_id, main_mobile,
                           "Reminder: your hearing is tomorrow at 10:00. Bring your ID.",
                           send_at=now + timedelta(days=3))
    services.calendar.create_task(actor, "Prepare hearing binder", now + timedelta(days=2),
                                  matter_id=main_id, attendee_ids=[actor.user_id or 0],
                                  reminders=[ReminderSpec.before(1, "days")])

    with services.db.session() as s:
        photo_id = s.scalar(select(InboundMessage.id)
                            .where(InboundMessage.provider_sid == photo_sid))
    if photo_id is None:
        raise ScreenshotError("the reply with a photo was not stored")
    return Story(conversation_matter=main_id, photo_reply=photo_id,
                 last_poll=getattr(report, "finished_at", None))


# --- the shots ----------------------------------------------------------------------------
def capture(app: QApplication, services: Services, actor: Actor, story: Story,
            out: Path) -> list[Path]:
    """Build the main window and grab each view."""
    shots: list[Path] = []
    window = build_main_window(services, actor)
    window.resize(*WINDOW_SIZE)
    window.set_last_poll(story.last_poll)  # what start_background's poll report would show
    window.show()
    try:
        # Cases
        window.show_page("Cases")
        wait_until(app, lambda: window.cases_page.model.rowCount() > 0, "the case list")
        settle(app, window, "the case list")
        window.cases_page.select_row(0)
        shots.append(save(window, out, "main-window.png"))

        # Home: alerts of my cases, my upcoming tasks
        window.show_page("Home")
        home = window.page("Home")
        if not isinstance(home, HomePage):
            raise ScreenshotError("the Home page is not installed")
        wait_until(app, lambda: home.count() > 0, "the Home alerts")
        settle(app, window, "the Home page")
        shots.append(save(window, out, "home.png"))

        # A matter: SMS log, then Actions → Send SMS… with a message typed
        window.show_page("Cases")
        view = window.open_matter(story.conversation_matter)
        view.resize(*MATTER_SIZE)
        view.tabs.setCurrentIndex(view.tab_index("SMS log"))
        inbound = inbound_integration_of(window)
        tabs = inbound.tabs_of(story.conversation_matter) if inbound else None
        if tabs is None or tabs.sms_log is None:
            raise ScreenshotError("the matter window has no SMS log")
        sms_log = tabs.sms_log
        wait_until(app, lambda: len(sms_log.items()) >= 4, "the SMS log")
        settle(app, window, "the SMS log")
        shots.append(save(view, out, "sms-log.png"))

        ui = outbound_ui(window)
        if ui is None:
            raise ScreenshotError("the outbound UI is not installed")
        view.send_sms_action.trigger()
        wait_until(app, lambda: story.conversation_matter in ui.compose_dialogs,
                   "the compose dialog")
        compose = ui.compose_dialogs[story.conversation_matter]
        first = compose.detail.client_name.split()[0]
        compose.body_edit.setPlainText(COMPOSE_TEXT.format(first=first))
        compose.body_edit.moveCursor(compose.body_edit.textCursor().MoveOperation.End)
        settle(app, window, "the compose dialog")
        compose.adjustSize()
        app.processEvents()
        shots.append(save(compose, out, "compose.png"))
        compose.reject()
        view.close()
        app.processEvents()

        # SMS → Queue and SMS → Received
        window.show_page("SMS")
        sms = window.page("SMS")
        if not isinstance(sms, SmsPage) or ui.queue_page is None or inbound is None \
                or inbound.received_page is None:
            raise ScreenshotError("the SMS page or its tabs are not installed")
        queue, received = ui.queue_page, inbound.received_page
        sms.show_tab("Queue")
        queue.refresh()
        wait_until(app, lambda: queue.model.rowCount() > 0, "the queue")
        settle(app, window, "the queue")
        shots.append(save(window, out, "queue.png"))

        sms.show_tab("Received")
        received.refresh()
        wait_until(app, lambda: received.model.rowCount() > 0, "the Received Log")
        settle(app, window, "the Received Log")
        if not received.select_message(story.photo_reply):
            raise ScreenshotError("the reply with a photo is not in the Received Log")
        settle(app, window, "the Received Log's selection")
        shots.append(save(window, out, "received.png"))

        # Edit → Preferences…: Inbound message matching, and Telephony & SMS
        window.preferences_action.trigger()
        admin = window.findChild(AdminIntegration, "adminIntegration")
        wait_until(app, lambda: admin is not None and admin.preferences is not None,
                   "the Preferences dialog")
        prefs = admin.preferences if admin is not None else None
        if not isinstance(prefs, PreferencesDialog):
            raise ScreenshotError("Preferences did not open")
        prefs.show_page("Inbound message matching")
        settle(app, window, "Preferences")
        shots.append(save(prefs, out, "preferences.png"))
        prefs.show_page(prefs.telephony.title)
        settle(app, window, "Preferences → Telephony & SMS")
        shots.append(save(prefs, out, "preferences-telephony.png"))
        prefs.reject()
        settle(app, window, "closing Preferences")
    finally:
        window.close()
        app.processEvents()
    return shots


def run(out: Path, temp: Path) -> list[Path]:
    """Make the demo database in temp, capture every shot into out; returns the files."""
    isolate_environment(temp)
    out.mkdir(parents=True, exist_ok=True)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Desktop SMS")
    app.setOrganizationName("DesktopSMS")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    apply_style(app)

    db, _backup = open_database(f"sqlite:///{temp / 'screenshots.sqlite3'}")
    clock = StoryClock()
    services = build_services(db, clock=clock, credentials=MemoryCredentials())
    try:
        actor = seed_demo(services)
        story = make_story(services, actor, clock)
        return capture(app, services, actor, story, out)
    finally:
        services.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder for the PNG files (default: {DEFAULT_OUT.relative_to(REPO)})")
    args = parser.parse_args(argv)
    temp = Path(tempfile.mkdtemp(prefix="desktop-sms-screenshots-"))
    try:
        shots = run(args.out.resolve(), temp)
    except ScreenshotError as exc:
        print(f"screenshots: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    missing = [name for name in SHOTS if args.out.resolve() / name not in shots]
    if missing:
        print(f"screenshots: FAILED: not written: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"screenshots: {len(shots)} files written", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
