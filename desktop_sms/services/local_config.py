"""The desktop's own configuration (not in the shared database): database URL, last username."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from desktop_sms.db.engine import default_database_url, normalize_url

APP_NAME = "DesktopSMS"


PRIVATE_MODE = 0o600


def protect(path: Path) -> None:
    """Make an existing configuration file readable and writable by its owner only.

    It can hold the PostgreSQL URL with its password. On Linux and macOS the mode becomes 0600
    (older versions wrote 0644); on Windows the file lives in the user's own profile folder
    (platformdirs' user_config_dir, under %LOCALAPPDATA%), whose access list already admits only
    that user, so nothing is changed there. A file that can't be changed is left as it is.
    """
    if os.name != "posix":
        return
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(PRIVATE_MODE)
    except OSError:
        pass


def config_path() -> Path:
    """Where this desktop keeps its own configuration file."""
    root = os.environ.get("DESKTOP_SMS_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME, False)
    return Path(root) / "desktop-sms.json"


@dataclass
class LocalConfig:
    """Per-desktop settings; changes to the database take effect on restart."""

    database_url: str | None = None
    last_username: str | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> LocalConfig:
        """Read the file; a missing or unreadable file gives the defaults."""
        path = path or config_path()
        protect(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(raw, dict):
            return cls()
        return cls(
            database_url=raw.get("database_url") or None,
            last_username=raw.get("last_username") or None,
        )

    def save(self, path: Path | None = None) -> None:
        """Write the file atomically (a crash never leaves half a file), readable by the user
        only: created 0600 on Linux and macOS (see protect)."""
        path = path or config_path()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        data = json.dumps(asdict(self), indent=2).encode("utf-8")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
        try:
            if os.name == "posix":
                os.fchmod(fd, PRIVATE_MODE)  # a left-over .tmp keeps its old mode otherwise
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)


def resolve_database_url(cli_url: str | None) -> str:
    """--db, else DESKTOP_SMS_DATABASE_URL, else this desktop's configured URL, else SQLite."""
    if cli_url:
        return normalize_url(cli_url)
    env = os.environ.get("DESKTOP_SMS_DATABASE_URL")
    if env:
        return normalize_url(env)
    configured = LocalConfig.load().database_url
    return normalize_url(configured) if configured else default_database_url()
