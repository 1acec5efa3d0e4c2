"""Audit entries: who did what and when (never message bodies or tokens)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_sms.db.database import Database
from desktop_sms.db.models import AuditEntry, InboundMessage, Matter, OutboundMessage, User
from desktop_sms.domain.phones import mask
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
    sentence: str = ""  # what happened, in words (audit_sentence); "" until described


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
            found = list(s.execute(stmt))
            refs = _references(s, [e for e, _name in found])
            rows = []
            for e, name in found:
                row = AuditRow(e.at, name or "system", e.action,
                               f"{e.target_type or ''} {e.target_id or ''}".strip(), e.detail)
                rows.append(replace(row, sentence=audit_sentence(
                    e.action, e.target_type, e.target_id, e.detail,
                    refs.get((e.target_type or "", e.target_id or "")))))
            return rows


# What a text or a reply is, in words: ("the text to +1******0123", "25-000001" or "").
_Ref = tuple[str, str]


def _references(s: Session, entries: list[AuditEntry]) -> dict[tuple[str, str], _Ref]:
    """Masked numbers and case numbers behind entries that name a text or a reply by id."""
    message_ids = {int(e.target_id or 0) for e in entries
                   if e.target_type == "message" and (e.target_id or "").isdigit()}
    inbound_ids = {int(e.target_id or 0) for e in entries
                   if e.target_type == "inbound" and (e.target_id or "").isdigit()}
    out: dict[tuple[str, str], _Ref] = {}
    if message_ids:
        for mid, to_e164, number in s.execute(
                select(OutboundMessage.id, OutboundMessage.to_e164, Matter.case_number)
                .outerjoin(Matter, Matter.id == OutboundMessage.matter_id)
                .where(OutboundMessage.id.in_(message_ids))):
            out[("message", str(mid))] = (f"the text to {mask(to_e164)}", number or "")
    if inbound_ids:
        for iid, from_e164, from_raw in s.execute(
                select(InboundMessage.id, InboundMessage.from_e164, InboundMessage.from_raw)
                .where(InboundMessage.id.in_(inbound_ids))):
            out[("inbound", str(iid))] = (f"the reply from {mask(from_e164 or from_raw)}", "")
    return out


_SIMPLE = {  # action → sentence over the target (a case number, a user name, a setting key)
    "matter.add": "Added case {t}",
    "matter.edit": "Changed case {t}",
    "matter.assign": "Changed who is assigned to case {t}",
    "consent.request": "Asked the client of case {t} for SMS consent by text",
    "note.add": "Added a note on case {t}",
    "alert.dismiss": "Dismissed an alert ({d})",
    "user.add": "Added the user {t} ({d})",
    "user.edit": "Changed the user {t} ({d})",
    "user.password": "Set the password of {t}",
    "user.setup_code": "Issued a setup code for {t}",
    "setting.change": "Changed the setting {d}",
    "matters.import": "Imported cases from {t}: {d}",
    "sms.batch": "Sent a batch of texts: {d}",
    "sms.batch_cancel": "Canceled a batch: {d}",
    "template.save": "Saved the template {d}",
    "template.delete": "Deleted the template {d}",
    "optout.stop": "{t} replied STOP: texts to that number stopped",
    "optout.start": "{t} replied START: texts to that number allowed again",
    "sms.cancel_opt_out": "Canceled the texts waiting for {t} after it replied STOP",
}


def audit_sentence(action: str, target_type: str | None, target_id: str | None, detail: str,
                   ref: _Ref | None = None) -> str:
    """One plain sentence for an audit entry, e.g. "Sent a text to +1******0123 on case
    25-000001". ref: (what the text or reply is, its case number) when the entry names one by
    id. Numbers stay masked as stored (desktop_sms/domain/phones.py mask); an action without
    words of its own reads "<action>: <target> <detail>"."""
    t = target_id or ""
    d = detail.strip()
    to = re.search(r"\bto (\+?[\d*]+)", d)
    masked = to.group(1) if to else "the client"
    what, case = ref if ref else ("", "")
    on_case = f" on case {case}" if case else ""
    if action in ("sms.send", "sms.schedule"):
        verb = "Sent" if action == "sms.send" else "Scheduled"
        return f"{verb} a text to {masked} on case {t}"
    if action == "sms.cancel" and what:
        return f"Canceled {what}{on_case}" + (f" ({d})" if d else "")
    if action == "sms.send_missed" and what:
        return f"Sent {what}{on_case} after it was missed"
    if action in ("inbound.link", "inbound.unlink", "inbound.try_again"):
        reply = what or "a reply"
        case_words = re.search(r"case (\S+)", d)
        number = case_words.group(1) if case_words else ""
        if action == "inbound.link":
            return f"Filed {reply} on case {number}"
        if action == "inbound.unlink":
            return f"Took {reply} off case {number}"
        return f"Filed {reply} again after it was set aside"
    if action == "consent.record":
        return f"Recorded SMS {d or 'consent'} on case {t}"
    if action == "matter.stage":
        return f"Moved case {t} to the {d.removeprefix('stage ')} stage"
    if action in ("optout.override", "quiet_hours.override"):
        why = "after the number replied STOP" if action == "optout.override" \
            else "during quiet hours"
        return f"Texted {masked} on case {t} {why}"
    if action in _SIMPLE:
        return _SIMPLE[action].format(t=t, d=d).replace(" ()", "")
    if action.startswith("calendar."):
        return f"Calendar: {action.split('.', 1)[1].replace('.', ' ')} — {d}".rstrip(" —")
    return f"{action}: {f'{target_type} {t}'.strip()} {d}".strip()
