"""The `signage` command line: serve, render, profiles."""

from __future__ import annotations

import errno
import ipaddress
import json
import math
import os
import re
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import click
from click.exceptions import NoArgsIsHelpError

from playlists.content import sync_renditions
from playlists.screens import DEFAULT_TZ, add_screen, list_screens, reissue_token
from renderer import (
    CATALOG,
    LANGUAGES,
    TEMPLATES,
    THEMES,
    PosterSpec,
    RenderError,
    custom_profile,
    encode,
    format_for,
    get_profile,
    parse_size,
    render_poster,
    require_raqm,
    write_atomic,
)
from renderer.errors import N_, Problem, Term

from .cli_common import Refused, Text, app_session, now

# A --spec file larger than this is refused before it is read (a poster's fields take a few kilobytes).
MAX_SPEC_BYTES = 1024 * 1024
# Why a file could not be read or written, in words the catalogue translates (the system's own are English).
_OS_REASONS = {errno.ENOENT: N_("no such file or folder"), errno.EACCES: N_("permission denied"),
               errno.EPERM: N_("permission denied"), errno.EISDIR: N_("it is a folder"),
               errno.ENOTDIR: N_("a part of the path is not a folder"), errno.EROFS: N_("the file system is read-only"),
               errno.ENOSPC: N_("no space left on the disk")}


def _os_reason(exc: OSError) -> Term:
    return _OS_REASONS.get(exc.errno or 0, Term(exc.strerror or str(exc)))


class _OneLineErrors(click.Group):
    """Every refusal, click's own usage errors included, is one line on stderr and a non-zero exit (ARCHITECTURE
    3.1): "Error: <what was wrong> (see 'signage CMD --help')", without the usage block click prints first."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except NoArgsIsHelpError as exc:
            exc.show()  # a bare group prints its help, as click does
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"Error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


_HOST = re.compile(r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$")


def _host(ctx, param, value: str) -> str:
    """--host: an IP address or a host name (letters, digits, '-' and dots), as gunicorn can bind it."""
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not _HOST.match(value):
        raise click.BadParameter(f"got {value!r:.80}, expected an IP address (such as 0.0.0.0) or a host name")
    return value


def _finite(ctx, param, value: float | None) -> float | None:
    # FloatRange lets NaN through (every comparison with it is false).
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"got {value}, expected a number of millimetres")
    return value


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Bluezone signage: posters and playlists for every screen of a campaign.

    The instance folder (database, media, config) is ./instance unless
    SIGNAGE_INSTANCE names another.
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, callback=_host, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Gunicorn worker processes.")
@click.option("--access-log", is_flag=True, help="Log every request to stdout (off: players poll constantly).")
@click.option("--no-demo", is_flag=True, help="Leave an empty instance empty (no demo network, no admin).")
@click.option("--no-scheduler", is_flag=True, help="Do not start the scheduler (another host runs it).")
def serve(host: str, port: int, workers: int, access_log: bool, no_demo: bool, no_scheduler: bool) -> None:
    """Run the server under gunicorn, and the scheduler beside it, until Ctrl-C.

    On an empty instance it first creates the demo network and an admin, and prints the admin's password
    once, alone on the last line of that block.
    """
    from .serve import run

    try:
        run(host, port, workers, access_log, demo=not no_demo, scheduler=not no_scheduler)
    except RuntimeError as exc:
        raise Refused(exc) from None


def _load_spec(path: str | None) -> PosterSpec:
    if path is None:
        return PosterSpec()
    try:
        if Path(path).stat().st_size > MAX_SPEC_BYTES:
            raise RenderError("spec file %(path)s is larger than %(limit)s bytes: expected a poster's fields; give a "
                              "smaller file", code="cli.spec_too_large", field="spec", path=path, limit=MAX_SPEC_BYTES)
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RenderError("cannot read spec file %(path)s: %(reason)s", code="cli.spec_unreadable", field="spec",
                          path=path, reason=_os_reason(exc)) from None
    except UnicodeDecodeError:
        raise RenderError("spec file %(path)s is not valid JSON: it is not UTF-8 text; save it as UTF-8",
                          code="cli.spec_not_json", field="spec", path=path) from None
    except json.JSONDecodeError as exc:
        raise RenderError("spec file %(path)s is not valid JSON: error at line %(line)s, column %(column)s; expected "
                          "an object of a poster's fields", code="cli.spec_not_json", field="spec", path=path,
                          line=exc.lineno, column=exc.colno) from None
    return PosterSpec.from_dict(data)


@main.command()
@click.option("--profile", "profile_name", metavar="NAME", type=Text(64),
              help="A built-in screen profile (see `signage profiles`).")
@click.option("--size", metavar="WxH", type=Text(40), help="Any size instead of a profile, such as 1366x768.")
@click.option("--pitch-mm", type=click.FloatRange(0, 100, min_open=True), callback=_finite, metavar="MM",
              help="Pixel pitch (0 < MM <= 100), for the scan-distance estimate.")
@click.option("--template", type=click.Choice(TEMPLATES), help="Poster template.")
@click.option("--lang", type=click.Choice(LANGUAGES), help="Language; vi-en is bilingual.")
@click.option("--theme", type=click.Choice(list(THEMES)), help="Colour theme.")
@click.option("--headline", metavar="TEXT")
@click.option("--body", metavar="TEXT")
@click.option("--cta", metavar="TEXT", help="Call to action.")
@click.option("--footer", metavar="TEXT", help="Issuing authority line.")
@click.option("--url", metavar="URL", help="Where the QR code points (default: the official Bluezone site).")
@click.option("--spec", "spec_path", metavar="FILE.json", help="Poster fields as JSON; options above override it.")
@click.option("-o", "--output", required=True, metavar="OUT", help="Output file: .png, .jpg, .webp or .pdf.")
def render(profile_name, size, pitch_mm, spec_path, output, **fields) -> None:
    """Render one poster and print a one-line report."""
    try:
        require_raqm()
        fmt = format_for(output)
        out_dir = Path(output).resolve().parent
        if not out_dir.is_dir():
            raise RenderError("output folder does not exist: %(folder)s; create it or choose another -o",
                              code="cli.no_output_folder", field="output", folder=str(out_dir))
        if profile_name and size:
            raise RenderError("give --profile or --size, not both")
        if size:
            profile = custom_profile(*parse_size(size), pitch_mm=pitch_mm)
        else:
            profile = get_profile(profile_name or "tv-1080p")
            if pitch_mm is not None:
                profile = replace(profile, pitch_mm=pitch_mm)
        spec = _load_spec(spec_path)
        spec = replace(spec, **{k: v for k, v in fields.items() if v is not None})
        poster = render_poster(spec, profile)
        data = encode(poster.image, fmt, profile)
        write_atomic(output, data)
    except (RenderError, RuntimeError) as exc:
        raise Refused(exc) from None
    except OSError as exc:
        raise Refused(Problem("cannot write %(path)s: %(reason)s", code="cli.cannot_write", field="output",
                              path=os.fspath(output), reason=_os_reason(exc))) from None
    click.echo(f"{poster.report()}; wrote {os.fspath(output)} ({len(data):,} bytes)")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (serve does it too)."""
    from playlists.db import current_revision

    from .db import get_engine

    with app_session():
        click.echo(f"database at revision {current_revision(get_engine())}")


@main.group()
def screen() -> None:
    """Register screens and manage their device tokens."""


@screen.command("add")
@click.argument("screen_id", metavar="ID", type=Text(64))
@click.option("--profile", required=True, metavar="NAME", help="Built-in screen profile (see `signage profiles`).")
@click.option("--name", default="", metavar="TEXT", type=Text(200), help="A human name, such as the place.")
@click.option("--site", default="", metavar="TEXT", type=Text(200))
@click.option("--district", default="", metavar="TEXT", type=Text(200))
@click.option("--tz", default=DEFAULT_TZ, show_default=True, type=Text(64), help="IANA time zone of the screen.")
@click.option("--group", "groups", multiple=True, metavar="G", type=Text(64),
              help="A group to put the screen in (repeatable).")
def screen_add(screen_id, profile, name, site, district, tz, groups) -> None:
    """Register a screen; prints its device token once, alone on the last line."""
    from .db import get_store

    with app_session() as session:
        token = add_screen(session, screen_id, profile, now(), name=name, site=site, district=district,
                           tz=tz, groups=groups)
        # Its media are made now, at its exact size, so its first poll finds them ready.
        sync_renditions(session, get_store(), now())
    click.echo(f"screen {screen_id} added; its device token (shown once) is on the next line")
    click.echo(token)


@screen.command("list")
def screen_list() -> None:
    """One screen a line: id, profile, size, time zone, groups, name."""
    with app_session() as session:
        for s in list_screens(session):
            p = CATALOG[s.profile]
            groups = ",".join(g.name for g in s.groups) or "-"
            click.echo(f"{s.id}\t{s.profile}\t{p.width}x{p.height}\t{s.tz}\t{groups}\t{s.name}")


@screen.command("token")
@click.argument("screen_id", metavar="ID", type=Text(64))
def screen_token(screen_id) -> None:
    """Issue a new device token; the old one stops working at once."""
    with app_session() as session:
        token = reissue_token(session, screen_id, now())
    click.echo(f"new token for {screen_id} (the old one no longer works) is on the next line")
    click.echo(token)


@screen.command("pair")
@click.argument("code", type=Text(20))
@click.option("--id", "screen_id", required=True, metavar="ID", type=Text(64),
              help="The registered screen this player becomes.")
def screen_pair(code, screen_id) -> None:
    """Approve a player showing a pairing code; it collects its token by itself within seconds."""
    from playlists.pairing import approve_pairing, display_code

    with app_session() as session:
        pairing = approve_pairing(session, code, screen_id, now())
    click.echo(f"player with code {display_code(pairing.code)} approved as screen {screen_id}")


@main.command()
@click.option("--wait", is_flag=True, help="If another scheduler runs, wait for it to stop instead of exiting.")
@click.option("--once", "once", metavar="JOB", type=Text(64), help="Run one job now and exit (see the list below).")
def scheduler(wait: bool, once: str | None) -> None:
    """Run the periodic jobs in the foreground (one scheduler per database).

    Jobs: mark-offline, retire-overrides, render-missing, roll-up-plays, verify-media, backup-sqlite.
    """
    from playlists.db import upgrade

    from . import create_app
    from . import scheduler as sched
    from .db import get_engine

    try:
        app = create_app()
    except RuntimeError as exc:
        raise Refused(exc) from None
    with app.app_context():
        upgrade(get_engine())
        get_engine().dispose()
    if once is not None:
        job = next((j for j in sched.JOBS if j.id == once), None)
        if job is None:
            raise click.ClickException(f"unknown job {once!r}: expected one of {', '.join(j.id for j in sched.JOBS)}")
        lock = sched.SchedulerLock(app)  # never beside a running scheduler: jobs would run twice at once
        try:
            lock.acquire(wait=False)
            click.echo(f"{job.id}: {sched.summary(sched.run_job(app, job))}")
        except sched.AlreadyRunning as exc:
            raise Refused(exc) from None
        finally:
            lock.release()
        return
    try:
        sched.run(app, wait=wait)
    except sched.AlreadyRunning as exc:
        raise Refused(exc) from None


@main.group()
def user() -> None:
    """People who use the console."""


@user.command("add")
@click.argument("username", metavar="NAME")
@click.option("--role", required=True, type=click.Choice(["admin", "staff", "operator"]))
@click.option("--site", "sites", multiple=True, metavar="SITE", type=Text(200),
              help="For operators: a site they may see (repeatable).")
@click.option("--group", "groups", multiple=True, metavar="G", type=Text(64),
              help="For operators: a group they may see (repeatable).")
def user_add(username, role, sites, groups) -> None:
    """Create a user; prints a generated password once, alone on the last line."""
    from playlists.users import add_user, audit

    with app_session() as session:
        _user, password = add_user(session, username, role, now(), sites=sites, groups=groups)
        audit(session, "cli", "user.add", f"user:{username}", now(),
              after={"role": role, "sites": list(sites), "groups": list(groups)})
    click.echo(f"user {username} ({role}) added; they choose their own password when they first log in; the "
               "password (shown once) is on the next line")
    click.echo(password)


@user.command("password")
@click.argument("username", metavar="NAME")
@click.option("--generate", is_flag=True, help="Make a password and print it once, alone on the last line.")
def user_password(username, generate) -> None:
    """Set a user's password (asked twice, or generated); every session of theirs ends.

    This is how a lost admin password is reset: `signage user password admin` (with SIGNAGE_INSTANCE set when
    the instance is not ./instance)."""
    from playlists.demo import FIRST_START_SECRETS, forget_first_start_secrets
    from playlists.users import audit, new_password, set_password, user_named

    from . import instance_dir

    with app_session() as session:
        target = user_named(session, username)  # an unknown name is refused before any password is asked
        password = new_password() if generate else click.prompt(f"New password for {username}", hide_input=True,
                                                                  confirmation_prompt=True, err=True)
        ended = set_password(session, target, password, now())
        audit(session, "cli", "user.password", f"user:{username}", now(), after={"sessions_ended": ended})
    deleted = forget_first_start_secrets(instance_dir(), username)
    said = f"password of {username} set; {ended} session(s) ended"
    if deleted:
        said += f"; deleted {os.path.join(instance_dir(), FIRST_START_SECRETS)} (its password no longer works)"
    if generate:
        click.echo(f"{said}; the new password (shown once) is on the next line")
        click.echo(password)
    else:
        click.echo(f"{said}; log in to the console with it")


@main.group()
def token() -> None:
    """API tokens for scripts."""


@token.command("create")
@click.argument("username", metavar="NAME")
@click.option("--label", default="script", show_default=True, type=Text(100), help="What the token is for.")
def token_create(username, label) -> None:
    """Create an API token for a staff or admin user; prints it once, alone on the last line."""
    from playlists.users import audit, create_api_token

    with app_session() as session:
        secret = create_api_token(session, username, label, now())
        audit(session, "cli", "token.create", f"user:{username}", now(), after={"label": label})
    click.echo(f"API token for {username} ({label}); send it as Authorization: Bearer <token>. It is on the next line")
    click.echo(secret)


@token.command("list")
def token_list() -> None:
    """One API token a line: id, user, label, created, last used, revoked ("-" for never), tab-separated."""
    from playlists.users import list_api_tokens

    def when(moment):
        return _stamp(moment) if moment is not None else "-"

    with app_session() as session:
        for t in list_api_tokens(session):
            click.echo(f"{t.id}\t{t.user.username}\t{t.name}\t{when(t.created_at)}\t{when(t.last_used_at)}\t"
                       f"{when(t.revoked_at)}")


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=click.IntRange(min=1))
def token_revoke(token_id) -> None:
    """Revoke an API token (the id from `signage token list`); it stops working at once."""
    from playlists.users import audit, revoke_api_token

    with app_session() as session:
        row = revoke_api_token(session, token_id, now())
        audit(session, "cli", "token.revoke", f"user:{row.user.username}", now(),
              after={"id": token_id, "label": row.name})
    click.echo(f"API token {token_id} of {row.user.username} ({row.name}) revoked")


def _stamp(moment: datetime) -> str:
    """A stored instant as UTC, to the minute, for listings."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


@main.command()
def profiles() -> None:
    """List the built-in screen profiles."""
    for p in CATALOG.values():
        pitch = f"{p.dpi} dpi" if p.dpi else (f"{p.pitch_mm:g} mm" if p.pitch_mm else "-")
        view = f"{p.viewing_m:g} m" if p.viewing_m else "-"
        size = f"{p.width}x{p.height}"
        click.echo(f"{p.name:<15} {size:>10} {p.kind:<6} pitch {pitch:<8} viewed at {view:<6} {p.label}")

from .cli_export import export  # noqa: E402

main.add_command(export)
