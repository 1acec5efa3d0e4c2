"""The application's look: the light style sheet, unless the system palette is dark."""

from __future__ import annotations

import logging

from PySide6.QtGui import QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from desktop_sms.resources import asset_path, read_text

log = logging.getLogger(__name__)


def palette_is_dark(app: QGuiApplication) -> bool:
    """True when the system (dark mode) gives a dark window colour."""
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def apply_style(app: QApplication) -> bool:
    """Apply assets/style.qss in light mode; returns whether it was applied."""
    if palette_is_dark(app):
        log.info("dark palette: keeping the system style")
        return False
    try:
        app.setStyleSheet(read_text("style.qss"))
    except OSError as exc:
        log.warning("style sheet not loaded: %s", exc)
        return False
    return True


def app_icon() -> QIcon:
    """The application icon (a speech bubble)."""
    return QIcon(str(asset_path("icon.png")))
