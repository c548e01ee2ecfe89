"""Network stand-ins for daemon tests: a server that accepts connections and never says a word
(a hanging web site, an SMTP server that stalls before its greeting)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers; counts the connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                self.connections.append(self.sock.accept()[0])
            except OSError:
                continue

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self.connections:
            conn.close()
        self.sock.close()


@contextmanager
def silent_server() -> Iterator[SilentServer]:
    """A :class:`SilentServer` for the duration of the block."""
    server = SilentServer().start()
    try:
        yield server
    finally:
        server.stop()
