"""Every `signage` option with a bad value: one line on stderr, a non-zero exit, no traceback, nothing written.

ARCHITECTURE.md 3.1: errors print one clear line to stderr and exit non-zero; no traceback for user mistakes.
Click's own usage errors (a value out of range, an unknown option) are one line too ("Error: ... (see
'signage CMD --help')"), not click's usage block.
"""

import pytest

HUGE = "18446744073709551617"


def assert_one_line_refusal(result, says: str, folder=None) -> None:
    assert result.exit_code not in (0, None), result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert says in lines[0], lines[0]
    assert result.stdout == "", result.stdout
    if folder is not None:
        assert [p.name for p in folder.iterdir() if p.name != "instance"] == []  # no output, no temporary file


@pytest.mark.parametrize(("args", "says"), [
    (["--size", "0x0"], "screen too small: got 0x0"),
    (["--size", "99999x99999"], "screen too large"),
    (["--size", "1e3x5"], "malformed size"),
    (["--size", f"{HUGE}x2"], "malformed size"),
    (["--size", "64x32\x00"], "control character U+0000"),
    (["--pitch-mm", "0"], "'--pitch-mm': 0.0 is not in the range 0<x<=100"),
    (["--pitch-mm", "-1"], "is not in the range"),
    (["--pitch-mm", "1e308"], "is not in the range"),
    (["--pitch-mm", "nan"], "'--pitch-mm': got nan, expected a number of millimetres"),
    (["--pitch-mm", "ten"], "'ten' is not a valid float"),
    (["--profile", "led-p10", "--pitch-mm", "500"], "is not in the range"),
    (["--profile", "plasma"], "unknown profile: got 'plasma'"),
    (["--profile", "x" * 100], "got 100 characters, expected at most 64"),
    (["--template", "flyer"], "'--template': 'flyer' is not one of 'install', 'reminder'"),
    (["--lang", "fr"], "'--lang': 'fr' is not one of"),
    (["--theme", "pink"], "'--theme'"),
    (["--url", "https://bluezone.gov.vn@evil.example/"], "a phone would open 'evil.example'"),
    (["--url", "javascript:alert(1)"], "expected an http:// or https:// address"),
    (["--url", "https://bluezone.gov.vn:99999/"], "URL"),
    (["--headline", "Bluezone\x07"], "headline: got a control character U+0007"),
    (["--headline", "x" * 5000], "headline is too long"),
    (["--headline", "   "], "headline is empty"),
    (["--spec", "missing.json"], "cannot read spec file"),
    (["--bogus"], "No such option '--bogus'"),
])
def test_render_refuses_bad_options(runner, tmp_path, args, says):
    out = tmp_path / "poster.png"
    assert_one_line_refusal(runner.invoke("render", *args, "-o", str(out)), says, tmp_path)


def test_render_refuses_unreadable_huge_and_unwritable_paths(runner, tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "spec.json").write_bytes(b"\xff\xfe{}")
    assert_one_line_refusal(runner.invoke("render", "--spec", str(folder / "spec.json"), "-o",
                                          str(folder / "a.png")), "is not valid JSON")
    (folder / "spec.json").write_text(" " * (1024 * 1024 + 1))
    assert_one_line_refusal(runner.invoke("render", "--spec", str(folder / "spec.json"), "-o",
                                          str(folder / "a.png")), "larger than 1048576 bytes")
    assert_one_line_refusal(runner.invoke("render", "--spec", str(folder), "-o", str(folder / "a.png")),
                            "cannot read spec file")
    (folder / "spec.json").unlink()
    (folder / "taken.png").mkdir()  # a folder where the file should go
    assert_one_line_refusal(runner.invoke("render", "-o", str(folder / "taken.png")), "cannot write")
    (folder / "taken.png").rmdir()
    (folder / "file").write_text("")
    assert_one_line_refusal(runner.invoke("render", "-o", str(folder / "file" / "a.png")),
                            "output folder does not exist")
    (folder / "file").unlink()
    assert_one_line_refusal(runner.invoke("render", "-o", "/proc/poster.png"), "cannot write /proc/poster.png")
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(("args", "says"), [
    (["screen", "add", "x\x01", "--profile", "led-p10"], "'ID': got a control character U+0001"),
    (["screen", "add", "x" * 65, "--profile", "led-p10"], "expected at most 64"),
    (["screen", "add", "Not OK", "--profile", "led-p10"], "bad screen id"),
    (["screen", "add", "x", "--profile", "a4-print"], "profile 'a4-print'"),
    (["screen", "add", "x", "--profile", "led-p10", "--name", "Huế\x1b[31m"], "'--name': got a control character"),
    (["screen", "add", "x", "--profile", "led-p10", "--site", "x" * 201], "'--site': got 201 characters"),
    (["screen", "add", "x", "--profile", "led-p10", "--tz", "Mars/Olympus"], "unknown time zone"),
    (["screen", "add", "x", "--profile", "led-p10", "--tz", "../../etc/passwd"], "unknown time zone"),
    (["screen", "add", "x", "--profile", "led-p10", "--group", "g\x00"], "'--group': got a control character"),
    (["screen", "token", "ghost\x00"], "control character U+0000"),
    (["screen", "token", "ghost"], "no screen 'ghost'"),
    (["screen", "pair", "12", "--id", "x"], "pairing code: got '12'"),
    (["screen", "pair", "K7M4QX", "--id", "x\n"], "'--id': got a control character U+000A"),
    (["user", "add", "dung", "--role", "root"], "'--role': 'root' is not one of"),
    (["user", "add", "Dũng Nguyễn", "--role", "staff"], "bad user name"),
    (["user", "add", "dung", "--role", "operator", "--site", "a\x01"], "'--site': got a control character"),
    (["user", "add", "dung", "--role", "operator", "--group", "nowhere"], "unknown group(s): nowhere"),
    (["token", "create", "ghost", "--label", "ci\x00"], "'--label': got a control character"),
    (["token", "create", "ghost"], "no user 'ghost'"),
    (["scheduler", "--once", "reboot"], "unknown job 'reboot'"),
    (["serve", "--port", "0"], "'--port': 0 is not in the range 1<=x<=65535"),
    (["serve", "--port", "70000"], "is not in the range"),
    (["serve", "--port", HUGE], "is not in the range"),
    (["serve", "--workers", "0"], "'--workers'"),
    (["serve", "--workers", "999"], "'--workers'"),
    (["serve", "--host", "not a host"], "'--host': got 'not a host', expected an IP address"),
    (["serve", "--host", "-bad.example"], "'--host'"),
    (["launch"], "No such command 'launch'"),
])
def test_commands_refuse_bad_values_in_one_line(runner, args, says):
    assert_one_line_refusal(runner.invoke(*args), says)


@pytest.mark.parametrize(("args", "says"), [
    (["usb", "--screen", "ghost", "--date", "0001-01-01"], "date: got 0001-01-01, expected a year from 2000 to 2100"),
    (["usb", "--screen", "ghost", "--date", "9999-12-31"], "expected a year from 2000 to 2100"),
    (["usb", "--screen", "ghost", "--date", "2026-02-30"], "expected YYYY-MM-DD"),
    (["usb", "--screen", "ghost", "--date", "2026-11-28\x00"], "control character"),
    (["usb", "--screen", "ghost\x01"], "'--screen': got a control character"),
    (["usb", "--group", "g" * 65], "'--group': got 65 characters"),
    (["usb", "--screen", "a", "--group", "b"], "give --screen ID or --group NAME"),
    (["print", "--format", "A9"], "format: got 'A9'"),
    (["print", "--format", "A4", "--lang", "fr"], "language: got 'fr'"),
    (["print", "--format", "A4\x00"], "control character"),
])
def test_export_refuses_bad_values_in_one_line(runner, tmp_path, args, says):
    out = tmp_path / ("bundle.zip" if args[0] == "usb" else "poster.pdf")
    assert_one_line_refusal(runner.invoke("export", *args, "-o", str(out)), says, tmp_path)


def test_export_print_to_an_unwritable_place_is_one_line(runner, tmp_path):
    assert_one_line_refusal(runner.invoke("export", "print", "--format", "A5", "-o", "/proc/leaflet.pdf"),
                            "cannot write /proc/leaflet.pdf")


def test_a_bare_group_still_prints_its_help(runner):
    result = runner.invoke("screen")
    assert "screen [OPTIONS] COMMAND" in result.output and "Traceback" not in result.output
