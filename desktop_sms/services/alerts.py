"""Alerts on the Home page (docs/product.md F12): replies filed on matters where the user holds a current
assignment (primary only, or any, per `alert_scope`); one dismissal hides it for everybody."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select, update

from desktop_sms.db.database import Database
from desktop_sms.db.models import Alert, Assignment, InboundMessage, Matter
from desktop_sms.domain.optout import classify_keyword
from desktop_sms.domain.phones import format_display
from desktop_sms.services import access, audit
from desktop_sms.services.common import (
    Actor,
    Clock,
    NotFound,
    PermissionDenied,
    local_date,
    utcnow,
)
from desktop_sms.services.settings import SettingsService

SNIPPET_CHARS = 80


@dataclass(frozen=True)
class AlertRow:
    """One alert in the Home page's block."""

    id: int
    matter_id: int
    case_number: str
    client_name: str
    sender: str  # the number as displayed
    snippet: str  # the start of the text, one line
    received_at: datetime | None
    created_at: datetime
    inbound_id: int | None


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The text on one line, cut with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class AlertService:
    """Which alerts a user sees, and dismissing them."""

    def __init__(self, db: Database, settings: SettingsService, clock: Clock = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def _primary_only(self) -> bool:
        return str(self.settings.get("alert_scope")) != "all"

    def _visible_matters(self, user_id: int) -> Select[int]:
        """Matters where the user holds a current assignment of the configured kind."""
        today = local_date(self.clock())
        stmt = select(Assignment.matter_id).where(
            Assignment.user_id == user_id,
            or_(Assignment.end_date.is_(None), Assignment.end_date > today))
        if self._primary_only():
            stmt = stmt.where(Assignment.kind == "primary")
        return stmt

    def visible_to(self, user_id: int, limit: int = 200) -> list[AlertRow]:
        """Open alerts the user sees, newest first."""
        region = str(self.settings.get("default_region"))
        stmt = (select(Alert, Matter.case_number, Matter.client_name, InboundMessage)
                .join(Matter, Matter.id == Alert.matter_id)
                .outerjoin(InboundMessage, InboundMessage.id == Alert.inbound_id)
                .where(Alert.dismissed_at.is_(None),
                       Alert.matter_id.in_(self._visible_matters(user_id)))
                .order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit))
        rows: list[AlertRow] = []
        with self.db.session() as s:
            for alert, number, client, inbound in s.execute(stmt):
                sender, text, received = "", "", None
                if inbound is not None:
                    sender = (format_display(inbound.from_e164, region) if inbound.from_e164
                              else inbound.from_raw)
                    text = snippet(inbound.body) or (
                        f"({inbound.num_media} attachment{'s' if inbound.num_media != 1 else ''})"
                        if inbound.num_media else "")
                    received = inbound.received_at
                    if classify_keyword(inbound.body) == "opt_out":
                        text = f"{client} replied STOP — opted out of texts"
                rows.append(AlertRow(alert.id, alert.matter_id, number, client, sender, text,
                                     received, alert.created_at, alert.inbound_id))
        return rows

    def count_for(self, user_id: int) -> int:
        """How many open alerts the user sees."""
        stmt = select(func.count(Alert.id)).where(
            Alert.dismissed_at.is_(None), Alert.matter_id.in_(self._visible_matters(user_id)))
        with self.db.session() as s:
            return int(s.scalar(stmt) or 0)

    def matters_for_user(self, user_id: int, matter_ids: Sequence[int]) -> list[int]:
        """Of these matters, those whose alerts the user sees (for the tray notification)."""
        if not matter_ids:
            return []
        stmt = self._visible_matters(user_id).where(Assignment.matter_id.in_(list(matter_ids)))
        with self.db.session() as s:
            return sorted(set(s.scalars(stmt)))

    def dismiss(self, actor: Actor, alert_id: int) -> bool:
        """Dismiss for everybody (audited); False when it was already dismissed.

        Only an alert the actor sees (visible_to) may be dismissed: PermissionDenied otherwise,
        NotFound for an unknown id, AccountDeactivated for a deactivated account.
        """
        now = self.clock()
        visible = self._visible_matters(actor.user_id) if actor.user_id is not None else None
        with self.db.transaction() as s:
            actor = access.current(s, actor)
            alert = s.get(Alert, alert_id)
            if alert is None:
                raise NotFound(f"There is no alert with id {alert_id}.")
            if visible is not None and alert.matter_id not in set(s.scalars(visible)):
                raise PermissionDenied("You can only dismiss alerts shown to you (on cases "
                                       "you are assigned to).")
            changed = s.execute(update(Alert).where(Alert.id == alert_id,
                                                    Alert.dismissed_at.is_(None))
                                .values(dismissed_at=now, dismissed_by_id=actor.user_id)).rowcount  # type: ignore[attr-defined]
            if changed:
                number = s.scalar(select(Matter.case_number).where(Matter.id == alert.matter_id))
                audit.record(s, actor, "alert.dismiss", now, target_type="alert",
                             target_id=alert_id, detail=f"case {number}")
        return bool(changed)

    def undo_dismiss(self, actor: Actor, alert_id: int) -> bool:
        """Bring back an alert the actor dismissed (the few seconds' Undo); audited. False when
        it is not dismissed, or was dismissed by somebody else."""
        now = self.clock()
        with self.db.transaction() as s:
            alert = s.get(Alert, alert_id)
            if alert is None:
                raise NotFound(f"There is no alert with id {alert_id}.")
            changed = s.execute(update(Alert).where(Alert.id == alert_id,
                                                    Alert.dismissed_at.is_not(None),
                                                    Alert.dismissed_by_id == actor.user_id)
                                .values(dismissed_at=None, dismissed_by_id=None)).rowcount  # type: ignore[attr-defined]
            if changed:
                audit.record(s, actor, "alert.undismiss", now, target_type="alert",
                             target_id=alert_id)
        return bool(changed)
