"""A tab widget whose tabs are found and replaced by name (the hooks later features plug into)."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QWidget


def tab_label(name: str) -> str:
    """A tab title that shows '&' instead of turning it into a keyboard mnemonic."""
    return name.replace("&", "&&")


class NamedTabs(QTabWidget):
    """Tabs addressed by their names: put a widget in a named tab, find it, show it."""

    def put(self, name: str, widget: QWidget) -> None:
        """Put widget in the named tab (replacing the one there, kept in place), or add a tab."""
        index = self.index_of(name)
        if index < 0:
            self.addTab(widget, tab_label(name))
            return
        old = self.widget(index)
        current = self.currentIndex()
        self.removeTab(index)
        self.insertTab(index, widget, tab_label(name))
        self.setCurrentIndex(current)
        if old is not None and old is not widget:
            old.deleteLater()

    def named(self, name: str) -> QWidget | None:
        """The widget of a tab, or None."""
        index = self.index_of(name)
        return self.widget(index) if index >= 0 else None

    def index_of(self, name: str) -> int:
        """The index of a tab by its name, or -1."""
        names = self.names()
        return names.index(name) if name in names else -1

    def names(self) -> list[str]:
        """The tabs' names, in order."""
        return [self.tabText(i).replace("&&", "&") for i in range(self.count())]

    def show_named(self, name: str) -> None:
        """Make the named tab current; KeyError when there is none."""
        index = self.index_of(name)
        if index < 0:
            raise KeyError(name)
        self.setCurrentIndex(index)
