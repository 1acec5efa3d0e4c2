"""The command line (docs/product.md F16): a thin layer over the services.

Exit status: 0 on success, 2 on a usage error, 1 on any other error with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from desktop_sms import logging_setup
from desktop_sms.db.database import open_database
from desktop_sms.db.errors import describe_error
from desktop_sms.db.migrate import SchemaTooNewError
from desktop_sms.services.batches import BatchResult
from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.local_config import resolve_database_url
from desktop_sms.services.users import UserInfo

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

    imp = sub.add_parser("import-cases", help="import matters from a CSV or Excel (.xlsx) file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--map", metavar="COLUMN=HEADER,…",
                     help='our columns from the file\'s headers, e.g. '
                     'case_number="Matter Number",client_name=Client')
    imp.add_argument("--stage-map", metavar="VALUE=STAGE,…",
                     help="the file's stage values as ours, e.g. Active=open,Pending=intake")
    imp.add_argument("--mapping", metavar="NAME", help="use a mapping saved under this name")
    imp.add_argument("--save-mapping", metavar="NAME",
                     help="save the mapping used under this name for the next import")
    imp.add_argument("--skipped", metavar="CSV", type=Path,
                     help="write the skipped lines with their reasons to this CSV file")

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
    code = users_sub.add_parser("setup-code", help="issue a new one-time setup code for a user "
                                "without a password (the old one stops working)")
    code.add_argument("username")

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
    snd_text = snd.add_mutually_exclusive_group(required=True)
    snd_text.add_argument("--body")
    snd_text.add_argument("--template", metavar="NAME", help="fill this template for the case")
    snd.add_argument("--to", metavar="PHONE", help="default: the client's mobile")
    snd.add_argument("--at", metavar="ISO-8601", help="schedule for this time (local time "
                     "unless it carries an offset)")
    snd.add_argument("--consent", choices=["yes"], help="record the client's consent first")
    snd.add_argument("--plain-quotes", action="store_true",
                     help="replace curly quotes, dashes, ellipses and unusual spaces with plain "
                     "ones so the text goes in GSM-7 (fewer segments)")

    cancel = sub.add_parser("cancel", help="cancel a scheduled or queued message")
    cancel.add_argument("id", nargs="+")

    dispatch = sub.add_parser("dispatch", help="send every due message")
    dispatch.add_argument("--once", action="store_true", required=True)

    poll = sub.add_parser("poll", help="pull inbound messages and status changes")
    poll.add_argument("--once", action="store_true", required=True)

    add_bulk_commands(sub)

    sandbox = sub.add_parser("sandbox-server", help="run the Twilio-compatible local server")
    sandbox.add_argument("--port", type=int, default=8099)
    sandbox.add_argument("--account-sid")
    sandbox.add_argument("--auth-token")
    sandbox.add_argument("--min-schedule-ahead", type=int, choices=(300, 900), default=900,
                         help="seconds a SendAt must be ahead (Twilio's pages give 300 or 900)")
    _add_consent_commands(sub, snd)

    export = sub.add_parser("export-conversation", help="write a case's texts to a PDF file")
    export.add_argument("--case", required=True, metavar="NUMBER")
    export.add_argument("--out", required=True, type=Path, metavar="FILE.pdf")
    export.add_argument("--since", metavar="DATE", help="first local day (YYYY-MM-DD) or time")
    export.add_argument("--until", metavar="DATE", help="last local day (YYYY-MM-DD, included) "
                        "or time (excluded)")
    return p


def _add_consent_commands(sub: Any, snd: argparse.ArgumentParser) -> None:
    """`consent`, `cases show` and the send overrides (docs/consent_and_quiet_hours.md)."""
    snd.add_argument("--override-quiet-hours", metavar="REASON",
                     help="send inside the recipient's quiet hours (audited)")
    snd.add_argument("--override-opt-out", metavar="REASON",
                     help="text another number of a client who replied STOP, when the office "
                          "allows it (audited)")
    consent = sub.add_parser("consent", help="record a client's SMS consent or its revocation")
    consent.add_argument("--case", required=True, metavar="NUMBER")
    consent.add_argument("--answer", required=True, choices=["yes", "no"])
    consent.add_argument("--method", required=True, choices=["verbal", "written", "text_reply"])
    consent.add_argument("--note", metavar="TEXT")
    cases = sub.add_parser("cases", help="show a case")
    cases_sub = cases.add_subparsers(dest="cases_command", required=True)
    show = cases_sub.add_parser("show", help="a case with its numbers, consent and opt-outs")
    show.add_argument("number")
    show.add_argument("--json", action="store_true")


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
    from desktop_sms.services.importer import ImportOptions, options_from_args

    services = _open(args)
    actor = acting_user(services, args)
    importer = services.importer
    options: ImportOptions | None = None
    if args.mapping:
        options = importer.saved_mapping(args.mapping)
    if args.map or args.stage_map:
        given = options_from_args(args.map, args.stage_map)
        base = options or ImportOptions()
        options = ImportOptions({**base.columns, **given.columns},
                                {**base.stages, **given.stages})
    if args.save_mapping:
        used = importer.preview_file(args.file, options).options
        importer.save_mapping(actor, args.save_mapping, used)
    result = importer.import_file(actor, args.file, options=options)
    for err in result.errors:
        print(f"{args.file.name}: line {err.line}: {err.reason}", file=sys.stderr)
    if args.skipped and result.errors:
        try:
            args.skipped.write_text(result.skipped_csv(), encoding="utf-8-sig", newline="")
        except OSError as exc:
            print(f"desktop-sms: the skipped lines could not be written: "
                  f"{exc.strerror or exc}", file=sys.stderr)
    print(result.summary())
    return 1 if result.errors else 0


def cmd_users(args: argparse.Namespace) -> int:
    services = _open(args)
    if args.users_command == "list":
        for u in services.users.list():
            print(f"{u.username}\t{u.name}\t{u.role}\t{'active' if u.active else 'inactive'}")
        return 0
    if args.users_command == "setup-code":
        target = services.users.get(args.username)
        _print_setup_code(services.users.issue_setup_code(acting_user(services, args), target.id))
        return 0
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    actor = None if services.users.needs_first_admin() else acting_user(services, args)
    info = services.users.add(actor, args.username, args.name, mobile=args.mobile,
                              role=args.role, password=password)
    print(f"added {info.username} ({info.role})")
    _print_setup_code(info)
    return 0


def _print_setup_code(info: UserInfo) -> None:
    """The one-time code, once, for the administrator to pass on (it is stored only hashed)."""
    if info.setup_code is None or info.setup_code_expires_at is None:
        return
    until = info.setup_code_expires_at.astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(f"setup code for {info.username}: {info.setup_code}")
    print(f"Give it to {info.name}: it is typed once, at the first sign-in, instead of a "
          f"password, and works until {until}. It is not shown again.")


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
    rows = list_messages(services.db, actor=acting_user(services, args), case_number=args.case,
                         direction=args.direction)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    for r in rows:
        cases = ",".join(r["cases"]) or ("needs review" if r["needs_review"] else "-")
        body = r["body"].replace("\n", " ")
        print(f"{r['id']}\t{r['direction']}\t{r['status']}\t{r['from']}\t{r['to']}\t{cases}\t"
              f"{body[:60]}")
    return 0


def _parse_when(text: str, zone: tzinfo | None = None) -> datetime:
    """--at as a UTC instant: local time in the desktop's zone unless it carries an offset.

    A time skipped by a clock change is refused naming the next valid time; a time shown twice
    is refused unless it carries an offset (`domain.local_times.resolve_local_time`).
    """
    from desktop_sms.domain.local_times import LocalTimeError, resolve_local_time
    from desktop_sms.services.calendar import local_zone

    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"'{text}' is not a date and time; use ISO-8601 such as "
                       "2026-12-01T09:30 or 2026-12-01T09:30-05:00.") from None
    try:
        return resolve_local_time(when, zone if zone is not None else local_zone())
    except LocalTimeError as exc:
        raise CliError(str(exc)) from None


def cmd_send(args: argparse.Namespace) -> int:
    services = _open(args)
    try:
        actor = acting_user(services, args)
        matter = services.matters.by_number(args.case)
        to = args.to or matter.mobile_raw
        if not to:
            raise CliError(f"Case {matter.case_number} has no mobile number; give one with --to.")
        when = _parse_when(args.at) if args.at else None
        body = args.body
        if args.template is not None:
            body = _fill_for_case(services, actor, matter.id, args.template)
        if args.plain_quotes:
            from desktop_sms.domain.segments import plain_quotes, smart_characters

            advice = smart_characters(body)
            body = plain_quotes(body)
            if advice is not None:
                print(f"plain quotes: {advice.plain_segments} segment(s) instead of "
                      f"{advice.segments}")
        if args.consent == "yes" and matter.consent != "yes":
            services.consent.record(actor, matter.id, "yes", "verbal")
        message_id = services.outbound.send(
            actor, matter.id, to, body, send_at=when,
            override_quiet_hours=args.override_quiet_hours,
            override_opt_out=args.override_opt_out)
        if when is None:
            report = services.dispatcher.run_due()
            for problem in report.errors:
                print(f"desktop-sms: {problem}", file=sys.stderr)
        else:
            # With a Messaging Service, a text due 15 min to 35 days ahead is held by Twilio.
            held = services.held.hold_pending()
            for problem in held.errors:
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
        if report.clock_warning:  # docs/media_and_clocks.md; not an error of the poll
            print(f"desktop-sms: warning: {report.clock_warning}", file=sys.stderr)
        return 0 if report.ok else 1
    finally:
        services.close()


def cmd_sandbox_server(args: argparse.Namespace) -> int:
    from desktop_sms.providers.sandbox_server import run_sandbox_server

    if bool(args.account_sid) != bool(args.auth_token):
        print("desktop-sms: give both --account-sid and --auth-token, or neither.",
              file=sys.stderr)
        return 2
    return run_sandbox_server(args.port, args.account_sid, args.auth_token,
                              float(args.min_schedule_ahead))


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
        # Qt's PDF writer lives in the UI layer; it starts an offscreen application itself.
        from desktop_sms.ui.export_conversation import export_headless

        count = export_headless(services, actor, args.case, args.out, since, until)
        print(f"{args.out}: {count} text{'s' if count != 1 else ''}")
        return 0
    except OSError as exc:
        raise CliError(f"The PDF could not be written: {_first_line(exc)}") from None
    finally:
        services.close()


def cmd_gui(args: argparse.Namespace) -> int:
    from desktop_sms.app import run_gui

    return run_gui(db_url=args.db, demo=args.demo, smoke=args.smoke, as_user=args.as_user)


# --- templates, texts to many clients, client reminders (docs/templates.md) -------------------

def add_bulk_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`templates add|list`, `bulk-send`, `events add`."""
    tpl = sub.add_parser("templates", help="message templates with merge fields")
    tpl_sub = tpl.add_subparsers(dest="templates_command", required=True)
    tadd = tpl_sub.add_parser("add", help="add a template (or change the one with that name)")
    tadd.add_argument("name")
    tadd.add_argument("--body", required=True)
    tlist = tpl_sub.add_parser("list", help="list templates")
    tlist.add_argument("--json", action="store_true")

    bulk = sub.add_parser("bulk-send", help="text many clients at once")
    which = bulk.add_mutually_exclusive_group(required=True)
    which.add_argument("--cases", metavar="N1,N2,…", help="case numbers, comma-separated")
    which.add_argument("--filter", metavar="TEXT", help="every case the case list's filter finds")
    what = bulk.add_mutually_exclusive_group(required=True)
    what.add_argument("--template", metavar="NAME")
    what.add_argument("--body")
    bulk.add_argument("--at", metavar="ISO-8601", help="schedule for this time")
    bulk.add_argument("--json", action="store_true")

    ev = sub.add_parser("events", help="calendar events")
    ev_sub = ev.add_subparsers(dest="events_command", required=True)
    eadd = ev_sub.add_parser("add", help="add an event on a case")
    eadd.add_argument("--case", required=True, metavar="NUMBER")
    eadd.add_argument("--title", required=True)
    eadd.add_argument("--at", required=True, metavar="ISO-8601")
    eadd.add_argument("--place")
    eadd.add_argument("--minutes", type=int, default=60, help="length (default 60)")
    eadd.add_argument("--remind-client", metavar="1d,2h",
                      help="texts to the client this long before (d, h, m)")
    eadd.add_argument("--template", metavar="NAME", help="the reminder's template")


def _fill_for_case(services: Services, actor: Actor, matter_id: int, template: str) -> str:
    preview = services.batches.preview(actor, [matter_id], template_name=template)
    r = preview.recipients[0]
    if r.fill_reason:  # consent, number and opt-out are checked by the send itself
        raise CliError(f"The template can't be sent to case {r.case_number}: {r.fill_reason}.")
    return r.text


def cmd_templates(args: argparse.Namespace) -> int:
    services = _open(args)
    try:
        if args.templates_command == "list":
            rows = services.templates.list()
            if args.json:
                print(json.dumps([{"id": t.id, "name": t.name, "body": t.body,
                                   "fields": t.fields} for t in rows], ensure_ascii=False,
                                 indent=1))
            else:
                for t in rows:
                    print(f"{t.name}\t{t.body.replace(chr(10), ' ')}")
            return 0
        actor = acting_user(services, args)
        existing = {t.name: t.id for t in services.templates.list()}
        name = " ".join(args.name.split())
        services.templates.save(actor, name, args.body, existing.get(name))
        print(f"template '{name}' saved")
        return 0
    finally:
        services.close()


def cmd_bulk_send(args: argparse.Namespace) -> int:
    services = _open(args)
    try:
        actor = acting_user(services, args)
        if args.cases is not None:
            numbers = [n.strip() for n in args.cases.split(",") if n.strip()]
            ids = [services.matters.by_number(n).id for n in numbers]
        else:
            ids = [m.id for m in services.matters.page(args.filter, limit=5000)]
            if not ids:
                raise CliError(f"No case matches '{args.filter}'.")
        when = _parse_when(args.at) if args.at else None
        result = services.batches.send(actor, ids, body=args.body, template_name=args.template,
                                       send_at=when)
        states = _hold_batch(services, result) if when is not None else {}
        rows = [{"case": line.case, "to": line.to,
                 "status": states.get(line.message_id or 0, line.status),
                 "reason": line.reason,
                 "message_id": f"out-{line.message_id}" if line.message_id else None}
                for line in result.lines]
        if args.json:
            print(json.dumps({"batch_id": result.batch_id, "recipients": rows},
                             ensure_ascii=False, indent=1))
        else:
            for r in rows:
                print(f"{r['case']}\t{r['to']}\t{r['status']}\t{r['reason'] or '-'}\t"
                      f"{r['message_id'] or '-'}")
        return 0
    finally:
        services.close()


def _hold_batch(services: Services, result: BatchResult) -> dict[int, str]:
    """As `send --at`: with a Messaging Service, the batch's texts due 15 min to 35 days ahead
    are held by Twilio at once (docs/held_by_twilio.md), so no desktop need be running; returns
    each message id's state after the hand-over ("held" or still "scheduled")."""
    from sqlalchemy import select

    from desktop_sms.db.models import OutboundMessage

    held = services.held.hold_pending()
    for problem in held.errors:
        print(f"desktop-sms: {problem}", file=sys.stderr)
    ids = [line.message_id for line in result.lines if line.message_id]
    if not ids:
        return {}
    with services.db.session() as s:
        return {mid: state for mid, state in s.execute(
            select(OutboundMessage.id, OutboundMessage.state)
            .where(OutboundMessage.id.in_(ids)))}


def _offsets(text: str) -> list[int]:
    """'1d,2h,30m' → minutes; CliError with a sentence for anything else."""
    from desktop_sms.domain.templates import parse_offsets

    try:
        return parse_offsets(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def cmd_events(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from desktop_sms.services.client_reminders import ClientReminderSpec

    services = _open(args)
    try:
        actor = acting_user(services, args)
        matter = services.matters.by_number(args.case)
        starts = _parse_when(args.at)
        item_id = services.calendar.create_event(
            actor, args.title, starts, starts + timedelta(minutes=max(1, args.minutes)),
            matter_id=matter.id, location=args.place)
        print(f"event {item_id} added")
        if args.remind_client:
            body = (services.templates.by_name(args.template).body if args.template
                    else None)
            specs = [ClientReminderSpec(offset_minutes=m) for m in _offsets(args.remind_client)]
            for line in services.client_reminders.set_for_item(actor, item_id, specs, body):
                print(f"client reminder {line.description}\t{line.status}\t"
                      f"{line.detail or '-'}\t"
                      f"{('out-' + str(line.outbound_id)) if line.outbound_id else '-'}")
        return 0
    finally:
        services.close()


def cmd_consent(args: argparse.Namespace) -> int:
    services = _open(args)
    try:
        actor = acting_user(services, args)
        matter = services.matters.by_number(args.case)
        services.consent.record(actor, matter.id, args.answer, args.method, args.note)
        print(f"{matter.case_number}: consent {args.answer} ({args.method.replace('_', ' ')})")
        return 0
    finally:
        services.close()


def case_json(services: Services, case_number: str) -> dict[str, Any]:
    """A matter with its numbers, consent (answer, method, who, when, history) and the opt-out
    state per number, as `cases show NUMBER --json` prints it."""
    matter = services.matters.by_number(case_number)
    status = services.consent.status(matter.id)

    def iso(value: datetime | None) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value else None

    history = [{"answer": h.answer, "method": h.method, "by": h.by, "at": iso(h.at),
                "wording_version": h.wording_version, "note": h.note,
                "inbound_id": h.inbound_id} for h in status.history]
    last = history[-1] if history else None
    return {
        "case_number": matter.case_number, "client_name": matter.client_name,
        "stage": matter.stage,
        "numbers": [{"kind": kind, "number": e164, "opted_out": n.opted_out if n else False,
                     "opted_out_at": iso(n.changed_at) if n and n.opted_out else None,
                     "blocked": n.blocked if n else False}
                    for kind, e164 in (("mobile", matter.mobile_e164), ("home", matter.home_e164))
                    if e164 for n in [status.number(e164)]],
        "opt_out_scope": status.scope,
        "consent": {"answer": status.consent, "method": last["method"] if last else None,
                    "by": last["by"] if last else matter.consent_by,
                    "at": last["at"] if last else iso(matter.consent_at),
                    "history": history},
        "consent_requested_at": iso(status.request_sent_at),
    }


def cmd_cases(args: argparse.Namespace) -> int:
    services = _open(args)
    try:
        data = case_json(services, args.number)
        if args.json:
            print(json.dumps(data, ensure_ascii=False, indent=1))
            return 0
        print(f"{data['case_number']}\t{data['client_name']}\t{data['stage']}")
        print(f"consent: {data['consent']['answer']}")
        for n in data["numbers"]:
            print(f"{n['kind']}: {n['number']}" + ("  (opted out)" if n["opted_out"] else
                                                  "  (blocked: client opted out)"
                                                  if n["blocked"] else ""))
        return 0
    finally:
        services.close()


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "templates": cmd_templates,
    "bulk-send": cmd_bulk_send,
    "events": cmd_events,
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
    "consent": cmd_consent,
    "cases": cmd_cases,
    "export-conversation": cmd_export_conversation,
}


def _option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each argument's dest → how a person typed it (--body, file …), across every subcommand."""
    names: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                names.update(_option_names(sub))
        elif action.dest != argparse.SUPPRESS:
            names.setdefault(action.dest, max(action.option_strings, key=len)
                             if action.option_strings else action.dest.upper())
    return names


def undecodable_argument(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """One sentence naming the first text argument that is not valid text, else None.

    Python turns bytes on the command line that the locale's encoding can't decode into lone
    surrogates (PEP 383, https://peps.python.org/pep-0383/); such text can't be stored or sent.
    Every str argument of every command is checked here, in one place; file paths (Path
    values) are left alone, since a file name may be any bytes.
    """
    names = _option_names(parser)
    for dest, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str):
                continue
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                bad = item[exc.start]
                byte = f"0x{ord(bad) - 0xDC00:02X}" if 0xDC80 <= ord(bad) <= 0xDCFF else "a byte"
                encoding = sys.getfilesystemencoding()
                return (f"{names.get(dest, dest)} is not valid {encoding} text ({byte} at "
                        f"character {exc.start + 1}); retype it or set the terminal to UTF-8. "
                        "Nothing was done.")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `desktop-sms` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = undecodable_argument(parser, args)
    if problem is not None:
        print(f"desktop-sms: {problem}", file=sys.stderr)
        return 2
    # Every logger's records are masked: no phone numbers, bodies or tokens (docs/logging.md).
    logging_setup.install(level=logging.DEBUG if args.verbose else logging.WARNING,
                          fmt="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
