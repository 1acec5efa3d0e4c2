"""A matter's Documents tab (docs/product.md F7): documents by folder, image preview, Save as….

Also the small pieces the notes and the SMS log share: image thumbnails built from stored
bytes, and a "file chip" for attachments that are never opened automatically.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStyle,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from desktop_sms.services.received import DocumentInfo, ReceivedLog
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.thumbnails import CACHE, Thumbnail, to_pixmap
from desktop_sms.ui.widgets.notes_pane import local_time

log = logging.getLogger(__name__)

THUMBNAIL_SIZE = QSize(160, 120)
PREVIEW_SIZE = QSize(420, 420)
ATTACHMENTS_FOLDER = "SMS Attachments"
DOC_ROLE = Qt.ItemDataRole.UserRole + 1


# --- shared helpers ----------------------------------------------------------------------
def widget_alive(obj: QObject) -> bool:
    """False once Qt has deleted the object (a result may arrive after its window closed)."""
    return isValid(obj)


def human_size(size: int) -> str:
    """'512 bytes', '12.3 KB', '4.0 MB'."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def scaled_pixmap(data: bytes, size: QSize = THUMBNAIL_SIZE) -> QPixmap | None:
    """The image in data scaled to fit size, or None when it does not decode.

    Decodes on the calling thread with no pixel cap: only for small images already in hand.
    Thumbnails of stored images go through desktop_sms/ui/thumbnails.py on the runner.
    """
    pixmap = QPixmap()
    if not pixmap.loadFromData(data) or pixmap.isNull():
        return None
    if pixmap.width() > size.width() or pixmap.height() > size.height():
        pixmap = pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                               Qt.TransformationMode.SmoothTransformation)
    elif pixmap.width() < 48 and pixmap.height() < 48:
        # A tiny image (1×1 pixel, an icon) is enlarged so there is something to see.
        pixmap = pixmap.scaled(QSize(48, 48), Qt.AspectRatioMode.KeepAspectRatio,
                               Qt.TransformationMode.FastTransformation)
    return pixmap


def thumbnail_label(data: bytes, name: str, size: QSize = THUMBNAIL_SIZE) -> QLabel | None:
    """A label showing an image thumbnail (accessible name = the document's name)."""
    pixmap = scaled_pixmap(data, size)
    if pixmap is None:
        return None
    label = QLabel()
    label.setObjectName("thumbnail")
    label.setPixmap(pixmap)
    label.setAccessibleName(f"Image {name}")
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    return label


def image_placeholder(sentence: str, name: str) -> QLabel:
    """A plain-text label standing in for an image that is not shown (too large, unreadable)."""
    label = QLabel(sentence)
    label.setObjectName("imagePlaceholder")
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setMaximumWidth(THUMBNAIL_SIZE.width() + 80)
    label.setStyleSheet("QLabel#imagePlaceholder { color: #52606d; border: 1px dashed #9aa5b1;"
                        " padding: 6px; }")
    label.setAccessibleName(f"Image {name} not shown")
    return label


def load_preview(received: ReceivedLog, document_id: int, size: QSize = PREVIEW_SIZE) -> Thumbnail:
    """A document's image decoded at preview size (on the runner; cached)."""
    return CACHE.get(("document", document_id), size, lambda: received.document_data(document_id))


def file_chip(name: str, size: int, content_type: str,
              on_click: Callable[[], Any] | None = None) -> QToolButton:
    """A button naming an attachment (name · size); clicking offers Save as…, never opens it."""
    chip = QToolButton()
    chip.setObjectName("fileChip")
    chip.setText(f"{name} · {human_size(size)}".replace("&", "&&"))  # no mnemonics
    chip.setIcon(chip.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon))
    chip.setAccessibleName(f"Attachment {name}, {human_size(size)}, {content_type}")
    chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    chip.setAutoRaise(True)
    if on_click is not None:
        chip.clicked.connect(lambda: on_click())
    return chip


def save_document_as(parent: QWidget, received: ReceivedLog, runner: TaskRunner,
                     doc: DocumentInfo,
                     on_saved: Callable[[Path], Any] | None = None) -> QFileDialog:
    """Ask where to save a document (non-blocking) and write its bytes there on a worker."""
    dialog = QFileDialog(parent, f"Save {doc.name} as", str(Path.home() / doc.name))
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def chosen(path: str) -> None:
        runner.run(write_document, received, doc.id, Path(path),
                   on_success=lambda p: on_saved(p) if on_saved else None)

    dialog.fileSelected.connect(chosen)
    dialog.open()
    return dialog


def write_document(received: ReceivedLog, document_id: int, path: Path) -> Path:
    """Write a document's bytes to path (off the GUI thread); returns the path."""
    path.write_bytes(received.document_data(document_id))
    log.info("document %s saved", document_id)
    return path


# --- the Documents tab -------------------------------------------------------------------
class DocumentsPane(QWidget):
    """A matter's documents grouped by folder; images preview; Save as… writes a copy."""

    refreshed = Signal()
    saved = Signal(str)  # the path written

    def __init__(self, received: ReceivedLog, runner: TaskRunner, matter_id: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("documentsPane")
        self._received = received
        self._runner = runner
        self.matter_id = matter_id
        self._generation = 0
        self._documents: list[DocumentInfo] = []
        self.save_dialog: QFileDialog | None = None

        self.tree = QTreeWidget()
        self.tree.setAccessibleName("Documents")
        self.tree.setHeaderLabels(["Name", "Type", "Size", "Date"])
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemDoubleClicked.connect(lambda *_: self.save_selected_as())

        self.preview = QLabel("Select a document to preview it.")
        self.preview.setObjectName("documentPreview")
        self.preview.setTextFormat(Qt.TextFormat.PlainText)
        self.preview.setWordWrap(True)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumWidth(220)
        self.save_button = QPushButton("Save as…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save_selected_as)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)

        right = QWidget()
        right_col = QVBoxLayout(right)
        right_col.addWidget(self.preview, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        right_col.addLayout(buttons)

        splitter = QSplitter()
        splitter.addWidget(self.tree)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([540, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)
        self.refresh()

    # --- loading -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the matter's documents again (on the runner)."""
        self._generation += 1
        generation = self._generation
        self._runner.run(self._received.matter_documents, self.matter_id,
                         on_success=lambda docs: self._loaded(generation, docs),
                         on_failure=lambda exc: self._failed(generation, exc))

    def _loaded(self, generation: int, docs: list[DocumentInfo]) -> None:
        if not widget_alive(self) or generation != self._generation:
            return
        self.set_documents(docs)
        self.refreshed.emit()

    def _failed(self, generation: int, exc: BaseException) -> None:
        if widget_alive(self) and generation == self._generation:
            self.status.setText(f"The documents could not be read: {exc}")
            self.refreshed.emit()

    def set_documents(self, docs: list[DocumentInfo]) -> None:
        """Show these documents, grouped by folder (SMS Attachments first)."""
        selected = self.selected_document()
        self._documents = list(docs)
        self.tree.clear()
        folders: dict[str, QTreeWidgetItem] = {}
        order = sorted({d.folder for d in docs}, key=lambda f: (f != ATTACHMENTS_FOLDER, f))
        for folder in order:
            item = QTreeWidgetItem([folder])
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            folders[folder] = item
            self.tree.addTopLevelItem(item)
        for d in docs:
            kind = "file, not opened automatically" if d.opaque else d.content_type
            child = QTreeWidgetItem([d.name, kind, human_size(d.size), local_time(d.created_at)])
            child.setToolTip(1, d.content_type)
            child.setData(0, DOC_ROLE, d)
            folders[d.folder].addChild(child)
            if selected is not None and d.id == selected.id:
                self.tree.setCurrentItem(child)
        self.tree.expandAll()
        for column in range(4):
            self.tree.resizeColumnToContents(column)
        self.status.setText("No documents on this case yet." if not docs
                            else f"{len(docs)} document{'s' if len(docs) != 1 else ''}")
        if self.selected_document() is None:
            self._show_preview(None)

    # --- queries for callers and tests ---------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        """The documents shown."""
        return list(self._documents)

    def folders(self) -> list[str]:
        """The folder headings shown, in order."""
        return [self.tree.topLevelItem(i).text(0) for i in range(self.tree.topLevelItemCount())]

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """(folder, name, type, size, date) of each document as displayed."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            folder = self.tree.topLevelItem(i)
            for j in range(folder.childCount()):
                c = folder.child(j)
                out.append((folder.text(0), c.text(0), c.text(1), c.text(2), c.text(3)))
        return out

    def selected_document(self) -> DocumentInfo | None:
        """The document selected, if any."""
        item = self.tree.currentItem()
        doc = item.data(0, DOC_ROLE) if item is not None else None
        return doc if isinstance(doc, DocumentInfo) else None

    def select_document(self, document_id: int) -> bool:
        """Select a document by id; False when it is not listed."""
        for i in range(self.tree.topLevelItemCount()):
            folder = self.tree.topLevelItem(i)
            for j in range(folder.childCount()):
                doc = folder.child(j).data(0, DOC_ROLE)
                if isinstance(doc, DocumentInfo) and doc.id == document_id:
                    self.tree.setCurrentItem(folder.child(j))
                    return True
        return False

    # --- preview and saving --------------------------------------------------------------
    def _on_current(self, *_: Any) -> None:
        doc = self.selected_document()
        self.save_button.setEnabled(doc is not None)
        self._show_preview(doc)

    def _show_preview(self, doc: DocumentInfo | None) -> None:
        self.preview.clear()
        if doc is None:
            self.preview.setText("Select a document to preview it.")
            return
        if not doc.is_image:
            self.preview.setText(f"{doc.name}\n{doc.content_type}, {human_size(doc.size)}\n\n"
                                 "No preview. Use Save as… to keep a copy.")
            return
        self.preview.setText("Loading preview…")
        doc_id = doc.id
        self._runner.run(load_preview, self._received, doc_id,
                         on_success=lambda thumb: self._preview_loaded(doc_id, thumb),
                         on_failure=lambda exc: self._preview_loaded(doc_id, None))

    def _preview_loaded(self, doc_id: int, thumb: Thumbnail | None) -> None:
        if not widget_alive(self):
            return
        current = self.selected_document()
        if current is None or current.id != doc_id:
            return
        pixmap = to_pixmap(thumb)
        if pixmap is None:
            why = thumb.refusal if thumb is not None and thumb.refusal else \
                "The image could not be shown."
            self.preview.setText(f"{current.name}\n{why}")
        else:
            self.preview.setPixmap(pixmap)
            self.preview.setAccessibleName(f"Preview of {current.name}")

    def preview_has_image(self) -> bool:
        """True when the preview shows a picture."""
        pixmap = self.preview.pixmap()
        return pixmap is not None and not pixmap.isNull()

    def save_selected_as(self) -> QFileDialog | None:
        """Save as… for the selected document (non-blocking file dialog)."""
        doc = self.selected_document()
        if doc is None:
            return None
        self.save_dialog = save_document_as(self, self._received, self._runner, doc,
                                            self._on_saved)
        return self.save_dialog

    def save_to(self, path: str | Path, document_id: int | None = None) -> None:
        """Write the selected (or given) document to path on the runner; `saved` follows."""
        doc_id = document_id
        if doc_id is None:
            doc = self.selected_document()
            if doc is None:
                raise ValueError("No document is selected.")
            doc_id = doc.id
        self._runner.run(write_document, self._received, doc_id, Path(path),
                         on_success=self._on_saved,
                         on_failure=lambda exc: self._on_save_failed(exc))

    def _on_saved(self, path: Path) -> None:
        if widget_alive(self):
            self.status.setText(f"Saved {path.name}.")
            self.saved.emit(str(path))

    def _on_save_failed(self, exc: BaseException) -> None:
        if widget_alive(self):
            self.status.setText(f"The document could not be saved: {exc}")
