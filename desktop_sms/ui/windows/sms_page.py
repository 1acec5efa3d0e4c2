"""The SMS page of the main window: one tab widget the SMS features share (Queue, Received …).

Each feature asks for the page with ``sms_page_for(window)`` (created and installed once) and
adds its tab with ``add_tab(name, widget)``; no feature needs to know which others exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from desktop_sms.ui.windows.main_window import MainWindow

PAGE_NAME = "SMS"


def _tab_label(name: str) -> str:
    """A tab title that shows '&' instead of turning it into a keyboard mnemonic."""
    return name.replace("&", "&&")


class SmsPage(QWidget):
    """The "SMS" page: a heading over tabs that SMS features add."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("smsPage")
        heading = QLabel("SMS")
        heading.setObjectName("pageHeading")
        self.tabs = QTabWidget()
        self.tabs.setObjectName("smsTabs")
        self.tabs.setDocumentMode(True)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.tabs, 1)

    def add_tab(self, name: str, widget: QWidget) -> None:
        """Show widget in the named tab, replacing an earlier one of that name, or add the tab."""
        index = self.tab_index(name)
        if index < 0:
            self.tabs.addTab(widget, _tab_label(name))
            return
        old = self.tabs.widget(index)
        current = self.tabs.currentIndex()
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, widget, _tab_label(name))
        self.tabs.setCurrentIndex(current)
        if old is not None and old is not widget:
            old.deleteLater()

    def tab(self, name: str) -> QWidget | None:
        """The widget of a tab, or None."""
        index = self.tab_index(name)
        return self.tabs.widget(index) if index >= 0 else None

    def tab_index(self, name: str) -> int:
        """The index of a tab by name, or -1."""
        names = self.tab_names()
        return names.index(name) if name in names else -1

    def tab_names(self) -> list[str]:
        """The tabs, in order."""
        return [self.tabs.tabText(i).replace("&&", "&") for i in range(self.tabs.count())]

    def show_tab(self, name: str) -> None:
        """Make the named tab current."""
        index = self.tab_index(name)
        if index < 0:
            raise KeyError(name)
        self.tabs.setCurrentIndex(index)


def sms_page_for(window: MainWindow) -> SmsPage:
    """The window's SMS page, created and installed as the "SMS" page on first use."""
    page = window.page(PAGE_NAME)
    if isinstance(page, SmsPage):
        return page
    page = SmsPage()
    window.set_page(PAGE_NAME, page)
    return page
