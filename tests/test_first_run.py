"""A first run that cannot lose the admin's password: `signage serve` checks that it can listen before it
creates anything, keeps the secrets it prints in an owner-only file of the instance, and that file goes as soon
as the admin's password changes (console, reset link or `signage user password`)."""

import os
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer

from playlists.db import upgrade
from playlists.demo import FIRST_START_SECRETS, SCREENS, keep_first_start_secrets
from playlists.users import add_user, password_fingerprint, user_named
from server import create_app, serve
from server.console_people import RESET_SALT
from server.db import get_engine, get_session

SIGNAGE = Path(sys.executable).with_name("signage")
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
FIRST = "first password of the admin"


@pytest.fixture
def busy_port():
    """A port of 127.0.0.1 that another program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_a_taken_port_is_one_clear_line_and_nothing_is_created(tmp_path, busy_port):
    instance = tmp_path / "instance"
    env = {**os.environ, "SIGNAGE_INSTANCE": str(instance), "SIGNAGE_LANG": "en"}
    result = subprocess.run([str(SIGNAGE), "serve", "--port", str(busy_port)], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"Error: port {busy_port} on 127.0.0.1 is in use; choose another with --port "
                             f"(make run PORT={busy_port + 1})\n")
    assert not instance.exists()  # no database, no demo, no admin, no password printed and lost
    result = subprocess.run([str(SIGNAGE), "serve", "--port", str(busy_port)], capture_output=True, text=True,
                            env={**env, "SIGNAGE_LANG": "vi"}, timeout=60)
    assert result.returncode == 1 and result.stderr == (
        f"Lỗi: cổng {busy_port} trên 127.0.0.1 đang được dùng; hãy chọn cổng khác bằng --port "
        f"(make run PORT={busy_port + 1})\n")
    assert not instance.exists()


def test_the_bind_check_names_the_host_and_lets_a_free_port_through(busy_port):
    with pytest.raises(RuntimeError, match=rf"^port {busy_port} on localhost is in use"):
        serve.check_bind("localhost", busy_port)
    with pytest.raises(RuntimeError, match="not an address of this machine"):
        serve.check_bind("192.0.2.1", 8000)  # TEST-NET-1: on no interface here
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    serve.check_bind("127.0.0.1", free)  # no refusal, and the port is free again afterwards
    with socket.socket() as again:
        again.bind(("127.0.0.1", free))


def test_the_first_run_keeps_its_secrets_in_an_owner_only_file(instance, capsys):
    app = create_app()
    with app.app_context():
        upgrade(get_engine())
        seeded = serve._seed_demo(app)
    assert seeded is not None
    serve._print_demo("http://127.0.0.1:8000", *seeded)
    out = capsys.readouterr().out
    password, tokens = seeded
    assert out.splitlines()[-1] == password  # alone on the last line, for `tail -n 1`
    kept = instance / FIRST_START_SECRETS
    assert oct(kept.stat().st_mode & 0o777) == "0o600"
    text = kept.read_text(encoding="utf-8")
    assert text.splitlines()[-1] == password and "log in to the console as admin" in text
    assert {s.id for s in SCREENS} == set(re.findall(r"/player/([\w.-]+)#token=", text)) == set(tokens)
    assert not list(instance.glob(".*.tmp"))  # written whole: no temporary file left behind
    # A later start says where the file is, not what is in it (a server's output often ends up in logs).
    with app.app_context():
        assert serve._seed_demo(app) is None
    out = capsys.readouterr().out
    assert str(kept) in out and password not in out


@pytest.fixture
def app(instance):
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "CLOCK": lambda: NOW})
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        add_user(session, "admin", "admin", NOW, password=FIRST)
        add_user(session, "an", "admin", NOW, password=FIRST)
        session.commit()
    keep_first_start_secrets(app.instance_path, f"  log in to the console as admin with this password:\n{FIRST}\n")
    return app


def _client(app, name: str):
    client = app.test_client()
    client.get("/staff/login")
    assert client.post("/staff/login", data={"username": name, "password": FIRST,
                                             "csrf_token": _csrf(client)}).status_code == 302
    return client


def _csrf(client, path: str = "/staff/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_the_file_goes_when_the_admin_changes_the_password_in_the_console(app, instance):
    client = _client(app, "admin")
    r = client.post("/staff/account/password", data={"current": FIRST, "new": "the admin's own password",
                                                     "repeat": "the admin's own password",
                                                     "csrf_token": _csrf(client, "/staff/account/password")})
    assert r.status_code == 302 and not (instance / FIRST_START_SECRETS).exists()


def test_the_file_goes_when_another_admin_resets_that_password(app, instance):
    client = _client(app, "an")
    with app.app_context():
        admin_id = user_named(get_session(), "admin").id
    r = client.post(f"/staff/users/{admin_id}/password",
                    data={"how": "link", "csrf_token": _csrf(client, "/staff/users")})
    assert r.status_code == 200 and (instance / FIRST_START_SECRETS).exists()  # a link changes nothing yet
    r = client.post(f"/staff/users/{admin_id}/password",
                    data={"how": "generate", "csrf_token": _csrf(client, "/staff/users")})
    assert r.status_code == 200 and not (instance / FIRST_START_SECRETS).exists()


def test_the_file_goes_when_the_admin_uses_a_reset_link(app, instance):
    with app.app_context():
        admin = user_named(get_session(), "admin")
        token = URLSafeSerializer(app.secret_key, salt=RESET_SALT).dumps(
            [admin.id, password_fingerprint(admin), int(NOW.timestamp())])
    client = app.test_client()
    r = client.post(f"/staff/reset/{token}", data={"new": "the admin's own password",
                                                   "repeat": "the admin's own password",
                                                   "csrf_token": _csrf(client, f"/staff/reset/{token}")})
    assert r.status_code == 302 and not (instance / FIRST_START_SECRETS).exists()


def test_signage_user_password_admin_resets_it_and_removes_the_file(app, instance, runner):
    result = runner.invoke("user", "password", "admin", "--generate")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("password of admin set;") and len(lines[-1]) >= 16
    assert not (instance / FIRST_START_SECRETS).exists()
    assert f"deleted {instance / FIRST_START_SECRETS} (its password no longer works)" in lines[0]
    result = runner.invoke("user", "password", "nobody", "--generate")
    assert result.exit_code == 1
