"""Manual filing from the Received Log (docs/product.md F8): Link to case… and Unlink, both audited."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select, update

from desktop_sms.db.database import Database
from desktop_sms.db.models import Alert, CaseNote, InboundMessage, Matter, MessageLink
from desktop_sms.domain.states import LinkRule
from desktop_sms.services import access, audit
from desktop_sms.services.common import Actor, Clock, NotFound, ValidationError, utcnow
from desktop_sms.services.ingest import file_on_matter
from desktop_sms.services.matters import MatterRow, MatterService
from desktop_sms.services.settings import SettingsService

log = logging.getLogger(__name__)


class LinkingService:
    """Files a received message on matters by hand, or withdraws a wrong link."""

    def __init__(self, db: Database, settings: SettingsService, matters: MatterService,
                 clock: Clock = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.matters = matters
        self.clock = clock

    def search(self, text: str, limit: int = 50) -> list[MatterRow]:
        """Matters by number, name or phone, for the Link to case… dialog."""
        return self.matters.search(text, limit)

    def link(self, actor: Actor, inbound_id: int, matter_ids: Sequence[int]) -> list[int]:
        """File the message on each matter (rule `manual`, with the user); returns new link ids.

        Matters it is already filed on are left as they are. Notes, documents and alerts are
        the same as automatic filing.
        """
        actor = access.require_sms(self.db, actor, "link received messages to cases")
        wanted = list(dict.fromkeys(matter_ids))
        if not wanted:
            raise ValidationError("Choose at least one case to link the message to.")
        region = str(self.settings.get("default_region"))
        now = self.clock()
        created: list[int] = []
        with self.db.transaction() as s:
            inbound = s.get(InboundMessage, inbound_id)
            if inbound is None:
                raise NotFound(f"There is no received message with id {inbound_id}.")
            numbers = {int(r[0]): str(r[1]) for r in s.execute(
                select(Matter.id, Matter.case_number).where(Matter.id.in_(wanted)))}
            missing = [m for m in wanted if m not in numbers]
            if missing:
                raise NotFound(f"There is no case with id {missing[0]}.")
            for matter_id in wanted:
                link = file_on_matter(s, inbound, matter_id, LinkRule.MANUAL,
                                      user_id=actor.user_id, now=now, region=region)
                if link is None:
                    continue
                created.append(link.id)
                audit.record(s, actor, "inbound.link", now, target_type="inbound",
                             target_id=inbound_id, detail=f"linked to case {numbers[matter_id]}")
            active = s.scalar(select(MessageLink.id).where(
                MessageLink.inbound_id == inbound_id, MessageLink.withdrawn_at.is_(None)).limit(1))
            inbound.needs_review = active is None
        log.info("inbound %s linked by hand to %d case(s)", inbound_id, len(created))
        return created

    def unlink(self, actor: Actor, link_id: int) -> None:
        """Withdraw a link: its note stays, marked withdrawn; its open alert is dismissed."""
        actor = access.require_sms(self.db, actor, "unlink received messages")
        now = self.clock()
        with self.db.transaction() as s:
            link = s.get(MessageLink, link_id)
            if link is None:
                raise NotFound(f"There is no link with id {link_id}.")
            if link.withdrawn_at is not None:
                raise ValidationError("This link was already undone.")
            changed = s.execute(update(MessageLink).where(
                MessageLink.id == link_id, MessageLink.withdrawn_at.is_(None))
                .values(withdrawn_at=now, withdrawn_by_id=actor.user_id)).rowcount  # type: ignore[attr-defined]
            if not changed:  # another desktop withdrew it a moment ago
                raise ValidationError("This link was already undone.")
            s.execute(update(CaseNote).where(CaseNote.link_id == link_id).values(withdrawn=True))
            s.execute(update(Alert).where(
                Alert.inbound_id == link.inbound_id, Alert.matter_id == link.matter_id,
                Alert.dismissed_at.is_(None)).values(dismissed_at=now,
                                                     dismissed_by_id=actor.user_id))
            number = s.scalar(select(Matter.case_number).where(Matter.id == link.matter_id))
            active = s.scalar(select(MessageLink.id).where(
                MessageLink.inbound_id == link.inbound_id, MessageLink.withdrawn_at.is_(None))
                .limit(1))
            if active is None:
                s.execute(update(InboundMessage).where(InboundMessage.id == link.inbound_id)
                          .values(needs_review=True))
            audit.record(s, actor, "inbound.unlink", now, target_type="inbound",
                         target_id=link.inbound_id,
                         detail=f"unlinked from case {number} (was {link.rule})")
        log.info("link %s withdrawn", link_id)
