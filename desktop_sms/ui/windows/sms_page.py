"""The SMS page of the main window: one tab widget the SMS features share (Queue, Received …).

Each feature asks for the page with ``sms_page_for(window)`` (created and installed once) and
adds its tab with ``add_tab(name, widget)``; no feature needs to know which others exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop_sms.ui.widgets.named_tabs import NamedTabs

if TYPE_CHECKING:
    from desktop_sms.ui.windows.main_window import MainWindow

PAGE_NAME = "SMS"


class SmsPage(QWidget):
    """The "SMS" page: a heading over tabs that SMS features add."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("smsPage")
        heading = QLabel("SMS")
        heading.setObjectName("pageHeading")
        self.tabs = NamedTabs()
        self.tabs.setAccessibleName("SMS")
        self.tabs.setObjectName("smsTabs")
        self.tabs.setDocumentMode(True)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.tabs, 1)

    def add_tab(self, name: str, widget: QWidget) -> None:
        """Put widget in the named tab (replacing its placeholder), or add a new tab."""
        self.tabs.put(name, widget)

    def tab(self, name: str) -> QWidget | None:
        """The widget of a tab, or None."""
        return self.tabs.named(name)

    def tab_index(self, name: str) -> int:
        """The index of a tab by its name, or -1."""
        return self.tabs.index_of(name)

    def tab_names(self) -> list[str]:
        """The tabs, in order."""
        return self.tabs.names()

    def show_tab(self, name: str) -> None:
        """Make the named tab current."""
        self.tabs.show_named(name)


def sms_page_for(window: MainWindow) -> SmsPage:
    """The window's SMS page, created and installed as the "SMS" page on first use."""
    page = window.page(PAGE_NAME)
    if isinstance(page, SmsPage):
        return page
    page = SmsPage()
    window.set_page(PAGE_NAME, page)
    return page
