"""Posters compared with reviewed reference images, within a small tolerance.

The references were looked at by a person. After a deliberate change of design, regenerate them
with `SIGNAGE_UPDATE_REFERENCES=1 make test`, look at them again, and commit them with the change.
"""

import os
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from renderer import PosterSpec, get_profile, render_poster

REFERENCES = Path(__file__).with_name("reference")
CASES = [("tv-1080p", "vi"), ("led-p10", "vi"), ("led-p5-small", "en"), ("kiosk-portrait", "vi-en"),
         ("bus-strip", "en")]


def assert_image_similar(actual: Image.Image, expected: Image.Image, max_mean_diff: float) -> None:
    """Same size and mode, and a mean absolute difference per channel (0-255) within the tolerance."""
    assert actual.size == expected.size and actual.mode == expected.mode
    diff = ImageStat.Stat(ImageChops.difference(actual, expected)).mean
    assert max(diff) <= max_mean_diff, f"mean difference per channel {diff} exceeds {max_mean_diff}"


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_matches_reference(name, lang):
    image = render_poster(PosterSpec(lang=lang), get_profile(name)).image
    path = REFERENCES / f"{name}-{lang}.png"
    if os.environ.get("SIGNAGE_UPDATE_REFERENCES"):
        path.parent.mkdir(exist_ok=True)
        image.save(path, optimize=True)
    with Image.open(path) as expected:
        assert_image_similar(image, expected.convert("RGB"), max_mean_diff=1.0)


def test_similarity_check_can_fail():
    image = render_poster(PosterSpec(lang="vi"), get_profile("led-p10")).image
    other = render_poster(PosterSpec(lang="en"), get_profile("led-p10")).image
    with pytest.raises(AssertionError, match="exceeds"):
        assert_image_similar(image, other, max_mean_diff=1.0)
