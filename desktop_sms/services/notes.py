"""Case notes as the matter view lists them (read-only; plain text, never rich text)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from desktop_sms.db.database import Database
from desktop_sms.db.models import CaseNote, User


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
