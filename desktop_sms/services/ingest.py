"""Filing inbound messages (docs/product.md F5, F7, F10, F12): store, match, link, notes, documents, alerts.

Each message is filed in one transaction. The insert is guarded by the unique provider id
(`INSERT … ON CONFLICT DO NOTHING`), so when several desktops poll one account the loser
skips the message. Media are downloaded before the transaction (no network call holds a
database lock); media that can't be fetched now are retried by `retry_pending_media`.
Logs never hold message bodies, and phone numbers in them are masked.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    delete,
    false,
    func,
    insert,
    null,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from desktop_sms.db.database import Database
from desktop_sms.db.models import (
    Alert,
    CaseNote,
    Document,
    InboundFilingFailure,
    InboundMedia,
    InboundMessage,
    Matter,
    MessageLink,
    Setting,
    User,
    UTCDateTime,
)
from desktop_sms.domain.matching import LinkDecision
from desktop_sms.domain.optout import classify_keyword
from desktop_sms.domain.phones import format_display, mask, normalize_sender
from desktop_sms.domain.states import LinkRule, MatchingMode
from desktop_sms.providers.base import (
    MediaItem,
    MediaTooLargeError,
    NotFoundError,
    ProviderError,
    ProviderMessage,
    SmsProvider,
)
from desktop_sms.services import audit, consent
from desktop_sms.services.common import (
    Actor,
    Clock,
    NotFound,
    PermissionDenied,
    ServiceError,
    utcnow,
)
from desktop_sms.services.matcher import InboundMatcher
from desktop_sms.services.outbound import record_opt_out
from desktop_sms.services.settings import DEFINITIONS, SettingsService

log = logging.getLogger(__name__)

ATTACHMENTS_FOLDER = "SMS Attachments"
MAX_MEDIA_BYTES = 5 * 1024 * 1024
MAX_MEDIA_ATTEMPTS = 8  # then the item is given up (fetch_error says why)
# Media pending (docs/media_and_clocks.md): Twilio can list an MMS before its photos are in
# its media list. The list is asked again after 30 s, 1, 2, 4 … minutes (at most hourly)
# until every photo `num_media` counts is there or MEDIA_PENDING_LIMIT has passed since the
# message was stored; then the missing ones are given up ("photo could not be downloaded").
MEDIA_RETRY_FIRST = timedelta(seconds=30)
MEDIA_RETRY_MAX = timedelta(hours=1)
MEDIA_PENDING_LIMIT = timedelta(hours=24)


def media_retry_delay(attempts: int) -> timedelta:
    """How long to wait before asking for a message's media again after `attempts` tries
    (0 after the first listing): 30 s doubling, capped at one hour."""
    factor: int = 2 ** min(max(attempts, 0), 20)
    return min(MEDIA_RETRY_FIRST * factor, MEDIA_RETRY_MAX)
OPAQUE_TYPE = "application/octet-stream"

# Content type -> extension. Names never come from the sender.
EXTENSIONS: dict[str, str] = {
    "image/jpeg": "jpg", "image/jpg": "jpg", "image/pjpeg": "jpg", "image/png": "png",
    "image/gif": "gif", "image/webp": "webp", "image/bmp": "bmp", "image/heic": "heic",
    "image/heif": "heif", "image/tiff": "tif",
    "application/pdf": "pdf", "text/vcard": "vcf", "text/x-vcard": "vcf", "text/plain": "txt",
    "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/mp4": "m4a", "audio/aac": "aac",
    "audio/amr": "amr", "audio/ogg": "ogg", "audio/wav": "wav", "audio/x-wav": "wav",
    "audio/3gpp": "3gp", "audio/webm": "weba",
    "video/mp4": "mp4", "video/3gpp": "3gp", "video/quicktime": "mov", "video/webm": "webm",
    "video/mpeg": "mpeg", "video/h264": "mp4",
}
ALLOWED_EXACT = frozenset({"application/pdf", "text/vcard", "text/x-vcard", "text/plain"})
ALLOWED_FAMILIES = ("audio/", "video/")  # images are allowed only when their bytes agree


def _is_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc",
                                                   b"heif", b"avif")


_IMAGE_MAGIC: dict[str, Any] = {
    "jpg": lambda d: d.startswith(b"\xff\xd8\xff"),
    "png": lambda d: d.startswith(b"\x89PNG\r\n\x1a\n"),
    "gif": lambda d: d[:6] in (b"GIF87a", b"GIF89a"),
    "webp": lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP",
    "bmp": lambda d: d.startswith(b"BM"),
    "heic": _is_heif,
    "heif": _is_heif,
    "tif": lambda d: d[:4] in (b"II*\x00", b"MM\x00*"),
}


MAX_INBOUND_BODY_BYTES = 64 * 1024  # UTF-8 bytes kept of a reply's text; Twilio's own cap is 1,600 characters
MAX_FILING_ATTEMPTS = 3  # failed filings of one provider id before it is set aside
TRUNCATED_NOTE = "[The text was longer than 64 KB and was cut here.]"


def storable_text(text: str) -> str:
    """`text` as every database can store it: NUL and unpaired surrogates become U+FFFD.

    PostgreSQL text can't hold NUL, and a lone surrogate (JSON allows `"\\ud800"`) can't be
    encoded as UTF-8 at all: one such reply must not stop all filing behind it. Surrogate pairs
    split into two code points are joined again. Pure; never raises.
    """
    if text.isascii():
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


_storable = storable_text

SID_COLUMN_WIDTH = 40  # inbound_messages / inbound_filing_failures / inbound_media id columns


_INT_COLUMN_MAX = 2_147_483_647  # the largest value of an Integer column on PostgreSQL


def media_count(value: int | None) -> int:
    """A provider's media count fitted to the `num_media` columns: 0 to 2,147,483,647.

    Twilio sends at most 10 (https://www.twilio.com/docs/messaging/guides/accepted-mime-types);
    a count out of an Integer column's range would make the reply unstorable on PostgreSQL.
    Pure.
    """
    return max(0, min(int(value or 0), _INT_COLUMN_MAX))


def storage_key(sid: str) -> str:
    """The provider id `sid` as it is stored and looked up (messages, media, failures).

    Twilio's ids are 34 ASCII characters and are kept as they are. An id that doesn't fit the
    40-character column, or that isn't storable text (NUL, lone surrogates), would make every
    write of the reply fail on PostgreSQL — even the record that sets it aside — and hold the
    poller's cursor for ever. Such an id is stored as ``~`` and the first 39 hex digits of the
    SHA-256 of its UTF-8 (surrogatepass) bytes: stable, so a repeat is still found as a
    duplicate, and 40 characters long, so `storage_key` of a key is the key itself. Pure.
    """
    if len(sid) <= SID_COLUMN_WIDTH and storable_text(sid) == sid:
        return sid
    digest = hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()
    return "~" + digest[:SID_COLUMN_WIDTH - 1]


def cap_body(text: str, limit: int = MAX_INBOUND_BODY_BYTES) -> tuple[str, bool]:
    """(text cut to at most `limit` UTF-8 bytes on a character boundary, whether it was cut).

    `text` must already be storable (see `storable_text`). Twilio refuses messages over 1,600
    characters (https://www.twilio.com/docs/glossary/what-sms-character-limit); a longer body
    comes from something else and is kept up to the cap, marked truncated.
    """
    if len(text) * 4 <= limit:
        return text, False
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text, False
    return data[:limit].decode("utf-8", "ignore"), True


def was_cut(kept: str, limit: int = MAX_INBOUND_BODY_BYTES) -> bool:
    """Whether `kept`, a body that went through `cap_body`, was cut there: a cut text ends
    within 3 bytes of the cap (a character is at most 4 bytes), nothing shorter was cut. Used
    for copies kept without their flag (set-aside replies). Pure."""
    return len(kept.encode("utf-8")) > limit - 4


def counts_against_message(exc: BaseException) -> bool:
    """Whether a filing failure says something about the message (counted towards setting it
    aside) rather than about the database or the network being unavailable for a while
    (OperationalError: locked, disk full, connection lost; a transient provider error), which
    is retried without limit and never sets a reply aside."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, ProviderError):
        return not exc.transient
    if isinstance(exc, OperationalError | InterfaceError):
        return False
    return not (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def failure_reason(exc: BaseException) -> str:
    """One sentence saying why filing failed, without the message's text or numbers.

    Database errors quote their SQL parameters (bodies, numbers), so only the driver's first
    line and the error's class are kept.
    """
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, ProviderError):
        return exc.sentence
    if isinstance(exc, UnicodeError):
        return "Its text could not be encoded for storage."
    if isinstance(exc, DBAPIError):
        first = str(exc.orig).strip().splitlines()[0][:200] if str(exc.orig).strip() else ""
        name = type(exc.orig).__name__
        return (f"The database refused to store it ({name}: {first})." if first
                else f"The database refused to store it ({name}).")
    return f"Filing failed ({type(exc).__name__})."


def base_type(content_type: str) -> str:
    """`image/jpeg; charset=x` → `image/jpeg`, lower-cased."""
    return content_type.split(";", 1)[0].strip().lower()


def classify_media(content_type: str, data: bytes) -> tuple[str, str, bool]:
    """(content type to store, file extension, opaque) for a received attachment.

    Images must be a known kind whose first bytes agree with the declared type (an SVG or a
    mislabelled file is opaque); PDFs must start with %PDF. Anything off the allow-list is
    stored as an opaque attachment that is never opened automatically.
    """
    ctype = base_type(content_type)
    ext = EXTENSIONS.get(ctype)
    if ctype.startswith("image/"):
        check = _IMAGE_MAGIC.get(ext or "")
        if check is not None and check(data):
            return ctype, str(ext), False
        return OPAQUE_TYPE, "bin", True
    if ctype == "application/pdf":
        return (ctype, "pdf", False) if data.startswith(b"%PDF-") else (OPAQUE_TYPE, "bin", True)
    if ctype in ALLOWED_EXACT or ctype.startswith(ALLOWED_FAMILIES):
        return ctype, ext or "bin", False
    return OPAQUE_TYPE, "bin", True


@dataclass
class FetchedMedia:
    """The outcome of fetching one media item, before anything is written."""

    sid: str
    content_type: str
    data: bytes | None = None
    rejected: bool = False  # over the size cap
    error: str | None = None
    gave_up: bool = False  # a permanent failure: not retried
    refused: bool = False  # the provider listed it malformed (MediaItem.refused): never fetched

    @property
    def pending(self) -> bool:
        """Worth fetching again later."""
        return self.data is None and not self.rejected and not self.gave_up


@dataclass(frozen=True)
class IngestResult:
    """What filing one provider message did."""

    provider_sid: str
    inbound_id: int | None
    created: bool  # False: already stored (by this or another desktop), nothing written
    links: tuple[LinkDecision, ...] = ()
    needs_review: bool = False
    media_pending: bool = False
    opt_change: str | None = None  # "opt_out" / "opt_in" when the text was a keyword
    media_refused: int = 0  # attachments recorded as not downloadable (malformed at Twilio)

    @property
    def matter_ids(self) -> list[int]:
        """The matters the message was filed on."""
        return [d.matter_id for d in self.links]


def insert_ignore(session: Session, model: type[Any], values: dict[str, Any],
                  conflict: Sequence[str]) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id; None when the row already existed."""
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    if dialect not in ("postgresql", "sqlite"):
        raise RuntimeError(f"unsupported database dialect {dialect}")
    stmt = (module.insert(model).values(**values)
            .on_conflict_do_nothing(index_elements=list(conflict)).returning(model.id))
    found = session.execute(stmt).scalar()
    return None if found is None else int(found)


def read_settings(session: Session, *keys: str) -> list[Any]:
    """Typed settings read in the caller's session: one query, no session of its own."""
    stored = {str(k): str(v) for k, v in session.execute(
        select(Setting.key, Setting.value).where(Setting.key.in_(keys)))}
    values: list[Any] = []
    for key in keys:
        definition = DEFINITIONS[key]
        try:
            values.append(definition.parse(stored.get(key, definition.default)))
        except ValueError:
            values.append(definition.parse(definition.default))
    return values


def sender_display(inbound: InboundMessage, region: str) -> str:
    """The sender as people read it: national format at home, else the raw sender id."""
    return format_display(inbound.from_e164, region) if inbound.from_e164 else inbound.from_raw


def document_name(day: str, n: int, case_number: str, sender: str, ext: str) -> str:
    """The name of a reply's attachment on a case: 'sms-20261130-1_case-25-000001_from-0177.jpg'.

    day: the UTC day received (YYYYMMDD); n: its number that day on the case (the
    'sms-<day>-' prefix is what the numbering counts); sender: the number as received, of
    which only the last four digits are kept (a masked number, never the whole one). Case
    numbers keep letters, digits and '-' only, so the name is valid on every file system.
    """
    case = re.sub(r"[^A-Za-z0-9-]+", "-", case_number).strip("-")
    digits = "".join(ch for ch in sender if ch.isdigit())[-4:]
    name = f"sms-{day}-{n}"
    if case:
        name += f"_case-{case}"
    if digits:
        name += f"_from-{digits}"
    return f"{name}.{ext}"


def _next_document_number(session: Session, matter_id: int, day: str) -> int:
    prefix = f"sms-{day}-"
    count = session.scalar(select(func.count(Document.id)).where(
        Document.matter_id == matter_id, Document.folder == ATTACHMENTS_FOLDER,
        Document.name.like(prefix + "%")))
    return int(count or 0) + 1


def add_documents(session: Session, inbound: InboundMessage, matter_id: int, note_id: int,
                  media: Sequence[InboundMedia], now: datetime) -> list[int]:
    """Store each fetched medium as a document of the matter in SMS Attachments, on the note.

    A document already made for this matter and medium (an earlier link, since withdrawn) is
    moved to the new note rather than copied.
    """
    day = inbound.received_at.astimezone(UTC).strftime("%Y%m%d")
    ids: list[int] = []
    n = 0
    case_number = ""
    for medium in media:
        if medium.data is None or medium.rejected:
            continue
        existing = session.scalar(select(Document).where(
            Document.matter_id == matter_id, Document.inbound_media_id == medium.id))
        if existing is not None:
            existing.note_id = note_id
            ids.append(existing.id)
            continue
        if n == 0:
            n = _next_document_number(session, matter_id, day)
            case_number = session.scalar(select(Matter.case_number).where(
                Matter.id == matter_id)) or ""
        ctype, ext, opaque = classify_media(medium.content_type, medium.data)
        name = document_name(day, n, case_number, inbound.from_e164 or inbound.from_raw, ext)
        doc = Document(matter_id=matter_id, folder=ATTACHMENTS_FOLDER, name=name,
                       content_type=ctype, size=len(medium.data), data=medium.data,
                       opaque=opaque, created_at=now, note_id=note_id,
                       inbound_media_id=medium.id)
        session.add(doc)
        session.flush()
        ids.append(doc.id)
        n += 1
    return ids


def file_on_matter(session: Session, inbound: InboundMessage, matter_id: int, rule: LinkRule | str,
                   *, user_id: int | None, now: datetime, region: str,
                   media: Sequence[InboundMedia] | None = None,
                   new_message: bool = False) -> MessageLink | None:
    """Link the message to a matter with its note, documents and alert; None if already linked.

    A withdrawn link is brought back (the unique (inbound, matter) pair allows one row); its old
    note stays withdrawn and a new note is written. `media` and `new_message` (no link can exist
    yet) only save queries when filing a message just stored.
    """
    link = None if new_message else session.scalar(select(MessageLink).where(
        MessageLink.inbound_id == inbound.id, MessageLink.matter_id == matter_id))
    if link is not None and link.withdrawn_at is None:
        return None
    if link is None:
        link = MessageLink(inbound_id=inbound.id, matter_id=matter_id)
        session.add(link)
    link.rule, link.user_id, link.created_at = str(LinkRule(rule)), user_id, now
    link.withdrawn_at, link.withdrawn_by_id = None, None
    session.flush()
    note = CaseNote(matter_id=matter_id, subject=f"SMS received from {sender_display(inbound, region)}"[:200],
                    body=f"{inbound.body}\n\n{TRUNCATED_NOTE}" if inbound.body_truncated
                    else inbound.body, created_at=inbound.received_at, author_id=user_id,
                    link_id=link.id, withdrawn=False)
    session.add(note)
    session.flush()
    if media is None:
        media = list(session.scalars(select(InboundMedia).where(
            InboundMedia.inbound_id == inbound.id).order_by(InboundMedia.id)))
    if media:
        add_documents(session, inbound, matter_id, note.id, media, now)
    session.add(Alert(matter_id=matter_id, inbound_id=inbound.id, created_at=now))
    return link


@dataclass(frozen=True)
class IngestSettings:
    """The settings filing reads: the matching mode and the region numbers are read in."""

    mode: MatchingMode
    region: str


# Parsing a number with `phonenumbers` costs ~0.15 ms and replies come from the same numbers
# again and again (the client replying, family phones): remember the last few thousand.
@lru_cache(maxsize=4096)
def _sender_e164(raw: str, region: str) -> str | None:
    """The sender's E.164 number, or None (short codes, alphanumeric senders)."""
    return normalize_sender(raw, region)


@lru_cache(maxsize=4096)
def _note_subject(from_e164: str | None, from_raw: str, region: str) -> str:
    """The note's subject: the sender as people read it (formatted once per message)."""
    shown = format_display(from_e164, region) if from_e164 else from_raw
    return f"SMS received from {shown}"[:200]


_INBOUND: Table = InboundMessage.__table__  # type: ignore[assignment]
_MEDIA: Table = InboundMedia.__table__  # type: ignore[assignment]
_LINKS: Table = MessageLink.__table__  # type: ignore[assignment]
_NOTES: Table = CaseNote.__table__  # type: ignore[assignment]
_ALERTS: Table = Alert.__table__  # type: ignore[assignment]
_DOCUMENTS: Table = Document.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class _Statements:
    """Filing's statements, built once per dialect (Core: no ORM unit of work per row)."""

    insert_inbound: Any
    insert_media: Any
    insert_link: Any
    notes_from_links: Any
    alerts_from_links: Any
    new_notes: Any
    document_counts: Any
    insert_document: Any


_STATEMENTS: dict[str, _Statements] = {}


def _statements(dialect: Any) -> _Statements:
    found = _STATEMENTS.get(dialect.name)
    if found is not None:
        return found
    if dialect.name not in ("postgresql", "sqlite"):
        raise RuntimeError(f"unsupported database dialect {dialect.name}")
    module: Any = postgresql if dialect.name == "postgresql" else sqlite
    links, notes, docs = _LINKS.c, _NOTES.c, _DOCUMENTS.c
    of_message = links.inbound_id == bindparam("inbound_id", type_=Integer)
    made = _Statements(
        insert_inbound=module.insert(_INBOUND).on_conflict_do_nothing(
            index_elements=["provider_sid"]).returning(_INBOUND.c.id),
        insert_media=insert(_MEDIA).returning(_MEDIA.c.id, sort_by_parameter_order=True),
        insert_link=insert(_LINKS),
        # A note and an alert per link of the message, written by the database from the links
        # just inserted: one statement each however many matters the message is filed on.
        notes_from_links=insert(_NOTES).from_select(
            ["matter_id", "subject", "body", "created_at", "author_id", "link_id", "withdrawn"],
            select(links.matter_id, bindparam("subject", type_=String),
                   bindparam("body", type_=Text), bindparam("received_at", type_=UTCDateTime()),
                   null(), links.id, false()).where(of_message)),
        alerts_from_links=insert(_ALERTS).from_select(
            ["matter_id", "inbound_id", "created_at"],
            select(links.matter_id, links.inbound_id, bindparam("now", type_=UTCDateTime()))
            .where(of_message)),
        new_notes=select(notes.matter_id, notes.id).join(_LINKS, notes.link_id == links.id)
        .where(of_message),
        document_counts=select(docs.matter_id, func.count(docs.id)).where(
            docs.matter_id.in_(bindparam("matter_ids", expanding=True)),
            docs.folder == ATTACHMENTS_FOLDER, docs.name.like(bindparam("prefix")))
        .group_by(docs.matter_id),
        insert_document=insert(_DOCUMENTS),
    )
    _STATEMENTS[dialect.name] = made
    return made


@dataclass(frozen=True)
class _NewMedia:
    id: int
    content_type: str
    data: bytes | None
    rejected: bool


def _insert_media(conn: Connection, inbound_id: int,
                  fetched: Sequence[FetchedMedia]) -> list[_NewMedia]:
    """Store a new message's fetched media rows (one statement); their ids in order."""
    if not fetched:
        return []
    rows = [{"inbound_id": inbound_id, "provider_media_sid": storage_key(f.sid),
             "content_type": f.content_type, "data": f.data,
             "size": None if f.data is None else len(f.data),
             "fetch_attempts": MAX_MEDIA_ATTEMPTS if f.gave_up else 1,
             "fetch_error": f.error, "rejected": f.rejected} for f in fetched]
    ids = conn.execute(_statements(conn.dialect).insert_media, rows).scalars().all()
    return [_NewMedia(int(i), f.content_type, f.data, f.rejected) for i, f in zip(ids, fetched,
                                                                                   strict=True)]


def _file_new(conn: Connection, inbound_id: int, body: str, received_at: datetime,
              decisions: Sequence[LinkDecision], *, subject: str, now: datetime,
              media: Sequence[_NewMedia], sender: str = "") -> None:
    """File a message just stored on each decided matter: link, note, documents, alert.

    The same rows as `file_on_matter` for a new message (no link can exist yet), in a fixed
    number of statements whatever the number of matters (a shared family phone files one
    reply on dozens): the links in one executemany, then each link's note and alert by
    INSERT … SELECT from them, then the documents of an MMS.
    """
    st = _statements(conn.dialect)
    conn.execute(st.insert_link, [
        {"inbound_id": inbound_id, "matter_id": d.matter_id, "rule": str(d.rule),
         "user_id": None, "created_at": now, "withdrawn_at": None, "withdrawn_by_id": None}
        for d in decisions])
    conn.execute(st.notes_from_links, {"inbound_id": inbound_id, "subject": subject,
                                       "body": body, "received_at": received_at})
    conn.execute(st.alerts_from_links, {"inbound_id": inbound_id, "now": now})
    stored = [m for m in media if m.data is not None and not m.rejected]
    if not stored:
        return
    note_ids = {int(m): int(n) for m, n in conn.execute(st.new_notes, {"inbound_id": inbound_id})}
    day = received_at.astimezone(UTC).strftime("%Y%m%d")
    counts = {int(m): int(c) for m, c in conn.execute(st.document_counts, {
        "matter_ids": list(note_ids), "prefix": f"sms-{day}-%"})}
    case_numbers = {int(i): str(c) for i, c in conn.execute(
        select(Matter.id, Matter.case_number).where(Matter.id.in_(list(note_ids))))}
    documents: list[dict[str, Any]] = []
    for matter_id, note_id in note_ids.items():
        n = counts.get(matter_id, 0) + 1  # documents are named sms-<day>-<n>… per matter
        for k, m in enumerate(stored):
            assert m.data is not None
            ctype, ext, opaque = classify_media(m.content_type, m.data)
            documents.append({
                "matter_id": matter_id, "folder": ATTACHMENTS_FOLDER,
                "name": document_name(day, n + k, case_numbers.get(matter_id, ""), sender, ext),
                "content_type": ctype, "size": len(m.data),
                "data": m.data, "opaque": opaque, "created_at": now, "note_id": note_id,
                "inbound_media_id": m.id})
    conn.execute(st.insert_document, documents)


class InboundIngest:
    """Files provider messages: one transaction each, exactly once across desktops."""

    def __init__(self, db: Database, settings: SettingsService, clock: Clock = utcnow,
                 matcher: InboundMatcher | None = None,
                 max_media_bytes: int = MAX_MEDIA_BYTES) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.matcher = matcher or InboundMatcher(db)
        self.max_media_bytes = max_media_bytes
        self._local = threading.local()  # the poll scope of each thread (see `polling`)

    # --- media ---------------------------------------------------------------------------
    def fetch_one(self, provider: SmsProvider, item: MediaItem) -> FetchedMedia:
        """Download one medium, classifying the failure if it fails."""
        got = FetchedMedia(sid=item.sid, content_type=item.content_type[:120])
        if item.refused is not None:  # not a Twilio Media SID: recorded, never fetched
            got.error, got.gave_up, got.refused = item.refused, True, True
            return got
        try:
            got.data = provider.download_media(item, self.max_media_bytes)
        except MediaTooLargeError as exc:
            got.rejected, got.error = True, exc.sentence
        except NotFoundError as exc:
            # Twilio's media storage can answer 404 for a while after the message is listed;
            # retried up to MAX_MEDIA_ATTEMPTS polls before the attachment is given up.
            got.error = exc.sentence
        except ProviderError as exc:
            got.error, got.gave_up = exc.sentence, not exc.transient
        else:
            if len(got.data) > self.max_media_bytes:  # a provider that ignored the cap
                got.data, got.rejected = None, True
                got.error = f"The attachment is larger than the {self.max_media_bytes:,}-byte limit."
        return got

    def fetch_media(self, provider: SmsProvider, message_sid: str,
                    skip: set[str] | frozenset[str] = frozenset()
                    ) -> tuple[list[FetchedMedia], bool]:
        """(fetched media, listed) — listed is False when the list itself failed transiently.
        Attachments whose stored key (`storage_key`) is in `skip` are not downloaded again."""
        try:
            items = provider.list_media(message_sid)
        except ProviderError as exc:
            if exc.transient:
                log.warning("media list of %s failed, retried later: %s", message_sid, exc.sentence)
                return [], False
            log.warning("media list of %s failed for good: %s", message_sid, exc.sentence)
            return [], True
        return [self.fetch_one(provider, item) for item in items
                if storage_key(item.sid) not in skip], True

    # --- filing --------------------------------------------------------------------------
    def is_stored(self, provider_sid: str) -> bool:
        """Whether a message with this provider id is already stored."""
        with self.db.session() as s:
            return s.scalar(select(InboundMessage.id).where(
                InboundMessage.provider_sid == storage_key(provider_sid))) is not None

    @contextmanager
    def polling(self) -> Iterator[IngestSettings]:
        """A poll's scope on this thread: settings read once, stored SIDs already filtered.

        Inside it `ingest()` uses the matching mode and region read here (the mode in force
        when the poll began) instead of reading them per message, and trusts that the caller
        (`Poller.poll_number`) skipped the provider ids already stored, so it doesn't check
        again before downloading media; the unique-sid `INSERT … ON CONFLICT DO NOTHING`
        still guards against another desktop filing the same message meanwhile. Nested use
        keeps the outer scope's settings.
        """
        outer: IngestSettings | None = getattr(self._local, "settings", None)
        if outer is not None:
            yield outer
            return
        with self.db.session() as s:
            mode_value, region_value = read_settings(s, "inbound_matching", "default_region")
        self._local.settings = IngestSettings(MatchingMode(mode_value), str(region_value))
        try:
            yield self._local.settings
        finally:
            self._local.settings = None

    def ingest(self, message: ProviderMessage, provider: SmsProvider, *,
               cut_before: bool = False) -> IngestResult:
        """Store, match and file one inbound provider message; skip it if already stored.

        One transaction per message: it is filed completely or not at all, and a message that
        fails rolls back alone (the poller stops its cursor before it).
        """
        if message.direction != "inbound":
            raise ValueError(f"{message.sid} is not an inbound message")
        polled: IngestSettings | None = getattr(self._local, "settings", None)
        fetched: list[FetchedMedia] = []
        listed = True
        if message.num_media > 0:
            # Don't download what another desktop has filed (the poller checked in bulk).
            if polled is None and self.is_stored(message.sid):
                return IngestResult(message.sid, None, created=False)
            fetched, listed = self.fetch_media(provider, message.sid)
        now = self.clock()
        received_at = message.date_sent or message.date_created or now
        # Fewer media listed than num_media counts: the photos come later (retried with
        # back-off, see retry_pending_media).
        pending = (not listed or any(f.pending for f in fetched)
                   or len(fetched) < message.num_media)
        keyword = classify_keyword(message.body)
        body, truncated = cap_body(storable_text(message.body or ""))
        truncated = truncated or cut_before  # cut when it was kept (set aside), not just now
        with self.db.transaction() as s:
            if polled is None:
                # Read in this transaction: the mode in force when the message is processed.
                mode_value, region_value = read_settings(s, "inbound_matching", "default_region")
                settings = IngestSettings(MatchingMode(mode_value), str(region_value))
            else:
                settings = polled
            mode, region = settings.mode, settings.region
            from_e164 = _sender_e164(message.from_, region) if message.from_ else None
            # Matching reads only matters and outbound texts: decide first, so the message row
            # is written once, with needs_review already right.
            decisions = self.matcher.match(s, from_e164, received_at, mode)
            conn = s.connection()
            stmts = _statements(conn.dialect)
            inbound_id = conn.execute(stmts.insert_inbound, {
                "provider_sid": storage_key(message.sid), "from_raw": _storable(message.from_ or "")[:40],
                "from_e164": from_e164, "to_number": _storable(message.to)[:40],
                "body": body, "body_truncated": truncated,
                "received_at": received_at, "stored_at": now,
                "num_media": media_count(max(message.num_media, len(fetched))),
                "media_pending": pending,
                "media_attempts": 0,
                "media_retry_at": now + media_retry_delay(0) if pending else None,
                "media_missing": 0,
                "needs_review": not decisions, "matching_mode": str(mode),
            }).scalar()
            if inbound_id is None:
                log.info("inbound %s already stored by another desktop; skipped", message.sid)
                return IngestResult(message.sid, None, created=False)
            inbound_id = int(inbound_id)
            media = _insert_media(conn, inbound_id, fetched)
            if decisions:
                subject = _note_subject(from_e164, message.from_ or "", region)
                _file_new(conn, inbound_id, f"{body}\n\n{TRUNCATED_NOTE}" if truncated else body,
                          received_at, decisions,
                          subject=subject, now=now, media=media,
                          sender=from_e164 or message.from_ or "")
            if keyword and from_e164:
                record_opt_out(s, from_e164, keyword == "opt_out", "keyword", received_at,
                               inbound_id)
                consent.on_keyword(s, from_e164, keyword, inbound_id, received_at)
        if log.isEnabledFor(logging.INFO):
            log.info("filed inbound %s from %s on %d case(s)%s%s", message.sid,
                     mask(message.from_ or ""), len(decisions),
                     " (media pending)" if pending else "", f" ({keyword})" if keyword else "")
        return IngestResult(message.sid, inbound_id, True, tuple(decisions), not decisions,
                            pending, keyword, media_refused=sum(1 for f in fetched if f.refused))

    # --- replies that could not be filed (docs/set_aside.md) ------------------------------
    def failures(self, sids: Sequence[str]) -> dict[str, bool]:
        """{provider id: set aside} for those of `sids` whose filing failed before (one query
        per 500 ids)."""
        found: dict[str, bool] = {}
        by_key = {storage_key(sid): sid for sid in sids}
        keys = list(by_key)
        if not keys:
            return found
        with self.db.session() as s:
            for i in range(0, len(keys), 500):
                for key, when in s.execute(select(
                        InboundFilingFailure.provider_sid, InboundFilingFailure.set_aside_at)
                        .where(InboundFilingFailure.provider_sid.in_(keys[i:i + 500]))):
                    found[by_key[str(key)]] = when is not None
        return found

    def record_failure(self, message: ProviderMessage, exc: BaseException) -> bool:
        """Count a failed filing of `message`; True when it is now set aside.

        The message's fields are kept made storable (`storable_text`) and capped; if even they
        can't be written, the row keeps only the provider id and the reason. Raises only when
        the database can't be written at all (the caller then leaves the cursor before it).
        """
        now = self.clock()
        sid_key = storage_key(message.sid)
        reason = storable_text(failure_reason(exc))
        body, _cut = cap_body(storable_text(message.body or ""))
        fields: dict[str, Any] = {
            "from_raw": storable_text(message.from_ or "")[:40],
            "to_number": storable_text(message.to or "")[:40], "body": body,
            "received_at": message.date_sent or message.date_created,
            "num_media": media_count(message.num_media)}
        for keep in (fields, {"from_raw": "", "to_number": "", "body": "", "received_at": None,
                              "num_media": 0}):
            try:
                with self.db.transaction() as s:
                    row = s.scalar(select(InboundFilingFailure).where(
                        InboundFilingFailure.provider_sid == sid_key).with_for_update())
                    if row is None:
                        row = InboundFilingFailure(provider_sid=sid_key, attempts=0,
                                                   first_failed_at=now)
                        s.add(row)
                    for key, value in keep.items():
                        setattr(row, key, value)
                    row.attempts += 1
                    row.reason, row.last_failed_at = reason, now
                    if row.attempts >= MAX_FILING_ATTEMPTS and row.set_aside_at is None:
                        row.set_aside_at = now
                    aside = row.set_aside_at is not None
                    attempts = row.attempts
            except Exception as again:
                if keep is not fields:
                    raise
                log.warning("inbound %s: its fields could not be kept (%s)", message.sid,
                            type(again).__name__)
                continue
            if aside:
                log.warning("inbound %s set aside after %d failed attempts", message.sid, attempts)
            return aside
        return False  # pragma: no cover - the loop returns or raises

    def clear_failure(self, provider_sid: str) -> None:
        """Forget the failed attempts of a message that is now filed."""
        with self.db.transaction() as s:
            s.execute(delete(InboundFilingFailure).where(
                InboundFilingFailure.provider_sid == storage_key(provider_sid)))

    def try_again(self, actor: Actor, failure_id: int,
                  provider_factory: Callable[[], SmsProvider] | None = None) -> IngestResult:
        """File a set-aside message again (administrators; checked against the user's row).

        The message is rebuilt from what was kept; its attachments are listed again through
        `provider_factory` when it had any. On success the set-aside row is deleted and the
        result returned; on failure the row stays (its reason updated) and ServiceError says
        why. Raises PermissionDenied, NotFound, ServiceError.
        """
        with self.db.session() as s:
            if actor.user_id is not None:
                user = s.get(User, actor.user_id)
                if user is None or not user.active or user.role != "admin":
                    raise PermissionDenied("Only an administrator can try filing a message "
                                           "again.")
            else:
                actor.require_admin("try filing a message again")
            row = s.get(InboundFilingFailure, failure_id)
            if row is None:
                raise NotFound("That message is no longer set aside.")
            message = ProviderMessage(
                sid=row.provider_sid, direction="inbound", from_=row.from_raw, to=row.to_number,
                body=row.body, status="received", date_sent=row.received_at,
                num_media=row.num_media)
            # The poller only files replies to an office number, so an empty `to_number` means
            # record_failure could keep only the id: the text must come from the provider,
            # never be filed as an empty message (that would mark the id filed and lose it).
            kept = bool(row.to_number)
            cut_before = kept and was_cut(row.body)
        if not kept:
            message = self._fetch_set_aside(message.sid, provider_factory)
        provider: Any = None
        if message.num_media > 0 and provider_factory is not None:
            try:
                provider = provider_factory()
            except ProviderError as exc:
                raise ServiceError(exc.sentence) from exc
        elif message.num_media > 0:
            message = replace(message, num_media=0)
        try:
            result = self.ingest(message, provider, cut_before=cut_before)
        except Exception as exc:
            reason = storable_text(failure_reason(exc))
            log.error("trying inbound %s again failed: %s", message.sid, type(exc).__name__)
            with self.db.transaction() as s:
                s.execute(update(InboundFilingFailure).where(
                    InboundFilingFailure.id == failure_id).values(
                    reason=reason, last_failed_at=self.clock(),
                    attempts=InboundFilingFailure.attempts + 1))
            raise ServiceError(f"It still could not be filed: {reason}") from exc
        with self.db.transaction() as s:
            s.execute(delete(InboundFilingFailure).where(
                InboundFilingFailure.provider_sid == storage_key(message.sid)))
            audit.record(s, actor, "inbound.try_again", self.clock(), target_type="inbound",
                         target_id=result.inbound_id, detail=message.sid)
        log.info("set-aside inbound %s filed by user %s", message.sid, actor.user_id)
        return result

    def _fetch_set_aside(self, sid: str,
                         provider_factory: Callable[[], SmsProvider] | None) -> ProviderMessage:
        """The set-aside message `sid` as the provider describes it now (its kept fields were
        lost); raises ServiceError when it can't be had, leaving it set aside."""
        if provider_factory is None or sid.startswith("~"):
            raise ServiceError("Its text could not be kept, and Twilio can't be asked for it "
                               "here; it stays set aside.")
        try:
            fetched = provider_factory().fetch(sid)
        except ProviderError as exc:
            raise ServiceError(f"Its text could not be kept and Twilio could not be asked for "
                               f"it: {exc.sentence}") from exc
        if fetched.direction != "inbound":
            raise ServiceError("Twilio no longer describes it as a reply; it stays set aside.")
        return fetched

    # --- media retries -------------------------------------------------------------------
    def retry_pending_media(self, provider: SmsProvider, limit: int = 50) -> list[int]:
        """Ask again for the media of messages whose media are pending and due (back-off:
        `media_retry_delay`); returns the ids of messages whose media are now done (all
        fetched, or the missing ones given up after MEDIA_PENDING_LIMIT)."""
        now = self.clock()
        with self.db.session() as s:
            ids = list(s.scalars(select(InboundMessage.id).where(
                InboundMessage.media_pending.is_(True),
                (InboundMessage.media_retry_at.is_(None))
                | (InboundMessage.media_retry_at <= now))
                .order_by(InboundMessage.id).limit(limit)))
        done: list[int] = []
        for inbound_id in ids:
            if self._retry_one(provider, inbound_id):
                done.append(inbound_id)
        return done

    def _retry_one(self, provider: SmsProvider, inbound_id: int) -> bool:
        with self.db.session() as s:
            inbound = s.get(InboundMessage, inbound_id)
            if inbound is None or not inbound.media_pending:
                return False
            sid = inbound.provider_sid
            expected, attempts = inbound.num_media, inbound.media_attempts or 0
            expired = self.clock() >= inbound.stored_at + MEDIA_PENDING_LIMIT
            rows = {m.provider_media_sid: (m.content_type, m.data is None and not m.rejected
                                           and m.fetch_attempts < MAX_MEDIA_ATTEMPTS)
                    for m in s.scalars(select(InboundMedia).where(
                        InboundMedia.inbound_id == inbound_id))}
        if expired:
            return self._give_up_media(inbound_id, sid)
        new_items: list[FetchedMedia] = []
        retried: list[FetchedMedia] = []
        listed = True
        if len(rows) < expected:  # photos not listed yet: ask for the list again
            new_items, listed = self.fetch_media(provider, sid, skip=set(rows))
        for media_sid, (ctype, wanted) in rows.items():
            if wanted:
                item = MediaItem(sid=media_sid, message_sid=sid, content_type=ctype)
                retried.append(self.fetch_one(provider, item))
        now = self.clock()
        with self.db.transaction() as s:
            inbound = s.get(InboundMessage, inbound_id)
            assert inbound is not None
            for f in new_items:
                insert_ignore(s, InboundMedia, {
                    "inbound_id": inbound_id, "provider_media_sid": storage_key(f.sid),
                    "content_type": f.content_type, "data": f.data,
                    "size": None if f.data is None else len(f.data),
                    "fetch_attempts": MAX_MEDIA_ATTEMPTS if f.gave_up else 1,
                    "fetch_error": f.error, "rejected": f.rejected}, ["provider_media_sid"])
            for f in retried:
                if f.data is not None:
                    s.execute(update(InboundMedia).where(
                        InboundMedia.provider_media_sid == storage_key(f.sid),
                        InboundMedia.data.is_(None))
                        .values(data=f.data, size=len(f.data), fetch_error=None,
                                fetch_attempts=InboundMedia.fetch_attempts + 1))
                else:
                    s.execute(update(InboundMedia).where(
                        InboundMedia.provider_media_sid == storage_key(f.sid),
                        InboundMedia.data.is_(None))
                        .values(rejected=f.rejected, fetch_error=f.error,
                                fetch_attempts=MAX_MEDIA_ATTEMPTS if f.gave_up
                                else InboundMedia.fetch_attempts + 1))
            s.flush()
            s.expire_all()
            media = list(s.scalars(select(InboundMedia).where(
                InboundMedia.inbound_id == inbound_id).order_by(InboundMedia.id)))
            still = (not listed or len(media) < inbound.num_media
                     or any(m.data is None and not m.rejected
                            and m.fetch_attempts < MAX_MEDIA_ATTEMPTS for m in media))
            # Documents for each active link: only media no document was made for yet, so a
            # second desktop retrying the same message adds nothing.
            links = list(s.scalars(select(MessageLink).where(
                MessageLink.inbound_id == inbound_id, MessageLink.withdrawn_at.is_(None))))
            for link in links:
                note_id = s.scalar(select(CaseNote.id).where(CaseNote.link_id == link.id)
                                   .order_by(CaseNote.id.desc()).limit(1))
                if note_id is None:
                    continue
                have = set(s.scalars(select(Document.inbound_media_id).where(
                    Document.matter_id == link.matter_id,
                    Document.inbound_media_id.in_([m.id for m in media]))))
                add_documents(s, inbound, link.matter_id, note_id,
                              [m for m in media if m.id not in have], now)
            inbound.media_pending = still
            inbound.num_media = max(inbound.num_media, len(media))
            inbound.media_attempts = attempts + 1
            inbound.media_retry_at = now + media_retry_delay(attempts + 1) if still else None
            if not still:
                inbound.media_missing = max(0, inbound.num_media
                                            - sum(1 for m in media if m.data is not None))
        log.info("media of inbound %s retried: %s", sid, "pending" if still else "done")
        return not still

    def _give_up_media(self, inbound_id: int, sid: str) -> bool:
        """The limit passed: stop asking; the attachments without bytes are counted missing
        (the Received Log says "photo could not be downloaded"). Always True (done)."""
        with self.db.transaction() as s:
            inbound = s.get(InboundMessage, inbound_id)
            if inbound is None or not inbound.media_pending:
                return False
            have = int(s.scalar(select(func.count(InboundMedia.id)).where(
                InboundMedia.inbound_id == inbound_id, InboundMedia.data.is_not(None))) or 0)
            inbound.media_pending = False
            inbound.media_retry_at = None
            inbound.media_missing = max(0, inbound.num_media - have)
            missing = inbound.media_missing
        log.warning("media of inbound %s given up after %s: %d missing", sid,
                    MEDIA_PENDING_LIMIT, missing)
        return True

