"""Permission checks against the acting user's row as it is now, not as it was at sign-in.

A signed-in window holds an :class:`~desktop_sms.services.common.Actor` for hours; meanwhile an
administrator may demote the user, take away SMS access or deactivate the account. Every
service that checks a permission therefore calls :func:`current` (or one of the ``require_*``
helpers below), which reads role, SMS access and the active flag from the ``users`` table on
each call (see docs/accounts.md).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_sms.db.database import Database
from desktop_sms.db.models import User
from desktop_sms.services.common import Actor, PermissionDenied

DEACTIVATED = "Your account has been deactivated; ask an administrator. You will be signed out."


class AccountDeactivated(PermissionDenied):
    """The acting user's account was deactivated (or removed) since they signed in.

    The UI reacts to it wherever it arrives (any task's failure) by signing the window out.
    """


def current(source: Database | Session, actor: Actor) -> Actor:
    """The actor with the role and SMS access stored for them now.

    ``source`` is a Database (a short read session is opened) or a session already open, so a
    check can sit inside the transaction it guards. Actors without a user id (the system,
    the set-up of the first administrator) are returned unchanged.

    Raises AccountDeactivated when the user's row is inactive or gone.
    """
    if actor.user_id is None:
        return actor
    stmt = select(User.username, User.role, User.sms_access, User.active).where(
        User.id == actor.user_id)
    if isinstance(source, Session):
        row = source.execute(stmt).first()
    else:
        with source.session() as s:
            row = s.execute(stmt).first()
    if row is None or not row.active:
        raise AccountDeactivated(DEACTIVATED)
    return Actor(actor.user_id, row.username, row.role, row.sms_access)


def require_active(source: Database | Session, actor: Actor) -> Actor:
    """The current actor; raises AccountDeactivated for a deactivated account."""
    return current(source, actor)


def require_admin(source: Database | Session, actor: Actor, what: str) -> Actor:
    """The current actor if they are an administrator now; else PermissionDenied
    ("Only an administrator can <what>.") or AccountDeactivated."""
    fresh = current(source, actor)
    fresh.require_admin(what)
    return fresh


def require_sms(source: Database | Session, actor: Actor, what: str) -> Actor:
    """The current actor if they have SMS access now; else PermissionDenied
    ("You need SMS access to <what>.") or AccountDeactivated."""
    fresh = current(source, actor)
    fresh.require_sms(what)
    return fresh
