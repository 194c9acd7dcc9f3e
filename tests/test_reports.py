"""Campaign reports: figures equal the plays and scans recorded here; CSV columns; the chart; the /go/ redirect."""

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from playlists import stats
from renderer.qr import decode
from server.db import get_session, get_store
from tests.test_preview import NOW, build_network, device, login

HUE = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def net(instance):
    return build_network()


IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4 Mobile/15E148 Safari/604.1")
ANDROID = ("Mozilla/5.0 (Linux; Android 13; SM-A536E) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/123.0.0.0 Mobile Safari/537.36")
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0 Safari/537.36"


def send_plays(app, screen_id, plays):
    """plays: (record id, item, start, seconds); every one must be accepted or already known."""
    body = {"plays": [{"id": rid, "item": item, "started_at": start.isoformat(), "duration_s": seconds}
                      for rid, item, start, seconds in plays]}
    r = app.test_client().post(f"/api/v1/screens/{screen_id}/plays", headers=device(app, screen_id), json=body)
    assert r.status_code == 202 and r.get_json()["refused"] == 0, r.get_json()
    return r.get_json()


# 08:20:00 in Huế, when the stations' 25 s loop (a for 15 s, then b for 10 s) starts a round.
LOOP = NOW - timedelta(seconds=5)


@pytest.fixture
def played(net):
    """Plays on two days (Huế dates 26 and 27 November) at the north and south stations, as the schedule had them."""
    a, b = net.keys["a"], net.keys["b"]
    day1 = LOOP - timedelta(days=1)
    send_plays(net, "bx-bac-1", [("n1", a, day1, 15), ("n2", b, day1 + timedelta(seconds=15), 10),
                                 ("n3", a, LOOP, 15), ("n4", a, LOOP + timedelta(seconds=25), 15)])
    send_plays(net, "bx-nam-1", [("s1", a, LOOP, 15), ("s2", b, LOOP + timedelta(seconds=15), 10)])
    assert send_plays(net, "bx-bac-1", [("n3", a, LOOP, 15)])["duplicates"] == 1  # a retried record counts once
    # 21:05:15 on the 26th in Huế (14:05:15 UTC), b's turn in the loop: a day is a local day.
    send_plays(net, "bx-nam-1", [("s0", b, datetime(2026, 11, 26, 21, 5, 15, tzinfo=HUE), 10)])
    return net


PERIOD = "from=2026-11-26&to=2026-11-27"


def test_report_figures_equal_the_plays_recorded(played):
    a, b = played.keys["a"], played.keys["b"]
    page = login(played, "binh").get(f"/reports/?{PERIOD}&lang=en").get_data(as_text=True)
    assert 'data-total-plays="7"' in page
    by_content = page[page.index('class="by-content"'):page.index('class="by-site"')]
    assert f'<tr data-content="{a}"><td>Cài Bluezone <span class="muted">{a}</span></td><td>4</td>' in by_content
    assert f'<tr data-content="{b}"><td>Get Bluezone <span class="muted">{b}</span></td><td>3</td>' in by_content
    by_day = page[page.index('class="by-day"'):]
    assert '<td>26/11/2026</td><td>3</td>' in by_day and '<td>27/11/2026</td><td>4</td>' in by_day


def test_plays_rolled_into_hourly_totals_and_pruned_count_once(played):
    from playlists.jobs import roll_up_plays

    with played.app_context():
        session = get_session()
        roll_up_plays(session, NOW, timedelta(0))  # everything counted into hours, raw records gone
        session.commit()
    send_plays(played, "bx-bac-1", [("n5", played.keys["a"], LOOP + timedelta(seconds=50), 15)])  # not rolled yet
    page = login(played, "binh").get(f"/reports/?{PERIOD}&lang=en").get_data(as_text=True)
    assert 'data-total-plays="8"' in page


def test_the_csv_has_the_expected_columns_and_rows(played):
    r = login(played, "binh").get(f"/reports/plays.csv?{PERIOD}")
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0] == ["date", "district", "site", "content", "content_name", "plays", "seconds_shown"]
    a, b = played.keys["a"], played.keys["b"]
    assert rows[1:] == [
        ["2026-11-26", "TP Huế", "Bến xe phía Bắc", a, "Cài Bluezone", "1", "15.0"],
        ["2026-11-26", "TP Huế", "Bến xe phía Bắc", b, "Get Bluezone", "1", "10.0"],
        ["2026-11-26", "TP Huế", "Bến xe phía Nam", b, "Get Bluezone", "1", "10.0"],
        ["2026-11-27", "TP Huế", "Bến xe phía Bắc", a, "Cài Bluezone", "2", "30.0"],
        ["2026-11-27", "TP Huế", "Bến xe phía Nam", a, "Cài Bluezone", "1", "15.0"],
        ["2026-11-27", "TP Huế", "Bến xe phía Nam", b, "Get Bluezone", "1", "10.0"],
    ]


def test_an_operator_gets_only_their_sites_figures(played):
    chi = login(played, "chi")
    rows = list(csv.reader(io.StringIO(chi.get(f"/reports/plays.csv?{PERIOD}").data.decode("utf-8-sig"))))
    assert {row[2] for row in rows[1:]} == {"Bến xe phía Bắc"} and len(rows) == 4
    assert 'data-total-plays="4"' in chi.get(f"/reports/?{PERIOD}").get_data(as_text=True)


def test_the_chart_is_an_svg_bar_per_day_with_its_figure(played):
    r = login(played, "binh").get(f"/reports/chart.svg?{PERIOD}&lang=en")
    svg = r.get_data(as_text=True)
    assert r.mimetype == "image/svg+xml" and svg.startswith("<svg")
    assert svg.count("<rect") == 2 and "<title>26/11: 3</title>" in svg and "<title>27/11: 4</title>" in svg
    assert "Plays per day" in svg


def test_a_bad_period_is_refused(played):
    binh = login(played, "binh")
    assert binh.get("/reports/?from=2026-11-27&to=2026-11-01").status_code == 400
    assert binh.get("/reports/plays.csv?from=2025-01-01&to=2026-11-27").status_code == 400


def qr_text(app, content):
    with app.app_context():
        network = app.extensions["signage.manifests"].network()
        media = network.renditions[(content, "led-p10")]
        with Image.open(get_store().path(media.sha256, media.ext)) as image:
            return decode(image.convert("RGB"))


def test_attribution_puts_a_go_code_in_the_qr_and_counts_scans_per_site(net):
    binh = login(net, "binh")
    assert qr_text(net, net.keys["a"]) == ["https://bluezone.gov.vn"]  # the default: the direct URL
    r = binh.post(f"/reports/posters/{net.poster_ids['a']}/attribution", data={"on": "1"})
    assert r.status_code == 302
    [url] = qr_text(net, net.keys["a"])
    assert url.startswith("https://signage.example.vn/go/")
    code = url.rsplit("/", 1)[1]
    with net.app_context():
        session = get_session()
        north = stats.code_for(session, net.poster_ids["a"], "bx-bac-1", NOW).code
        session.commit()
    phone = net.test_client()
    expected = {IPHONE: "https://apps.apple.com/", ANDROID: "https://play.google.com/store/apps/details?id=com.mic.bluezone",
                DESKTOP: "https://bluezone.gov.vn"}
    for agent, target in expected.items():
        answer = phone.get(f"/go/{north}", headers={"User-Agent": agent})
        assert answer.status_code == 302 and answer.headers["Location"].startswith(target), agent
        assert answer.headers["Cache-Control"] == "no-store"
    phone.get(f"/go/{north}", headers={"User-Agent": IPHONE})  # the same phone again: counted once in 30 minutes
    # Another iPhone, on another address: a second scan.
    phone.get(f"/go/{north}", headers={"User-Agent": IPHONE}, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    phone.get(f"/go/{code}", headers={"User-Agent": ANDROID})
    page = binh.get("/reports/?lang=en").get_data(as_text=True)
    scans = page[page.index('class="scans"'):]
    assert '<tr data-site="Bến xe phía Bắc" data-platform="ios">' in scans
    north_ios = scans[scans.index('data-platform="ios"'):]
    assert north_ios[:north_ios.index("</tr>")].endswith("<td>2</td>")
    assert "Screen not known" in scans  # the poster's own code names no screen
    # The operator of the north station sees its scans, not the unattributed ones.
    chi_page = login(net, "chi").get("/reports/?lang=en").get_data(as_text=True)
    assert 'data-site="Bến xe phía Bắc"' in chi_page and "Screen not known" not in chi_page
    # Off again: the poster shows its own address; the printed code still redirects.
    binh.post(f"/reports/posters/{net.poster_ids['a']}/attribution", data={"on": "0"})
    assert qr_text(net, net.keys["a"]) == ["https://bluezone.gov.vn"]
    assert phone.get(f"/go/{code}", headers={"User-Agent": IPHONE}).status_code == 302


def test_an_unknown_code_still_reaches_the_store_and_counts_nothing(net):
    phone = net.test_client()
    r = phone.get("/go/ZZZZZZZZ", headers={"User-Agent": ANDROID})
    assert r.status_code == 302 and "play.google.com" in r.headers["Location"]
    assert phone.get("/go/nonsense", headers={"User-Agent": DESKTOP}).headers["Location"] == "https://bluezone.gov.vn"
    with net.app_context():
        from playlists.models import ScanCount

        assert get_session().query(ScanCount).count() == 0


def test_the_platform_is_read_from_the_user_agent():
    assert [stats.platform(ua) for ua in (IPHONE, ANDROID, DESKTOP, "")] == ["ios", "android", "web", "web"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=HYPERLINK(\"http://evil.example\")", "'=HYPERLINK(\"http://evil.example\")"), ("+1", "'+1"), ("-1", "'-1"),
     ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("Bến xe", "Bến xe"), ("a=b", "a=b"), ("", ""),
     (-3, -3), (1.5, 1.5), (True, "True"), (None, None)],
)
def test_a_cell_that_would_start_a_formula_is_made_text(value, cell):
    from playlists.spreadsheet import safe_cell

    assert safe_cell(value) == cell


def test_names_sent_or_typed_never_become_formulas_in_the_csv(played):
    from playlists.models import Screen

    with played.app_context():
        session = get_session()
        screen = session.get(Screen, "bx-nam-1")
        screen.site, screen.district = '=cmd|" /C calc"!A0', "@SUM(1+1)"
        session.commit()
    r = login(played, "binh").get(f"/reports/plays.csv?{PERIOD}")
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    south = [row for row in rows if "calc" in row[2]]
    assert south and all(row[1] == "'@SUM(1+1)" and row[2] == "'=cmd|\" /C calc\"!A0" for row in south)
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)
