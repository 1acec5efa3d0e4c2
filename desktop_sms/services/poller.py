"""One poll of the provider (docs/product.md F5): new inbound messages filed, outbound statuses refreshed.

Qt-free: the UI's background worker calls `Poller.poll_once()` every poll interval and backs
off when the report has errors. The cursor of an office number only moves past a message once
it and every older listed message are stored, so a poll failing midway loses nothing.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from desktop_sms.db.database import Database
from desktop_sms.db.models import InboundMessage, OutboundMessage, PollCursor
from desktop_sms.domain.phones import mask
from desktop_sms.domain.states import OutboundState, may_advance, outbound_state_from_twilio
from desktop_sms.providers.base import (
    ListingIncompleteError,
    NotFoundError,
    ProviderError,
    ProviderMessage,
    SmsProvider,
)
from desktop_sms.services.alerts import AlertService
from desktop_sms.services.common import Clock, utcnow
from desktop_sms.services.ingest import (
    InboundIngest,
    IngestResult,
    counts_against_message,
    storage_key,
)
from desktop_sms.services.linking import LinkingService
from desktop_sms.services.matcher import InboundMatcher
from desktop_sms.services.matters import MatterService
from desktop_sms.services.received import ReceivedLog
from desktop_sms.services.settings import SettingsService

if TYPE_CHECKING:
    from desktop_sms.services.held import HeldTexts

log = logging.getLogger(__name__)

ProviderFactory = Callable[[], SmsProvider]
STATUS_REFRESH_WINDOW = timedelta(hours=72)
POLL_DEADLINE_S = 120.0  # a whole poll (every number, media, statuses) ends within this
_SID_CHUNK = 500  # stays under every backend's bound-parameter limit
# How far behind the poll's own start the cursor stays at most: provider clocks and message
# dates may be a little ahead of this desktop's clock (docs/set_aside.md).
CURSOR_OVERLAP = timedelta(minutes=10)


@dataclass(frozen=True)
class PollReport:
    """What one poll did; errors are sentences for the status bar (the caller backs off)."""

    new_inbound_ids: list[int]
    filed_matter_ids: list[int]
    updated_outbound_ids: list[int]
    errors: list[str]
    finished_at: datetime
    needs_review_ids: list[int] = field(default_factory=list)
    media_completed_ids: list[int] = field(default_factory=list)
    retry_after: float | None = None  # the provider asked to wait this many seconds
    set_aside_sids: list[str] = field(default_factory=list)  # could not be filed: set aside
    # Seconds this desktop's clock is ahead of Twilio's (negative: behind), from the `Date`
    # header of the poll's last answer; None when no answer was dated.
    clock_skew_s: float | None = None

    @property
    def clock_warning(self) -> str | None:
        """The status bar's sentence when the clocks differ by more than a minute."""
        return clock_skew_warning(self.clock_skew_s)

    @property
    def ok(self) -> bool:
        """True when the poll met no error."""
        return not self.errors

    @property
    def changed(self) -> bool:
        """True when views should refresh."""
        return bool(self.new_inbound_ids or self.updated_outbound_ids or self.media_completed_ids
                    or self.set_aside_sids)


@dataclass
class _Acc:
    new_inbound_ids: list[int] = field(default_factory=list)
    filed_matter_ids: list[int] = field(default_factory=list)
    updated_outbound_ids: list[int] = field(default_factory=list)
    needs_review_ids: list[int] = field(default_factory=list)
    media_completed_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    retry_after: float | None = None
    set_aside_sids: list[str] = field(default_factory=list)
    clock_skew_s: float | None = None

    def provider_error(self, context: str, exc: ProviderError) -> None:
        self.errors.append(f"{context}: {exc.sentence}")
        if exc.retry_after is not None:
            self.retry_after = max(self.retry_after or 0.0, exc.retry_after)


CLOCK_SKEW_LIMIT = timedelta(minutes=1)


def clock_skew_warning(skew_s: float | None) -> str | None:
    """A sentence for the status bar when this desktop's clock differs from Twilio's by more
    than CLOCK_SKEW_LIMIT (`skew_s`: seconds ahead, negative when behind); None otherwise.

    Filing compares Twilio's times with Twilio's times, so replies still go to the right
    case; the warning is for the times people read and type (docs/media_and_clocks.md).
    """
    if skew_s is None or abs(skew_s) <= CLOCK_SKEW_LIMIT.total_seconds():
        return None
    minutes = abs(skew_s) / 60
    amount = (f"{round(minutes)} minutes" if minutes >= 1.5 else "about a minute"
              ) if minutes < 120 else f"{minutes / 60:.1f} hours"
    way = "ahead of" if skew_s > 0 else "behind"
    return (f"This computer's clock is {amount} {way} Twilio's; set the computer's time "
            "automatically (Windows: Settings → Time & language → Date & time).")


def _received_at(message: ProviderMessage) -> datetime:
    when = message.date_sent or message.date_created
    return when if when is not None else datetime.min.replace(tzinfo=UTC)


class Poller:
    """The body of the polling loop: `poll_once()` lists, files and refreshes, never raising
    for provider failures."""

    def __init__(self, db: Database, settings: SettingsService, provider_factory: ProviderFactory,
                 clock: Clock = utcnow, ingest: InboundIngest | None = None,
                 page_size: int = 1000, deadline_s: float = POLL_DEADLINE_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.deadline_s = deadline_s  # seconds one poll may take, requests included
        self.monotonic = monotonic
        self.page_size = page_size
        self.settings = settings
        self.provider_factory = provider_factory
        self.clock = clock
        self.ingest = ingest or InboundIngest(db, settings, clock)
        # Texts held by Twilio (services/held.py): set by build_services.
        self.held: HeldTexts | None = None

    def poll_once(self) -> PollReport:
        """Poll every office number, retry pending media, refresh outbound statuses."""
        acc = _Acc()
        try:
            provider = self.provider_factory()
        except ProviderError as exc:
            acc.provider_error("Provider", exc)
            return self._report(acc)
        # Every request of this poll is refused or cut off once the poll's time is up.
        provider.set_deadline(self.monotonic() + self.deadline_s)
        try:
            return self._poll_with(provider, acc)
        finally:
            provider.set_deadline(None)

    def _poll_with(self, provider: SmsProvider, acc: _Acc) -> PollReport:
        office_numbers: list[str] = list(self.settings.get("office_numbers") or [])
        if not office_numbers:
            acc.errors.append("No office number is set (Preferences → Telephony & SMS).")
        # One poll scope: filing settings are read once for every number (see
        # InboundIngest.polling), not once per message.
        with self.ingest.polling():
            for number in office_numbers:
                try:
                    self.poll_number(provider, number, acc)
                except ProviderError as exc:
                    acc.provider_error(f"Polling {mask(number)}", exc)
        try:
            acc.media_completed_ids += self.ingest.retry_pending_media(provider)
        except ProviderError as exc:
            acc.provider_error("Fetching attachments", exc)
        try:
            self.refresh_outbound(provider, acc)
        except ProviderError as exc:
            acc.provider_error("Refreshing delivery status", exc)
        self._refresh_held(provider, acc)
        answered_on = provider.server_date()
        if answered_on is not None:
            acc.clock_skew_s = (self.clock() - answered_on).total_seconds()
        return self._report(acc)

    def _refresh_held(self, provider: SmsProvider, acc: _Acc) -> None:
        """Texts held by Twilio: cancel those our rules no longer allow (a STOP just filed, a
        case closed), then record those that went out (docs/held_by_twilio.md)."""
        if self.held is None:
            return
        try:
            acc.updated_outbound_ids.extend(self.held.sweep(provider))
            acc.updated_outbound_ids.extend(self.held.refresh(provider))
        except ProviderError as exc:
            acc.provider_error("Checking texts held by Twilio", exc)

    def _report(self, acc: _Acc) -> PollReport:
        return PollReport(
            new_inbound_ids=acc.new_inbound_ids,
            filed_matter_ids=sorted(set(acc.filed_matter_ids)),
            updated_outbound_ids=acc.updated_outbound_ids, errors=acc.errors,
            finished_at=self.clock(), needs_review_ids=acc.needs_review_ids,
            media_completed_ids=acc.media_completed_ids, retry_after=acc.retry_after,
            set_aside_sids=acc.set_aside_sids, clock_skew_s=acc.clock_skew_s)

    # --- inbound -------------------------------------------------------------------------
    def cursor(self, number: str) -> datetime | None:
        """How far polling of this office number has safely got (None before the first poll)."""
        with self.db.session() as s:
            row = s.get(PollCursor, number)
            return row.last_date_sent if row is not None else None

    def poll_number(self, provider: SmsProvider, number: str, acc: _Acc | None = None) -> None:
        """List, file and advance the cursor for one office number; ProviderError propagates."""
        acc = acc if acc is not None else _Acc()
        now = self.clock()
        start = self.cursor(number)
        if start is not None:
            start = min(start, now - CURSOR_OVERLAP)  # heal a cursor a bad date moved ahead
        if start is None:
            start = now - timedelta(days=int(self.settings.get("first_poll_lookback_days")))
        since = (start - timedelta(days=1)).astimezone(UTC).date()
        listed, complete = self._list_inbound(provider, number, since, acc)
        listed.sort(key=lambda m: (_received_at(m), m.sid))
        stored = self._stored_sids([m.sid for m in listed])
        failed_before = self.ingest.failures([m.sid for m in listed if m.sid not in stored])
        safe_until: datetime | None = None
        held = False  # a message that failed (not yet set aside) keeps the cursor before it
        # Inside the poll scope ingest() trusts this bulk filter of stored SIDs (the unique-sid
        # insert still guards against another desktop) and reuses the settings read once.
        # Each message is still its own transaction: filed completely or not at all, and one
        # that fails doesn't stop the later ones from being filed (docs/set_aside.md).
        handled: set[str] = set()  # a sid the provider lists again in this poll is tried once
        with self.ingest.polling():
            for message in listed:
                if (message.sid not in stored and message.sid not in handled
                        and not failed_before.get(message.sid, False)):
                    handled.add(message.sid)
                    try:
                        result = self.ingest.ingest(message, provider)
                    except Exception as exc:
                        if not self._filing_failed(number, message, exc, acc):
                            held = True
                            if not counts_against_message(exc):
                                break  # the database or network is down: the rest would fail alike
                        continue
                    if message.sid in failed_before:
                        self.ingest.clear_failure(message.sid)
                    if result.created and result.inbound_id is not None:
                        self._report_unreadable(number, message, result, acc)
                        acc.new_inbound_ids.append(result.inbound_id)
                        acc.filed_matter_ids.extend(result.matter_ids)
                        if result.needs_review:
                            acc.needs_review_ids.append(result.inbound_id)
                if not held:
                    safe_until = _received_at(message)
        if not complete:
            return  # pages may be missing: what was read is filed, the cursor stays
        if safe_until is not None and safe_until > start:
            self._advance_cursor(number, safe_until, now)
        elif self.cursor(number) is None:
            # First poll with nothing to file: remember the look-back start, not "now", so a
            # message dated earlier but listed late is still caught.
            self._advance_cursor(number, start, now)

    def _list_inbound(self, provider: SmsProvider, number: str, since: Any,
                      acc: _Acc) -> tuple[list[ProviderMessage], bool]:
        """The inbound messages to `number` listed since `since`, and whether the listing was
        complete. A listing cut short (ListingIncompleteError) keeps what was read and is
        reported; any other ProviderError propagates."""
        listed: list[ProviderMessage] = []
        complete = True
        try:
            for m in provider.list_messages(to=number, date_sent_on_or_after=since,
                                            page_size=self.page_size):
                if m.direction == "inbound" and m.to == number:
                    listed.append(m)
        except ListingIncompleteError as exc:
            acc.provider_error(f"Polling {mask(number)}", exc)
            complete = exc.complete
        return listed, complete

    @staticmethod
    def _report_unreadable(number: str, message: ProviderMessage, result: IngestResult,
                           acc: _Acc) -> None:
        """Report, once (when the reply is filed), the parts of a filed reply Twilio gave in a
        form that could not be read: fields replaced by a safe value, attachments refused."""
        for what in message.unreadable:
            acc.errors.append(f"A reply to {mask(number)} was filed, but part of Twilio's "
                              f"answer could not be read ({what}).")
        if result.media_refused:
            acc.errors.append(f"A reply to {mask(number)} was filed, but {result.media_refused} "
                              "attachment(s) could not be read and were not downloaded.")

    def _filing_failed(self, number: str, message: ProviderMessage, exc: Exception,
                       acc: _Acc) -> bool:
        """Report and count a failed filing; True when the message is now set aside."""
        # No traceback text: database errors quote their parameters (bodies, numbers).
        frame = traceback.extract_tb(exc.__traceback__)[-1:] or None
        where = f"{frame[0].filename}:{frame[0].lineno}" if frame else "?"
        log.error("filing inbound %s failed: %s at %s", message.sid, type(exc).__name__, where)
        try:
            aside = (self.ingest.record_failure(message, exc) if counts_against_message(exc)
                     else False)
        except Exception as again:  # the database can't be written: the cursor waits
            log.error("counting the failure of inbound %s failed: %s", message.sid,
                      type(again).__name__)
            aside = False
        if aside:
            acc.set_aside_sids.append(message.sid)
            acc.errors.append(f"A reply to {mask(number)} could not be filed and was set aside "
                              "(SMS → Received lists it with the reason).")
        elif isinstance(exc, ProviderError):
            acc.provider_error(f"Filing a reply to {mask(number)}", exc)
        else:
            acc.errors.append(f"A reply to {mask(number)} could not be filed "
                              f"({type(exc).__name__}); it will be tried again.")
        return aside

    def _stored_sids(self, sids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        by_key = {storage_key(sid): sid for sid in sids}  # ids as stored (ingest.storage_key)
        keys = list(by_key)
        with self.db.session() as s:
            for i in range(0, len(keys), _SID_CHUNK):
                chunk = keys[i:i + _SID_CHUNK]
                found.update(by_key[str(k)] for k in s.scalars(select(
                    InboundMessage.provider_sid).where(InboundMessage.provider_sid.in_(chunk))))
        return found

    def _advance_cursor(self, number: str, to: datetime, now: datetime) -> None:
        """Move the cursor forward only (another desktop may have moved it further), and never
        past `now` (the poll's start) less CURSOR_OVERLAP, whatever date the provider gave a
        message: a reply dated in the future must not hide the replies that follow it."""
        to = min(to, now - CURSOR_OVERLAP)
        with self.db.transaction() as s:
            module: Any = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
            stmt = module.insert(PollCursor).values(office_number=number, last_date_sent=to,
                                                    updated_at=now)
            stmt = stmt.on_conflict_do_update(
                index_elements=["office_number"],
                set_={"last_date_sent": stmt.excluded.last_date_sent,
                      "updated_at": stmt.excluded.updated_at},
                where=PollCursor.last_date_sent < stmt.excluded.last_date_sent)
            s.execute(stmt)

    # --- outbound status -----------------------------------------------------------------
    def refresh_outbound(self, provider: SmsProvider, acc: _Acc | None = None) -> list[int]:
        """Fetch recent accepted-but-not-final outbound messages and record their new status.

        Also fills in the provider's time of sending (`date_sent`, else `date_created`) where
        the stored one differs, e.g. a text sent before the send time came from Twilio's
        answer, when this desktop's clock was off (docs/media_and_clocks.md)."""
        acc = acc if acc is not None else _Acc()
        now = self.clock()
        with self.db.session() as s:
            rows = s.execute(select(OutboundMessage.id, OutboundMessage.provider_sid,
                                    OutboundMessage.provider_status, OutboundMessage.sent_at)
                             .where(OutboundMessage.state == OutboundState.SENT.value,
                                    OutboundMessage.provider_sid.is_not(None),
                                    OutboundMessage.sent_at >= now - STATUS_REFRESH_WINDOW)
                             .order_by(OutboundMessage.sent_at)).all()
        updated: list[int] = []
        for message_id, sid, old_status, old_sent_at in rows:
            try:
                fetched = provider.fetch(str(sid))
            except NotFoundError:
                continue
            new_state = outbound_state_from_twilio(fetched.status)
            values: dict[str, Any] = {"provider_status": fetched.status[:20],
                                      "status_updated_at": now}
            provider_time = fetched.date_sent or fetched.date_created
            retimed = provider_time is not None and provider_time != old_sent_at
            if retimed:
                values["sent_at"] = provider_time
            advance = new_state is not None and may_advance(OutboundState.SENT, new_state)
            if advance:
                assert new_state is not None
                values["state"] = new_state.value
                if fetched.error_code:
                    values["error_code"] = fetched.error_code
                    values["error_message"] = fetched.error_message
            elif fetched.status == old_status and not retimed:
                continue
            with self.db.transaction() as s:
                changed = s.execute(update(OutboundMessage).where(
                    OutboundMessage.id == message_id,
                    OutboundMessage.state == OutboundState.SENT.value).values(**values)).rowcount  # type: ignore[attr-defined]
            if changed and advance:
                updated.append(int(message_id))
        acc.updated_outbound_ids.extend(updated)
        return updated


@dataclass
class InboundServices:
    """The inbound side of the service layer, built once and handed to the UI and the CLI."""

    matcher: InboundMatcher
    ingest: InboundIngest
    received: ReceivedLog
    linking: LinkingService
    alerts: AlertService

    def poller(self, provider_factory: ProviderFactory) -> Poller:
        """A Poller over these services with the given provider (built per poll)."""
        return Poller(self.ingest.db, self.ingest.settings, provider_factory, self.ingest.clock,
                      self.ingest)


def build_inbound_services(db: Database, settings: SettingsService, matters: MatterService,
                           clock: Clock = utcnow) -> InboundServices:
    """Wire the inbound services over one database, settings and clock."""
    matcher = InboundMatcher(db)
    ingest = InboundIngest(db, settings, clock, matcher)
    return InboundServices(matcher=matcher, ingest=ingest,
                           received=ReceivedLog(db, settings),
                           linking=LinkingService(db, settings, matters, clock),
                           alerts=AlertService(db, settings, clock))
