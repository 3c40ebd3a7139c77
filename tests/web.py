"""Real ASGI apps on 127.0.0.1 for tests: each runs under uvicorn in a thread of the test process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


class WebServer:
    """One uvicorn server in a daemon thread; `stop()` and `start()` again on the same port."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.app = app
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15) -> WebServer:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="critical", lifespan="on",
                                timeout_graceful_shutdown=1)  # open SSE streams do not hold up a stop
        server = uvicorn.Server(config)
        if self.port:
            server.config.fd = None
            sock = _bind(self.port, timeout)
            self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        else:
            self._thread = threading.Thread(target=server.run, daemon=True)
        self._server = server
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the test web server stopped during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError("the test web server did not start")
            time.sleep(0.02)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, timeout: float = 15) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        self._server = self._thread = None


def _bind(port: int, timeout: float) -> socket.socket:
    """Bind the same port again once the previous listener is gone."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def serving(app: Any) -> Iterator[WebServer]:
    server = WebServer(app).start()
    try:
        yield server
    finally:
        server.stop()
