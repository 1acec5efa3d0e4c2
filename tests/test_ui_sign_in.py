"""First start asks for the first administrator; sign-in checks the password."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop_sms.services.container import Services
from desktop_sms.services.demo import DEMO_PASSWORD
from desktop_sms.services.local_config import LocalConfig
from desktop_sms.ui.dialogs.first_admin_dialog import FirstAdminDialog
from desktop_sms.ui.dialogs.sign_in_dialog import SignInDialog


def test_first_run_dialog_creates_the_first_admin(qtbot: QtBot, services: Services) -> None:
    assert services.users.needs_first_admin()
    dialog = FirstAdminDialog(services.users)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.keyClicks(dialog.username, "manager")
    qtbot.keyClicks(dialog.name, "Morgan Manager")
    qtbot.keyClicks(dialog.mobile, "(212) 555-0150")
    qtbot.keyClicks(dialog.password, "correct horse")
    qtbot.keyClicks(dialog.password_again, "correct horsE")
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert dialog.error.text() == "The two passwords are not the same."
    assert services.users.needs_first_admin()

    dialog.password_again.clear()
    qtbot.keyClicks(dialog.password_again, "correct horse")
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert dialog.user is not None and dialog.user.role == "admin"
    assert services.users.authenticate("manager", "correct horse").name == "Morgan Manager"
    assert not services.users.needs_first_admin()


def test_first_run_dialog_shows_the_services_refusal(qtbot: QtBot, services: Services) -> None:
    dialog = FirstAdminDialog(services.users)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.keyClicks(dialog.username, "has space")
    qtbot.keyClicks(dialog.name, "X")
    qtbot.keyClicks(dialog.password, "long enough")
    qtbot.keyClicks(dialog.password_again, "long enough")
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert "username" in dialog.error.text()
    assert dialog.isVisible() and services.users.needs_first_admin()


def test_sign_in_rejects_a_wrong_password_then_accepts_the_right_one(
        qtbot: QtBot, services: Services, demo_actor: object, tmp_path: Path) -> None:
    config_file = tmp_path / "desktop-sms.json"
    LocalConfig(last_username="pat").save(config_file)
    dialog = SignInDialog(services.users, LocalConfig.load(config_file), config_file)
    qtbot.addWidget(dialog)
    dialog.open()
    assert dialog.username.text() == "pat"  # remembered from the last sign-in

    qtbot.keyClicks(dialog.password, "not-the-password")
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.error.isVisible()
    assert dialog.error.text() == "The username or password is not right."
    assert dialog.password.text() == "" and dialog.user is None and dialog.isVisible()

    dialog.username.setText("sam")
    qtbot.keyClicks(dialog.password, DEMO_PASSWORD)
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.user is not None and dialog.user.name == "Sam Attorney"
    assert LocalConfig.load(config_file).last_username == "sam"
