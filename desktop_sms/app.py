"""Start-up in one ordered, logged function: config → database → services → background → UI."""

from __future__ import annotations

import logging
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox
from sqlalchemy.exc import SQLAlchemyError

from desktop_sms import logging_setup
from desktop_sms.db.database import Database, open_database
from desktop_sms.db.migrate import SchemaTooNewError
from desktop_sms.scheduling.alarm import BackgroundWork
from desktop_sms.services.calendar import next_wakeup_with_reminders, run_reminders_then_dispatch
from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.demo import seed_demo
from desktop_sms.services.local_config import LocalConfig, resolve_database_url
from desktop_sms.ui.admin_integration import install_admin
from desktop_sms.ui.calendar_integration import install_calendar
from desktop_sms.ui.conversations_ui import install_conversations
from desktop_sms.ui.dialogs.first_admin_dialog import FirstAdminDialog
from desktop_sms.ui.dialogs.sign_in_dialog import SignInDialog
from desktop_sms.ui.inbound_integration import install_inbound
from desktop_sms.ui.outbound_integration import install_outbound
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.theme import app_icon, apply_style
from desktop_sms.ui.tray import TrayNotifier
from desktop_sms.ui.windows.home_page import HomePage
from desktop_sms.ui.windows.main_window import MainWindow

log = logging.getLogger(__name__)

SMOKE_EVENT_LOOP_MS = 300


class StartupError(Exception):
    """Start-up cannot go on; the message is shown to the person as is."""


@dataclass
class _Startup:
    """What start-up made and must clean up at exit."""

    temp_dir: Path | None = None
    db: Database | None = None

    def close(self) -> None:
        if self.db is not None:
            self.db.dispose()
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)


def build_main_window(services: Services, actor: Actor,
                      runner: TaskRunner | None = None) -> MainWindow:
    """The main window for a signed-in user (used by run_gui, tests, benchmarks, screenshots)."""
    window = MainWindow(services, actor, runner)
    window.setWindowIcon(app_icon())
    install_features(window)
    window.restore_view_state()  # size, position and page as the person left them
    return window


def install_features(window: MainWindow) -> None:
    """Plug each feature's pages, tabs and menu items into the shell."""
    install_admin(window)  # Preferences, users, audit log, Home alerts
    install_outbound(window)  # compose, SMS → Queue, Simulated phone
    install_inbound(window)  # SMS → Received, case notes, documents, SMS log
    install_conversations(window)  # read state, reply box, Sent, Search, export
    calendar = install_calendar(window, window.services, window.actor, window.runner)
    home = window.page("Home")
    if isinstance(home, HomePage):
        home.set_upcoming_widget(calendar.build_upcoming_widget(home))
        window.show_page("Home")  # the first page after sign-in


def start_background(services: Services, window: MainWindow) -> BackgroundWork:
    """Start the alarm clock: the dispatcher (with reminders) and the inbound poller.

    Both run on the scheduler's worker threads; their reports reach the UI as signals of
    `window.background`. Stopped when the application quits.
    """
    bridge = window.background
    first_run = [True]

    def dispatch() -> object:
        if first_run[0]:  # start-up: too-late texts become missed, stale claims reconciled
            first_run[0] = False
            services.dispatcher.reconcile_on_startup()
        return run_reminders_then_dispatch(services.calendar, services.dispatcher)

    work = BackgroundWork(
        dispatch=dispatch,
        next_wakeup=lambda: next_wakeup_with_reminders(services.calendar, services.dispatcher),
        poll=services.poller.poll_once,
        poll_interval=lambda: float(services.settings.get("poll_interval_seconds")),
        poll_ok=lambda report: bool(getattr(report, "ok", False)),
        on_dispatched=bridge.report_dispatch,
        on_polled=bridge.report_poll,
        on_error=bridge.report_error,
        on_stop=lambda threads: _stop_background(services, threads),
    )
    services.outbound.subscribe(work.wake)
    services.calendar.subscribe(work.wake)

    def on_setting(key: str, _value: object) -> None:
        if key in ("provider", "twilio_account_sid", "office_numbers", "messaging_service_sid"):
            services.dispatcher.reset_provider()
            work.poll_now()
        elif key == "poll_interval_seconds":
            work.poll_now()  # the new interval applies from the next poll on

    services.settings.subscribe(on_setting)
    bridge.polled.connect(lambda report: _show_poll(window, report))
    bridge.error.connect(lambda what, text: window.set_last_error(f"{what}: {text}"))
    window.tray = TrayNotifier(window, services)
    bridge.inbound_changed.connect(window.tray.notify)
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(work.shutdown)
    window.destroyed.connect(lambda *_: work.shutdown())
    work.start()
    log.info("start-up: background work started (dispatcher alarm clock, poller every %ss)",
             services.settings.get("poll_interval_seconds"))
    return work


def _stop_background(services: Services, threads: Iterable[threading.Thread]) -> None:
    """At quit: no new sends, and the provider requests of these threads are cut off."""
    services.dispatcher.stop()
    provider_module = sys.modules.get("desktop_sms.providers.twilio_provider")
    if provider_module is not None:  # the twilio client loads only when first needed
        provider_module.cancel_requests(threads)


def _show_poll(window: MainWindow, report: object) -> None:
    """Status bar: the last successful poll, or the last error."""
    errors = list(getattr(report, "errors", []) or [])
    if errors:
        window.set_last_error(errors[0])
    else:
        window.set_last_poll(getattr(report, "finished_at", None))
        window.set_last_error(None)


def run_gui(db_url: str | None = None, demo: bool = False, smoke: bool = False,
            as_user: str | None = None) -> int:
    """Start the desktop application; returns the process exit status."""
    logging_setup.install()  # mask every logger's records (docs/logging.md)
    app = _qt_application()
    startup = _Startup()
    try:
        # 1. configuration of this desktop
        log.info("start-up 1/5: configuration")
        config = LocalConfig.load()

        # 2. database: a fresh temporary one for --demo / --smoke, else the configured one
        log.info("start-up 2/5: database")
        if demo or smoke:
            startup.temp_dir = Path(tempfile.mkdtemp(prefix="desktop-sms-demo-"))
            url = f"sqlite:///{startup.temp_dir / 'demo.sqlite3'}"
        else:
            url = resolve_database_url(db_url)
        startup.db = _open_database(url)

        # 3. services
        log.info("start-up 3/5: services")
        services = build_services(startup.db)

        # 4. who is working: demo admin, first administrator, or sign-in
        log.info("start-up 4/5: user")
        if demo or smoke:
            actor = seed_demo(services)
            if as_user:
                actor = services.users.get(as_user).actor()
        else:
            signed_in = _sign_in(services, config, as_user)
            if signed_in is None:
                log.info("sign-in cancelled")
                return 0
            actor = signed_in

        # 5. UI and background work
        log.info("start-up 5/5: main window")
        window = build_main_window(services, actor)
        start_background(services, window)
        if smoke:
            return _smoke(app, window, services)
        window.show()
        _quit_on_ctrl_c(app)
        return int(app.exec())
    except (StartupError, ServiceError) as exc:
        _report_startup_error(app, str(exc), quiet=smoke)
        return 1
    finally:
        startup.close()


def _qt_application() -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Desktop SMS")
    app.setOrganizationName("DesktopSMS")
    app.setApplicationVersion(_version())
    app.setWindowIcon(app_icon())
    apply_style(app)
    return app


def _quit_on_ctrl_c(app: QApplication) -> None:
    """Let Ctrl+C in the terminal quit (Qt's loop would otherwise never give Python a turn)."""
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    ticker = QTimer(app)
    ticker.timeout.connect(lambda: None)  # wakes the interpreter so it can run the handler
    ticker.start(500)


def _version() -> str:
    from desktop_sms import __version__

    return __version__


def _open_database(url: str) -> Database:
    """Open and migrate; turn the known failures into sentences."""
    try:
        db, backup = open_database(url)
    except SchemaTooNewError as exc:
        raise StartupError(str(exc)) from None
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise StartupError(f"The database could not be opened ({_masked(url)}): {reason}. "
                           "Check the database setting or the network and start again.") from None
    except OSError as exc:
        raise StartupError(f"The database file could not be opened: {exc}.") from None
    if backup is not None:
        log.info("database migrated; the previous file was copied to %s", backup)
    return db


def _masked(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: say nothing of it rather than leak a secret
        return "the configured database"


def _sign_in(services: Services, config: LocalConfig, as_user: str | None) -> Actor | None:
    """First start: create the first admin; else sign in. None if the person cancelled."""
    if services.users.needs_first_admin():
        first = FirstAdminDialog(services.users)
        first.setWindowIcon(app_icon())
        if first.exec() != QDialog.DialogCode.Accepted or first.user is None:
            return None
        config.last_username = first.user.username
        try:
            config.save()
        except OSError as exc:
            log.warning("could not remember the username: %s", exc)
        return first.user.actor()
    dialog = SignInDialog(services.users, config, username=as_user)
    dialog.setWindowIcon(app_icon())
    if dialog.exec() != QDialog.DialogCode.Accepted or dialog.user is None:
        return None
    return dialog.user.actor()


def _smoke(app: QApplication, window: MainWindow, services: Services) -> int:
    """--smoke: show the window, send one text and poll one reply against the in-process local
    server, close; one printed line per step, exit 1 with the reason on the first failure."""
    import os
    import time
    from collections.abc import Callable

    from PySide6.QtCore import QCoreApplication, QEvent
    from sqlalchemy import select

    from desktop_sms.db.models import InboundMessage, Matter, MessageLink, OutboundMessage
    from desktop_sms.domain.phones import mask
    from desktop_sms.providers.twilio_provider import TWILIO_API_URL
    from desktop_sms.services.demo import OFFICE_NUMBER
    from desktop_sms.services.provider_factory import API_URL_ENV

    def step(text: str) -> None:
        print(f"smoke: {text}", flush=True)

    def outbound_sid(message_id: int) -> tuple[str, str | None]:
        with services.db.session() as s:
            out = s.get(OutboundMessage, message_id)
            return (out.state, out.provider_sid) if out is not None else ("missing", None)

    def stored_inbound(sid: str) -> int | None:
        with services.db.session() as s:
            return s.scalar(select(InboundMessage.id).where(InboundMessage.provider_sid == sid))

    def settle(done: Callable[[], bool], seconds: float = 5.0) -> None:
        """Give work the background scheduler may have taken first a moment to finish."""
        deadline = time.monotonic() + seconds
        while not done() and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.05)

    class SmokeFailure(Exception):
        """A smoke step did not give what it should."""

    started = time.monotonic()
    rows = 0
    try:
        window.show()
        loop = QEventLoop()
        QTimer.singleShot(SMOKE_EVENT_LOOP_MS, loop.quit)
        loop.exec()
        rows = window.cases_page.model.rowCount()
        if rows <= 0:
            raise SmokeFailure("the case list is empty")
        step(f"main window open, {rows} matters in the case list")

        external = os.environ.get(API_URL_ENV, "").rstrip("/")
        if services.providers.mode() != "sandbox" or (external and external != TWILIO_API_URL):
            raise SmokeFailure(f"the round trip needs the in-process local server: provider is "
                               f"{services.providers.mode()}, {API_URL_ENV}={external or '-'}")

        actor = window.actor
        # A client whose mobile no other matter shares, so the reply has one home.
        with services.db.session() as s:
            matters = s.execute(select(Matter.id, Matter.case_number, Matter.mobile_e164)
                                .where(Matter.mobile_e164.is_not(None))
                                .order_by(Matter.id)).all()
        counts: dict[str, int] = {}
        for _id, _number, mobile in matters:
            counts[mobile] = counts.get(mobile, 0) + 1
        chosen = next(((m_id, number, mobile) for m_id, number, mobile in matters
                       if counts[mobile] == 1), None)
        if chosen is None:
            raise SmokeFailure("no demo matter has a mobile of its own")
        matter_id, case_number, client = chosen
        services.consent.record(actor, matter_id, "yes", "verbal")
        step(f"consent recorded on case {case_number}")

        body = "Desktop SMS smoke test: please reply."
        server = services.providers.start_sandbox()
        # A self-check of the local server on a demo database: sent even in quiet hours (the
        # override is audited like any other).
        message_id = services.outbound.send(actor, matter_id, client, body,
                                            override_quiet_hours="smoke test of the local server")
        report = services.dispatcher.run_due()
        if report.errors:
            raise SmokeFailure(f"dispatch: {'; '.join(report.errors)}")
        # The scheduler's dispatcher (start_background) may be sending it at this moment.
        settle(lambda: outbound_sid(message_id)[1] is not None)
        state, sid = outbound_sid(message_id)
        received = [m for m in server.messages() if m["sid"] == sid and m["to"] == client
                    and m["body"] == body]
        if sid is None or not received:
            raise SmokeFailure(f"text out-{message_id} is {state}; the local server did not "
                               "receive it")
        step(f"sent out-{message_id} to {mask(client)}; the local server received {sid}")

        reply_sid = server.inject_inbound(client, OFFICE_NUMBER, "Got it, thanks")
        step(f"reply {reply_sid} injected from {mask(client)} to the office number")

        poller = getattr(services, "poller", None)
        if poller is None:
            from desktop_sms.services.poller import Poller

            poller = Poller(services.db, services.settings, services.providers, services.clock)
        poll = poller.poll_once()
        if poll.errors:
            raise SmokeFailure(f"poll: {'; '.join(poll.errors)}")
        # The background poller (start_background) may be storing it at this moment.
        settle(lambda: stored_inbound(reply_sid) is not None)
        inbound_id = stored_inbound(reply_sid)
        with services.db.session() as s:
            filed_on = s.scalars(select(MessageLink.matter_id)
                                 .where(MessageLink.inbound_id == inbound_id,
                                        MessageLink.withdrawn_at.is_(None))).all()
        if inbound_id is None:
            raise SmokeFailure(f"the poll stored no reply (new inbound: {poll.new_inbound_ids})")
        if matter_id not in filed_on:
            raise SmokeFailure(f"reply in-{inbound_id} was stored but not filed on case "
                               f"{case_number}")
        by = "this poll" if inbound_id in poll.new_inbound_ids else "the background poller"
        step(f"poll: reply in-{inbound_id} stored by {by} and filed on case {case_number}")
    except SmokeFailure as exc:
        print(f"smoke: FAILED: {exc}", flush=True)
        return 1
    except Exception as exc:  # any error is a failed smoke run, reported in one line
        log.exception("smoke run failed")
        print(f"smoke: FAILED: {exc.__class__.__name__}: {exc}", flush=True)
        return 1
    finally:
        # Let the pages' refreshes (started by the send and the poll, some by queued signals)
        # deliver before closing: a result arriving after the window's task runner shut down
        # would start new work on it.
        for _quiet_check in range(2):
            settle(lambda: not window.runner.is_busy(), 2.0)
            quiet = QEventLoop()
            QTimer.singleShot(100, quiet.quit)
            quiet.exec()
        window.close()
        # Delete the window now: that stops the background work it carries (start_background
        # shuts it down on `destroyed`) before the temporary database goes away.
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.processEvents()
        services.providers.close()
    print(f"smoke: ok ({rows} matters in the case list, 1 text sent, 1 reply filed, "
          f"{time.monotonic() - started:.1f} s)", flush=True)
    return 0


def _report_startup_error(app: QApplication, message: str, quiet: bool) -> None:
    """Log it, print it, and show it in a message box when there is a screen to show it on."""
    log.error("start-up failed: %s", message)
    print(f"desktop-sms: {message}", file=sys.stderr)
    if quiet or app.platformName() in ("offscreen", "minimal"):
        return
    QMessageBox.critical(None, "Desktop SMS cannot start", message)
