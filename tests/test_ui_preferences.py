"""Preferences (docs/product.md F13): admins change and every change is audited; staff only read."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QAbstractButton, QCheckBox, QLineEdit, QRadioButton
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop_sms.db.database import Database
from desktop_sms.db.models import AuditEntry, InboundMessage, MessageLink, Setting
from desktop_sms.domain.states import MatchingMode
from desktop_sms.providers.sandbox_server import ManualClock, SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.common import Actor, PermissionDenied
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.credentials import CredentialStore
from desktop_sms.services.local_config import LocalConfig
from desktop_sms.ui.dialogs.preferences_dialog import READ_ONLY_NOTE, PreferencesDialog
from desktop_sms.ui.tasks import TaskRunner
from tests.helpers.outbound_fixtures import MemoryCredentialStore
from tests.test_matcher import add_matter, add_outbound

OFFICE = "+12125550100"
CLIENT = "+12125550123"
PASSWORD = "a long password"


def add_admin(services: Services) -> Actor:
    """The office's first administrator."""
    return services.users.add(None, "admin", "Alex Admin", password=PASSWORD).actor()


def add_staff(services: Services, admin: Actor, username: str = "pat") -> Actor:
    """A staff user."""
    return services.users.add(admin, username, username.title(), password=PASSWORD).actor()


def open_preferences(qtbot: QtBot, services: Services, actor: Actor,
                     credentials: CredentialStore | None = None,
                     config_file: Path | None = None) -> PreferencesDialog:
    """A shown, non-blocking Preferences dialog (with its own runner)."""
    runner = TaskRunner()
    dialog = PreferencesDialog(services.settings, services.users,
                               credentials or MemoryCredentialStore(), actor, runner,
                               services.db.url, config_file)
    dialog._test_runner = runner  # type: ignore[attr-defined]  # keep it alive with the dialog
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    return dialog


def click(qtbot: QtBot, button: QAbstractButton) -> None:
    """Click a button; radio buttons and check boxes on their indicator (their hit area)."""
    assert button.isVisible() and button.isEnabled()
    if isinstance(button, (QCheckBox, QRadioButton)):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=QPoint(6, button.height() // 2))
    else:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def retype(qtbot: QtBot, field: QLineEdit, text: str) -> None:
    field.clear()
    qtbot.keyClicks(field, text)


def links_of(db: Database, body: str) -> set[tuple[int, str]]:
    with db.session() as s:
        rows = s.execute(select(MessageLink.matter_id, MessageLink.rule)
                         .join(InboundMessage, InboundMessage.id == MessageLink.inbound_id)
                         .where(InboundMessage.body == body))
        return {(matter_id, rule) for matter_id, rule in rows}


def test_changing_the_matching_mode_in_preferences_changes_how_the_next_reply_is_filed(
        qtbot: QtBot, sqlite_db: Database, sandbox_server: SandboxServer,
        sandbox_clock: ManualClock, twilio_provider: TwilioProvider) -> None:
    services = build_services(sqlite_db, sandbox_clock, credentials=MemoryCredentialStore())
    admin = add_admin(services)
    services.settings.set(admin, "office_numbers", OFFICE)
    # docs/product.md F6 example 1: A has N as mobile; C is a prescreen that texted N yesterday
    a = add_matter(sqlite_db, "24-000001", mobile=CLIENT, intake=date(2024, 1, 5),
                   opened=date(2024, 2, 1))
    c = add_matter(sqlite_db, "PS-000003", stage="prescreen")
    add_outbound(sqlite_db, c, CLIENT, sandbox_clock() - timedelta(days=1))
    poller = services.inbound.poller(lambda: twilio_provider)

    sandbox_server.inject_inbound(CLIENT, OFFICE, "first reply")
    assert poller.poll_once().errors == []
    assert links_of(sqlite_db, "first reply") == {(a, "mobile_on_case"), (c, "texted_from_case")}

    dialog = open_preferences(qtbot, services, admin)
    dialog.show_page("Inbound message matching")
    buttons = dialog.matching.mode_buttons
    assert buttons[MatchingMode.ALL_RELATED].isChecked()
    assert buttons[MatchingMode.ALL_RELATED].text().endswith("(default)")
    click(qtbot, buttons[MatchingMode.MOST_RECENT_OUTBOUND])
    with qtbot.waitSignal(dialog.accepted):
        click(qtbot, dialog.save_button)

    assert services.settings.get("inbound_matching") == "most_recent_outbound"
    with sqlite_db.session() as s:
        details = list(s.scalars(select(AuditEntry.detail).where(
            AuditEntry.action == "setting.change", AuditEntry.user_id == admin.user_id)))
    assert "inbound_matching: all_related → most_recent_outbound" in details

    sandbox_clock.advance(60)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "second reply")
    assert poller.poll_once().errors == []
    assert links_of(sqlite_db, "second reply") == {(c, "most_recent_outbound")}
    assert links_of(sqlite_db, "first reply") == {(a, "mobile_on_case"),
                                                  (c, "texted_from_case")}  # not re-filed


def test_matching_page_describes_each_mode_and_recommends_most_recent_outbound(
        qtbot: QtBot, services: Services) -> None:
    dialog = open_preferences(qtbot, services, add_admin(services))
    page = dialog.matching
    labels = [b.text() for b in page.mode_buttons.values()]
    assert labels == [m.label + (" (default)" if m is MatchingMode.ALL_RELATED else "")
                      for m in MatchingMode]
    from PySide6.QtWidgets import QLabel

    texts = [label.text() for label in page.findChildren(QLabel)]
    for mode in MatchingMode:
        assert mode.description in texts
    assert any("Most people expect" in t and "Most Recent Outbound Message" in t for t in texts)


def test_staff_see_preferences_read_only_and_the_service_refuses(
        qtbot: QtBot, services: Services) -> None:
    admin = add_admin(services)
    staff = add_staff(services, admin)
    dialog = open_preferences(qtbot, services, staff)

    assert dialog.read_only_note.isVisible() and dialog.read_only_note.text() == READ_ONLY_NOTE
    assert not dialog.save_button.isVisible()
    assert all(not b.isEnabled() for b in dialog.matching.mode_buttons.values())
    assert not dialog.telephony.account_sid.isEnabled()
    assert not dialog.telephony.auth_token.isEnabled()
    assert not dialog.compose.instructions.isEnabled()
    assert not dialog.polling.poll_interval.isEnabled()
    assert not dialog.database.sqlite_file.isEnabled()
    assert not dialog.users.add_button.isEnabled()
    assert dialog.users.table.rowCount() == 2  # staff may read the list

    with pytest.raises(PermissionDenied, match="Only an administrator"):
        services.settings.set(staff, "inbound_matching", "most_recent_outbound")
    # whatever the widgets say, the service refuses a staff user's save
    dialog.matching.mode_buttons[MatchingMode.MOST_RECENT_OUTBOUND].setChecked(True)
    assert dialog.save() is False
    assert dialog.matching.error.text() == "Only an administrator can change settings."
    assert dialog.current_page() is dialog.matching
    assert services.settings.get("inbound_matching") == "all_related"


def test_a_refused_value_stays_as_typed_and_the_rest_is_saved(
        qtbot: QtBot, services: Services) -> None:
    admin = add_admin(services)
    dialog = open_preferences(qtbot, services, admin)
    dialog.show_page("Compose")
    click(qtbot, dialog.compose.consent_required)  # on by default: now off
    retype(qtbot, dialog.telephony.account_sid, "AC123")
    dialog.polling.poll_interval.setValue(45)
    retype(qtbot, dialog.polling.region, "ZZ")

    with qtbot.waitSignal(dialog.saved) as saved:
        click(qtbot, dialog.save_button)
    assert saved.args == [False]
    assert dialog.isVisible()
    assert dialog.current_page() is dialog.telephony  # the first page with a refusal
    assert "Account SID must be an Account SID" in dialog.telephony.error.text()
    assert "Default region must be a two-letter country code" in dialog.polling.error.text()
    assert dialog.telephony.account_sid.text() == "AC123"  # kept, to be corrected
    assert services.settings.get("sms_consent_required") is False
    assert services.settings.get("poll_interval_seconds") == 45
    assert services.settings.get("twilio_account_sid") == ""

    sid = "AC" + "a" * 32
    retype(qtbot, dialog.telephony.account_sid, sid)
    retype(qtbot, dialog.polling.region, "ca")
    retype(qtbot, dialog.telephony.office_numbers, "(212) 555-0100, 212 555 0101")
    with qtbot.waitSignal(dialog.accepted):
        click(qtbot, dialog.save_button)
    assert services.settings.get("twilio_account_sid") == sid
    assert services.settings.get("default_region") == "CA"
    assert services.settings.get("office_numbers") == ["+12125550100", "+12125550101"]
    actions = [row.detail.split(":")[0] for row in services.audit.entries(admin,
                                                                          action="setting.change")]
    assert sorted(actions) == sorted(["sms_consent_required", "poll_interval_seconds",
                                      "twilio_account_sid", "default_region", "office_numbers"])


def test_unchanged_dialog_saves_nothing_and_alert_scope_note_is_shown(
        qtbot: QtBot, services: Services) -> None:
    admin = add_admin(services)
    dialog = open_preferences(qtbot, services, admin)
    assert not dialog.has_unsaved_changes()
    dialog.show_page("Home alerts")
    from desktop_sms.ui.dialogs.preferences.settings_pages import ALERT_DISMISS_NOTE

    assert ALERT_DISMISS_NOTE == "Dismissing an alert dismisses it for everyone who can see it."
    from PySide6.QtWidgets import QLabel

    assert ALERT_DISMISS_NOTE in [label.text() for label in dialog.alerts.findChildren(QLabel)]
    click(qtbot, dialog.alerts.all)
    assert dialog.has_unsaved_changes()
    with qtbot.waitSignal(dialog.accepted):
        click(qtbot, dialog.save_button)
    assert services.settings.get("alert_scope") == "all"
    with services.db.session() as s:
        assert set(s.scalars(select(Setting.key))) == {"alert_scope"}


def test_test_connection_says_what_is_wrong(qtbot: QtBot, services: Services,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    sid, token = "AC" + "c" * 32, "the-right-token"
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    dialog = open_preferences(qtbot, services, add_admin(services))
    page = dialog.telephony

    def run_test() -> str:
        with qtbot.waitSignal(page.connection_tested, timeout=15_000) as result:
            click(qtbot, page.test_button)
        assert page.test_result.text() == result.args[0]
        return str(result.args[0])

    with SandboxServer(account_sid=sid, auth_token=token, incoming_numbers=[OFFICE]) as server:
        monkeypatch.setenv("DESKTOP_SMS_TWILIO_API_URL", server.base_url)
        click(qtbot, page.twilio)  # Sandbox mode checks the Sandbox, not an account
        retype(qtbot, page.account_sid, sid)
        retype(qtbot, page.auth_token, "wrong")
        retype(qtbot, page.office_numbers, OFFICE)
        assert run_test().startswith("Bad credentials")
        retype(qtbot, page.auth_token, token)
        assert run_test() == "OK: connected to the Twilio account “Desktop SMS Sandbox”."
        retype(qtbot, page.office_numbers, f"{OFFICE}, +1 212 555 0177")
        text = run_test()
        assert "not on it: +12125550177" in text and "Desktop SMS Sandbox" in text
    # the server is gone: nothing listens at that address
    assert run_test().startswith("No network")
    assert page.test_button.isEnabled()
    assert services.settings.get("twilio_account_sid") == ""  # testing saves nothing


def test_database_choice_is_tested_and_saved_for_this_desktop(
        qtbot: QtBot, services: Services, tmp_path: Path) -> None:
    config_file = tmp_path / "config" / "desktop-sms.json"
    dialog = open_preferences(qtbot, services, add_admin(services), config_file=config_file)
    page = dialog.database
    dialog.show_page("Database")
    assert "takes effect on restart" in page.findChild(type(page.test_result),
                                                       "databaseRestartNote").text()
    assert page.use_sqlite.isChecked()  # shows the database in use

    def run_test() -> str:
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.test_result.text() not in ("", "Testing…"), timeout=15_000)
        text = page.test_result.text()
        page.test_result.clear()
        return text

    assert run_test() == "OK: connected. The database is ready."
    new_file = tmp_path / "shared" / "office.sqlite3"
    retype(qtbot, page.sqlite_file, str(new_file))
    assert "does not exist yet" in run_test()
    assert not new_file.exists()  # a test changes nothing
    click(qtbot, page.use_postgres)
    retype(qtbot, page.postgres_url, "postgresql://nobody:secret@127.0.0.1:9/none")
    assert run_test().startswith("Could not open the database")

    with qtbot.waitSignal(dialog.accepted):
        click(qtbot, dialog.save_button)
    assert LocalConfig.load(config_file).database_url == \
        "postgresql://nobody:secret@127.0.0.1:9/none"
    with services.db.session() as s:  # not an office setting
        assert list(s.scalars(select(Setting.key))) == []
