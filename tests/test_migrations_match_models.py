"""The migrations build exactly the schema the models describe (Alembic's autogenerate finds no
difference), on SQLite and PostgreSQL.

Left out of the comparison, because the models cannot describe them: SQLite's FTS5 virtual
tables and their shadow tables (`*_fts`, `*_fts_*`), and expression or trigram indexes that a
migration creates for search (named `*_trgm*` or `*_fts*`, or carrying `search` in their name).
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from desktop_sms.db.database import Database
from desktop_sms.db.models import Base


def _search_object(name: str | None) -> bool:
    return bool(name) and any(part in str(name) for part in ("_fts", "_trgm", "search", "_tsv"))


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if type_ == "table" and _search_object(name):
        return False
    return not (type_ == "index" and reflected and compare_to is None and _search_object(name))


def test_migrations_and_models_describe_the_same_schema(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _include,
                                                         "compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "\n".join(str(d) for d in differences)
