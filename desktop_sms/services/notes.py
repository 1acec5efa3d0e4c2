"""Case notes as the matter view lists them (plain text, never rich text), and adding one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from desktop_sms.db.database import Database
from desktop_sms.db.models import CaseNote, Matter, User
from desktop_sms.services import audit
from desktop_sms.services.common import Actor, NotFound, ValidationError


@dataclass(frozen=True)
class NoteRow:
    """One case note for display."""

    id: int
    subject: str
    body: str
    created_at: datetime
    author: str | None
    withdrawn: bool


def list_notes(db: Database, matter_id: int, limit: int = 500) -> list[NoteRow]:
    """The newest notes of a matter first, with the author's name."""
    stmt = (select(CaseNote.id, CaseNote.subject, CaseNote.body, CaseNote.created_at, User.name,
                   CaseNote.withdrawn)
            .outerjoin(User, User.id == CaseNote.author_id)
            .where(CaseNote.matter_id == matter_id)
            .order_by(CaseNote.created_at.desc(), CaseNote.id.desc())
            .limit(limit))
    with db.session() as s:
        return [NoteRow(r[0], r[1], r[2] or "", r[3], r[4], bool(r[5])) for r in s.execute(stmt)]


NOTE_SUBJECT_MAX = 200  # characters; the column's size (desktop_sms/db/models.py CaseNote)


def add_note(db: Database, actor: Actor, matter_id: int, subject: str, body: str,
             at: datetime) -> int:
    """Add a person's note to a matter and audit it; returns the new note's id.

    subject: one line, required, at most NOTE_SUBJECT_MAX characters; body: any plain text.
    at: an aware UTC time. Raises ValidationError for a blank or too long subject, NotFound
    for an unknown matter, AccountDeactivated when the actor's account is no longer active.
    """
    subject = " ".join(subject.split())
    if not subject:
        raise ValidationError("Give the note a subject.")
    if len(subject) > NOTE_SUBJECT_MAX:
        raise ValidationError(f"The subject is too long: at most {NOTE_SUBJECT_MAX} characters.")
    with db.transaction() as s:
        matter = s.get(Matter, matter_id)
        if matter is None:
            raise NotFound(f"There is no case with id {matter_id}.")
        note = CaseNote(matter_id=matter_id, subject=subject, body=body.rstrip(),
                        created_at=at, author_id=actor.user_id)
        s.add(note)
        s.flush()
        audit.record(s, actor, "note.add", at, target_type="matter", target_id=matter.case_number,
                     detail=f"note {note.id}")
        return note.id
