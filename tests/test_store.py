"""The content-addressed media store."""

import hashlib

import pytest

from assets.store import FileStore, StoreError


def test_put_names_by_sha256_and_reads_back(tmp_path):
    store = FileStore(tmp_path)
    data = b"\x89PNG poster bytes"
    sha = store.put(data, "png")
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.path(sha, "png") == tmp_path / sha[:2] / f"{sha}.png"
    with store.open(sha, "png") as fh:
        assert fh.read() == data
    assert store.exists(sha, "png") and store.verify(sha, "png")
    assert [p.name for p in store.path(sha, "png").parent.iterdir()] == [f"{sha}.png"]  # no temporary left


def test_same_bytes_are_stored_once_and_never_rewritten(tmp_path):
    store = FileStore(tmp_path)
    sha = store.put(b"abc", "png")
    path = store.path(sha, "png")
    before = path.stat()
    assert store.put(b"abc", "png") == sha
    after = path.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_verify_notices_a_changed_file(tmp_path):
    store = FileStore(tmp_path)
    sha = store.put(b"original", "png")
    store.path(sha, "png").write_bytes(b"tampered")
    assert not store.verify(sha, "png")


@pytest.mark.parametrize(("sha", "ext"), [("../../etc/passwd", "png"), ("A" * 64, "png"), ("a" * 64, "exe"),
                                          ("a" * 63, "png"), ("a" * 64, "png/../x")])
def test_names_that_are_not_media_are_refused(tmp_path, sha, ext):
    with pytest.raises(StoreError):
        FileStore(tmp_path).path(sha, ext)


def test_missing_media(tmp_path):
    with pytest.raises(FileNotFoundError):
        FileStore(tmp_path).open("a" * 64, "png")
