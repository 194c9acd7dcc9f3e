"""An operator sees only their sites and groups: every route that shows a screen, its media or its figures answers
another site's screen exactly as an unknown one (404), and lists or counts nothing of it.

The network (tests/test_preview.py): chi is the operator of the northern bus station (bx-bac-1), dung of the
hospital group (bv-tw-1, a led-p5-small screen no other site has); binh is staff.
"""

import csv
import io
import re

from server.db import get_manifests
from tests.test_preview import login
from tests.test_reports import PERIOD, net, played  # noqa: F401 (fixtures)

UNKNOWN_SHA = "f" * 64


def renditions_of(app, screen_id) -> set[str]:
    """The sha256 of every media file the screen may show."""
    with app.app_context():
        network = get_manifests().network()
        screen = network.screens[screen_id]
        return {network.renditions[(key, screen.profile)].sha256 for key in network.contents_for(screen)
                if (key, screen.profile) in network.renditions}


def same_refusal(client, theirs: str, unknown: str):
    """Another site's resource and a resource that does not exist get the same answer; returns it."""
    a, b = client.get(theirs), client.get(unknown)
    a.close()
    b.close()
    assert a.status_code == b.status_code == 404, (theirs, a.status_code, b.status_code)
    assert a.mimetype == b.mimetype and a.get_data() == b.get_data(), (theirs, unknown)
    return a


def test_preview_pages_now_json_and_manifest_of_another_site_are_404_like_an_unknown_screen(net):  # noqa: F811
    chi = login(net, "chi")
    for suffix in ("", "/now.json", "/manifest"):
        assert chi.get(f"/preview/screens/bx-bac-1{suffix}").status_code == 200, suffix
        same_refusal(chi, f"/preview/screens/bv-tw-1{suffix}", f"/preview/screens/no-such-screen{suffix}")
        same_refusal(chi, f"/preview/screens/bx-nam-1{suffix}", f"/preview/screens/no-such-screen{suffix}")
    # Through a group: dung sees the hospital and nothing else.
    dung = login(net, "dung")
    assert dung.get("/preview/screens/bv-tw-1/now.json").status_code == 200
    same_refusal(dung, "/preview/screens/bx-bac-1/now.json", "/preview/screens/no-such-screen/now.json")


def test_thumbnails_of_media_only_other_sites_show_are_404_like_an_unknown_hash(net):  # noqa: F811
    chi, binh = login(net, "chi"), login(net, "binh")
    mine, hospital = renditions_of(net, "bx-bac-1"), renditions_of(net, "bv-tw-1")
    theirs = hospital - mine
    assert mine and theirs
    for sha in sorted(mine):
        r = chi.get(f"/staff/media/{sha}/thumb")
        r.close()
        assert r.status_code == 200 and r.mimetype == "image/png"
    for sha in sorted(theirs):
        same_refusal(chi, f"/staff/media/{sha}/thumb", f"/staff/media/{UNKNOWN_SHA}/thumb")
        r = binh.get(f"/staff/media/{sha}/thumb")  # staff see every medium
        r.close()
        assert r.status_code == 200
    dung = login(net, "dung")
    r = dung.get(f"/staff/media/{sorted(theirs)[0]}/thumb")
    r.close()
    assert r.status_code == 200


def test_monitoring_lists_only_the_operators_screens(net):  # noqa: F811
    chi = login(net, "chi")
    listed = {s["id"] for s in chi.get("/monitoring/status.json").get_json()["screens"]}
    assert listed == {"bx-bac-1"}
    page = chi.get("/monitoring/").get_data(as_text=True)
    assert "bx-bac-1" in page
    for other in ("bx-nam-1", "bv-tw-1", "pd-led-1"):
        assert other not in page
    assert {s["id"] for s in login(net, "binh").get("/monitoring/status.json").get_json()["screens"]} == \
        {"bx-bac-1", "bx-nam-1", "bv-tw-1", "pd-led-1"}


def test_reports_csv_and_chart_count_only_the_operators_sites(played):  # noqa: F811
    chi, binh = login(played, "chi"), login(played, "binh")
    rows = list(csv.reader(io.StringIO(chi.get(f"/reports/plays.csv?{PERIOD}").data.decode("utf-8-sig"))))
    assert {row[2] for row in rows[1:]} == {"Bến xe phía Bắc"}
    everyone = list(csv.reader(io.StringIO(binh.get(f"/reports/plays.csv?{PERIOD}").data.decode("utf-8-sig"))))
    assert "Bến xe phía Nam" in {row[2] for row in everyone[1:]}
    page = chi.get(f"/reports/?{PERIOD}").get_data(as_text=True)
    assert "Bến xe phía Nam" not in page
    chart = chi.get(f"/reports/chart.svg?{PERIOD}").get_data(as_text=True)
    assert sum(int(n) for n in re.findall(r"<title>\d\d/\d\d: (\d+)</title>", chart)) == 4


def test_an_operators_session_opens_no_players_api(net):  # noqa: F811
    """The player API takes device tokens only: a signed-in operator gets now.png or a manifest of no screen."""
    chi = login(net, "chi")
    for screen in ("bx-bac-1", "bv-tw-1"):
        for path in ("now.png", "manifest"):
            r = chi.get(f"/api/v1/screens/{screen}/{path}")
            assert r.status_code == 401, (screen, path)
