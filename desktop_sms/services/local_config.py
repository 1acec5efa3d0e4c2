"""The desktop's own configuration (not in the shared database): database URL, last username."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from desktop_sms.db.engine import default_database_url, normalize_url

APP_NAME = "DesktopSMS"


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
        """Write the file atomically (a crash never leaves half a file)."""
        path = path or config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
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
