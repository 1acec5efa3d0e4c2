"""Export conversation… (docs/conversations.md): a case's texts as a PDF drawn with Qt's own
QTextDocument and QPdfWriter (no other PDF library), for the client file.

The page holds the office, case number and client, the date range, then every text in order
with direction, number, author, local time with its zone, status, images at a reduced size,
and withdrawn / set-aside marks; QTextDocument.print_ numbers the pages. Client text is
escaped: it is always shown as typed, never as markup. Needs a Q(Gui)Application; the command
line makes an offscreen one.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QSizeF, Qt, QUrl
from PySide6.QtGui import QAction, QImage, QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import Actor
from desktop_sms.services.conversation_export import (
    ConversationExport,
    conversation_export,
    require_sms_user,
    save_export_document,
)
from desktop_sms.services.conversations import ReplyTarget
from desktop_sms.ui.widgets.error_label import ErrorLabel
from desktop_sms.ui.widgets.sms_log_widget import STATUS_TEXT

if TYPE_CHECKING:
    from desktop_sms.services.container import Services
    from desktop_sms.ui.windows.main_window import MainWindow
    from desktop_sms.ui.windows.matter_view import MatterView

IMAGE_MAX_PX = 240  # longest side of an image in the PDF, in document pixels


def local_stamp(at: datetime) -> str:
    """'2026-03-02 10:05 EST': the desktop's local time with its zone's name."""
    local = at.astimezone()
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or local.strftime('%z')}"


def _text(value: str) -> str:
    return html.escape(value).replace("\n", "<br>")


def conversation_html(export: ConversationExport, doc: QTextDocument) -> str:
    """The export as QTextDocument HTML; images become resources of doc."""
    if export.since or export.until:
        since = local_stamp(export.since) if export.since else "the first text"
        until = local_stamp(export.until) if export.until else "the last text"
        span = f"From {since} to {until}"
    else:
        span = "All texts"
    parts = [
        f"<h2>Text messages — case {_text(export.case_number)}</h2>",
        f"<p><b>Client:</b> {_text(export.client_name)}<br>",
        f"<b>Office number:</b> {_text(', '.join(export.office_numbers) or 'not set')}<br>",
        f"<b>Range:</b> {_text(span)}<br>",
        f"<b>Exported:</b> {_text(local_stamp(export.generated_at))} · "
        f"{len(export.items)} text{'s' if len(export.items) != 1 else ''}</p><hr>",
    ]
    if not export.items:
        parts.append("<p><i>No texts in this range.</i></p>")
    image_no = 0
    for item in export.items:
        outbound = item.direction == "outbound"
        who = (f"Sent to {item.number}" + (f" by {item.author}" if item.author else "")
               if outbound else f"Received from {item.number}")
        status = STATUS_TEXT.get(item.status, item.status)
        marks = []
        if item.withdrawn:
            marks.append("WITHDRAWN from this case")
        if item.reason:
            marks.append(item.reason)
        head = f"<b>{_text(local_stamp(item.at))}</b> · {_text(who)} · {_text(status)}"
        if marks:
            head += f" · <i>{_text(' · '.join(marks))}</i>"
        colour = "#eef4fc" if outbound else "#ffffff"
        body = _text(item.body) if item.body else "<i>(no text)</i>"
        parts.append(f'<table width="100%" cellpadding="6" style="background:{colour};'
                     f'border:1px solid #cccccc; margin-top:6px"><tr><td>'
                     f'<p style="color:#444444; font-size:9pt">{head}</p><p>{body}</p>')
        for image in item.images:
            picture = QImage.fromData(image.data)
            if picture.isNull():
                parts.append("<p><i>(an image that could not be read)</i></p>")
                continue
            image_no += 1
            name = f"image://{item.id}-{image_no}"
            doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), picture)
            scale = min(1.0, IMAGE_MAX_PX / max(picture.width(), picture.height()))
            parts.append(f'<p><img src="{name}" width="{max(1, int(picture.width() * scale))}" '
                         f'height="{max(1, int(picture.height() * scale))}"></p>')
        for line in item.set_aside:
            parts.append(f"<p><i>{_text(line)}</i></p>")
        parts.append("</td></tr></table>")
    return "".join(parts)


def render_pdf(export: ConversationExport) -> bytes:
    """The export as PDF bytes (A4/Letter by the desktop's locale is not guessed: Letter)."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setTitle(f"Text messages — case {export.case_number}")
    writer.setCreator("Desktop SMS")
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.Letter),
                                     QPageLayout.Orientation.Portrait,
                                     QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter))
    doc = QTextDocument()
    doc.setDefaultFont(doc.defaultFont())
    doc.setHtml(conversation_html(export, doc))
    doc.setPageSize(QSizeF())  # unset: print_ lays out on the page and numbers the pages
    doc.print_(writer)
    del writer  # finishes the PDF
    buffer.close()
    return bytes(data.data())


def export_to_file(services: Services, actor: Actor, case_number: str, path: Path,
                   since: datetime | None = None, until: datetime | None = None) -> int:
    """Write a case's conversation to path as PDF for the actor (who needs SMS access on the
    stored user row); returns the number of texts."""
    require_sms_user(services.db, actor, "export conversations")
    export = conversation_export(services.db, str(services.settings.get("default_region")),
                                 list(services.settings.get("office_numbers") or []),
                                 case_number, since, until, services.clock)
    path.write_bytes(render_pdf(export))
    return len(export.items)


class ExportDialog(QDialog):
    """Export conversation…: a date range, a file, and whether to file it on the case."""

    def __init__(self, window: MainWindow, target: ReplyTarget,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle(f"Export conversation — {target.case_number}")
        self._window = window
        self.target = target
        self.saved_path: Path | None = None
        self.document_id: int | None = None
        self.range_check = QCheckBox("Only texts from")
        self.from_edit = QDateEdit()
        self.to_edit = QDateEdit()
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setDate(edit.date().currentDate())
            edit.setEnabled(False)
        self.range_check.toggled.connect(self.from_edit.setEnabled)
        self.range_check.toggled.connect(self.to_edit.setEnabled)
        self.path_edit = QLineEdit(str(Path.home() / f"{target.case_number} texts.pdf"))
        self.path_edit.setAccessibleName("Save as")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.file_check = QCheckBox("Also file it as a document of the case (Correspondence)")
        self.file_check.setChecked(True)
        self.error = ErrorLabel()
        row = QHBoxLayout()
        row.addWidget(self.range_check)
        row.addWidget(self.from_edit)
        row.addWidget(self.to_edit)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Dates", row)
        form.addRow("Save as", path_row)
        form.addRow("", self.file_check)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.export)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export conversation", self.path_edit.text(),
                                              "PDF (*.pdf)")
        if path:
            self.path_edit.setText(path)

    def export(self) -> None:
        """Read the texts on the runner, draw the PDF here (Qt painting), then write the file
        and the case document on the runner."""
        from desktop_sms.ui.windows.sent_page import local_day_start

        services = self._window.services
        since = until = None
        if self.range_check.isChecked():
            since = local_day_start(self.from_edit.date())
            until = local_day_start(self.to_edit.date().addDays(1))
        path = Path(self.path_edit.text().strip())
        if not path.name:
            self.error.show_error("Choose where to save the PDF.")
            return
        self.buttons.setEnabled(False)
        case_number = self.target.case_number

        def read() -> ConversationExport:
            return conversation_export(services.db, str(services.settings.get("default_region")),
                                       list(services.settings.get("office_numbers") or []),
                                       case_number, since, until, services.clock)

        self._window.runner.run(read, on_success=lambda exp: self._draw(exp, path),
                                on_failure=self._failed)

    def _draw(self, export: ConversationExport, path: Path) -> None:
        pdf = render_pdf(export)
        services, actor = self._window.services, self._window.actor
        file_it = self.file_check.isChecked()

        def write() -> int | None:
            path.write_bytes(pdf)
            if file_it:
                return save_export_document(services.db, actor, export.matter_id, path.name,
                                            pdf, services.clock)
            return None

        self._window.runner.run(write, on_success=lambda doc_id: self._done(path, doc_id),
                                on_failure=self._failed)

    def _done(self, path: Path, document_id: int | None) -> None:
        self.saved_path = path
        self.document_id = document_id
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.error.show_error(f"The conversation could not be exported: {exc}")


def export_headless(services: Services, actor: Actor, case_number: str, path: Path,
                    since: datetime | None = None, until: datetime | None = None) -> int:
    """`export_to_file` from the command line: starts an offscreen QGuiApplication when no Qt
    application runs (Qt's PDF writer needs one). Returns the number of texts written."""
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(["desktop-sms", "-platform",
                                                         "offscreen"])
    try:
        return export_to_file(services, actor, case_number, path, since, until)
    finally:
        del app


def add_export_action(window: MainWindow, view: MatterView) -> QAction:
    """Actions → Export conversation… on a matter window."""
    action = QAction("Export conversation…", view)
    action.setObjectName("exportAction")

    def open_dialog() -> None:
        detail = view.detail
        if detail is None:
            return
        dialog = ExportDialog(window, ReplyTarget(view.matter_id, detail.case_number,
                                                  detail.client_name), parent=view)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: _refresh_documents(window, view.matter_id))
        view.export_dialog = dialog  # type: ignore[attr-defined]
        dialog.open()

    action.triggered.connect(open_dialog)
    view.actions_menu.addAction(action)
    view.export_action = action  # type: ignore[attr-defined]
    return action


def _refresh_documents(window: MainWindow, matter_id: int) -> None:
    from desktop_sms.ui.inbound_integration import inbound_integration_of

    integration = inbound_integration_of(window)
    if integration is not None:
        integration.refresh_matters([matter_id])
