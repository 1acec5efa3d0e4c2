"""Regenerate migration 0001 from the models (only while no release has shipped it)."""

from __future__ import annotations

import re
import tempfile

from alembic import command

from desktop_sms.db.migrate import alembic_config
from desktop_sms.resources import package_path

versions = package_path("db/migrations/versions")
for old in versions.glob("0001_*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as tmp:
    command.revision(alembic_config(f"sqlite:///{tmp}/gen.sqlite"), message="initial schema",
                     autogenerate=True, rev_id="0001")
path = next(versions.glob("0001_*.py"))
text = path.read_text()
# Migrations must not import the models (they change); UTCDateTime is a plain DateTime on disk.
text = text.replace("desktop_sms.db.models.UTCDateTime()", "sa.DateTime()")
text = re.sub(r"^import desktop_sms\.db\.models\n", "", text, flags=re.M)
text = re.sub(r"^Create Date: .*\n", "", text, flags=re.M)
path.write_text(text)
print("wrote", path)
