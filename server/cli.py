"""The `signage` command line: serve, render, profiles."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import click

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Bluezone signage: posters and playlists for every screen of a campaign.

    The instance folder (database, media, config) is ./instance unless
    SIGNAGE_INSTANCE names another.
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Gunicorn worker processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Run the server under gunicorn until Ctrl-C."""
    from .serve import run

    try:
        run(host, port, workers)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


def _load_spec(path: str | None) -> PosterSpec:
    if path is None:
        return PosterSpec()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RenderError(f"cannot read spec file {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RenderError(f"spec file {path} is not valid JSON: {exc}") from None
    return PosterSpec.from_dict(data)


@main.command()
@click.option("--profile", "profile_name", metavar="NAME", help="A built-in screen profile (see `signage profiles`).")
@click.option("--size", metavar="WxH", help="Any size instead of a profile, such as 1366x768.")
@click.option("--pitch-mm", type=float, metavar="MM", help="Pixel pitch, for the scan-distance estimate.")
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
            raise RenderError(f"output folder does not exist: {out_dir}")
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
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"{poster.report()}; wrote {os.fspath(output)} ({len(data):,} bytes)")


@main.command()
def profiles() -> None:
    """List the built-in screen profiles."""
    for p in CATALOG.values():
        pitch = f"{p.dpi} dpi" if p.dpi else (f"{p.pitch_mm:g} mm" if p.pitch_mm else "-")
        view = f"{p.viewing_m:g} m" if p.viewing_m else "-"
        size = f"{p.width}x{p.height}"
        click.echo(f"{p.name:<15} {size:>10} {p.kind:<6} pitch {pitch:<8} viewed at {view:<6} {p.label}")
