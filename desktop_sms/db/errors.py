"""Database failures in words a person understands (never the SQL, which may quote a body)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError


def describe_error(exc: BaseException) -> str:
    """One sentence for a database error; nothing of the statement or its parameters.

    Errors raised through db/engine.make_engine carry ``database_where`` ("file:" and the
    SQLite file's path, or host/name of a server), which the read-only sentence names. When
    the error only followed another (SQLite rolls a transaction back on a full disk, and the
    savepoint's release then fails with "no such savepoint"), the first recognisable error of
    the chain (__cause__ / __context__) is described.
    """
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and len(chain) < 6 and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    described = [_describe_one(e) for e in chain]
    for sentence in described:
        if not sentence.startswith("A database error occurred"):
            return sentence
    return described[0]


def _describe_one(exc: BaseException) -> str:
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(original).lower()
    where = getattr(exc, "database_where", None) or getattr(original, "database_where", None)
    if "database is locked" in text or "database table is locked" in text or "busy" in text:
        return ("The database is busy (another program or desktop is writing to it); nothing "
                "was saved. Try again in a moment.")
    if "disk is full" in text or "database or disk is full" in text or "no space left" in text \
            or "could not extend file" in text:
        return ("The disk that holds the database is full; nothing was saved. Free some space "
                "and try again.")
    if "readonly" in text or "read-only" in text or "read only" in text:
        if isinstance(where, str) and where.startswith("file:"):
            return f"The database file is read-only: {where[5:]}; nothing was saved."
        if isinstance(where, str) and where:
            return f"The database on {where} is read-only; nothing was saved."
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
