"""All services of one running application, built once at start-up and passed down."""

from __future__ import annotations

from dataclasses import dataclass

from desktop_sms.db.database import Database
from desktop_sms.services.audit import AuditService
from desktop_sms.services.calendar import CalendarService
from desktop_sms.services.common import Clock, utcnow
from desktop_sms.services.conversations import ConversationService
from desktop_sms.services.credentials import CredentialStore, KeyringCredentialStore
from desktop_sms.services.dispatcher import Dispatcher
from desktop_sms.services.importer import CaseImporter
from desktop_sms.services.matters import MatterService
from desktop_sms.services.outbound import OutboundService
from desktop_sms.services.poller import InboundServices, Poller, build_inbound_services
from desktop_sms.services.provider_factory import ProviderFactory
from desktop_sms.services.settings import SettingsService
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
    return Services(db=db, clock=clock, settings=settings, users=UserService(db, clock, region),
                    matters=matters, importer=CaseImporter(matters), audit=AuditService(db),
                    credentials=credentials, providers=providers, outbound=outbound,
                    dispatcher=dispatcher, calendar=calendar, inbound=inbound,
                    poller=inbound.poller(providers),
                    conversations=ConversationService(db, settings, clock))
