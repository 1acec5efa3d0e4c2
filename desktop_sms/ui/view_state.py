"""What a person arranged is kept between sessions: the main window's size and position, each
table's column widths and sort order, and the page last shown (QSettings, per desktop).

The settings are an INI file beside this desktop's configuration (the folder of
desktop_sms/services/local_config.py config_path(), so DESKTOP_SMS_CONFIG_DIR moves it too);
nothing here touches the database. Keys: "mainWindow/geometry", "mainWindow/page",
"tables/<name>/header".
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QHeaderView, QWidget

from desktop_sms.services.local_config import config_path

STATE_FILE = "window_state.ini"


def ui_settings() -> QSettings:
    """The QSettings holding this desktop's window and table state (an INI file)."""
    return QSettings(str(config_path().parent / STATE_FILE), QSettings.Format.IniFormat)


def save_geometry(widget: QWidget, name: str) -> None:
    """Remember a window's size and position (and maximized state)."""
    ui_settings().setValue(f"{name}/geometry", widget.saveGeometry())


def restore_geometry(widget: QWidget, name: str) -> bool:
    """Put a window back where it was; False when nothing was kept (or it was unreadable)."""
    value = ui_settings().value(f"{name}/geometry")
    return isinstance(value, QByteArray) and widget.restoreGeometry(value)


def save_value(key: str, value: str) -> None:
    """Remember one string (e.g. the page last shown)."""
    ui_settings().setValue(key, value)


def load_value(key: str) -> str:
    """A string kept by save_value, or ''."""
    value = ui_settings().value(key)
    return value if isinstance(value, str) else ""


def remember_header(header: QHeaderView, name: str) -> bool:
    """Restore a table header's column widths and sort indicator, and keep them as they change.

    Call after the columns exist; the header's state is saved whenever a column is resized or
    the sort order changes. Returns True when a kept state was restored.
    """
    key = f"tables/{name}/header"
    value = ui_settings().value(key)
    restored = isinstance(value, QByteArray) and header.restoreState(value)

    def save(*_args: object) -> None:
        ui_settings().setValue(key, header.saveState())

    header.sectionResized.connect(save)
    header.sortIndicatorChanged.connect(save)
    return restored
