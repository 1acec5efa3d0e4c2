"""The command line (SPEC F16): a thin layer over the services.

Exit status: 0 on success, 2 on a usage error, 1 on any other error with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from desktop_sms.db.database import open_database
from desktop_sms.db.errors import describe_error
from desktop_sms.db.migrate import SchemaTooNewError
from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.local_config import resolve_database_url

log = logging.getLogger(__name__)


class CliError(Exception):
    """An error to print as one line and exit 1."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    p = argparse.ArgumentParser(prog="desktop-sms", description="Text clients from their cases.")
    p.add_argument("--db", metavar="URL", help="database URL (else DESKTOP_SMS_DATABASE_URL, "
                   "else the SQLite file in the user data folder)")
    p.add_argument("--as", dest="as_user", metavar="USERNAME",
                   help="the acting user for commands (else the only admin)")
    p.add_argument("--demo", action="store_true", help="start on a fresh demo database")
    p.add_argument("--smoke", action="store_true",
                   help="start, open the main window on a temporary database, send and poll once, exit")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command")

    sub.add_parser("gui", help="start the application")

    imp = sub.add_parser("import-cases", help="import matters from a CSV file")
    imp.add_argument("file", type=Path)

    users = sub.add_parser("users", help="manage users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument("--name", required=True)
    add.add_argument("--mobile")
    add.add_argument("--role", choices=["staff", "admin"], default="staff")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    users_sub.add_parser("list", help="list users")

    st = sub.add_parser("settings", help="read or change a setting")
    st_sub = st.add_subparsers(dest="settings_command", required=True)
    get = st_sub.add_parser("get")
    get.add_argument("key")
    set_ = st_sub.add_parser("set")
    set_.add_argument("key")
    set_.add_argument("value")
    st_sub.add_parser("list")

    msgs = sub.add_parser("messages", help="list messages")
    msgs.add_argument("--case", metavar="NUMBER")
    msgs.add_argument("--direction", choices=["inbound", "outbound"])
    msgs.add_argument("--json", action="store_true")

    snd = sub.add_parser("send", help="send a text now or schedule it")
    snd.add_argument("--case", required=True, metavar="NUMBER")
    snd.add_argument("--body", required=True)
    snd.add_argument("--to", metavar="PHONE", help="default: the client's mobile")
    snd.add_argument("--at", metavar="ISO-8601", help="schedule for this time (local time "
                     "unless it carries an offset)")
    snd.add_argument("--consent", choices=["yes"], help="record the client's consent first")

    cancel = sub.add_parser("cancel", help="cancel a scheduled or queued message")
    cancel.add_argument("id", nargs="+")

    dispatch = sub.add_parser("dispatch", help="send every due message")
    dispatch.add_argument("--once", action="store_true", required=True)

    poll = sub.add_parser("poll", help="pull inbound messages and status changes")
    poll.add_argument("--once", action="store_true", required=True)

    sandbox = sub.add_parser("sandbox-server", help="run the Twilio-compatible local server")
    sandbox.add_argument("--port", type=int, default=8099)
    sandbox.add_argument("--account-sid")
    sandbox.add_argument("--auth-token")

    export = sub.add_parser("export-conversation", help="write a case's texts to a PDF file")
    export.add_argument("--case", required=True, metavar="NUMBER")
    export.add_argument("--out", required=True, type=Path, metavar="FILE.pdf")
    export.add_argument("--since", metavar="DATE", help="first local day (YYYY-MM-DD) or time")
    export.add_argument("--until", metavar="DATE", help="last local day (YYYY-MM-DD, included) "
                        "or time (excluded)")
    return p


def _open(args: argparse.Namespace) -> Services:
    url = resolve_database_url(args.db)
    try:
        db, backup = open_database(url)
    except SchemaTooNewError as exc:
        raise CliError(str(exc)) from None
    except SQLAlchemyError as exc:
        raise CliError(f"The database could not be opened: {describe_error(exc)}") from None
    except Exception as exc:  # a path that can't be created, a bad URL
        raise CliError(f"The database could not be opened: {_first_line(exc)}") from None
    if backup:
        log.info("database backed up to %s before migrating", backup)
    return build_services(db)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def acting_user(services: Services, args: argparse.Namespace) -> Actor:
    """--as USERNAME, else the only admin."""
    if args.as_user:
        info = services.users.get(args.as_user)
        if not info.active:
            raise CliError(f"The user '{args.as_user}' is deactivated.")
        return info.actor()
    only = services.users.the_only_admin()
    if only is None:
        raise CliError("Say which user is acting with --as USERNAME (there is not exactly one "
                       "administrator).")
    return only.actor()


def cmd_import_cases(args: argparse.Namespace) -> int:
    services = _open(args)
    actor = acting_user(services, args)
    result = services.importer.import_file(actor, args.file)
    for err in result.errors:
        print(f"{args.file.name}: line {err.line}: {err.reason}", file=sys.stderr)
    print(f"{result.created} cases added, {result.updated} updated, "
          f"{len(result.errors)} rows skipped.")
    return 1 if result.errors else 0


def cmd_users(args: argparse.Namespace) -> int:
    services = _open(args)
    if args.users_command == "list":
        for u in services.users.list():
            print(f"{u.username}\t{u.name}\t{u.role}\t{'active' if u.active else 'inactive'}")
        return 0
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    actor = None if services.users.needs_first_admin() else acting_user(services, args)
    info = services.users.add(actor, args.username, args.name, mobile=args.mobile,
                              role=args.role, password=password)
    print(f"added {info.username} ({info.role})")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    services = _open(args)
    if args.settings_command == "get":
        print(services.settings.raw(args.key))
    elif args.settings_command == "list":
        for key in services.settings.all():
            print(f"{key}={services.settings.raw(key)}")
    else:
        actor = acting_user(services, args)
        services.settings.set(actor, args.key, args.value)
        print(f"{args.key}={services.settings.raw(args.key)}")
    return 0


def cmd_messages(args: argparse.Namespace) -> int:
    from desktop_sms.services.messages import list_messages

    services = _open(args)
    rows = list_messages(services.db, case_number=args.case, direction=args.direction)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    for r in rows:
        cases = ",".join(r["cases"]) or ("needs review" if r["needs_review"] else "-")
        body = r["body"].replace("\n", " ")
        print(f"{r['id']}\t{r['direction']}\t{r['status']}\t{r['from']}\t{r['to']}\t{cases}\t"
              f"{body[:60]}")
    return 0


def _parse_when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"'{text}' is not a date and time; use ISO-8601 such as "
                       "2026-12-01T09:30 or 2026-12-01T09:30-05:00.") from None
    if when.tzinfo is None:
        when = when.astimezone()  # the desktop's local time
    return when.astimezone(UTC)


def cmd_send(args: argparse.Namespace) -> int:
    services = _open(args)
    try:
        actor = acting_user(services, args)
        matter = services.matters.by_number(args.case)
        to = args.to or matter.mobile_raw
        if not to:
            raise CliError(f"Case {matter.case_number} has no mobile number; give one with --to.")
        when = _parse_when(args.at) if args.at else None
        if args.consent == "yes" and matter.consent != "yes":
            services.matters.set_consent(actor, matter.id, "yes")
        message_id = services.outbound.send(actor, matter.id, to, args.body, send_at=when)
        if when is None:
            report = services.dispatcher.run_due()
            for problem in report.errors:
                print(f"desktop-sms: {problem}", file=sys.stderr)
        print(f"out-{message_id}")
        from desktop_sms.db.models import OutboundMessage

        with services.db.session() as s:
            msg = s.get(OutboundMessage, message_id)
            assert msg is not None
            if msg.state == "failed":
                print(f"desktop-sms: the text failed: {msg.error_message}", file=sys.stderr)
                return 1
            if msg.state == "queued" and msg.error_message:
                print(f"desktop-sms: not sent yet, will retry: {msg.error_message}",
                      file=sys.stderr)
        return 0
    finally:
        services.close()


def _message_id(text: str) -> int:
    raw = text.strip().removeprefix("out-")
    if not raw.isdigit():
        raise CliError(f"'{text}' is not an outbound message id (as printed by send, e.g. out-12).")
    return int(raw)


def cmd_cancel(args: argparse.Namespace) -> int:
    services = _open(args)
    actor = acting_user(services, args)
    outcomes = services.outbound.cancel(actor, [_message_id(i) for i in args.id])
    failed = 0
    for o in outcomes:
        if o.canceled:
            print(f"out-{o.id} canceled")
        else:
            failed += 1
            print(f"desktop-sms: {o.reason}", file=sys.stderr)
    services.close()
    return 1 if failed else 0


def cmd_dispatch(args: argparse.Namespace) -> int:
    services = _open(args)
    try:
        services.dispatcher.reconcile_on_startup()
        report = services.dispatcher.run_due()
        print(f"{len(report.sent)} sent, {len(report.failed)} failed, {len(report.retried)} to "
              f"retry, {len(report.missed)} missed")
        for problem in report.errors:
            print(f"desktop-sms: {problem}", file=sys.stderr)
        return 1 if report.errors else 0
    finally:
        services.close()


def cmd_poll(args: argparse.Namespace) -> int:
    services = _open(args)
    try:
        report = services.poller.poll_once()
        print(f"{len(report.new_inbound_ids)} new replies, {len(report.needs_review_ids)} need "
              f"review, {len(report.updated_outbound_ids)} delivery updates")
        for problem in report.errors:
            print(f"desktop-sms: {problem}", file=sys.stderr)
        return 0 if report.ok else 1
    finally:
        services.close()


def cmd_sandbox_server(args: argparse.Namespace) -> int:
    from desktop_sms.providers.sandbox_server import run_sandbox_server

    if bool(args.account_sid) != bool(args.auth_token):
        print("desktop-sms: give both --account-sid and --auth-token, or neither.",
              file=sys.stderr)
        return 2
    return run_sandbox_server(args.port, args.account_sid, args.auth_token)


def _export_bound(text: str, end: bool) -> datetime:
    """A --since/--until value: a local day (an --until day is included) or a time."""
    from datetime import date, timedelta

    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return _parse_when(text)
    start = datetime.combine(day + timedelta(days=1) if end else day, datetime.min.time())
    return start.astimezone().astimezone(UTC)


def cmd_export_conversation(args: argparse.Namespace) -> int:
    services = _open(args)
    try:
        actor = acting_user(services, args)
        since = _export_bound(args.since, False) if args.since else None
        until = _export_bound(args.until, True) if args.until else None
        from PySide6.QtGui import QGuiApplication

        from desktop_sms.ui.export_conversation import export_to_file

        app = QGuiApplication.instance() or QGuiApplication(["desktop-sms", "-platform",
                                                             "offscreen"])
        count = export_to_file(services, actor, args.case, args.out, since, until)
        del app
        print(f"{args.out}: {count} text{'s' if count != 1 else ''}")
        return 0
    except OSError as exc:
        raise CliError(f"The PDF could not be written: {_first_line(exc)}") from None
    finally:
        services.close()


def cmd_gui(args: argparse.Namespace) -> int:
    from desktop_sms.app import run_gui

    return run_gui(db_url=args.db, demo=args.demo, smoke=args.smoke, as_user=args.as_user)


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "gui": cmd_gui,
    "import-cases": cmd_import_cases,
    "users": cmd_users,
    "settings": cmd_settings,
    "messages": cmd_messages,
    "send": cmd_send,
    "cancel": cmd_cancel,
    "dispatch": cmd_dispatch,
    "poll": cmd_poll,
    "sandbox-server": cmd_sandbox_server,
    "export-conversation": cmd_export_conversation,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `desktop-sms` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    command = args.command or "gui"
    if args.demo or args.smoke:
        command = "gui"
    handler = HANDLERS[command]
    try:
        return handler(args)
    except (CliError, ServiceError) as exc:
        print(f"desktop-sms: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        log.debug("database error in %s: %s", command, type(exc).__name__)
        print(f"desktop-sms: {describe_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
