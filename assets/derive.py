"""Derivatives: an image fitted to a screen's exact size, never stretched."""

from __future__ import annotations

from PIL import Image, ImageOps

FITS = ("contain", "cover")


def fit_image(image: Image.Image, size: tuple[int, int], fit: str = "contain",
              background: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """A new RGB image of exactly `size`: the whole picture letterboxed on background (contain) or cropped to fill
    (cover). Refuses an unknown fit."""
    if fit not in FITS:
        raise ValueError(f"fit: got {fit!r}, expected one of {', '.join(FITS)}")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent parts show the background, not whatever colour happens to be stored under them.
        rgba = image.convert("RGBA")
        rgb = Image.new("RGB", rgba.size, background)
        rgb.paste(rgba, mask=rgba.getchannel("A"))
    else:
        rgb = image.convert("RGB")
    if fit == "cover":
        return ImageOps.fit(rgb, size, method=Image.Resampling.LANCZOS)
    return ImageOps.pad(rgb, size, method=Image.Resampling.LANCZOS, color=background)
