"""People from the console in a real chromium against a real gunicorn, in Vietnamese (the console's default):
an admin adds an operator, who logs in with the password shown once, is made to choose their own, and then logs
in with it. Screenshots of the Users page and of the forced change are saved in /tmp for people to look at."""

from datetime import UTC, datetime

from playlists.screens import add_screen
from playlists.users import add_user
from tests import live
from tests.live import browser_page

browser, live_server = live.browser, live.live_server

PASSWORD = "correct horse battery"
OWN = "mật khẩu riêng của Dung"
SCREENSHOTS = {"users": "/tmp/console-users-vi.png", "edit": "/tmp/console-user-edit-vi.png",
               "forced": "/tmp/console-password-forced-vi.png"}


def log_in(page, server, name: str, password: str) -> None:
    page.goto(f"{server.url}/staff/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_an_admin_creates_a_user_who_logs_in_and_chooses_a_password(browser, live_server):
    now = datetime.now(UTC)
    with live_server.session() as s:
        add_user(s, "an", "admin", now, password=PASSWORD)
        add_screen(s, "bx-bac-1", "led-p10", now, site="Bến xe phía Bắc", groups=["stations"])
    live_server.start()
    with browser_page(browser, 1200, 900) as admin:
        log_in(admin, live_server, "an", PASSWORD)
        admin.goto(f"{live_server.url}/staff/users")
        assert admin.inner_text("h1") == "Người dùng"
        form = admin.locator("#add-user")
        assert "Chỉ xem" in form.inner_text()  # what an operator may do, said beside the choice
        admin.fill("#add-user input[name=username]", "dung")
        admin.check("#add-user input[name=role][value=operator]")
        admin.check("#add-user input[name=sites][value='Bến xe phía Bắc']")
        admin.check("#add-user input[name=groups][value=stations]")
        admin.click("#add-user button[type=submit]")
        admin.wait_for_selector("#new-password")
        assert "Đã thêm người dùng dung. Mật khẩu của họ, chỉ hiện một lần này:" in admin.inner_text("#new-password")
        given = admin.inner_text("#new-password code.secret").strip()
        assert len(given) >= 16
        row = admin.locator("tr", has_text="dung")
        assert "phải chọn mật khẩu mới" in row.inner_text() and "Bến xe phía Bắc" in row.inner_text()
        admin.screenshot(path=SCREENSHOTS["users"], full_page=True)
        # The person's own page: a reset link to send them, should they forget.
        admin.click("tr:has-text('dung') a:has-text('Sửa')")
        admin.wait_for_selector("#edit-user input[name=role][value=operator]:checked")
        admin.click("#reset-password button:has-text('Tạo liên kết đặt lại mật khẩu')")
        admin.wait_for_selector("#shown-once")
        assert "Liên kết đặt lại mật khẩu cho dung, chỉ hiện một lần này:" in admin.inner_text("#shown-once")
        assert admin.inner_text("#shown-once code.secret").startswith(f"{live_server.url}/staff/reset/")
        admin.screenshot(path=SCREENSHOTS["edit"], full_page=True)

    with browser_page(browser, 390, 844) as dung:  # on a phone
        log_in(dung, live_server, "dung", given)
        dung.wait_for_url(f"{live_server.url}/staff/account/password")
        assert "Mật khẩu hiện tại của bạn do người quản trị đặt" in dung.inner_text("main")
        dung.screenshot(path=SCREENSHOTS["forced"], full_page=True)
        dung.goto(f"{live_server.url}/preview/")  # nothing else opens before the change
        dung.wait_for_url(f"{live_server.url}/staff/account/password")
        dung.fill("input[name=current]", given)
        dung.fill("input[name=new]", OWN)
        dung.fill("input[name=repeat]", OWN + "!")
        dung.click("#change-password button[type=submit]")
        assert dung.inner_text("p.flash.error") == "Hai lần nhập mật khẩu mới không khớp nhau."
        dung.fill("input[name=current]", given)
        dung.fill("input[name=new]", OWN)
        dung.fill("input[name=repeat]", OWN)
        dung.click("#change-password button[type=submit]")
        dung.wait_for_selector("p.flash.ok")
        assert "Đã đổi mật khẩu" in dung.inner_text("p.flash.ok")
        dung.click("header button:has-text('Đăng xuất')")
        dung.wait_for_url(f"{live_server.url}/staff/login")

        log_in(dung, live_server, "dung", given)
        assert "Sai tên đăng nhập hoặc mật khẩu." in dung.inner_text("p.flash.error")
        log_in(dung, live_server, "dung", OWN)
        dung.goto(f"{live_server.url}/preview/")
        assert dung.url == f"{live_server.url}/preview/"  # no longer sent to change the password
        assert "dung" in dung.inner_text("header")
