"""The gunicorn worker of `signage serve`: gevent's, with deadlines on reading requests, request bodies received
whole before the app runs, and a way to run heavy work (image decoding) off the event loop. Why gevent: see
`gunicorn_options` in server/serve.py.

Timeouts, as nginx and Apache's mod_reqtimeout have them:
  - headers: a request's line and headers must arrive within `header_timeout` seconds of its first byte (of the
    connection, for a new one), however slowly they trickle: a slowloris client is dropped then;
  - body: each read of a request body must get data within `body_timeout` seconds (an idle timeout, so that a slow
    but steady upload from a bus on 3G goes through); each 64 KiB of an answer must leave within it too;
  - between requests, a kept-alive connection may sit idle for gunicorn's `keepalive`.
A read that times out returns no bytes, as if the client had closed: gunicorn then drops the connection. A body
is received whole (memory up to 64 KiB, then a temporary file) before the app sees the request, so the app never
waits on a slow client while it holds a database transaction; a body cut short never reaches the app.
"""

from __future__ import annotations

import contextlib
import io
import resource
import threading
import time
import weakref
from collections.abc import Callable
from tempfile import SpooledTemporaryFile
from typing import Any

import gevent
from gevent import socket as gsocket
from gunicorn.http.body import Body, LengthReader
from gunicorn.workers.ggevent import GeventWorker

_SEND_CHUNK = 64 * 1024


class DeadlineSocket(gsocket.socket):
    """A client connection whose reads return b"" (end of stream) once the current phase's time is up."""

    def expect_headers(self, header_timeout: float, idle_first: float | None = None) -> None:
        """Headers are next. With idle_first (a kept-alive connection), the connection may first wait that long
        for the next request, and the header deadline starts at its first byte."""
        self._header_timeout = header_timeout
        if idle_first is None:
            self._deadline, self._idle, self._arm = time.monotonic() + header_timeout, header_timeout, False
        else:
            self._deadline, self._idle, self._arm = None, idle_first, True

    def expect_body(self, body_timeout: float) -> None:
        """A body (or nothing) is next: every read must get data within body_timeout seconds, and so must each
        piece of the answer leave (not what remained of the header deadline)."""
        self._deadline, self._idle, self._arm = None, body_timeout, False
        self.settimeout(body_timeout)

    _timed_out = False

    def recv(self, size: int, flags: int = 0) -> bytes:
        if self._timed_out:  # once time is up the client counts as gone: no second wait
            return b""
        wait = self._idle
        if self._deadline is not None:
            wait = min(wait, self._deadline - time.monotonic())
            if wait <= 0:
                self._timed_out = True
                return b""
        self.settimeout(wait)
        try:
            data = super().recv(size, flags)
        except TimeoutError:
            self._timed_out = True
            return b""
        if data and self._arm:
            self._arm, self._idle = False, self._header_timeout
            self._deadline = time.monotonic() + self._header_timeout
        return data

    def sendall(self, data, flags: int = 0) -> None:
        # gevent applies a socket's timeout to the whole sendall: sent in pieces, the timeout bounds each piece,
        # so a large answer to a slow but steady client is not cut, and a client that stops reading is.
        view = memoryview(data).cast("B")
        for start in range(0, len(view), _SEND_CHUNK):
            super().sendall(view[start:start + _SEND_CHUNK], flags)


class SignageWorker(GeventWorker):
    """gunicorn's gevent worker with request deadlines; `serve.gunicorn_options` sets the class attributes."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_body: int = 26 * 1024 * 1024

    def init_process(self) -> None:
        # Every open connection is a file descriptor: let this process hold as many as it may accept.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = self.worker_connections + 256
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))
        super().init_process()

    def run(self) -> None:
        self._idle: weakref.WeakSet[DeadlineSocket] = weakref.WeakSet()
        gevent.spawn(self._close_idle_when_stopping)
        gevent.spawn(LOOP.watch)
        super().run()

    def _close_idle_when_stopping(self) -> None:
        # A stopping worker (recycled after max_requests, or told to stop) waits for its connections to finish,
        # up to graceful_timeout; a kept-alive connection waiting for its next request would hold it there for
        # nothing, and with one worker nobody would answer meanwhile. Such connections are closed at once.
        while self.alive:
            gevent.sleep(0.5)
        for conn in list(self._idle):
            with contextlib.suppress(OSError):
                conn.shutdown(gsocket.SHUT_RDWR)

    def handle(self, listener, client, addr) -> None:
        conn = DeadlineSocket(client.family, client.type, client.proto, fileno=client.detach())
        conn.expect_headers(self.header_timeout)
        super().handle(listener, conn, addr)

    def handle_request(self, listener_name, req, sock, addr) -> bool:
        self._idle.discard(sock)
        sock.expect_body(self.body_timeout)
        try:
            if not self._buffer_body(req, sock):
                # The body never came: drop the connection, the app never saw the request.
                self.log.debug("Request body not received within %s s of a read: closing", self.body_timeout)
                raise StopIteration()
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            if isinstance(req.body.reader, SpooledTemporaryFile):
                req.body.reader.close()
                # The parser drains what the app left of this body before it reads the next request on a kept-alive
                # connection; the socket holds none of it any more (it was all buffered), so it finds nothing.
                req.body = Body(io.BytesIO())
            sock.expect_headers(self.header_timeout, idle_first=self.cfg.keepalive)
            if self.alive:
                self._idle.add(sock)

    def _buffer_body(self, req, sock) -> bool:
        """Receive the whole request body before the app runs (into memory up to 64 KiB, then a temporary file);
        False when the client stopped sending it.

        So the app never waits on the network in the middle of a request: a slow upload cannot hold a database
        transaction (SQLite's write lock, which would stall every greenlet of the worker) or anything else the
        app holds while it reads. A body declared larger than max_body is left to the app, which refuses it
        (413) without reading it."""
        reader = req.body.reader
        declared = reader.length if isinstance(reader, LengthReader) else None
        if declared == 0 or (declared is not None and declared > self.max_body):
            return True
        if req._expected_100_continue:  # the client waits for this before it sends the body
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            req._expected_100_continue = False
        spool, got = SpooledTemporaryFile(max_size=_SEND_CHUNK), 0  # noqa: SIM115 (closed by handle_request)
        while chunk := req.body.read(_SEND_CHUNK):
            spool.write(chunk)
            got += len(chunk)
            if got > self.max_body:
                # Chunked and over the limit: the app sees more than it allows and says 413; the rest of the
                # body is never read, so the connection cannot carry another request.
                req.force_close()
                break
        if declared is not None and got < declared:
            spool.close()
            return False
        spool.seek(0)
        req.body = Body(spool)
        return True


class LoopWatch:
    """How late this worker's event loop runs: a greenlet asks to wake every TICK_S and notes how late it woke.

    When the loop is busy (more work arrives than the worker does), every greenlet waits its turn, this one too,
    so its lateness is the wait any request would see now. `lag` is the latest lateness, `worst` the largest
    since it was last read (for /metrics). Not started outside the gevent worker, where both stay 0."""

    TICK_S = 0.05

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self.lag = 0.0
        self._worst = 0.0

    def watch(self) -> None:
        while True:
            before = self.monotonic()
            gevent.sleep(self.TICK_S)
            self.note(self.monotonic() - before - self.TICK_S)

    def note(self, late: float) -> None:
        self.lag = max(0.0, late)
        self._worst = max(self._worst, self.lag)

    def worst(self) -> float:
        """The largest lateness since the last call."""
        worst, self._worst = self._worst, 0.0
        return worst


LOOP = LoopWatch()

_heavy_pool = None
_heavy_lock = threading.Lock()


def run_heavy(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args), one call at a time per process, off the event loop under the gevent worker.

    Decoding a large image takes seconds of CPU: on the loop it would stall every connection of the worker, and
    several at once would multiply its memory. Pillow releases the GIL while it decodes, so a thread keeps the
    loop answering; one thread bounds a worker's memory to one decode."""
    global _heavy_pool
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        with _heavy_lock:
            return fn(*args)
    if _heavy_pool is None:
        from gevent.threadpool import ThreadPool

        _heavy_pool = ThreadPool(1)
    return _heavy_pool.apply(fn, args)


def background_executor(name: str):
    """One native thread for background work of this process (building manifests, writing reports).

    Under the gevent worker it is gevent's executor, whose futures a greenlet waits on without stalling the
    loop; elsewhere a plain thread pool. Python code in that thread shares the interpreter lock with the loop,
    which takes it back at least every switch interval (5 ms), so background work slows answers a little
    rather than stopping them."""
    from gevent import monkey

    if monkey.is_module_patched("socket"):
        from gevent.threadpool import ThreadPoolExecutor

        return ThreadPoolExecutor(max_workers=1)
    from concurrent.futures import ThreadPoolExecutor as Plain

    return Plain(max_workers=1, thread_name_prefix=name)
