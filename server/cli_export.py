"""`signage export`: offline channels. USB bundles for LED controllers and print-ready PDFs."""

from __future__ import annotations

import os
from pathlib import Path

import click

from playlists.rules import MAX_YEAR, MIN_YEAR
from renderer import RenderError, write_atomic

from .cli_common import Refused, Text, app_session, now

PRINT_LANGS = ("vi", "en", "vi-en")


@click.group()
def export() -> None:
    """Offline channels: USB bundles for LED controllers, print-ready posters and leaflets."""


def _output(path: str, suffix: str) -> None:
    """Refuse an output whose extension or folder is wrong before any work is done."""
    if Path(path).suffix.lower() != suffix:
        raise click.ClickException(f"output: got {path!r}, expected a file name ending in {suffix}")
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise click.ClickException(f"output folder does not exist: {folder}")


@export.command("usb")
@click.option("--screen", "screen_id", metavar="ID", type=Text(64), help="One registered screen.")
@click.option("--group", metavar="NAME", type=Text(64),
              help="Every screen of a group (one folder per distinct timeline).")
@click.option("--date", "day", metavar="YYYY-MM-DD", type=Text(40),
              help="The local day to export (default: today on the screen).")
@click.option("-o", "--output", required=True, metavar="FILE.zip", help="Where to write the bundle.")
def export_usb(screen_id: str | None, group: str | None, day: str | None, output: str) -> None:
    """A day of a screen's (or a group's) playlist as numbered exact-size images, for a USB stick."""
    from playlists.export import ExportError, build_usb_bundle, parse_day, write_usb_bundle

    from .db import get_store

    if (screen_id is None) == (group is None):
        raise click.ClickException("give --screen ID or --group NAME (one of them)")
    _output(output, ".zip")
    try:
        local_day = parse_day(day) if day is not None else None
    except ExportError as exc:
        raise Refused(exc) from None
    if local_day is not None and not MIN_YEAR <= local_day.year <= MAX_YEAR:
        raise click.ClickException(f"date: got {day}, expected a year from {MIN_YEAR} to {MAX_YEAR}")
    with app_session() as session:
        try:
            bundle = build_usb_bundle(session, get_store(), screen=screen_id, group=group, day=local_day, now=now())
            write_usb_bundle(bundle, output)
        except ExportError as exc:
            raise Refused(exc) from None
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"{bundle.report()}; wrote {os.fspath(output)} ({len(bundle.data):,} bytes)")


@export.command("print")
@click.option("--format", "fmt", required=True, metavar="A4|A3|A5", type=Text(20),
              help="A4 or A3 poster, or A5 leaflets two to an A4 sheet with cut marks.")
@click.option("--lang", default="vi", show_default=True, metavar="vi|en|vi-en", type=Text(20),
              help="Language of the poster.")
@click.option("-o", "--output", required=True, metavar="FILE.pdf", help="Where to write the PDF.")
def export_print(fmt: str, lang: str, output: str) -> None:
    """The official Bluezone poster or leaflet as a 300 dpi PDF of the exact paper size."""
    from renderer import PosterSpec
    from renderer.printing import FORMATS, print_document

    if fmt.upper() not in FORMATS:
        raise click.ClickException(f"format: got {fmt!r}, expected one of {', '.join(FORMATS)}")
    if lang not in PRINT_LANGS:
        raise click.ClickException(f"language: got {lang!r}, expected one of {', '.join(PRINT_LANGS)}")
    _output(output, ".pdf")
    try:
        document = print_document(fmt.upper(), PosterSpec(lang=lang))
        data = document.pdf()
        write_atomic(output, data)
    except RenderError as exc:
        raise Refused(exc) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"{document.report()}; wrote {os.fspath(output)} ({len(data):,} bytes)")
