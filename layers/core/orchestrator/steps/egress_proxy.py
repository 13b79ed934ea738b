"""The egress proxy of a sandboxed script with ``network: true``: HTTP(S) out, only where the policy allows.

The sandbox has no network of its own. This proxy runs in the orchestrator, outside the sandbox, on a
Unix socket that is bound into it; a forwarder inside (steps/sandbox.py) listens on the sandbox's own
127.0.0.1:3128 and relays to that socket, and the script's environment names it in ``HTTP_PROXY`` /
``HTTPS_PROXY`` (and the lower-case and ``ALL_PROXY`` spellings; ``NODE_USE_ENV_PROXY=1`` for node).

It speaks the two forms an HTTP client uses with a proxy: ``CONNECT host:port`` (HTTPS, or any TLS: the
bytes are relayed untouched, the certificate is the client's business) and a plain-HTTP request with an
absolute URL (sent on in origin form, with ``Connection: close``). Every destination is resolved here,
once, checked with ``EgressPolicy.check`` (steps/egress.py: metadata addresses, the allow list, private
ranges) and connected to by the checked IP literal, so a DNS answer cannot change between check and
connect. A refusal is an HTTP 403 whose body says why; the step's log gets one line per destination.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from orchestrator.steps.egress import EgressDenied, EgressPolicy, Resolver, system_resolver

_HEAD_LIMIT = 64 * 1024
_CHUNK = 64 * 1024
#: headers a proxy consumes (RFC 9110 7.6.1) and does not pass on
_HOP_HEADERS = ("proxy-connection:", "proxy-authorization:", "connection:", "keep-alive:")


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class EgressProxy:
    """One proxy per sandboxed run: ``start(path)``, then ``close()`` when the script is gone."""

    def __init__(self, policy: EgressPolicy, *, resolver: Resolver = system_resolver,
                 log: Callable[[str], None] | None = None, connect_timeout: float = 10.0,
                 max_connections: int = 64) -> None:
        self.policy = policy
        self.resolver = resolver
        self.log = log or (lambda line: None)
        self.connect_timeout = connect_timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._threads: list[threading.Thread] = []

    def start(self, path: Path) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        path.chmod(0o666)  # the sandbox's uid may not be ours (a root server maps it to nobody)
        listener.listen(64)
        self._listener = listener
        thread = threading.Thread(target=self._accept, name="egress-proxy", daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sockets = list(self._sockets)
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=2)

    # -- connections ----------------------------------------------------------------------------------------

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._sockets.add(sock)
            return True

    def _forget(self, *sockets: socket.socket | None) -> None:
        for sock in sockets:
            if sock is None:
                continue
            with self._lock:
                self._sockets.discard(sock)
            sock.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if not self._slots.acquire(blocking=False):
                with contextlib.suppress(OSError):
                    client.sendall(_response(503, "too many connections through the egress proxy"))
                client.close()
                continue
            if not self._track(client):
                client.close()
                self._slots.release()
                return
            thread = threading.Thread(target=self._serve, args=(client,), name="egress-proxy-conn", daemon=True)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            client.settimeout(30)
            head, rest = _read_head(client)
            method, target, version, headers = _parse_head(head)
            if method == "CONNECT":
                host, port = _host_port(target, 443)
                upstream = self._connect(host, port, f"CONNECT {host}:{port}")
                client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                first = rest
            else:
                url = urlsplit(target)
                if url.scheme.lower() != "http" or not url.hostname:
                    raise _Refused(400, "only absolute http:// URLs (or CONNECT for https) go through this proxy")
                try:
                    port = url.port or 80
                except ValueError:
                    raise _Refused(400, f"bad port in {target!r}") from None
                host = url.hostname
                upstream = self._connect(host, port, f"{method} http://{host}:{port}")
                path = (url.path or "/") + (f"?{url.query}" if url.query else "")
                kept = [line for line in headers if not line.lower().startswith(_HOP_HEADERS)]
                first = ("\r\n".join([f"{method} {path} {version}", *kept, "Connection: close"]) + "\r\n\r\n").encode(
                    "latin-1") + rest
            client.settimeout(None)
            if first:
                upstream.sendall(first)
            self._relay(client, upstream)
        except _Refused as refused:
            with contextlib.suppress(OSError):
                client.sendall(_response(refused.status, refused.reason))
        except OSError:
            pass
        finally:
            self._forget(client, upstream)
            self._slots.release()

    def _connect(self, host: str, port: int, what: str) -> socket.socket:
        host = host.strip("[]")
        try:
            # the same resolution as every step's: numeric spellings, localhost names, every answer checked
            checked = self.policy.resolve(host, port, self.resolver)
        except EgressDenied as denied:
            self.log(f"[egress] {what}: refused: {denied.cause}")
            raise _Refused(403, denied.cause) from None
        except OSError as exc:
            self.log(f"[egress] {what}: cannot resolve {host}: {exc}")
            raise _Refused(502, f"cannot resolve {host}: {exc}") from None
        last: OSError | None = None
        for address in checked:
            try:
                # the checked IP literal: no second lookup between the check and the connect
                upstream = socket.create_connection((address, port), timeout=self.connect_timeout)
            except OSError as exc:
                last = exc
                continue
            upstream.settimeout(None)
            if not self._track(upstream):
                upstream.close()
                raise _Refused(503, "the step is over")
            self.log(f"[egress] {what}: allowed ({address})")
            return upstream
        self.log(f"[egress] {what}: cannot connect: {last}")
        raise _Refused(502, f"cannot connect to {host}:{port}: {last}")

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        """Both directions until both ends closed: one direction on a helper thread, one on this one."""
        helper = threading.Thread(target=_pump, args=(client, upstream), name="egress-proxy-pump", daemon=True)
        helper.start()
        _pump(upstream, client)
        helper.join()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(_CHUNK):
            sink.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > _HEAD_LIMIT:
            raise _Refused(431, "request head too large")
        chunk = sock.recv(_CHUNK)
        if not chunk:
            raise _Refused(400, "connection closed before a complete request head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _parse_head(head: bytes) -> tuple[str, str, str, list[str]]:
    request_line, *headers = head.decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise _Refused(400, f"not an HTTP request line: {request_line[:100]!r}")
    return parts[0].upper(), parts[1], parts[2], headers


def _host_port(target: str, default: int) -> tuple[str, int]:
    host, sep, port = target.rpartition(":")
    if not sep or "]" in port:  # no port, or the tail of an IPv6 literal
        host, port = target, str(default)
    try:
        number = int(port)
    except ValueError:
        raise _Refused(400, f"bad CONNECT target {target!r}") from None
    if not host or not 0 < number < 65536:
        raise _Refused(400, f"bad CONNECT target {target!r}")
    return host.strip("[]"), number


def _response(status: int, reason: str) -> bytes:
    titles = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large", 502: "Bad Gateway",
              503: "Service Unavailable"}
    body = f"orchestrator egress proxy: {reason}\n".encode()
    return (f"HTTP/1.1 {status} {titles.get(status, 'Error')}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
