"""One helper for files shipped with the application, from source and from the bundle."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path


def package_path(relative: str) -> Path:
    """A path inside the desktop_sms package (migrations, style sheets, icons)."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root is not None:
        return Path(frozen_root) / "desktop_sms" / relative
    return Path(str(resources.files("desktop_sms").joinpath(relative)))


def asset_path(name: str) -> Path:
    """A file of desktop_sms/assets (icons, the application style sheet)."""
    return package_path(f"assets/{name}")


def read_text(name: str) -> str:
    """The text of an asset, e.g. the style sheet."""
    return asset_path(name).read_text(encoding="utf-8")
