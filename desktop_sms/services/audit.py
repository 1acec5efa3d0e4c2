"""Audit entries: who did what and when (never message bodies or tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_sms.db.database import Database
from desktop_sms.db.models import AuditEntry, User
from desktop_sms.services import access
from desktop_sms.services.common import Actor


def record(session: Session, actor: Actor, action: str, at: datetime, *,
           target_type: str | None = None, target_id: object = None, detail: str = "") -> None:
    """Add an audit entry in the caller's transaction, so it commits with the change itself.

    Every audited change is a person's change, so this is also where a deactivated account is
    stopped: AccountDeactivated (services/access.py) rolls the whole transaction back.
    """
    access.require_active(session, actor)
    session.add(AuditEntry(at=at, user_id=actor.user_id, action=action, target_type=target_type,
                           target_id=None if target_id is None else str(target_id), detail=detail))


@dataclass(frozen=True)
class AuditRow:
    """One line of the audit log view."""

    at: datetime
    username: str
    action: str
    target: str
    detail: str


class AuditService:
    """Reads the audit log (administrators only)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def entries(self, actor: Actor, *, text: str = "", action: str | None = None,
                limit: int = 2000) -> list[AuditRow]:
        """Newest first, filtered by action and by text in user, target or detail."""
        actor = access.require_admin(self.db, actor, "read the audit log")
        stmt = (select(AuditEntry, User.username).outerjoin(User, AuditEntry.user_id == User.id)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        if text:
            like = f"%{text}%"
            stmt = stmt.where(AuditEntry.detail.ilike(like) | User.username.ilike(like)
                              | AuditEntry.action.ilike(like) | AuditEntry.target_id.ilike(like))
        with self.db.session() as s:
            return [AuditRow(e.at, name or "system", e.action,
                             f"{e.target_type or ''} {e.target_id or ''}".strip(), e.detail)
                    for e, name in s.execute(stmt)]
