"""The content-addressed media store: files named by their sha256, written atomically, never overwritten."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

from renderer.errors import Problem

EXTENSIONS = ("png", "jpg", "webp", "gif", "pdf")
_SHA = re.compile(r"^[0-9a-f]{64}$")


class StoreError(Problem):
    """A request to the store that names no valid media file."""


def check_name(sha256: str, ext: str) -> None:
    """Refuse anything but a lowercase sha256 and a known extension: names never come from users."""
    if not _SHA.match(sha256):
        raise StoreError("bad media name: got %(got)s, expected 64 lowercase hex digits", code="media.name",
                         got=repr(sha256))
    if ext not in EXTENSIONS:
        raise StoreError("bad media extension: got %(got)s, expected one of %(expected)s", code="media.extension",
                         got=repr(ext), expected=list(EXTENSIONS))


class MediaStore(Protocol):
    """What the rest of the code may ask of a store; another backend (S3, say) implements the same."""

    def put(self, data: bytes, ext: str) -> str: ...

    def exists(self, sha256: str, ext: str) -> bool: ...

    def open(self, sha256: str, ext: str) -> BinaryIO: ...


class FileStore:
    """Media on local disk under root/ab/abcdef....ext."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path(self, sha256: str, ext: str) -> Path:
        """Where a media file lives; refuses names that are not a sha256 and a known extension."""
        check_name(sha256, ext)
        return self.root / sha256[:2] / f"{sha256}.{ext}"

    def put(self, data: bytes, ext: str) -> str:
        """Store data and return its sha256; the same bytes twice are stored once, never rewritten."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha, ext)
        if target.exists():
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".incoming-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), 0o644)
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            # link() fails if another writer won the race; its file has the same bytes, so that is fine.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, target)
        finally:
            os.unlink(tmp)
        return sha

    def exists(self, sha256: str, ext: str) -> bool:
        return self.path(sha256, ext).is_file()

    def open(self, sha256: str, ext: str) -> BinaryIO:
        """The stored bytes for reading; FileNotFoundError when absent."""
        return self.path(sha256, ext).open("rb")

    def verify(self, sha256: str, ext: str) -> bool:
        """True when the stored bytes still hash to their name."""
        digest = hashlib.sha256()
        with self.open(sha256, ext) as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest() == sha256
