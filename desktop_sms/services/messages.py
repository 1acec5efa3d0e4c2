"""Message listings for the command line (`messages --json`) and exports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from desktop_sms.db.database import Database
from desktop_sms.db.models import (
    InboundFilingFailure,
    InboundMessage,
    Matter,
    MessageLink,
    OutboundMessage,
)
from desktop_sms.domain.optout import classify_keyword
from desktop_sms.services import access
from desktop_sms.services.common import Actor
from desktop_sms.services.ingest import was_cut

_OPT_EVENTS = {"opt_out": "opted_out", "opt_in": "opted_in"}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def list_messages(db: Database, *, actor: Actor, case_number: str | None = None,
                  direction: str | None = None) -> list[dict[str, Any]]:
    """Outbound and inbound messages as plain dicts (`messages --json`), oldest first.

    Inbound rows carry `body_truncated` (the text was cut at 64 KB). Replies that could not be
    filed and were set aside (docs/set_aside.md) are listed too, with `status` "set_aside",
    `id` "aside-N", `reason` and `filing_attempts`, on no case — so not under `case_number`.
    They carry message bodies, so the actor needs SMS access now (services/access.py); raises
    PermissionDenied, AccountDeactivated or NotFound (an unknown case number).
    """
    access.require_sms(db, actor, "read messages")
    rows: list[dict[str, Any]] = []
    with db.session() as s:
        matter_id = None
        if case_number:
            matter_id = s.scalar(select(Matter.id).where(Matter.case_number == case_number))
            if matter_id is None:
                from desktop_sms.services.common import NotFound

                raise NotFound(f"There is no case numbered '{case_number}'.")
        if direction in (None, "outbound"):
            stmt = select(OutboundMessage, Matter.case_number).outerjoin(
                Matter, OutboundMessage.matter_id == Matter.id)
            if matter_id is not None:
                stmt = stmt.where(OutboundMessage.matter_id == matter_id)
            for m, number in s.execute(stmt):
                rows.append({
                    "id": f"out-{m.id}", "direction": "outbound", "status": m.state,
                    "from": m.from_number, "to": m.to_e164, "body": m.body,
                    "provider_sid": m.provider_sid, "created_at": _iso(m.created_at),
                    "send_at": _iso(m.send_at), "sent_at": _iso(m.sent_at),
                    "cases": [number] if number else [], "rules": [], "needs_review": False,
                    "error_code": m.error_code, "error_message": m.error_message,
                    "kind": m.kind, "_sort": m.created_at,
                })
        if direction in (None, "inbound"):
            istmt = select(InboundMessage).options(
                selectinload(InboundMessage.links).selectinload(MessageLink.matter))
            if matter_id is not None:
                istmt = istmt.where(InboundMessage.id.in_(select(MessageLink.inbound_id).where(
                    MessageLink.matter_id == matter_id, MessageLink.withdrawn_at.is_(None))))
            for im in s.scalars(istmt):
                links = sorted((lk for lk in im.links if lk.withdrawn_at is None),
                               key=lambda lk: lk.id)
                rows.append({
                    "id": f"in-{im.id}", "direction": "inbound", "status": "received",
                    "from": im.from_e164 or im.from_raw, "to": im.to_number, "body": im.body,
                    "provider_sid": im.provider_sid, "created_at": _iso(im.stored_at),
                    "sent_at": _iso(im.received_at),
                    "cases": [lk.matter.case_number for lk in links],
                    "rules": [lk.rule for lk in links], "needs_review": im.needs_review,
                    "num_media": im.num_media, "body_truncated": im.body_truncated,
                    "_sort": im.received_at,
                    # "opted_out" (STOP and the like) / "opted_in" (START, YES) / None
                    "opt_out_event": _OPT_EVENTS.get(classify_keyword(im.body) or ""),
                })
            if matter_id is None:
                rows.extend(_set_aside_rows(s))
    rows.sort(key=lambda r: r.pop("_sort"))
    return rows


def _set_aside_rows(s: Any) -> list[dict[str, Any]]:
    """Replies set aside after failed filings, as `list_messages` rows (docs/set_aside.md)."""
    out: list[dict[str, Any]] = []
    for f in s.scalars(select(InboundFilingFailure).where(
            InboundFilingFailure.set_aside_at.is_not(None))):
        out.append({
            "id": f"aside-{f.id}", "direction": "inbound", "status": "set_aside",
            "from": f.from_raw, "to": f.to_number, "body": f.body,
            "provider_sid": f.provider_sid, "created_at": _iso(f.first_failed_at),
            "sent_at": _iso(f.received_at), "cases": [], "rules": [], "needs_review": True,
            "num_media": f.num_media, "reason": f.reason,
            "body_truncated": was_cut(f.body),
            "filing_attempts": f.attempts, "_sort": f.received_at or f.first_failed_at,
        })
    return out
