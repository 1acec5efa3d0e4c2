"""What every Preferences page shares: an error line, read-only mode, and saving its settings."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.settings import SettingsService
from desktop_sms.ui.widgets.error_label import ErrorLabel

Getter = Callable[[], str]
Setter = Callable[[str], None]


def note_label(text: str, object_name: str = "preferencesNote") -> QLabel:
    """A grey, wrapped, plain-text explanation under a setting."""
    label = QLabel(text)
    label.setObjectName(object_name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setStyleSheet("color: #5f6368;")
    return label


class PreferencesPage(QWidget):
    """One page: its widgets, an error line at the top, and `save()` returning refusals."""

    title = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.error = ErrorLabel()
        self._inputs: list[QWidget] = []
        self._outer = QVBoxLayout(self)
        self._outer.addWidget(self.error)
        self.body = QVBoxLayout()
        self._outer.addLayout(self.body)
        self._outer.addStretch(1)

    def editable_widget(self, widget: QWidget) -> QWidget:
        """Register a widget that only an administrator may change."""
        self._inputs.append(widget)
        return widget

    def load(self) -> None:
        """Show what is stored (each page fills this in)."""

    def set_editable(self, editable: bool) -> None:
        """Enable or disable every input (staff see the page read-only)."""
        for widget in self._inputs:
            widget.setEnabled(editable)

    def is_dirty(self) -> bool:
        """True when something on the page differs from what is stored."""
        return False

    def save(self, actor: Actor) -> list[str]:
        """Store what changed; returns the refusals (sentences), empty when all went well."""
        return []


class SettingsPage(PreferencesPage):
    """A page whose inputs are office settings, saved one by one through SettingsService.set."""

    def __init__(self, settings: SettingsService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self._fields: dict[str, tuple[Getter, Setter]] = {}
        self._loaded: dict[str, str] = {}

    def bind(self, key: str, getter: Getter, setter: Setter) -> None:
        """Tie a setting to the widget functions that read and show its raw text."""
        self._fields[key] = (getter, setter)

    def load(self) -> None:
        """Show the stored values."""
        for key, (_get, show) in self._fields.items():
            raw = self.settings.raw(key)
            self._loaded[key] = raw
            show(raw)

    def changes(self) -> dict[str, str]:
        """The settings whose input differs from the stored text: key → new raw text."""
        out: dict[str, str] = {}
        for key, (read, _show) in self._fields.items():
            value = read()
            if value != self._loaded.get(key):
                out[key] = value
        return out

    def is_dirty(self) -> bool:
        return bool(self.changes())

    def save(self, actor: Actor) -> list[str]:
        errors: list[str] = []
        for key, raw in self.changes().items():
            try:
                self.settings.set(actor, key, raw)
            except ServiceError as exc:
                errors.append(str(exc))  # the input stays as typed, to be corrected
                continue
            stored = self.settings.raw(key)
            self._loaded[key] = stored
            self._fields[key][1](stored)  # show the normalised form (e.g. +1 numbers)
        return errors
