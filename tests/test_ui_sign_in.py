"""First start asks for the first administrator; sign-in checks the password."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.services.demo import DEMO_PASSWORD
from desktop_sms.services.local_config import LocalConfig
from desktop_sms.ui.dialogs.first_admin_dialog import FirstAdminDialog
from desktop_sms.ui.dialogs.sign_in_dialog import SignInDialog
from desktop_sms.ui.dialogs.user_dialog import UserDialog


def submit(qtbot: QtBot, dialog: SignInDialog) -> None:
    """Click Sign in and wait for the answer (the check runs on the dialog's task runner)."""
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.runner.is_busy())


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
    submit(qtbot, dialog)
    assert dialog.error.isVisible()
    assert dialog.error.text() == "The username or password is not right."
    assert dialog.password.text() == "" and dialog.user is None and dialog.isVisible()

    dialog.username.setText("sam")
    qtbot.keyClicks(dialog.password, DEMO_PASSWORD)
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.user is not None and dialog.user.name == "Sam Attorney"
    assert LocalConfig.load(config_file).last_username == "sam"


def _add_nora(qtbot: QtBot, services: Services, demo_actor: Actor) -> str:
    """An administrator adds Nora leaving the password empty; the setup code is shown once."""
    from desktop_sms.ui.dialogs.user_dialog import SetupCodeDialog

    add = UserDialog(services.users, demo_actor)
    qtbot.addWidget(add)
    add.open()
    qtbot.keyClicks(add.name, "Nora New")
    qtbot.keyClicks(add.username, "nora")
    with qtbot.waitSignal(add.accepted):
        qtbot.mouseClick(add.save_button, Qt.MouseButton.LeftButton)
    assert add.user is not None and add.user.setup_code
    shown = SetupCodeDialog(add.user)
    qtbot.addWidget(shown)
    assert shown.code.text() == add.user.setup_code and shown.code.isReadOnly()
    assert not services.users.get("nora").has_password
    return add.user.setup_code


def test_the_username_alone_no_longer_claims_an_account(
        qtbot: QtBot, services: Services, demo_actor: Actor, tmp_path: Path) -> None:
    """Issue 12, reproduction 7: typing `nora` and Sign in used to offer "choose a password"."""
    _add_nora(qtbot, services, demo_actor)
    dialog = SignInDialog(services.users, LocalConfig(), tmp_path / "c.json", username="nora")
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    submit(qtbot, dialog)
    assert dialog.error.text() == "The username or password is not right."
    assert not dialog.new_password.isVisible() and not dialog.first_sign_in_note.isVisible()
    qtbot.keyClicks(dialog.password, "a guess at it")
    submit(qtbot, dialog)
    assert dialog.error.text() == "The username or password is not right."
    # same words as a user who does not exist
    dialog.username.setText("nobody")
    qtbot.keyClicks(dialog.password, "a guess at it")
    submit(qtbot, dialog)
    assert dialog.error.text() == "The username or password is not right."
    assert dialog.user is None and not services.users.get("nora").has_password


def test_first_sign_in_asks_for_the_setup_code_and_a_password(
        qtbot: QtBot, services: Services, demo_actor: Actor, tmp_path: Path) -> None:
    code = _add_nora(qtbot, services, demo_actor)
    nora = services.users.get("nora")
    config_file = tmp_path / "desktop-sms.json"
    dialog = SignInDialog(services.users, LocalConfig(), config_file, username="nora")
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    assert not dialog.setup_code.isVisible() and not dialog.new_password.isVisible()

    qtbot.mouseClick(dialog.first_sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.first_sign_in_note.isVisible() and dialog.first_sign_in_note.text().startswith(
        "First sign-in: type the setup code")
    assert dialog.setup_code.isVisible() and dialog.new_password.isVisible()
    assert dialog.new_password_again.isVisible() and not dialog.password.isVisible()

    qtbot.keyClicks(dialog.new_password, "nora's words")
    qtbot.keyClicks(dialog.new_password_again, "nora's words")
    submit(qtbot, dialog)
    assert dialog.error.text() == "Please type the setup code your administrator gave you."

    qtbot.keyClicks(dialog.setup_code, "AAAAA-BBBBB")
    qtbot.keyClicks(dialog.new_password, "nora's words")
    qtbot.keyClicks(dialog.new_password_again, "nora's wordz")
    submit(qtbot, dialog)
    assert dialog.error.text() == "The two passwords are not the same."

    dialog.new_password.clear()
    qtbot.keyClicks(dialog.new_password, "nora's words")
    qtbot.keyClicks(dialog.new_password_again, "nora's words")
    submit(qtbot, dialog)
    assert dialog.error.text() == "The username or password is not right."  # a wrong code
    assert not services.users.get("nora").has_password

    dialog.setup_code.clear()
    dialog.new_password.clear()
    dialog.new_password_again.clear()
    qtbot.keyClicks(dialog.setup_code, code.lower())
    qtbot.keyClicks(dialog.new_password, "short")
    qtbot.keyClicks(dialog.new_password_again, "short")
    submit(qtbot, dialog)
    assert "at least 8" in dialog.error.text() and dialog.isVisible()

    dialog.new_password.clear()
    dialog.new_password_again.clear()
    qtbot.keyClicks(dialog.new_password, "nora's words")
    qtbot.keyClicks(dialog.new_password_again, "nora's words")
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.user is not None and dialog.user.id == nora.id
    assert services.users.authenticate("nora", "nora's words").name == "Nora New"
    assert LocalConfig.load(config_file).last_username == "nora"
    assert [e.username for e in services.audit.entries(demo_actor, action="user.password")] == [
        "nora"]


def test_a_setup_code_typed_as_the_password_leads_to_choosing_one(
        qtbot: QtBot, services: Services, demo_actor: Actor, tmp_path: Path) -> None:
    code = _add_nora(qtbot, services, demo_actor)
    dialog = SignInDialog(services.users, LocalConfig(), tmp_path / "c.json", username="nora")
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    qtbot.keyClicks(dialog.password, code)
    submit(qtbot, dialog)
    assert dialog.new_password.isVisible() and dialog.setup_code.text() == code
    assert dialog.user is None

    # changing one's mind: back to the password field
    qtbot.mouseClick(dialog.first_sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.password.isVisible() and not dialog.setup_code.isVisible()
    dialog.username.setText("sam")
    qtbot.keyClicks(dialog.password, DEMO_PASSWORD)
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.user is not None and dialog.user.username == "sam"
    assert not services.users.get("nora").has_password
