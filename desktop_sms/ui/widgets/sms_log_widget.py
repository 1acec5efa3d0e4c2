"""A matter's SMS log tab (docs/product.md F9): texts sent from the case and replies filed on it, as a
conversation, oldest at the top.

Bubbles are plain-text labels: a client's text is shown exactly as sent, never as rich text.
Outbound texts sit on the right, replies on the left, with status and time under each and
thumbnails of a reply's photos.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.domain.optout import classify_keyword
from desktop_sms.domain.states import CHECKING, CHECKING_LABEL
from desktop_sms.services.common import Actor
from desktop_sms.services.conversations import ConversationService
from desktop_sms.services.received import ConversationItem, DocumentInfo, ReceivedLog
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
from desktop_sms.ui.widgets.placeholder_page import PlaceholderPage

SHARED_PHONE_NOTE = ("A reply from a phone used by several clients may appear on more than "
                     "one case.")
TURNED_OFF_TEXT = ("The SMS log is turned off in Preferences (Case SMS log). "
                   "An administrator can turn it back on there.")
BUBBLE_MAX_WIDTH = 460
THUMBNAIL_BYTES_CAP = 8 * 1024 * 1024

STATUS_TEXT = {
    "scheduled": "Scheduled", "queued": "Queued", "sending": "Sending", "sent": "Sent",
    "delivered": "Delivered", "undelivered": "Not delivered", "failed": "Failed",
    "canceled": "Canceled", "missed": "Missed", "received": "Received",
    "held": "Held by Twilio", "holding": "Being handed to Twilio",
    CHECKING: CHECKING_LABEL,
}

_BUBBLE_STYLE = {
    "outbound": "QFrame#bubbleOutbound { background: #d8e8fb; border-radius: 10px; }",
    "inbound": "QFrame#bubbleInbound { background: #ffffff; border: 1px solid #d3d9e0;"
               " border-radius: 10px; }",
}
# How an outbound text looks by its state: scheduled ones dashed, canceled grey, failed red,
# delivered green-edged; the status line says the same in words (never colour alone).
STATE_STYLE = {
    "scheduled": "QFrame#bubbleOutbound { background: #f4f8fd; border: 2px dashed #7aa7dd;"
                 " border-radius: 10px; }",
    "canceled": "QFrame#bubbleOutbound { background: #eceff1; border: 1px solid #b0b8c0;"
                " border-radius: 10px; } QLabel#bubbleText { color: #6b7580; }",
    "failed": "QFrame#bubbleOutbound { background: #fdecec; border: 2px solid #b42318;"
              " border-radius: 10px; }",
    "undelivered": "QFrame#bubbleOutbound { background: #fdecec; border: 2px solid #b42318;"
                   " border-radius: 10px; }",
    "missed": "QFrame#bubbleOutbound { background: #fff4e0; border: 2px solid #b26b00;"
              " border-radius: 10px; }",
    "delivered": "QFrame#bubbleOutbound { background: #d8e8fb; border: 2px solid #2e7d32;"
                 " border-radius: 10px; }",
}
STATE_MARK = {"scheduled": "🕒 ", "canceled": "⊘ ", "failed": "⚠ ", "undelivered": "⚠ ",
              "missed": "⚠ ", "delivered": "✓ "}


@dataclass(frozen=True)
class Attachment:
    """One attachment of a reply as the log shows it (bytes only for images)."""

    name: str
    content_type: str
    size: int
    is_image: bool
    data: bytes | None = None
    document: DocumentInfo | None = None
    thumbnail: Thumbnail | None = None  # decoded on the runner at thumbnail size


@dataclass
class ConversationSnapshot:
    """What one load read: the items and each reply's attachments."""

    items: list[ConversationItem]
    attachments: dict[int, list[Attachment]] = field(default_factory=dict)  # inbound id → …
    read: set[int] | None = None  # inbound ids the user has read (None: not tracked)


def load_conversation(received: ReceivedLog, matter_id: int) -> ConversationSnapshot:
    """Read a matter's conversation and its replies' attachments (on the runner)."""
    items = received.conversation(matter_id)
    inbound = [it for it in items if it.direction == "inbound" and (it.document_ids or it.media_ids)]
    out: dict[int, list[Attachment]] = {}
    if not inbound:
        return ConversationSnapshot(items, out)
    docs = {d.id: d for d in received.matter_documents(matter_id)}
    for it in inbound:
        attachments: list[Attachment] = []
        if it.document_ids:
            for doc_id in it.document_ids:
                doc = docs.get(doc_id)
                if doc is None:
                    continue
                thumb = (CACHE.get(("document", doc.id), THUMBNAIL_SIZE,
                                   lambda d=doc.id: received.document_data(d))
                         if doc.is_image and doc.size <= THUMBNAIL_BYTES_CAP else None)
                attachments.append(Attachment(doc.name, doc.content_type, doc.size,
                                              doc.is_image, None, doc, thumb))
        else:  # media fetched but not (yet) a document of this case
            for n, media_id in enumerate(it.media_ids, start=1):
                media = received.media_data(media_id)
                if media is None:
                    continue
                ctype, data, opaque = media
                is_image = not opaque and ctype.startswith("image/")
                thumb = (CACHE.get(("media", media_id), THUMBNAIL_SIZE, lambda b=data: b)
                         if is_image and len(data) <= THUMBNAIL_BYTES_CAP else None)
                attachments.append(Attachment(f"attachment {n}", ctype, len(data), is_image,
                                              None, None, thumb))
        out[it.id] = attachments
    return ConversationSnapshot(items, out)


def status_line(item: ConversationItem) -> str:
    """'Delivered · 2026-03-02 10:00 · Pat Paralegal' under a bubble."""
    parts = [STATE_MARK.get(item.status, "") + STATUS_TEXT.get(item.status,
                                                                item.status.capitalize()),
             local_time(item.at)]
    if item.direction == "outbound" and item.author:
        parts.append(item.author)
    if item.direction == "inbound":
        parts.append(f"from {item.number}")
        keyword = classify_keyword(item.body)
        if keyword:  # a STOP is not like any other reply
            parts.insert(0, "Opted out of texts" if keyword == "opt_out" else "Opted back in")
    if item.truncated:
        parts.append("truncated: the text was longer than 64 KB")
    line = " · ".join(parts)
    if item.error_message:
        line += f"\n{item.error_message}"
    return line


def _plain(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class MessageBubble(QWidget):
    """One text of the conversation: a bubble on its side with the status line under it."""

    def __init__(self, item: ConversationItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.item = item
        self.setObjectName("messageRow")
        outbound = item.direction == "outbound"
        self.frame = QFrame()
        self.frame.setObjectName("bubbleOutbound" if outbound else "bubbleInbound")
        self.frame.setStyleSheet(STATE_STYLE.get(item.status, _BUBBLE_STYLE[item.direction])
                                 if outbound else _BUBBLE_STYLE[item.direction])
        self.state = item.status
        self.frame.setMaximumWidth(BUBBLE_MAX_WIDTH)
        self.body = _plain(item.body, "bubbleText")
        self.body.setVisible(bool(item.body))
        # A word-wrapped label in a stretchy row shrinks to its narrowest; ask for the width
        # of the longest line, up to the bubble's maximum.
        lines = item.body.splitlines() or [""]
        widest = max(self.body.fontMetrics().horizontalAdvance(line) for line in lines)
        self.body.setMinimumWidth(min(widest + 6, BUBBLE_MAX_WIDTH - 24))
        self.body.setAccessibleName("Sent text" if outbound else "Reply")
        self.thumbnails: list[QLabel] = []
        self.chips: list[QWidget] = []
        self._attachments = QHBoxLayout()
        self._attachments.setSpacing(6)
        self._attachments.addStretch(1)
        inner = QVBoxLayout(self.frame)
        inner.setContentsMargins(10, 8, 10, 8)
        inner.addWidget(self.body)
        inner.addLayout(self._attachments)
        self.status = _plain(status_line(item), "bubbleStatus")
        self.status.setWordWrap(False)
        self.status.setStyleSheet("color: #52606d; font-size: 9pt;")
        self.status.setAlignment(Qt.AlignmentFlag.AlignRight if outbound
                                 else Qt.AlignmentFlag.AlignLeft)
        self.unread_mark = _plain("● New", "unreadMark")
        self.unread_mark.setStyleSheet("color: #1d5fa8; font-weight: 600; font-size: 9pt;")
        self.unread_mark.hide()
        column = QVBoxLayout()
        column.setSpacing(2)
        column.addWidget(self.unread_mark)
        column.addWidget(self.frame)
        column.addWidget(self.status)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        if outbound:
            row.addStretch(1)
            row.addLayout(column)
        else:
            row.addLayout(column)
            row.addStretch(1)

    @property
    def outbound(self) -> bool:
        """True for a text sent from the case (right-aligned)."""
        return self.item.direction == "outbound"

    def add_thumbnail(self, pixmap: QPixmap, name: str) -> None:
        """Show an image of the reply."""
        label = QLabel()
        label.setObjectName("thumbnail")
        label.setPixmap(pixmap)
        label.setAccessibleName(f"Image {name}")
        self._attachments.insertWidget(self._attachments.count() - 1, label)
        self.thumbnails.append(label)

    def add_chip(self, chip: QWidget) -> None:
        """Show a non-image attachment as a chip."""
        self._attachments.insertWidget(self._attachments.count() - 1, chip)
        self.chips.append(chip)

    def set_unread(self, unread: bool) -> None:
        """Mark a reply the user has not opened before."""
        self.unread_mark.setVisible(unread)
        self.unread_mark.setAccessibleName("Unread" if unread else "")

    def is_unread(self) -> bool:
        """True while the reply carries the unread mark."""
        return not self.unread_mark.isHidden()

    def set_highlighted(self, on: bool) -> None:
        """Outline the bubble a search result opened."""
        self.setStyleSheet("QWidget#messageRow { border-left: 4px solid #f2b705; }" if on else "")


class SmsLogWidget(QWidget):
    """The SMS log tab of one matter.

    With ``conversations`` and ``actor`` it also shows which replies the user has not read
    (marked "New", and read once shown), offers *Mark as unread* on a reply and emits
    ``read_changed`` when the user's read state changed.
    """

    refreshed = Signal()
    read_changed = Signal(int)  # matter id

    def __init__(self, received: ReceivedLog, runner: TaskRunner, matter_id: int,
                 parent: QWidget | None = None, *,
                 conversations: ConversationService | None = None,
                 actor: Actor | None = None) -> None:
        super().__init__(parent)
        self._conversations = conversations
        self._actor = actor
        self._read: set[int] = set()
        self._pending_focus: tuple[str, int] | None = None
        self.focused: MessageBubble | None = None
        self.footer: QWidget | None = None
        self.bubble_menu: QMenu | None = None  # the last right-click menu on a reply
        self.setObjectName("smsLog")
        self._received = received
        self._runner = runner
        self.matter_id = matter_id
        self._generation = 0
        self._items: list[ConversationItem] = []
        self.bubbles: list[MessageBubble] = []

        self.note_label = _plain(SHARED_PHONE_NOTE, "sharedPhoneNote")
        self.note_label.setStyleSheet("color: #52606d;")
        self.empty_label = _plain("No texts have been sent from or filed on this case yet.",
                                  "smsLogEmpty")
        self.empty_label.hide()
        self.error_label = _plain("", "smsLogError")
        self.error_label.hide()
        self._container = QWidget()
        self._container.setObjectName("conversation")
        self._column = QVBoxLayout(self._container)
        self._column.setContentsMargins(10, 10, 10, 10)
        self._column.setSpacing(10)
        self._column.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self._container)
        self.scroll.setAccessibleName("SMS conversation")
        # Follow the newest text as a chat does: while the user is at the bottom (and on the
        # first load), stay there whenever the range grows. The range only reaches its final
        # size once the new bubbles are laid out, after the load, so a one-off scroll at the
        # time of loading stops short and cuts off the newest bubble.
        self._follow_newest = True
        bar = self.scroll.verticalScrollBar()
        bar.rangeChanged.connect(self._range_changed)
        bar.valueChanged.connect(self._value_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.scroll, 1)
        self._layout = layout
        self.refresh()

    # --- loading -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the conversation again (on the runner); `refreshed` follows."""
        self._generation += 1
        generation = self._generation
        conversations, actor, received, matter_id = (self._conversations, self._actor,
                                                     self._received, self.matter_id)

        def load() -> ConversationSnapshot:
            snap = load_conversation(received, matter_id)
            if conversations is not None and actor is not None and actor.user_id is not None:
                snap.read = conversations.read_ids(
                    actor.user_id, [it.id for it in snap.items if it.direction == "inbound"])
            return snap

        self._runner.run(load,
                         on_success=lambda snap: self._loaded(generation, snap),
                         on_failure=lambda exc: self._failed(generation, exc))

    def _loaded(self, generation: int, snap: ConversationSnapshot) -> None:
        if not widget_alive(self) or generation != self._generation:
            return
        self.error_label.hide()
        self._render(snap)
        self.refreshed.emit()

    def _failed(self, generation: int, exc: BaseException) -> None:
        if widget_alive(self) and generation == self._generation:
            self.error_label.setText(f"The SMS log could not be read: {exc}")
            self.error_label.show()
            self.refreshed.emit()

    def _render(self, snap: ConversationSnapshot) -> None:
        for bubble in self.bubbles:
            self._column.removeWidget(bubble)
            bubble.deleteLater()
        self.bubbles = []
        self._items = list(snap.items)
        self._read = set(snap.read or ())
        self.empty_label.setVisible(not self._items)
        for item in self._items:
            bubble = MessageBubble(item)
            if snap.read is not None and item.direction == "inbound":
                bubble.set_unread(item.id not in snap.read)
                bubble.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
                bubble.customContextMenuRequested.connect(
                    lambda pos, b=bubble: self._bubble_menu(b, pos))
            for att in snap.attachments.get(item.id, []) if item.direction == "inbound" else []:
                pixmap = to_pixmap(att.thumbnail) if att.is_image else None
                if pixmap is not None:
                    bubble.add_thumbnail(pixmap, att.name)
                else:
                    if att.thumbnail is not None and att.thumbnail.refusal:
                        bubble.add_chip(image_placeholder(att.thumbnail.refusal, att.name))
                    doc = att.document
                    bubble.add_chip(file_chip(
                        att.name, att.size, att.content_type,
                        (lambda d=doc: self.save_as(d)) if doc is not None else None))
            self._column.insertWidget(self._column.count() - 1, bubble)
            self.bubbles.append(bubble)
        if self._follow_newest:  # the range may be final already; else _range_changed scrolls
            self._scroll_to_bottom()
        if self._pending_focus is not None:
            self.focus_message(*self._pending_focus)
        self._mark_shown_read()

    def _range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow_newest:
            self.scroll.verticalScrollBar().setValue(maximum)

    def _value_changed(self, value: int) -> None:
        # The user scrolled up to read: stop following until they come back to the bottom.
        self._follow_newest = value >= self.scroll.verticalScrollBar().maximum() - 4

    def _scroll_to_bottom(self) -> None:
        if widget_alive(self):
            bar = self.scroll.verticalScrollBar()
            bar.setValue(bar.maximum())

    # --- read state, footer, focus -------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._mark_shown_read()

    def unread_ids(self) -> list[int]:
        """The replies shown with the unread mark."""
        return [b.item.id for b in self.bubbles if not b.outbound and b.is_unread()]

    def _mark_shown_read(self) -> None:
        """Opening the log reads its replies: store that (the "New" marks stay until the next
        load, so the user still sees what was new)."""
        if self._conversations is None or self._actor is None or not self.isVisible():
            return
        ids = [b.item.id for b in self.bubbles
               if not b.outbound and b.item.id not in self._read]
        if not ids:
            return
        self._read.update(ids)
        self._runner.run(self._conversations.mark_read, self._actor, ids,
                         on_success=lambda _n: self._read_stored())

    def _read_stored(self) -> None:
        if widget_alive(self):
            self.read_changed.emit(self.matter_id)

    def mark_unread(self, inbound_id: int) -> None:
        """Mark as unread: the reply counts as new for this user again."""
        if self._conversations is None or self._actor is None:
            return
        for bubble in self.bubbles:
            if not bubble.outbound and bubble.item.id == inbound_id:
                bubble.set_unread(True)
        self._runner.run(self._conversations.mark_unread, self._actor, inbound_id,
                         on_success=lambda _c: self._unread_stored(inbound_id))

    def _unread_stored(self, inbound_id: int) -> None:
        self._read.discard(inbound_id)
        self._read_stored()

    def _bubble_menu(self, bubble: MessageBubble, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        action = menu.addAction("Mark as &unread")
        action.triggered.connect(lambda: self.mark_unread(bubble.item.id))
        self.bubble_menu = menu
        menu.popup(bubble.mapToGlobal(pos))

    def set_footer(self, widget: QWidget) -> None:
        """Put a widget (the reply box) under the conversation."""
        if self.footer is not None:
            self._layout.removeWidget(self.footer)
            self.footer.deleteLater()
        self.footer = widget
        self._layout.addWidget(widget)

    def focus_message(self, direction: str, message_id: int) -> bool:
        """Scroll to a text and outline it (a search result); waits for the load if needed."""
        for bubble in self.bubbles:
            if bubble.item.direction == direction and bubble.item.id == message_id:
                if self.focused is not None and widget_alive(self.focused):
                    self.focused.set_highlighted(False)
                bubble.set_highlighted(True)
                self.focused = bubble
                self._pending_focus = None
                self._follow_newest = False
                self.scroll.ensureWidgetVisible(bubble)
                return True
        self._pending_focus = (direction, message_id)
        return False

    # --- actions and queries -------------------------------------------------------------
    def save_as(self, doc: DocumentInfo) -> None:
        """Save as… for an attachment of a reply."""
        save_document_as(self, self._received, self._runner, doc)

    def items(self) -> list[ConversationItem]:
        """The texts shown, oldest first."""
        return list(self._items)

    def texts(self) -> list[tuple[str, str]]:
        """(direction, text as displayed) of each bubble, top to bottom."""
        return [(b.item.direction, b.body.text()) for b in self.bubbles]

    def thumbnail_count(self) -> int:
        """How many image thumbnails the conversation shows."""
        return sum(len(b.thumbnails) for b in self.bubbles)


class SmsLogTurnedOff(PlaceholderPage):
    """What the SMS log tab says when the office manager turned the log off."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("SMS log", TURNED_OFF_TEXT, parent)
        self.setObjectName("smsLogOff")

