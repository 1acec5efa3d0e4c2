"""Every control a keyboard can reach has a name a screen reader says (the accessible name
Qt exposes: an accessibleName, a button's text or a buddy label), in the main window's pages,
the compose dialog and every page of Preferences; Tab moves through them in reading order."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QWidget
from pytestqt.qtbot import QtBot

from desktop_sms.services.container import Services
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import Office
from tests.test_ui_compose import open_compose
from tests.test_ui_preferences import add_admin, open_preferences


def spoken_name(widget: QWidget) -> str:
    """What assistive technology reads for a widget (Qt's accessible Name)."""
    iface = QAccessible.queryAccessibleInterface(widget)
    return iface.text(QAccessible.Text.Name).strip() if iface is not None else ""


def unnamed(root: QWidget) -> list[str]:
    """The visible, enabled, Tab-reachable widgets under root that have no spoken name.

    The editor inside a spin box or an editable combo box is spoken as its owner, so it is
    judged by the owner's name."""
    missing = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not (widget.isVisible() and widget.isEnabled()
                and widget.focusPolicy() & Qt.FocusPolicy.TabFocus):
            continue
        owner = widget.parentWidget()
        judged = owner if isinstance(owner, (QAbstractSpinBox, QComboBox)) else widget
        if not spoken_name(judged):
            missing.append(f"{type(widget).__name__} {widget.objectName()!r} in "
                           f"{type(owner).__name__}")
    return missing


def test_every_page_of_the_main_window_names_its_controls(
        qtbot: QtBot, main_window: MainWindow) -> None:
    for page in main_window.page_names():
        main_window.show_page(page)
        assert unnamed(main_window) == [], page


def test_the_compose_dialog_names_its_controls_in_reading_order(
        qtbot: QtBot, window: MainWindow, ui_office: Office) -> None:
    dialog = open_compose(qtbot, window, ui_office.matter_id)
    assert unnamed(dialog) == []
    # Tab from To reaches the message box before the Send button (reading order).
    order = []
    widget = dialog.to_combo.lineEdit() or dialog.to_combo
    for _ in range(40):
        widget = widget.nextInFocusChain()
        if widget.isVisible() and widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
            order.append(widget)
        if widget is dialog.send_button:
            break
    assert dialog.body_edit in order and dialog.send_button in order
    assert order.index(dialog.body_edit) < order.index(dialog.send_button)


def test_every_preferences_page_names_its_controls(qtbot: QtBot, services: Services) -> None:
    dialog = open_preferences(qtbot, services, add_admin(services))
    for i in range(dialog.nav.count()):
        title = dialog.nav.item(i).text()
        dialog.show_page(title)
        assert unnamed(dialog) == [], title
