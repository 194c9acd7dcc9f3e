"""Memory stays bounded: cleaning the largest image an upload may be (IMAGE_MAX_PIXELS, within UPLOAD_MAX_BYTES)
grows a process by less than 300 MB and gives the memory back; an image over the pixel limit is refused before
it is decoded, with a 413 that says why, and nothing is stored.

Each measurement runs ingest in a fresh Python process (what a gunicorn worker does for an upload, less the HTTP
around it), reading its peak resident size from /proc (VmHWM, reset after the imports and a warm-up)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.request
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from assets.ingest import MAX_BYTES, MAX_PIXELS, WORK_MAX_PIXELS, IngestError, ingest
from playlists.db import upgrade
from playlists.models import Media
from playlists.users import add_user, create_api_token
from server import create_app
from server.db import get_engine, get_session

ROOT = Path(__file__).resolve().parent.parent
SIZE = (8000, 6250)  # exactly MAX_PIXELS
BUDGET_MB = 300
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)

# Writes the image named by argv[2] to argv[1], in its own process so the test process stays small.
MAKE = r"""
import sys
from PIL import Image
path, kind, w, h = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ramp = Image.linear_gradient("L").resize((w, h))
if kind == "png-rgba":
    Image.merge("RGBA", (ramp, ramp.transpose(Image.Transpose.FLIP_TOP_BOTTOM), ramp.rotate(180), ramp)).save(
        path, "PNG", compress_level=1)
elif kind == "png-16bit-grey":
    ramp.convert("I").point(lambda v: v * 257).convert("I;16").save(path, "PNG", compress_level=1)
elif kind == "jpeg":
    Image.merge("RGB", (ramp, ramp.rotate(180), ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT))).save(
        path, "JPEG", quality=85)
"""

# Cleans argv[1] as the upload view does (from a file) and prints what it cost.
MEASURE = r"""
import gc, io, json, sys
from PIL import Image
from assets.ingest import ingest

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024

small = io.BytesIO()
Image.new("RGB", (64, 64), "red").save(small, "PNG")
ingest(small.getvalue(), "warm-up.png")
gc.collect()
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # resets VmHWM to the current resident size
with open(sys.argv[1], "rb") as upload:
    cleaned = ingest(upload, "largest")
peak = status("VmHWM")
facts = {"width": cleaned.width, "height": cleaned.height, "bytes": len(cleaned.data), "notes": cleaned.notes}
del cleaned
gc.collect()
print(json.dumps({"before": before, "peak": peak, "after": status("VmRSS"), **facts}))
"""


def run(code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("kind", ["png-rgba", "png-16bit-grey", "jpeg"])
def test_the_largest_accepted_image_costs_under_300_mb_and_gives_it_back(tmp_path, kind):
    path = tmp_path / f"largest.{kind}"
    run(MAKE, str(path), kind, *map(str, SIZE))
    assert SIZE[0] * SIZE[1] == MAX_PIXELS and path.stat().st_size <= MAX_BYTES, path.stat().st_size
    got = json.loads(run(MEASURE, str(path)))
    growth, left = got["peak"] - got["before"], got["after"] - got["before"]
    print(f"{kind}: {path.stat().st_size / 1e6:.1f} MB file, peak growth {growth:.0f} MB, "
          f"{left:.0f} MB left after; stored {got['width']}x{got['height']}")
    assert growth < BUDGET_MB, f"got {growth:.0f} MB of growth, expected under {BUDGET_MB}"
    assert left < 40, f"got {left:.0f} MB still held after the upload, expected it given back"
    # Stored reduced by two, as the note says: 4000x3125, 12.5 MP, under WORK_MAX_PIXELS.
    assert (got["width"], got["height"]) == (4000, 3125)
    assert got["width"] * got["height"] <= WORK_MAX_PIXELS
    assert "reduced from 8000x6250 to 4000x3125" in " ".join(got["notes"])


def huge_png(width: int, height: int) -> bytes:
    """A valid PNG declaring width x height, from a small real image: its header says the size, and the pixel
    check must refuse it before a single row is decoded."""
    out = io.BytesIO()
    Image.new("L", (1, 1)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr:ihdr + 8] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[ihdr + 13:ihdr + 17] = zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])).to_bytes(4, "big")
    return bytes(data)


def test_an_image_over_the_pixel_limit_is_refused_before_decoding():
    with pytest.raises(IngestError) as refused:
        ingest(huge_png(50_000, 50_000), "bomb.png")
    assert refused.value.status == 413
    assert refused.value.message == f"image too large: got 2,500,000,000 pixels, expected at most {MAX_PIXELS:,}"


def test_the_pixel_limit_is_a_setting_and_a_refused_upload_stores_nothing(instance):
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "IMAGE_MAX_PIXELS": 1_000_000})
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        add_user(session, "binh", "staff", NOW, password="correct horse battery")
        staff = {"Authorization": f"Bearer {create_api_token(session, 'binh', 'tests', NOW)}"}
        session.commit()
    image = io.BytesIO()
    Image.new("RGB", (1001, 1000), "navy").save(image, "PNG")
    answer = app.test_client().post("/api/v1/assets", headers=staff, content_type="multipart/form-data",
                                    data={"file": (io.BytesIO(image.getvalue()), "wall.png")})
    assert answer.status_code == 413, answer.get_json()
    assert answer.get_json() == {"error": "Request Entity Too Large",
                                 "message": "image too large: got 1001x1000 = 1,001,000 pixels, "
                                            "expected at most 1,000,000",
                                 "code": "upload.pixels", "field": "file"}
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Media)) == 0
    assert not any(p.is_file() for p in Path(app.config["MEDIA_DIR"]).rglob("*"))


def worker_memory_mb(live) -> tuple[int, float]:
    """(pid, resident MB) of the live server's one gunicorn worker (the child that is not the scheduler)."""
    for pid in Path(f"/proc/{live.proc.pid}/task/{live.proc.pid}/children").read_text().split():
        if "scheduler" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            return int(pid), status_mb(int(pid), "VmRSS")
    raise AssertionError("no gunicorn worker")


def status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")


def test_six_of_the_largest_uploads_at_once_cost_a_worker_no_more_than_one(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from tests.live import LiveServer

    photo = tmp_path / "phone.jpg"
    run(MAKE, str(photo), "jpeg", *map(str, SIZE))
    monkeypatch.setenv("SIGNAGE_INSTANCE", str(tmp_path / "instance"))
    live = LiveServer(tmp_path / "instance", {"SIGNAGE_SECRET_KEY": "live"})
    with live.session() as session:
        add_user(session, "binh", "staff", NOW, password="correct horse battery")
        token = create_api_token(session, "binh", "memory", NOW)
    live.start()
    try:
        pid, before = worker_memory_mb(live)
        body = (b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"phone.jpg\"\r\n"
                b"Content-Type: image/jpeg\r\n\r\n" + photo.read_bytes() + b"\r\n--x--\r\n")

        def upload(_):
            request = urllib.request.Request(live.url + "/api/v1/assets", data=body, method="POST", headers={
                "Authorization": f"Bearer {token}", "Content-Type": "multipart/form-data; boundary=x"})
            with urllib.request.urlopen(request, timeout=120) as answer:
                return answer.status, json.load(answer)

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(upload, range(6)))
        peak = status_mb(pid, "VmHWM")
    finally:
        live.stop()
    assert sorted(status for status, _ in answers) == [200] * 5 + [201]  # one stored, five found it stored
    assert {(doc["width"], doc["height"]) for _, doc in answers} == {(4000, 3125)}
    print(f"six 50 MP JPEG uploads at once: worker grew {peak - before:.0f} MB at peak")
    # One decode at a time per worker: six at once cost what one costs (six decoding together: over 700 MB).
    assert peak - before < BUDGET_MB, f"got {peak - before:.0f} MB of growth, expected under {BUDGET_MB}"
