"""A desktop notification (system tray) when a reply is filed on one of the user's cases."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QSystemTrayIcon, QWidget

from desktop_sms.services.container import Services
from desktop_sms.ui.theme import app_icon

log = logging.getLogger(__name__)


class TrayNotifier:
    """Shows "New reply on case …" for matters whose alerts the signed-in user sees."""

    def __init__(self, window: QWidget, services: Services) -> None:
        self.services = services
        self.user_id = getattr(getattr(window, "actor", None), "user_id", None)
        self.last_message: str | None = None  # what was last announced (tests read it)
        self.icon: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.icon = QSystemTrayIcon(app_icon(), window)
            self.icon.setToolTip("Desktop SMS")
            self.icon.show()

    def notify(self, report: object) -> None:
        """Called on the GUI thread after a poll filed replies."""
        matter_ids = list(getattr(report, "filed_matter_ids", []) or [])
        if self.user_id is None or not matter_ids:
            return
        mine = self.services.inbound.alerts.matters_for_user(self.user_id, matter_ids)
        if not mine:
            return
        numbers = []
        for matter_id in mine[:3]:
            try:
                numbers.append(self.services.matters.detail(matter_id).case_number)
            except Exception:  # the matter vanished meanwhile: nothing to announce for it
                continue
        if not numbers:
            return
        more = f" and {len(mine) - len(numbers)} more" if len(mine) > len(numbers) else ""
        lead = "New reply on case " if len(mine) == 1 else "New replies on cases "
        self.last_message = lead + ", ".join(numbers) + more
        if self.icon is not None:
            self.icon.showMessage("Desktop SMS", self.last_message,
                                  QSystemTrayIcon.MessageIcon.Information, 8000)
