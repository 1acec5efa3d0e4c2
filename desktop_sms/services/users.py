"""Users, roles and sign-in (docs/product.md F14): Argon2 hashes, permission checks here, not in the UI."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

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
from desktop_sms.services.settings import SettingsService

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"[A-Za-z0-9._-]{2,80}")
MIN_PASSWORD = 8
WRONG = "The username or password is not right."
# Setup codes: 10 characters from 31 that can't be mistaken for one another (no 0/O, 1/I/L),
# about 50 bits; shown as XXXXX-XXXXX. Typed case and dashes/spaces don't matter.
SETUP_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
SETUP_CODE_LENGTH = 10
DEFAULT_SETUP_CODE_HOURS = 72
_dummy_hash: str | None = None


def _dummy() -> str:
    """A hash that no input matches, verified when there is no real one, so that an unknown
    user costs the same Argon2 time as a wrong password (no timing oracle for usernames)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(24))
    return _dummy_hash


def _verify(hashed: str | None, secret: str) -> bool:
    """True if secret matches the Argon2 hash; a None hash costs one dummy verification."""
    try:
        return bool(_hasher.verify(hashed or _dummy(), secret)) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


def new_setup_code() -> str:
    """A fresh one-time setup code, XXXXX-XXXXX, from the secrets module."""
    raw = "".join(secrets.choice(SETUP_CODE_ALPHABET) for _ in range(SETUP_CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalize_setup_code(code: str) -> str:
    """The code as hashed: upper case, without spaces and dashes."""
    return re.sub(r"[\s-]", "", code).upper()


class SignInFailed(ServiceError):
    """Wrong username or password (deliberately not saying which)."""


class PasswordNotSet(SignInFailed):
    """The account has no password yet and the setup code was typed as the password: the user
    chooses one now (set_first_password with the same code)."""


class SetupCodeExpired(SignInFailed):
    """The right setup code, too late: an administrator must issue a new one."""


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
    # the one-time setup code in clear: only on the value returned by add (without a password)
    # and issue_setup_code, to be shown once to the administrator; never stored in clear
    setup_code: str | None = None
    setup_code_expires_at: datetime | None = None

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

    def __init__(self, db: Database, clock: Clock = utcnow, region: str = "US",
                 settings: SettingsService | None = None) -> None:
        self.db = db
        self.clock = clock
        self.region = region
        self.settings = settings

    def setup_code_lifetime(self) -> timedelta:
        """How long a new setup code works: the setup_code_hours setting (72 by default)."""
        hours = int(self.settings.get("setup_code_hours")) if self.settings is not None \
            else DEFAULT_SETUP_CODE_HOURS
        return timedelta(hours=hours)

    def current_actor(self, actor: Actor) -> Actor:
        """The actor with the role and SMS access stored now; AccountDeactivated if the
        account was deactivated (the main window's periodic check, services/access.py)."""
        return access.current(self.db, actor)

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
        code = None if password_hash else new_setup_code()
        code_hash = _hasher.hash(normalize_setup_code(code)) if code else None
        expires = now + self.setup_code_lifetime() if code else None
        acting = actor or Actor(None, "setup", "admin")
        with self.db.transaction() as s:
            if s.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
                raise ValidationError(f"The username '{username}' is taken.")
            user = User(username=username, name=name.strip(), mobile_raw=mobile_raw,
                        mobile_e164=mobile_e164, role=role, sms_access=sms_access, active=True,
                        password_hash=password_hash, created_at=now,
                        setup_code_hash=code_hash, setup_code_expires_at=expires)
            s.add(user)
            s.flush()
            audit.record(s, acting if acting.user_id else Actor(user.id, username, role),
                         "user.add", now, target_type="user", target_id=username,
                         detail=f"role {role}" + ("" if code is None else ", setup code issued"))
            return replace(_info(user), setup_code=code, setup_code_expires_at=expires)

    def issue_setup_code(self, actor: Actor, user_id: int) -> UserInfo:
        """A new one-time setup code for an active account without a password (administrators).

        Replaces any earlier code; returns the user with ``setup_code`` set, to be shown once.
        Raises PermissionDenied, NotFound, or ValidationError for an account that already has a
        password (reset that instead) or is deactivated. Audited as user.setup_code.
        """
        actor = access.require_admin(self.db, actor, "issue setup codes")
        code = new_setup_code()
        code_hash = _hasher.hash(normalize_setup_code(code))
        now = self.clock()
        expires = now + self.setup_code_lifetime()
        with self.db.transaction() as s:
            u = s.get(User, user_id)
            if u is None:
                raise NotFound(f"There is no user with id {user_id}.")
            if u.password_hash is not None:
                raise ValidationError(f"{u.username} already has a password; reset it instead.")
            if not u.active:
                raise ValidationError(f"{u.username} is deactivated; activate the account first.")
            u.setup_code_hash, u.setup_code_expires_at = code_hash, expires
            audit.record(s, actor, "user.setup_code", now, target_type="user",
                         target_id=u.username)
            return replace(_info(u), setup_code=code, setup_code_expires_at=expires)

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
            u.setup_code_hash, u.setup_code_expires_at = None, None  # a reset ends any code
            audit.record(s, actor, "user.password", now, target_type="user", target_id=u.username)

    def authenticate(self, username: str, password: str) -> UserInfo:
        """The user, if the password is right and the account active.

        An unknown user, a deactivated one and a wrong password get the same SignInFailed
        sentence after one Argon2 verification each (a dummy hash when there is no real one),
        so neither the words nor the time tell which usernames exist. For an account without
        a password, the "password" is checked against its one-time setup code: if it matches,
        PasswordNotSet (choose a password with set_first_password); if the code has expired,
        SetupCodeExpired; anything else is SignInFailed.
        """
        with self.db.session() as s:
            u = s.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))
        if u is None or not u.active:
            _verify(None, password)
            raise SignInFailed(WRONG)
        if u.password_hash is None:
            self._check_setup_code(u, password)
            raise PasswordNotSet("This is your first sign-in: choose a password.")
        if not _verify(u.password_hash, password):
            raise SignInFailed(WRONG)
        return _info(u)

    def _check_setup_code(self, u: User | None, code: str) -> User:
        """The account, if code is its unexpired setup code; else SignInFailed (same words as
        a wrong password) or SetupCodeExpired. Always one Argon2 verification."""
        usable = u is not None and u.active and u.password_hash is None
        hashed = u.setup_code_hash if u is not None and usable else None
        if not _verify(hashed, normalize_setup_code(code)) or u is None:
            raise SignInFailed(WRONG)
        expires = u.setup_code_expires_at
        if expires is None or self.clock() >= expires:
            raise SetupCodeExpired("This setup code has expired; ask an administrator for a "
                                   "new one.")
        return u

    def set_first_password(self, username: str, setup_code: str,
                           new_password: str) -> UserInfo:
        """Choose the password at first sign-in, with the account's one-time setup code.

        Only an active account without a password, and only with its unexpired code
        (SignInFailed / SetupCodeExpired otherwise). The code is used up. The update is
        conditional on the code's hash, so of two desktops racing the first one wins and the
        other is refused; audited as user.password with the user as the actor.
        """
        hashed = hash_password(new_password)
        now = self.clock()
        key = username.strip().lower()
        with self.db.session() as s:
            found = s.scalar(select(User).where(func.lower(User.username) == key))
        account = self._check_setup_code(found, setup_code)
        with self.db.transaction() as s:
            done = s.execute(
                update(User)
                .where(User.id == account.id, User.active.is_(True),
                       User.password_hash.is_(None),
                       User.setup_code_hash == account.setup_code_hash)
                .values(password_hash=hashed, setup_code_hash=None, setup_code_expires_at=None)
                .execution_options(synchronize_session=False))
            if getattr(done, "rowcount", 0) != 1:
                raise SignInFailed(WRONG)
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
