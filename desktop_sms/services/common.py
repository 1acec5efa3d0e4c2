"""What every service shares: the clock, the acting user, and the errors people are shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The real clock, timezone-aware UTC."""
    return datetime.now(UTC)


def local_date(moment: datetime) -> date:
    """The office's calendar date at that moment (this desktop's zone), not the UTC date:
    assignment end dates and "today" are local, and a US evening is already tomorrow in UTC."""
    return moment.astimezone().date()


class ServiceError(Exception):
    """A refusal with a sentence a person understands (shown as is in dialogs and the CLI)."""


class ValidationError(ServiceError):
    """The input was wrong; nothing was written."""


class PermissionDenied(ServiceError):
    """The acting user may not do this."""


class NotFound(ServiceError):
    """What was asked for does not exist."""


@dataclass(frozen=True)
class Actor:
    """The signed-in (or --as) user on whose behalf a service acts."""

    user_id: int | None
    username: str
    role: str = "staff"
    sms_access: bool = True

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def require_admin(self, what: str) -> None:
        """Raise PermissionDenied unless an administrator is acting."""
        if not self.is_admin:
            raise PermissionDenied(f"Only an administrator can {what}.")

    def require_sms(self, what: str) -> None:
        """Raise PermissionDenied unless the user has SMS access."""
        if not self.sms_access:
            raise PermissionDenied(f"You need SMS access to {what}.")


SYSTEM = Actor(user_id=None, username="system", role="admin")
