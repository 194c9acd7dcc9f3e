"""`signage render` and `signage profiles`: outputs, one-line reports and one-line errors."""

import json

import pytest
from PIL import Image

from playlists.db import head_revision
from renderer import CATALOG, DEFAULT_URL
from tests.helpers import decoded_urls


def test_profiles_lists_every_builtin(runner):
    result = runner.invoke("profiles")
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(CATALOG)
    assert "192x96" in lines[0]
    web = [line for line in lines if line.split()[2] == "web"]
    assert [line.split()[:2] for line in web] == [["link-preview", "1200x630"], ["social-square", "1080x1080"],
                                                  ["wifi-banner", "1200x400"]]


@pytest.mark.parametrize(("ext", "fmt"), [("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP")])
def test_render_writes_the_format_of_the_extension(runner, tmp_path, ext, fmt):
    out = tmp_path / f"poster.{ext}"
    result = runner.invoke("render", "--profile", "kiosk-portrait", "--lang", "en", "-o", str(out))
    assert result.exit_code == 0, result.output
    report = result.output.strip()
    assert "\n" not in report
    assert "1080x1920" in report and "QR version 2-M" in report and "decoded OK" in report and "m;" in report
    with Image.open(out) as image:
        assert image.format == fmt and image.size == (1080, 1920)
        assert decoded_urls(image) == [DEFAULT_URL]


def test_render_any_size_with_pitch(runner, tmp_path):
    out = tmp_path / "led.png"
    result = runner.invoke("render", "--size", "384x192", "--pitch-mm", "5", "--headline", "Cài Bluezone",
                           "--url", "https://bluezone.gov.vn/tai-ve", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "scan from up to" in result.output
    with Image.open(out) as image:
        assert image.size == (384, 192)
        assert decoded_urls(image) == ["https://bluezone.gov.vn/tai-ve"]


def test_render_pdf_for_print(runner, tmp_path):
    out = tmp_path / "a3.pdf"
    result = runner.invoke("render", "--profile", "a3-print", "-o", str(out))
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and b"/MediaBox [ 0 0 841.92 1190.64 ]" in data  # A3 in points


def test_spec_file_and_overrides(runner, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"lang": "en", "headline": "From the file", "theme": "dark"}), encoding="utf-8")
    out = tmp_path / "p.png"
    result = runner.invoke("render", "--spec", str(spec), "--headline", "From the flag", "-o", str(out))
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.getpixel((2, 2)) == (0, 0, 0)  # the dark theme of the file


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "plasma"], "unknown profile"),
        (["--size", "20x10"], "screen too small"),
        (["--size", "big"], "malformed size"),
        (["--profile", "led-p10", "--size", "64x32"], "not both"),
        (["--headline", "Bluezone 🦠"], "cannot draw"),
        (["--headline", "Bảo vệ mình, bảo vệ cộng đồng " * 4, "--profile", "led-p10"], "does not fit"),
        (["--url", "bluezone"], "malformed URL"),
        (["--url", "https://bluezone.gov.vn/" + "x" * 600, "--profile", "led-p10"], "no room for a scannable code"),
        (["--spec", "missing.json"], "cannot read spec file"),
    ],
)
def test_render_errors_are_one_line_and_leave_no_file(runner, tmp_path, args, message):
    out = tmp_path / "out.png"
    result = runner.invoke("render", *args, "-o", str(out))
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_bad_spec_json(runner, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text("{not json", encoding="utf-8")
    result = runner.invoke("render", "--spec", str(spec), "-o", str(tmp_path / "out.png"))
    assert result.exit_code != 0 and "not valid JSON" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.json"]


def test_unknown_extension(runner, tmp_path):
    result = runner.invoke("render", "-o", str(tmp_path / "poster.gif"))
    assert result.exit_code != 0 and "unknown output format" in result.output
    assert list(tmp_path.iterdir()) == []


def test_missing_output_folder(runner, tmp_path):
    result = runner.invoke("render", "-o", str(tmp_path / "nope" / "poster.png"))
    assert result.exit_code != 0 and "output folder does not exist" in result.output


def test_every_command_has_help(runner):
    for command in ([], ["render"], ["profiles"], ["serve"], ["db", "upgrade"], ["screen", "add"], ["screen", "list"],
                    ["screen", "token"]):
        result = runner.invoke(*command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_screen_commands(runner):
    added = runner.invoke("screen", "add", "hue-led-1", "--profile", "led-p10", "--name", "Huế trung tâm",
                          "--group", "led", "--group", "city")
    assert added.exit_code == 0, added.output
    token = added.output.strip().splitlines()[-1]
    assert len(token) >= 43 and " " not in token
    listed = runner.invoke("screen", "list")
    assert listed.output.strip().split("\t") == ["hue-led-1", "led-p10", "192x96", "Asia/Ho_Chi_Minh", "city,led",
                                                 "Huế trung tâm"]
    reissued = runner.invoke("screen", "token", "hue-led-1")
    assert reissued.exit_code == 0
    assert reissued.output.strip().splitlines()[-1] not in (token, "")
    upgraded = runner.invoke("db", "upgrade")
    assert upgraded.exit_code == 0 and f"revision {head_revision()}" in upgraded.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["screen", "add", "x", "--profile", "plasma"], "profile 'plasma' is unknown"),
        (["screen", "add", "Not OK", "--profile", "led-p10"], "bad screen id"),
        (["screen", "token", "ghost"], "no screen 'ghost'"),
    ],
)
def test_screen_command_errors(runner, args, message):
    result = runner.invoke(*args)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert message in result.output and "Traceback" not in result.output
