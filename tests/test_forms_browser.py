"""Each console form submitted with a mistake in a real chromium against a real gunicorn, in Vietnamese and in
English: the page says what was wrong in the reader's words (the form's label for the field, dates as
dd/mm/yyyy on the 24-hour clock, what to do), keeps what was typed, and marks the refused input.

The forms of the screens, groups, pairing and user edit pages are tested with those pages.
"""

from datetime import UTC, datetime

import pytest

from playlists import content
from playlists.screens import add_screen
from playlists.users import add_user
from tests import live
from tests.live import browser_page

browser, live_server = live.browser, live.live_server

PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 09:00 in Huế

# What a person reads, per language: (form, the words of the refusal).
SAYS = {
    "vi": {
        "poster": ["Chưa lưu:", "Địa chỉ web không đúng", "phải là tên miền có dấu chấm"],
        "playlist": ["Danh sách phát đang trống", "hãy thêm một mục"],
        "schedule": ["Ngày kết thúc không được trước ngày bắt đầu (01/12/2026 là trước 31/12/2026)"],
        "reminder": ["Lời nhắc kéo dài quá lâu", "60 giây", "hãy cho hiện ngắn hơn hoặc thưa hơn"],
        "takeover": ["Giờ kết thúc phải sau giờ bắt đầu (10:00 ngày 01/01/2020 không sau",
                     "ngày 27/11/2026)"],
        "user": ["Tên đăng nhập không hợp lệ: 'dũng nguyễn'", "chữ thường không dấu"],
    },
    "en": {
        "poster": ["Not saved:", "malformed URL", "expected a domain name with a dot"],
        "playlist": ["The playlist is empty", "add an item"],
        "schedule": ["The end date must not be before the start date (01/12/2026 is before 31/12/2026)"],
        "reminder": ["The reminder lasts too long", "got 60 s", "show it for less time or less often"],
        "takeover": ["The end must be after the start (10:00 on 01/01/2020 is not after", "on 27/11/2026)"],
        "user": ["bad user name: got 'dũng nguyễn'", "lowercase letters"],
    },
}


def log_in(page, server, name, lang):
    page.goto(f"{server.url}/staff/login?lang={lang}")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/staff/")


def refusal(page) -> str:
    return " ".join(page.inner_text(".flash.error").split())


def marked(page, selector) -> bool:
    return page.get_attribute(selector, "aria-invalid") == "true"


def label_of(page, selector) -> str:
    """The visible words of the label around an input (without the input's own text)."""
    return page.eval_on_selector(selector, "i => i.closest('label').firstChild.textContent.trim()")


def submit(page, form):
    with page.expect_navigation():
        page.click(f"{form} button[type=submit]")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_each_form_with_a_mistake_says_why_keeps_the_values_and_marks_the_field(browser, live_server, lang):
    live_server.run_clock_from(NOW)
    with live_server.session() as s:
        add_user(s, "binh", "staff", NOW, password=PASSWORD)
        add_user(s, "an", "admin", NOW, password=PASSWORD)
        add_screen(s, "bx-bac-1", "tv-1080p", NOW, groups=["stations"])
        poster = content.add_poster(s, {"headline": "Cài Bluezone"}, NOW, name="Cài Bluezone")
        content.add_playlist(s, "Buổi sáng", [(f"poster:{poster.id}", 10)])
        content.sync_renditions(s, live_server.store, NOW)
    live_server.start()
    says = SAYS[lang]
    with browser_page(browser, 1200, 900) as page:
        log_in(page, live_server, "binh", lang)

        # A poster whose QR address has no real host: type=url lets it through, the server does not.
        page.goto(f"{live_server.url}/staff/posters/new")
        page.fill("input[name=headline]", "Cài Bluezone ngay")
        page.fill("input[name=url]", "https://bluezone/")
        submit(page, "#composer")
        said = refusal(page)
        assert all(words in said for words in says["poster"]), said
        assert said.split(":")[1].strip() == label_of(page, "input[name=url]")  # the form's own label
        assert page.input_value("input[name=url]") == "https://bluezone/"
        assert page.input_value("input[name=headline]") == "Cài Bluezone ngay"
        assert marked(page, "input[name=url]") and not marked(page, "input[name=headline]")
        assert page.eval_on_selector("input[name=url]", "i => getComputedStyle(i).outlineStyle") == "solid"

        # A playlist without items.
        page.goto(f"{live_server.url}/staff/playlists/new")
        page.fill("input[name=name]", "Trống")
        submit(page, "#playlist")
        said = refusal(page)
        assert all(words in said for words in says["playlist"]), said
        assert page.input_value("input[name=name]") == "Trống" and marked(page, "#add-choice")

        # A schedule that ends before it starts.
        page.goto(f"{live_server.url}/staff/schedules")
        form = "#add-schedule"
        page.select_option(f"{form} select[name=playlist]", label="Buổi sáng")
        page.fill(f"{form} input[name=name]", "Lịch sai")
        page.fill(f"{form} input[name=start_date]", "2026-12-31")
        page.fill(f"{form} input[name=end_date]", "2026-12-01")
        page.check(f"{form} input[name=everywhere]")
        submit(page, form)
        said = refusal(page)
        assert all(words in said for words in says["schedule"]), said
        assert label_of(page, f"{form} input[name=end_date]") in said
        assert "2026-12-01" not in said  # dates as people write them
        assert page.input_value(f"{form} input[name=end_date]") == "2026-12-01"
        assert page.input_value(f"{form} input[name=start_date]") == "2026-12-31"
        assert page.input_value(f"{form} input[name=name]") == "Lịch sai"
        assert marked(page, f"{form} input[name=end_date]") and not marked(page, f"{form} input[name=start_date]")

        # A reminder as long as its period.
        form = "#add-reminder"
        page.select_option(f"{form} select[name=content]", label="Cài Bluezone")
        page.fill(f"{form} input[name=every_min]", "1")
        page.fill(f"{form} input[name=duration_s]", "60")
        page.check(f"{form} input[name=everywhere]")
        submit(page, form)
        said = refusal(page)
        assert all(words in said for words in says["reminder"]), said
        assert label_of(page, f"{form} input[name=duration_s]") in said
        assert page.input_value(f"{form} input[name=every_min]") == "1"
        assert page.input_value(f"{form} input[name=duration_s]") == "60"
        assert marked(page, f"{form} input[name=duration_s]")

        # A takeover until a moment already past.
        page.goto(f"{live_server.url}/staff/takeover")
        form = "#start-takeover"
        page.select_option(f"{form} select[name=content]", label="Cài Bluezone")
        page.check(f"{form} input[name=everywhere]")
        page.check(f"{form} input[name=expiry][value=until]")
        page.fill(f"{form} input[name=until]", "2020-01-01T10:00")
        submit(page, form)
        said = refusal(page)
        assert all(words in said for words in says["takeover"]), said
        assert page.input_value(f"{form} input[name=until]") == "2020-01-01T10:00"
        assert page.is_checked(f"{form} input[name=expiry][value=until]")
        assert marked(page, f"{form} input[name=until]") and not marked(page, f"{form} input[name=minutes]")

        # An admin adds a user whose name has spaces and accents.
        page.context.clear_cookies()
        log_in(page, live_server, "an", lang)
        page.goto(f"{live_server.url}/staff/users")
        page.fill("#add-user input[name=username]", "Dũng Nguyễn")
        submit(page, "#add-user")
        said = refusal(page)  # the name as the form takes it: lower case
        assert all(words in said for words in says["user"]), said
        assert page.input_value("#add-user input[name=username]") == "Dũng Nguyễn"
        assert marked(page, "#add-user input[name=username]")
