"""A matter's Notes tab (docs/product.md F7): notes newest first, a reply's photos as thumbnails.

Note text is client text: it goes into plain-text labels only. Attachments that are not
checked images are shown as a file chip (name and size) and never opened automatically.
Drop-in for the matter view's NotesPane: it has the same `set_notes` and `plain_text`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.db.database import Database
from desktop_sms.services.notes import NoteRow, list_notes
from desktop_sms.services.received import DocumentInfo, ReceivedLog
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.thumbnails import CACHE, Thumbnail, to_pixmap
from desktop_sms.ui.widgets.documents_pane import (
    THUMBNAIL_SIZE,
    file_chip,
    image_placeholder,
    save_document_as,
    widget_alive,
)
from desktop_sms.ui.widgets.notes_pane import local_time

THUMBNAIL_BYTES_CAP = 8 * 1024 * 1024  # bigger images are listed as a chip, not decoded
WITHDRAWN = "withdrawn"


@dataclass
class NotesSnapshot:
    """What one load read: the notes and, per note, its documents with image bytes."""

    notes: list[NoteRow]
    documents: dict[int, list[DocumentInfo]] = field(default_factory=dict)
    thumbnails: dict[int, Thumbnail] = field(default_factory=dict)  # document id → decoded


def load_notes(db: Database, received: ReceivedLog, matter_id: int,
               cached: Collection[int] = ()) -> NotesSnapshot:
    """Read a matter's notes and their documents (runs on the runner, never the GUI thread)."""
    notes = list_notes(db, matter_id)
    note_ids = {n.id for n in notes}
    by_note: dict[int, list[DocumentInfo]] = defaultdict(list)
    thumbs: dict[int, Thumbnail] = {}
    for doc in sorted(received.matter_documents(matter_id), key=lambda d: d.id):
        if doc.note_id is None or doc.note_id not in note_ids:
            continue
        by_note[doc.note_id].append(doc)
        if doc.is_image and doc.size <= THUMBNAIL_BYTES_CAP and doc.id not in cached:
            # Decoded here, on the runner, at thumbnail size (desktop_sms/ui/thumbnails.py).
            thumbs[doc.id] = CACHE.get(("document", doc.id), THUMBNAIL_SIZE,
                                       lambda d=doc.id: received.document_data(d))
    return NotesSnapshot(notes, dict(by_note), thumbs)


def _plain(text: str = "", name: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


def note_heading(note: NoteRow) -> str:
    """'2026-03-02 10:00 — SMS received from … (Pat)'."""
    head = f"{local_time(note.created_at)} — {note.subject}"
    if note.author:
        head += f" ({note.author})"
    return head


class NoteCard(QFrame):
    """One note: heading, 'withdrawn' mark, text, and its attachments."""

    def __init__(self, note: NoteRow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.note = note
        self.setObjectName("noteCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.heading = _plain(note_heading(note), "noteHeading")
        self.withdrawn_label = _plain(WITHDRAWN, "withdrawnMark")
        self.withdrawn_label.setToolTip("The message was unlinked from this case; "
                                        "the note is kept.")
        self.withdrawn_label.setVisible(note.withdrawn)
        self.body = _plain(note.body, "noteBody")
        self.body.setVisible(bool(note.body))
        self.thumbnails: list[QLabel] = []
        self.chips: list[QWidget] = []
        head_row = QHBoxLayout()
        head_row.addWidget(self.heading, 1)
        head_row.addWidget(self.withdrawn_label, 0, Qt.AlignmentFlag.AlignTop)
        self.attachments_row = QHBoxLayout()
        self.attachments_row.setSpacing(8)
        self.attachments_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(head_row)
        layout.addWidget(self.body)
        layout.addLayout(self.attachments_row)
        if note.withdrawn:
            self.setProperty("withdrawn", True)
            self.setAccessibleDescription("withdrawn")
            # Withdrawn must not look live: a marked badge, and the note's text greyed.
            self.withdrawn_label.setStyleSheet(
                "QLabel#withdrawnMark { background: #fde7d9; color: #8a2c0d; font-weight: 600;"
                " border-radius: 6px; padding: 1px 6px; }")
            self.body.setStyleSheet("color: #7b8794;")
            self.heading.setStyleSheet("color: #7b8794;")

    def add_attachment(self, widget: QWidget, is_thumbnail: bool) -> None:
        """Append a thumbnail or a file chip (before the trailing stretch)."""
        self.attachments_row.insertWidget(self.attachments_row.count() - 1, widget)
        if is_thumbnail and isinstance(widget, QLabel):
            self.thumbnails.append(widget)
        else:
            self.chips.append(widget)

    @property
    def withdrawn(self) -> bool:
        """True when the note's link was undone."""
        return self.note.withdrawn


class CaseNotesWidget(QWidget):
    """The Notes tab: notes newest first with thumbnails of a reply's photos."""

    refreshed = Signal()

    def __init__(self, db: Database, received: ReceivedLog, runner: TaskRunner, matter_id: int,
                 parent: QWidget | None = None, notes: list[NoteRow] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("caseNotes")
        self._db = db
        self._received = received
        self._runner = runner
        self.matter_id = matter_id
        self._generation = 0
        self._notes: list[NoteRow] = []
        self._documents: dict[int, list[DocumentInfo]] = {}
        self._pixmaps: dict[int, QPixmap | None] = {}  # document id → thumbnail (None: bad image)
        self._refusals: dict[int, str] = {}  # document id → why it isn't shown (too large …)
        self.cards: list[NoteCard] = []

        self.empty_label = _plain("No notes on this case yet.", "notesEmpty")
        self.error_label = _plain("", "notesError")
        self.error_label.hide()
        self._container = QWidget()
        self._column = QVBoxLayout(self._container)
        self._column.setContentsMargins(8, 8, 8, 8)
        self._column.setSpacing(8)
        self._column.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self._container)
        self.scroll.setAccessibleName("Case notes")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.error_label)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.scroll, 1)
        if notes is not None:
            self.set_notes(notes)  # shown at once (the matter view had read them); then refresh
        else:
            self.refresh()

    # --- NotesPane's interface (the matter view calls these) ------------------------------
    def set_notes(self, notes: list[NoteRow]) -> None:
        """Show these notes now (attachments known so far), then re-read in the background."""
        self._notes = list(notes)
        self._render()
        self.refresh()

    def plain_text(self) -> str:
        """The notes as text, as the old notes pane showed them."""
        if not self._notes:
            return "No notes on this case yet."
        blocks = []
        for note in self._notes:
            head = note_heading(note) + (f" [{WITHDRAWN}]" if note.withdrawn else "")
            blocks.append(head + ("\n" + note.body if note.body else ""))
        return "\n\n".join(blocks)

    # --- loading -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the notes and their attachments again (on the runner)."""
        self._generation += 1
        generation = self._generation
        cached = frozenset(k for k, v in self._pixmaps.items() if v is not None)
        self._runner.run(load_notes, self._db, self._received, self.matter_id, cached,
                         on_success=lambda snap: self._loaded(generation, snap),
                         on_failure=lambda exc: self._failed(generation, exc))

    def _loaded(self, generation: int, snap: NotesSnapshot) -> None:
        if not widget_alive(self) or generation != self._generation:
            return
        for doc_id, thumb in snap.thumbnails.items():
            self._pixmaps[doc_id] = to_pixmap(thumb)
            if thumb.refusal is not None:
                self._refusals[doc_id] = thumb.refusal
        self._notes = snap.notes
        self._documents = snap.documents
        self.error_label.hide()
        self._render()
        self.refreshed.emit()

    def _failed(self, generation: int, exc: BaseException) -> None:
        if widget_alive(self) and generation == self._generation:
            self.error_label.setText(f"The notes could not be read: {exc}")
            self.error_label.show()
            self.refreshed.emit()

    def _render(self) -> None:
        for card in self.cards:
            self._column.removeWidget(card)
            card.deleteLater()
        self.cards = []
        self.empty_label.setVisible(not self._notes)
        for note in self._notes:
            card = NoteCard(note)
            for doc in self._documents.get(note.id, []):
                pixmap = self._pixmaps.get(doc.id) if doc.is_image else None
                if pixmap is not None:
                    thumb = QLabel()
                    thumb.setObjectName("thumbnail")
                    thumb.setPixmap(pixmap)
                    thumb.setAccessibleName(f"Image {doc.name}")
                    thumb.setToolTip(f"{doc.name} — in Documents → {doc.folder}")
                    card.add_attachment(thumb, True)
                else:
                    refusal = self._refusals.get(doc.id) if doc.is_image else None
                    if refusal is not None:
                        card.add_attachment(image_placeholder(refusal, doc.name), False)
                    card.add_attachment(file_chip(doc.name, doc.size, doc.content_type,
                                                  lambda d=doc: self.save_as(d)), False)
            self._column.insertWidget(self._column.count() - 1, card)
            self.cards.append(card)

    # --- actions and queries -------------------------------------------------------------
    def save_as(self, doc: DocumentInfo) -> None:
        """Save as… for an attachment (the only way to get at a non-image one)."""
        save_document_as(self, self._received, self._runner, doc)

    def notes(self) -> list[NoteRow]:
        """The notes shown, newest first."""
        return list(self._notes)

    def card_for(self, note_id: int) -> NoteCard | None:
        """The card of a note."""
        return next((c for c in self.cards if c.note.id == note_id), None)
