"""Checks a person would make of a poster."""

from PIL import Image

from renderer.qr import decode


def decoded_urls(image: Image.Image) -> list[str]:
    """Every QR text found in the whole image, independently of the renderer's own check."""
    return decode(image)


def inside(box, size) -> bool:
    x0, y0, x1, y1 = box
    return 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1]


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def assert_layout_sound(poster) -> None:
    """Every element inside the canvas, no two elements overlapping."""
    size = poster.image.size
    for role, box in poster.boxes:
        assert inside(box, size), f"{role} box {box} leaves the {size} canvas"
    drawn = list(poster.boxes)
    for i, (ra, a) in enumerate(drawn):
        for rb, b in drawn[i + 1:]:
            assert not overlap(a, b), f"{ra} {a} overlaps {rb} {b}"


def color_share(image: Image.Image, box, color) -> float:
    """Share of the pixels in box that are exactly color."""
    region = image.crop(box)
    hist = region.getcolors(region.width * region.height)
    return sum(n for n, c in hist if c == color) / (region.width * region.height)


class Clock:
    """An app clock for config["CLOCK"]: reads `at`, which a test sets to move time (never the wall clock)."""

    def __init__(self, at):
        self.at = at

    def __call__(self):
        return self.at


def seeded_instance(tmp_path_factory, name: str, seed, config: dict):
    """For a module's `seeded` fixture: on SQLite, an instance seeded once (seed(create_app(config))) that each
    test copies, since password hashes and renders take seconds; None on the PostgreSQL run, whose database is
    emptied before each test (then `app_on` seeds for every test)."""
    import os

    from server import create_app

    if os.environ.get("SIGNAGE_TEST_POSTGRES_URL"):  # as tests/conftest.py reads it
        return None
    path = tmp_path_factory.mktemp(name) / "instance"
    previous = os.environ.get("SIGNAGE_INSTANCE")
    os.environ["SIGNAGE_INSTANCE"] = str(path)
    try:
        seed(create_app(config))
    finally:
        if previous is None:
            del os.environ["SIGNAGE_INSTANCE"]
        else:
            os.environ["SIGNAGE_INSTANCE"] = previous
    return path


def app_on(instance, seeded, seed, config: dict):
    """For a module's `app` fixture: the test's instance as a copy of `seeded` (or seeded now, on PostgreSQL)."""
    import shutil

    from server import create_app

    if seeded is None:
        seed(create_app(config))
    else:
        shutil.copytree(seeded, instance)
    return create_app(config)
