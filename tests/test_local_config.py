"""This desktop's configuration file holds the database password: readable by the user only
(issue 12, reproduction 13)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from desktop_sms.services.local_config import LocalConfig, config_path

SECRET_URL = "postgresql://office:s3cret@db.example/sms"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_configuration_file_is_written_0600_even_under_a_lax_umask() -> None:
    old = os.umask(0o022)
    try:
        LocalConfig(database_url=SECRET_URL, last_username="ann").save()
    finally:
        os.umask(old)
    path = config_path()
    assert _mode(path) == 0o600
    assert LocalConfig.load().database_url == SECRET_URL


def test_a_world_readable_file_from_an_older_version_is_fixed(tmp_path: Path) -> None:
    path = tmp_path / "old" / "desktop-sms.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"database_url": SECRET_URL}), encoding="utf-8")
    path.chmod(0o644)
    # a left-over temporary file with a lax mode must not pass its mode on
    path.with_suffix(".tmp").write_text("{}", encoding="utf-8")
    path.with_suffix(".tmp").chmod(0o666)
    assert LocalConfig.load(path).database_url == SECRET_URL
    assert _mode(path) == 0o600  # reading it already tightens it
    path.chmod(0o644)
    LocalConfig(database_url=SECRET_URL).save(path)
    assert _mode(path) == 0o600
    assert LocalConfig.load(path).database_url == SECRET_URL
