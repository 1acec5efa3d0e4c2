"""Users, roles and sign-in (SPEC F14): Argon2 hashes, permission checks here, not in the UI."""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update

from desktop_sms.db.database import Database
from desktop_sms.db.models import User
from desktop_sms.domain.phones import InvalidPhoneNumber, normalize
from desktop_sms.services import access, audit
from desktop_sms.services.common import (
    Actor,
    Clock,
    NotFound,
    PermissionDenied,
    ServiceError,
    ValidationError,
    utcnow,
)

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"[A-Za-z0-9._-]{2,80}")
MIN_PASSWORD = 8


class SignInFailed(ServiceError):
    """Wrong username or password (deliberately not saying which)."""


class PasswordNotSet(SignInFailed):
    """The account is active but has no password yet: the user must choose one (SPEC F16)."""


@dataclass(frozen=True)
class UserInfo:
    """A user as the views and the command line see it (no password hash)."""

    id: int
    username: str
    name: str
    mobile: str | None
    mobile_e164: str | None
    role: str
    sms_access: bool
    active: bool
    has_password: bool

    def actor(self) -> Actor:
        return Actor(self.id, self.username, self.role, self.sms_access)


def _info(u: User) -> UserInfo:
    return UserInfo(u.id, u.username, u.name, u.mobile_raw, u.mobile_e164, u.role, u.sms_access,
                    u.active, u.password_hash is not None)


def hash_password(password: str) -> str:
    """An Argon2id hash of the password."""
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"A password needs at least {MIN_PASSWORD} characters.")
    return _hasher.hash(password)


class UserService:
    """Adds, edits and signs in users."""

    def __init__(self, db: Database, clock: Clock = utcnow, region: str = "US") -> None:
        self.db = db
        self.clock = clock
        self.region = region

    def count(self) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count(User.id))) or 0)

    def needs_first_admin(self) -> bool:
        """True on an empty database: the first start asks for the first admin."""
        return self.count() == 0

    def list(self, include_inactive: bool = True) -> list[UserInfo]:
        stmt = select(User).order_by(User.name)
        if not include_inactive:
            stmt = stmt.where(User.active.is_(True))
        with self.db.session() as s:
            return [_info(u) for u in s.scalars(stmt)]

    def get(self, username: str) -> UserInfo:
        with self.db.session() as s:
            u = s.scalar(select(User).where(User.username == username))
            if u is None:
                raise NotFound(f"There is no user '{username}'.")
            return _info(u)

    def by_id(self, user_id: int) -> UserInfo:
        with self.db.session() as s:
            u = s.get(User, user_id)
            if u is None:
                raise NotFound(f"There is no user with id {user_id}.")
            return _info(u)

    def the_only_admin(self) -> UserInfo | None:
        """The acting user of the command line when --as is not given."""
        with self.db.session() as s:
            admins = list(s.scalars(select(User).where(User.role == "admin",
                                                       User.active.is_(True)).limit(2)))
            return _info(admins[0]) if len(admins) == 1 else None

    def add(self, actor: Actor | None, username: str, name: str, *, mobile: str | None = None,
            role: str = "staff", password: str | None = None, sms_access: bool = True) -> UserInfo:
        """Add a user; only an admin may, except for the very first user (who becomes admin)."""
        first = self.needs_first_admin()
        if first:
            role = "admin"
        elif actor is None:
            raise PermissionDenied("Only an administrator can add users.")
        else:
            actor = access.require_admin(self.db, actor, "add users")
        username = username.strip()
        if not USERNAME_RE.fullmatch(username):
            raise ValidationError("A username is 2 to 80 letters, digits, dots, dashes or "
                                  "underscores, with no spaces.")
        if not name.strip():
            raise ValidationError("Please give the user's name.")
        if role not in ("staff", "admin"):
            raise ValidationError("The role must be staff or admin.")
        mobile_raw, mobile_e164 = self._mobile(mobile)
        password_hash = hash_password(password) if password else None
        now = self.clock()
        acting = actor or Actor(None, "setup", "admin")
        with self.db.transaction() as s:
            if s.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
                raise ValidationError(f"The username '{username}' is taken.")
            user = User(username=username, name=name.strip(), mobile_raw=mobile_raw,
                        mobile_e164=mobile_e164, role=role, sms_access=sms_access, active=True,
                        password_hash=password_hash, created_at=now)
            s.add(user)
            s.flush()
            audit.record(s, acting if acting.user_id else Actor(user.id, username, role),
                         "user.add", now, target_type="user", target_id=username,
                         detail=f"role {role}")
            return _info(user)

    def update(self, actor: Actor, user_id: int, *, name: str | None = None,
               username: str | None = None, mobile: str | None = None, role: str | None = None,
               sms_access: bool | None = None, active: bool | None = None) -> UserInfo:
        """Edit a user (admins; a user may change their own name and mobile)."""
        actor = access.current(self.db, actor)
        own = actor.user_id == user_id
        if not actor.is_admin and (not own or role is not None or active is not None
                                   or sms_access is not None or username is not None):
            raise PermissionDenied("Only an administrator can change other users, roles or access.")
        now = self.clock()
        with self.db.transaction() as s:
            u = s.get(User, user_id)
            if u is None:
                raise NotFound(f"There is no user with id {user_id}.")
            changes: list[str] = []
            if name is not None and name.strip() != u.name:
                if not name.strip():
                    raise ValidationError("Please give the user's name.")
                u.name = name.strip()
                changes.append("name")
            if username is not None and username.strip() != u.username:
                if not USERNAME_RE.fullmatch(username.strip()):
                    raise ValidationError("A username is 2 to 80 letters, digits, dots, dashes "
                                          "or underscores, with no spaces.")
                if s.scalar(select(User.id).where(func.lower(User.username)
                                                  == username.strip().lower(), User.id != u.id)):
                    raise ValidationError(f"The username '{username}' is taken.")
                u.username = username.strip()
                changes.append("username")
            if mobile is not None:
                u.mobile_raw, u.mobile_e164 = self._mobile(mobile)
                changes.append("mobile")
            if role is not None and role != u.role:
                if role not in ("staff", "admin"):
                    raise ValidationError("The role must be staff or admin.")
                if u.role == "admin":
                    self._keep_an_admin(s, u.id)
                u.role = role
                changes.append(f"role {role}")
            if sms_access is not None and sms_access != u.sms_access:
                u.sms_access = sms_access
                changes.append(f"sms access {'on' if sms_access else 'off'}")
            if active is not None and active != u.active:
                if not active and u.role == "admin":
                    self._keep_an_admin(s, u.id)
                u.active = active
                changes.append("active" if active else "deactivated")
            if changes:
                audit.record(s, actor, "user.edit", now, target_type="user",
                             target_id=u.username, detail=", ".join(changes))
            return _info(u)

    def set_password(self, actor: Actor, user_id: int, password: str) -> None:
        """Set or reset a password (the user themself, or an admin)."""
        actor = access.current(self.db, actor)
        if actor.user_id != user_id:
            actor.require_admin("reset another user's password")
        hashed = hash_password(password)
        now = self.clock()
        with self.db.transaction() as s:
            u = s.get(User, user_id)
            if u is None:
                raise NotFound(f"There is no user with id {user_id}.")
            u.password_hash = hashed
            audit.record(s, actor, "user.password", now, target_type="user", target_id=u.username)

    def authenticate(self, username: str, password: str) -> UserInfo:
        """The user, if the password is right and the account active.

        Raises PasswordNotSet for an active account added without a password: its first
        sign-in chooses one (set_first_password).
        """
        with self.db.session() as s:
            u = s.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))
            if u is None or not u.active:
                raise SignInFailed("The username or password is not right.")
            if u.password_hash is None:
                raise PasswordNotSet("This is your first sign-in: choose a password.")
            try:
                _hasher.verify(u.password_hash, password)
            except (VerificationError, InvalidHashError):
                raise SignInFailed("The username or password is not right.") from None
            return _info(u)

    def set_first_password(self, username: str, new_password: str) -> UserInfo:
        """Choose the password at first sign-in: only an active account that has none yet.

        The update is conditional, so of two desktops racing the first one wins and the
        other is refused; audited as user.password with the user as the actor.
        """
        hashed = hash_password(new_password)
        now = self.clock()
        key = username.strip().lower()
        with self.db.transaction() as s:
            done = s.execute(
                update(User)
                .where(func.lower(User.username) == key, User.active.is_(True),
                       User.password_hash.is_(None))
                .values(password_hash=hashed)
                .execution_options(synchronize_session=False))
            if getattr(done, "rowcount", 0) != 1:
                raise SignInFailed("The username or password is not right.")
            u = s.scalar(select(User).where(func.lower(User.username) == key))
            assert u is not None
            audit.record(s, Actor(u.id, u.username, u.role, u.sms_access), "user.password", now,
                         target_type="user", target_id=u.username, detail="first sign-in")
            return _info(u)

    def _mobile(self, mobile: str | None) -> tuple[str | None, str | None]:
        if mobile is None or not mobile.strip():
            return None, None
        try:
            return mobile.strip(), normalize(mobile, self.region)
        except InvalidPhoneNumber as exc:
            raise ValidationError(str(exc)) from None

    @staticmethod
    def _keep_an_admin(s: object, user_id: int) -> None:
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        others = s.scalar(select(func.count(User.id)).where(
            User.role == "admin", User.active.is_(True), User.id != user_id))
        if not others:
            raise ValidationError("The office needs at least one active administrator.")
