"""Database failures in words a person understands (never the SQL, which may quote a body)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError


def describe_error(exc: BaseException) -> str:
    """One sentence for a database error; nothing of the statement or its parameters."""
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(original).lower()
    if "database is locked" in text or "database table is locked" in text or "busy" in text:
        return ("The database is busy (another program or desktop is writing to it); nothing "
                "was saved. Try again in a moment.")
    if "disk is full" in text or "database or disk is full" in text or "no space left" in text:
        return "The disk is full; nothing was saved. Free some space and try again."
    if "readonly" in text or "read-only" in text:
        return "The database is read-only here; nothing was saved."
    if "could not connect" in text or "connection refused" in text or "timeout expired" in text \
            or "connection" in text and "closed" in text:
        return "The database server can't be reached; nothing was saved. Check the network."
    if "not a database" in text or "malformed" in text:
        return "The database file is damaged or is not a Desktop SMS database."
    return f"A database error occurred ({type(original).__name__}); nothing was saved."


def is_database_error(exc: BaseException) -> bool:
    """True for errors raised by SQLAlchemy or the database driver."""
    return isinstance(exc, SQLAlchemyError)
