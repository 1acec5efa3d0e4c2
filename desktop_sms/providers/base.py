"""The provider interface: everything the product sends or receives goes through it (docs/product.md F4)."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class ProviderMessage:
    """One message as the provider reports it; datetimes are timezone-aware UTC."""

    sid: str
    direction: str  # "inbound", "outbound-api", "outbound-call", "outbound-reply"
    from_: str
    to: str
    body: str
    status: str  # Twilio's status words: queued, sending, sent, delivered, undelivered, failed, received, canceled, scheduled, accepted
    date_created: datetime | None = None
    date_sent: datetime | None = None
    date_updated: datetime | None = None
    num_media: int = 0
    num_segments: int = 1
    error_code: int | None = None
    error_message: str | None = None
    messaging_service_sid: str | None = None
    # Fields the provider gave that could not be read and were replaced by a safe value
    # (e.g. "num_media is not a number"): the message is kept and the poll reports them.
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True)
class MediaItem:
    """One media attachment of a message."""

    sid: str
    message_sid: str
    content_type: str
    uri: str = ""  # the media resource path (without .json), as Twilio gives it
    # Why the attachment is not downloadable (e.g. its id is not a Twilio Media SID); None
    # when it is. A refused item is recorded as given up, never fetched.
    refused: str | None = None


@dataclass(frozen=True)
class CredentialCheck:
    """The result of testing the credentials: what a person should be told."""

    ok: bool
    account_name: str = ""
    problems: list[str] = field(default_factory=list)
    bad_credentials: bool = False  # the Account SID / Auth Token pair was refused
    network_error: bool = False  # the provider could not be reached (or answered 5xx/429)
    missing_numbers: list[str] = field(default_factory=list)  # office numbers not on the account
    # Whether the Messaging Service can hold texts until their time (empty: not checked).
    scheduling: str = ""
    can_schedule: bool = False


class ProviderError(Exception):
    """A provider failure with Twilio's code and a sentence a person understands."""

    transient: bool = False

    def __init__(self, sentence: str, code: int | None = None, status: int | None = None,
                 retry_after: float | None = None, ambiguous: bool = False) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.code = code
        self.status = status
        self.retry_after = retry_after
        # True when the request may have reached the provider and been acted on (a read
        # time-out, a connection dropped mid-answer): a send must be looked up before a resend.
        self.ambiguous = ambiguous


class InvalidNumberError(ProviderError):
    """21211 and friends: the 'To' number is not a valid phone number."""


class OptedOutError(ProviderError):
    """21610: the recipient replied STOP."""


class NotSmsCapableError(ProviderError):
    """21614 / 21612: the number cannot receive texts (a landline, say)."""


class RegionNotPermittedError(ProviderError):
    """21408: the account may not text that country."""


class BodyTooLongError(ProviderError):
    """21617: the text is over 1,600 characters."""


class BadCredentialsError(ProviderError):
    """20003 / 401: the Account SID or Auth Token is wrong."""


class TransientProviderError(ProviderError):
    """429 / 20429 / 5xx / time-outs / dropped connections: worth trying again later."""

    transient = True


class InvalidSenderError(ProviderError):
    """21212 / 21606: the 'From' number is not valid or not on the account."""


class SchedulingError(ProviderError):
    """35111 / 35114 / 35115 / 35117 / 35118 / 35126: Twilio refused the SendAt scheduling request."""


class NotCancelableError(ProviderError):
    """30409: the message is no longer scheduled at the provider, so it cannot be canceled."""


class NotFoundError(ProviderError):
    """20404: no such message or media at the provider."""


class MediaTooLargeError(ProviderError):
    """The media is larger than the size cap; it was not downloaded."""


class UnknownProviderError(ProviderError):
    """Anything else the provider answered."""


class MalformedAnswerError(ProviderError):
    """The provider's answer was not a well-formed Twilio resource (no `sid`, wrong types,
    not JSON): it is refused, never stored under an invented id."""


class ListingIncompleteError(TransientProviderError):
    """A list of messages was cut short (a page link seen before, the page cap, the poll's
    deadline) or had malformed records that were skipped. Raised after every readable record
    was yielded.

    Attributes:
        complete: True when every page was read and only malformed records were skipped
            (a poll may then move its cursor on); False when pages may be missing.
        skipped: how many listed records were refused as malformed.
    """

    def __init__(self, sentence: str, complete: bool, skipped: int = 0, code: int | None = None,
                 status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(sentence, code=code, status=status, retry_after=retry_after)
        self.complete = complete
        self.skipped = skipped


class SmsProvider(abc.ABC):
    """What the product needs from an SMS provider."""

    @abc.abstractmethod
    def send(self, *, to: str, body: str, from_: str | None = None,
             messaging_service_sid: str | None = None,
             send_at: datetime | None = None) -> ProviderMessage:
        """Send (or, with send_at, have the provider schedule) one text."""

    @abc.abstractmethod
    def fetch(self, sid: str) -> ProviderMessage:
        """Fetch one message's current state."""

    @abc.abstractmethod
    def list_messages(self, *, to: str | None = None, from_: str | None = None,
                      date_sent_on_or_after: date | None = None,
                      page_size: int = 1000) -> Iterator[ProviderMessage]:
        """All messages matching the filters, following every page (newest first)."""

    @abc.abstractmethod
    def list_media(self, message_sid: str) -> list[MediaItem]:
        """The media attached to a message."""

    @abc.abstractmethod
    def download_media(self, media: MediaItem, max_bytes: int) -> bytes:
        """The media's bytes; raises ProviderError when larger than max_bytes."""

    @abc.abstractmethod
    def cancel(self, sid: str) -> ProviderMessage:
        """Cancel a message the provider holds as scheduled."""

    def set_deadline(self, monotonic_deadline: float | None) -> None:  # noqa: B027
        """Refuse (and cut off) requests after time.monotonic() reaches this; None: no limit.

        A poll sets it so that the whole poll ends in time. Providers without network
        requests need not do anything.
        """

    def server_date(self) -> datetime | None:
        """The provider's clock (UTC) as its latest answer dated it; None when unknown.

        Twilio dates every answer (the HTTP `Date` header); a desktop whose clock differs
        from it is warned (docs/media_and_clocks.md). Providers without one return None.
        """
        return None

    @abc.abstractmethod
    def test_credentials(self, office_numbers: list[str]) -> CredentialCheck:
        """Check the credentials and that each office number belongs to the account."""
