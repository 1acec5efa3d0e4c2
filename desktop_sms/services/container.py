"""All services of one running application, built once at start-up and passed down."""

from __future__ import annotations

from dataclasses import dataclass

from desktop_sms.db.database import Database
from desktop_sms.services.audit import AuditService
from desktop_sms.services.batches import BatchService
from desktop_sms.services.calendar import CalendarService
from desktop_sms.services.client_reminders import ClientReminderService
from desktop_sms.services.common import Clock, utcnow
from desktop_sms.services.consent import ConsentService
from desktop_sms.services.conversations import ConversationService
from desktop_sms.services.credentials import CredentialStore, KeyringCredentialStore
from desktop_sms.services.dispatcher import Dispatcher
from desktop_sms.services.held import HeldTexts
from desktop_sms.services.importer import CaseImporter
from desktop_sms.services.matters import MatterService
from desktop_sms.services.outbound import OutboundService
from desktop_sms.services.poller import InboundServices, Poller, build_inbound_services
from desktop_sms.services.provider_factory import ProviderFactory
from desktop_sms.services.settings import SettingsService
from desktop_sms.services.templates import TemplateService
from desktop_sms.services.users import UserService


@dataclass
class Services:
    """The service layer as the UI and the command line see it."""

    db: Database
    clock: Clock
    settings: SettingsService
    users: UserService
    matters: MatterService
    importer: CaseImporter
    audit: AuditService
    credentials: CredentialStore
    providers: ProviderFactory
    outbound: OutboundService
    dispatcher: Dispatcher
    calendar: CalendarService
    inbound: InboundServices
    poller: Poller
    held: HeldTexts
    templates: TemplateService
    batches: BatchService
    client_reminders: ClientReminderService
    consent: ConsentService
    conversations: ConversationService

    def close(self) -> None:
        """Stop what the services started (the in-process sandbox) and close the database."""
        self.providers.close()
        self.db.dispose()


def build_services(db: Database, clock: Clock = utcnow,
                   credentials: CredentialStore | None = None,
                   providers: ProviderFactory | None = None) -> Services:
    """Wire every service over one database and one clock."""
    settings = SettingsService(db, clock)
    region = str(settings.get("default_region"))
    matters = MatterService(db, clock, region)
    credentials = credentials or KeyringCredentialStore()
    providers = providers or ProviderFactory(settings, credentials)
    outbound = OutboundService(db, settings, clock)
    dispatcher = Dispatcher(db, settings, providers, clock)
    calendar = CalendarService(db, outbound, settings, clock, desktop_id=dispatcher.desktop_id)
    inbound = build_inbound_services(db, settings, matters, clock)
    held = HeldTexts(db, settings, providers, clock, desktop_id=dispatcher.desktop_id)
    dispatcher.held = held
    outbound.held_cancel = held.cancel_one
    poller = inbound.poller(providers)
    poller.held = held
    templates = TemplateService(db, settings, clock)
    batches = BatchService(db, settings, outbound, templates, clock, tz=calendar.tz)
    client_reminders = ClientReminderService(db, settings, templates, calendar, clock)
    calendar.add_item_hook(client_reminders.on_item_changed)
    # Held reminder texts the hook marked are canceled / held again at Twilio after the commit.
    calendar.add_after_commit_hook(held.settle_after_calendar_change)
    return Services(db=db, clock=clock, settings=settings,
                    users=UserService(db, clock, region, settings),
                    matters=matters, importer=CaseImporter(matters), audit=AuditService(db),
                    credentials=credentials, providers=providers, outbound=outbound,
                    dispatcher=dispatcher, calendar=calendar, inbound=inbound,
                    poller=poller, held=held, templates=templates, batches=batches,
                    client_reminders=client_reminders,
                    consent=ConsentService(db, clock, region, outbound.notify),
                    conversations=ConversationService(db, settings, clock))
