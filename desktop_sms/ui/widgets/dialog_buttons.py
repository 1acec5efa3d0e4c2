"""The OK / Cancel row every form dialog ends with, OK renamed to say what it does."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPushButton


def action_buttons(dialog: QDialog, ok_text: str,
                   on_ok: Callable[[], object]) -> tuple[QDialogButtonBox, QPushButton]:
    """An OK/Cancel box: OK reads `ok_text` and calls `on_ok`, Cancel rejects the dialog."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel)
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    ok.setText(ok_text)
    buttons.accepted.connect(on_ok)
    buttons.rejected.connect(dialog.reject)
    return buttons, ok
