"""Preferences → Users: add, edit and reset a password through the dialogs (docs/product.md F14)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop_sms.services.container import Services
from desktop_sms.services.users import SignInFailed
from desktop_sms.ui.dialogs.user_dialog import ResetPasswordDialog, UserDialog
from tests.test_ui_preferences import PASSWORD, add_admin, click, open_preferences, retype


def usernames(dialog_table: object) -> list[str]:
    from PySide6.QtWidgets import QTableWidget

    assert isinstance(dialog_table, QTableWidget)
    return [dialog_table.item(r, 1).text() for r in range(dialog_table.rowCount())]


def test_add_edit_and_reset_password_through_the_dialogs(qtbot: QtBot,
                                                         services: Services) -> None:
    admin = add_admin(services)
    prefs = open_preferences(qtbot, services, admin)
    prefs.show_page("Users")
    page = prefs.users
    assert usernames(page.table) == ["admin"]

    # Add…
    click(qtbot, page.add_button)
    add = page.dialog
    assert isinstance(add, UserDialog) and add.isVisible()
    retype(qtbot, add.name, "Pat Paralegal")
    retype(qtbot, add.username, "pat")
    retype(qtbot, add.mobile, "(212) 555-0191")
    retype(qtbot, add.password, "first password")
    retype(qtbot, add.password_again, "first passw0rd")
    click(qtbot, add.save_button)
    assert add.error.text() == "The two passwords are not the same."
    retype(qtbot, add.password_again, "first password")
    with qtbot.waitSignal(page.users_changed):
        click(qtbot, add.save_button)
    pat = services.users.get("pat")
    assert (pat.name, pat.mobile_e164, pat.role, pat.sms_access) == (
        "Pat Paralegal", "+12125550191", "staff", True)
    assert services.users.authenticate("pat", "first password").id == pat.id
    assert usernames(page.table) == ["admin", "pat"]  # ordered by name

    # Edit…: role, SMS access, mobile, username
    page.select_username("pat")
    click(qtbot, page.edit_button)
    edit = page.dialog
    assert isinstance(edit, UserDialog) and edit.username.text() == "pat"
    edit.role.setCurrentIndex(edit.role.findData("admin"))
    click(qtbot, edit.sms_access)
    retype(qtbot, edit.mobile, "")
    retype(qtbot, edit.username, "pat.p")
    with qtbot.waitSignal(page.users_changed):
        click(qtbot, edit.save_button)
    pat = services.users.by_id(pat.id)
    assert (pat.username, pat.role, pat.sms_access, pat.mobile) == ("pat.p", "admin", False, None)
    row = usernames(page.table).index("pat.p")
    assert [page.table.item(row, c).text() for c in range(3, 6)] == ["Admin", "No", "Yes"]

    # Reset password…
    page.select_username("pat.p")
    click(qtbot, page.reset_button)
    reset = page.dialog
    assert isinstance(reset, ResetPasswordDialog)
    retype(qtbot, reset.password, "short")
    retype(qtbot, reset.password_again, "short")
    click(qtbot, reset.save_button)
    assert "at least 8 characters" in reset.error.text()
    retype(qtbot, reset.password, "second password")
    retype(qtbot, reset.password_again, "second password")
    with qtbot.waitSignal(reset.accepted):
        click(qtbot, reset.save_button)
    with pytest.raises(SignInFailed):
        services.users.authenticate("pat.p", "first password")
    assert services.users.authenticate("pat.p", "second password").id == pat.id

    details = [(r.action, r.target) for r in services.audit.entries(admin)]
    assert ("user.add", "user pat") in details
    assert ("user.edit", "user pat.p") in details
    assert ("user.password", "user pat.p") in details


def test_refusals_keep_the_dialog_open(qtbot: QtBot, services: Services) -> None:
    admin = add_admin(services)
    services.users.add(admin, "pat", "Pat", password=PASSWORD)
    prefs = open_preferences(qtbot, services, admin)
    page = prefs.users

    add = page.add_user()
    retype(qtbot, add.name, "Another Pat")
    retype(qtbot, add.username, "PAT")
    retype(qtbot, add.password, PASSWORD)
    retype(qtbot, add.password_again, PASSWORD)
    click(qtbot, add.save_button)
    assert add.isVisible() and add.error.text() == "The username 'PAT' is taken."
    add.reject()

    # the last administrator can't be made staff or deactivated
    page.select_username("admin")
    edit = page.edit_user()
    assert edit is not None
    click(qtbot, edit.active)
    click(qtbot, edit.save_button)
    assert edit.isVisible()
    assert edit.error.text() == "The office needs at least one active administrator."
    assert services.users.get("admin").active
    qtbot.mouseClick(edit.buttons.button(edit.buttons.StandardButton.Cancel),
                     Qt.MouseButton.LeftButton)
    assert not edit.isVisible()


def test_a_user_added_without_a_password_gets_a_setup_code_shown_once_and_a_new_one(
        qtbot: QtBot, services: Services) -> None:
    from desktop_sms.ui.dialogs.user_dialog import SetupCodeDialog

    admin = add_admin(services)
    prefs = open_preferences(qtbot, services, admin)
    prefs.show_page("Users")
    page = prefs.users
    click(qtbot, page.add_button)
    add = page.dialog
    assert isinstance(add, UserDialog)
    retype(qtbot, add.name, "Ivy Intake")
    retype(qtbot, add.username, "ivy")
    with qtbot.waitSignal(page.users_changed):
        click(qtbot, add.save_button)
    shown = page.code_dialog
    assert isinstance(shown, SetupCodeDialog)
    qtbot.waitUntil(shown.isVisible)
    first = shown.code.text()
    assert len(first) == 11 and "Ivy Intake" in shown.intro.text()
    assert "not shown again" in shown.intro.text()
    click(qtbot, shown.buttons.button(shown.buttons.StandardButton.Close))

    page.select_username("ivy")
    click(qtbot, page.setup_code_button)  # issued on the task runner
    qtbot.waitUntil(lambda: page.code_dialog is not shown and page.code_dialog is not None
                    and page.code_dialog.isVisible())
    new = page.code_dialog
    assert isinstance(new, SetupCodeDialog)
    assert len(new.code.text()) == 11 and new.code.text() != first
    with pytest.raises(SignInFailed):
        services.users.set_first_password("ivy", first, "long enough")
    assert services.users.set_first_password("ivy", new.code.text(), "long enough").has_password

    page.select_username("ivy")  # now with a password: refused with a sentence
    click(qtbot, page.setup_code_button)
    qtbot.waitUntil(lambda: "already has a password" in page.error.text())
    assert page.code_dialog is new
