"""A TCP listener on 127.0.0.1 and ::1 (the same port) that counts every connection it accepts and answers
each with a minimal HTTP 200, for tests that must show a connection was never even opened."""

from __future__ import annotations

import contextlib
import socket
import threading


class CountingListener:
    def __init__(self) -> None:
        self.accepted: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets = [socket.create_server(("127.0.0.1", 0))]
        self.port = self._sockets[0].getsockname()[1]
        with contextlib.suppress(OSError):  # no IPv6 on this machine: ::1 spellings then cannot connect at all
            self._sockets.append(socket.create_server(("::1", self.port), family=socket.AF_INET6))
        self._threads = [threading.Thread(target=self._serve, args=(s,), daemon=True) for s in self._sockets]

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self.accepted)

    def start(self) -> CountingListener:
        for sock in self._sockets:
            sock.settimeout(0.05)
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for sock in self._sockets:
            sock.close()

    def _serve(self, server: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                conn, peer = server.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.accepted.append((str(peer[0]), int(peer[1])))
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n"
                                 b"Connection: close\r\n\r\nreached")
