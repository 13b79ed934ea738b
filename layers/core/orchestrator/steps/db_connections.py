"""Named database connections for the ``database`` step, and the pooled clients behind them.

A step names a connection (``connection: main_db``); its URL is configuration, never part of the
workflow, because it carries credentials:

* environment variable ``ORCHESTRATOR_DB_<NAME>`` (the name upper-cased, other characters than letters
  and digits as ``_``): ``ORCHESTRATOR_DB_MAIN_DB=postgresql://app:pw@db.internal:5432/app``. These are
  the operator's connections: only trusted executions (the operator's, or a single-user run) see them;
* else the owner's own secret ``DB_<NAME>`` (``DB_MAIN_DB``), through the execution's secrets (the
  store's vault locally, SSM Parameter Store / Secrets Manager on AWS).

Reach (see ``egress.py``): PostgreSQL and MongoDB hosts follow the same egress policy as outbound HTTP.
A PostgreSQL host is resolved and checked, and libpq is told to connect to exactly the checked addresses
(``hostaddr``), so it does no lookup of its own; a Unix socket (or no host at all) is this machine, so it
counts as loopback. MongoDB seed hosts (after the SRV lookup of ``mongodb+srv://``) are resolved and
checked before the client is used; pymongo then does its own lookups, and follows the replica-set
members a server announces, which are not checked (a residual gap). A SQLite file is the server's own
disk, and SQLite runs inside the engine process: untrusted owners may not use SQLite at all (``check_sqlite``).
Untrusted owners also may not use connection options that read the server's files or credentials
(libpq's passfile/service/ssl files, PGPASSWORD, Kerberos; MongoDB's TLS files, AWS/Kerberos/OIDC auth).

URL forms:

* ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` (SQLAlchemy's convention: the path
  is what follows the third slash), ``sqlite:///:memory:``;
* ``postgresql://user:password@host:5432/dbname?sslmode=require`` (also ``postgres://``), served by
  psycopg 3: ``pip install 'orchestrator[postgres]'``;
* ``mongodb://...`` / ``mongodb+srv://...`` served by pymongo; the database is the URL's path or the
  step's ``database``.

Clients are cached per URL for the life of the process (a warm Lambda keeps them): SQL connections in a
small pool, one ``MongoClient`` (itself a thread-safe pool) per URL.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from orchestrator.steps.base import StepError
from orchestrator.steps.egress import EgressDenied, EgressPolicy, Resolver, current_policy, system_resolver

ENV_PREFIX = "ORCHESTRATOR_DB_"
CONNECTION_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
#: idle SQL connections kept per URL; more may be open at once, the surplus is closed when returned
MAX_IDLE_PER_URL = 4

Kind = Literal["sqlite", "postgresql", "mongodb"]


def env_name(connection: str) -> str:
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", connection).upper()


#: how database hosts are resolved before the policy check (tests replace it)
resolver: Resolver = system_resolver


def secret_name(connection: str) -> str:
    """The owner's secret that holds ``connection``'s URL: ``DB_MAIN_DB`` for ``main_db`` (the variable's
    name without ``ORCHESTRATOR_``, which no secret name may start with)."""
    return env_name(connection).removeprefix("ORCHESTRATOR_")


def resolve_url(connection: str, secret: Callable[[str], str | None] | None = None, *, trusted: bool = True) -> str:
    """The URL of ``connection``: the operator's environment variable first (trusted executions only:
    the server's environment is the operator's), then the owner's secret ``DB_<NAME>``."""
    name = env_name(connection)
    url = os.environ.get(name) if trusted else None
    if not url and secret is not None:
        url = secret(secret_name(connection))
    if not url:
        where = f"the environment variable {name} or the secret" if trusted else "the secret"
        raise StepError(
            "Database.UnknownConnection",
            f"connection {connection!r} is not configured: set {where} {secret_name(connection)} "
            "to its URL (sqlite:///..., postgresql://..., mongodb://...)",
            retryable=False,
        )
    return url


def url_password(url: str) -> str | None:
    """The password in ``url``, so that error texts can be scrubbed of it wherever it appears."""
    try:
        return urllib.parse.urlsplit(url).password
    except ValueError:
        return None


def kind_of(url: str) -> Kind:
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        return "postgresql"
    if scheme in ("mongodb", "mongodb+srv"):
        return "mongodb"
    raise StepError("Database.UnsupportedUrl", f"unsupported database URL scheme {scheme!r}: use sqlite, "
                    "postgresql or mongodb", retryable=False)


def sqlite_path(url: str) -> str:
    if not url.startswith("sqlite:///"):
        raise StepError("Database.UnsupportedUrl", "a SQLite URL is sqlite:///relative.db or sqlite:////abs.db",
                        retryable=False)
    path = url[len("sqlite:///"):].partition("?")[0]
    if not path:
        raise StepError("Database.UnsupportedUrl", "the SQLite URL names no file", retryable=False)
    return path


def check_sqlite(url: str, trusted: bool) -> None:
    """Untrusted owners may not use SQLite at all. A file is on the server's own disk (its store, its keys,
    every file the process can read); and even ``:memory:`` runs inside the engine process, in a pool shared
    by every owner, where SQL such as ``fts3_tokenizer()`` sets native function pointers: one tenant could
    read another's tables, or crash or take over the process that holds the server's secrets."""
    if not trusted:
        raise StepError("Database.Forbidden", "SQLite runs inside the server's own process and on its disk: this "
                        "workflow may only use a database server (postgresql://, mongodb://)", retryable=False)


# -- reach: the egress policy for database hosts ----------------------------------------------------

#: libpq parameters an untrusted owner may set; the others read the server's files, environment or
#: credentials (passfile, service, sslkey, sslcert, sslrootcert files, krbsrvname, sslkeylogfile, ...)
UNTRUSTED_PG_PARAMS = frozenset({
    "host", "hostaddr", "port", "dbname", "user", "password", "connect_timeout", "sslmode", "sslnegotiation",
    "sslsni", "sslcompression", "channel_binding", "require_auth", "application_name",
    "fallback_application_name", "options", "target_session_attrs", "load_balance_hosts", "keepalives",
    "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "client_encoding",
    "sslrootcert",  # only "system" (the system's CA bundle), checked below
})


def _local_socket(host: str) -> bool:
    return not host or host.startswith(("/", "@")) or host.endswith(".sock")


def _refuse_socket(host: str) -> EgressDenied:
    return EgressDenied(host or "the default Unix socket", "a Unix socket is this machine itself; steps may only "
                        "reach public addresses unless ORCHESTRATOR_EGRESS_ALLOW_PRIVATE is set")


def postgresql_params(url: str, policy: EgressPolicy, *, trusted: bool = True) -> dict[str, str]:
    """The libpq parameters of ``url`` to connect with: every host resolved and checked by ``policy``,
    each checked address given as ``hostaddr`` (libpq connects there and still verifies TLS against the
    host name), so no lookup of libpq's own can differ from the one that was checked."""
    from psycopg.conninfo import conninfo_to_dict

    if url.startswith("postgresql+"):  # SQLAlchemy-style driver suffix, e.g. postgresql+psycopg://
        url = "postgresql" + url[url.index(":"):]
    try:
        params = {key: str(value) for key, value in conninfo_to_dict(url).items() if value is not None}
    except Exception as exc:  # psycopg.ProgrammingError: a malformed URL
        raise StepError("Database.UnsupportedUrl", f"malformed PostgreSQL URL: {type(exc).__name__}",
                        retryable=False) from None
    if not trusted:
        refused = sorted(set(params) - UNTRUSTED_PG_PARAMS)
        if params.get("sslrootcert", "system") != "system":
            refused.append("sslrootcert (only sslrootcert=system)")
        if refused:
            raise StepError("Database.Forbidden", f"connection option(s) {', '.join(refused)} would use the server's "
                            "files or credentials; this workflow may not set them", retryable=False)
        params.setdefault("password", "")  # never the server's PGPASSWORD
        params["passfile"] = os.devnull  # never the server's ~/.pgpass
        params["gssencmode"] = "disable"  # never the server's Kerberos tickets
    hosts = params.get("host", "").split(",")
    ports = params.get("port", "").split(",")
    given = params.get("hostaddr", "").split(",") if params.get("hostaddr") else [""] * len(hosts)
    if len(ports) not in (1, len(hosts)) or len(given) != len(hosts):
        raise StepError("Database.UnsupportedUrl", "the URL's host, hostaddr and port lists do not match",
                        retryable=False)
    out_hosts: list[str] = []
    out_addrs: list[str] = []
    out_ports: list[str] = []
    for index, host in enumerate(hosts):
        port = ports[index if len(ports) > 1 else 0]
        address = given[index]
        if address:  # the URL names the address itself: that is what libpq connects to
            checked = policy.resolve(address, int(port or 5432), resolver)
        elif _local_socket(host):
            if not policy.allow_private:
                raise _refuse_socket(host)
            checked = [""]  # libpq uses the socket (or PGHOST)
        else:
            try:
                checked = policy.resolve(host, int(port or 5432), resolver)
            except OSError as exc:
                raise StepError("Database.Connection", f"cannot resolve {host}: {exc.strerror or exc}",
                                retryable=True) from None
        for checked_address in checked:
            out_hosts.append(host or checked_address)
            out_addrs.append(checked_address)
            out_ports.append(port)
    params["host"] = ",".join(out_hosts)
    if any(out_addrs):
        params["hostaddr"] = ",".join(out_addrs)
    else:
        params.pop("hostaddr", None)
    if any(out_ports):
        params["port"] = ",".join(out_ports)
    if not params["host"]:
        del params["host"]
    return params


_UNTRUSTED_MONGO_AUTH = frozenset({"SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN", "DEFAULT"})
_SERVER_FILE_OPTIONS = ("tlscafile", "tlscertificatekeyfile", "tlscertificatekeyfilepassword", "tlscrlfile")


def check_mongodb(url: str, policy: EgressPolicy, *, trusted: bool = True, timeout: float = 10.0) -> None:
    """Resolve and check every seed host of ``url`` (the SRV record's hosts for mongodb+srv://) under
    ``policy``; for untrusted owners also refuse options that use the server's files or credentials."""
    from pymongo import uri_parser
    from pymongo.errors import ConfigurationError, InvalidURI

    try:
        # validate=False: validating opens the files that options name, which is for the client to do
        parsed = uri_parser.parse_uri(url, validate=False, connect_timeout=timeout)
    except (ConfigurationError, InvalidURI, ValueError) as exc:
        raise StepError("Database.UnsupportedUrl", f"invalid MongoDB URL: {type(exc).__name__}",
                        retryable=False) from None
    options = {str(name).lower(): value for name, value in (parsed.get("options") or {}).items()}
    if not trusted:
        mechanism = str(options.get("authmechanism") or "DEFAULT").upper()
        refused = [f"authMechanism={mechanism}"] if mechanism not in _UNTRUSTED_MONGO_AUTH else []
        refused += [name for name in _SERVER_FILE_OPTIONS if options.get(name) is not None]
        if refused:
            raise StepError("Database.Forbidden", f"connection option(s) {', '.join(refused)} would use the server's "
                            "files or credentials; this workflow may not set them", retryable=False)
    for host, port in parsed.get("nodelist") or []:
        if _local_socket(host):
            if not policy.allow_private:
                raise _refuse_socket(host)
            continue
        try:
            policy.resolve(host, int(port or 27017), resolver)
        except OSError as exc:
            raise StepError("Database.Connection", f"cannot resolve {host}: {exc.strerror or exc}",
                            retryable=True) from None


# -- SQL connection pools -------------------------------------------------------------------------


class ConnectionPool:
    """DB-API connections for one URL. A connection serves one operation at a time, so a SQLite
    connection opened with ``check_same_thread=False`` is safe to hand from thread to thread."""

    def __init__(self, connect: Callable[[], Any], max_idle: int = MAX_IDLE_PER_URL) -> None:
        self._connect = connect
        self._max_idle = max_idle
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        conn = None
        with self._lock:
            while self._idle and conn is None:
                conn = self._idle.pop()
                if getattr(conn, "closed", False):  # psycopg: the server or network dropped it while idle
                    conn = None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        except BaseException:
            # after a failure the connection's state is unknown (aborted transaction, broken socket)
            _close_quietly(conn)
            raise
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        _close_quietly(conn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    # closing a broken connection may itself fail; nothing is left to release then
    with contextlib.suppress(Exception):
        conn.close()


#: what an untrusted in-memory SQLite connection may not do: reach a file (ATTACH, VACUUM INTO) or
#: point SQLite's temporary files elsewhere
_CONFINED_DENIED_PRAGMAS = frozenset({"temp_store_directory", "data_store_directory"})


def _confined_sqlite(action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None) -> int:
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _CONFINED_DENIED_PRAGMAS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _connect_sqlite(url: str, trusted: bool = True) -> sqlite3.Connection:
    check_sqlite(url, trusted)
    conn = sqlite3.connect(sqlite_path(url), check_same_thread=False)
    if not trusted:
        conn.set_authorizer(_confined_sqlite)
    conn.row_factory = sqlite3.Row
    return conn


def _connect_postgresql(url: str, connect_timeout: float, policy: EgressPolicy | None = None,
                        trusted: bool = True) -> Any:
    try:
        import psycopg
        from psycopg.rows import dict_row
    except ImportError:
        raise StepError("Database.DriverMissing", "a postgresql:// connection needs psycopg: "
                        "pip install 'orchestrator[postgres]'", retryable=False) from None
    # resolved and checked at every new connection: a pooled URL may resolve elsewhere by now
    params = postgresql_params(url, policy or current_policy(), trusted=trusted)
    params.pop("connect_timeout", None)
    return psycopg.connect(**params, connect_timeout=max(1, round(connect_timeout)), row_factory=dict_row)


_pools: dict[tuple[str, EgressPolicy | None, bool], ConnectionPool] = {}
_pools_lock = threading.Lock()


def sql_pool(url: str, connect_timeout: float, *, policy: EgressPolicy | None = None,
             trusted: bool = True) -> ConnectionPool:
    """The pool of ``url`` for executions under ``policy`` (None: the process's egress policy, read at
    each connect) and of this trust; a connection made for one is never handed to another."""
    sqlite = kind_of(url) == "sqlite"
    key = (url, None if sqlite else policy, trusted)  # a SQLite file is no network host: no policy applies
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            if sqlite:
                check_sqlite(url, trusted)
                pool = ConnectionPool(lambda: _connect_sqlite(url, trusted))
            else:
                pool = ConnectionPool(lambda: _connect_postgresql(url, connect_timeout, policy, trusted))
            _pools[key] = pool
        return pool


# -- MongoDB clients ------------------------------------------------------------------------------


def _default_mongo_client(url: str, timeout: float) -> Any:
    import pymongo

    ms = int(timeout * 1000)
    return pymongo.MongoClient(url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, tz_aware=True)


#: builds a MongoClient from (url, timeout seconds); tests replace it with mongomock's client
mongo_client_factory: Callable[[str, float], Any] = _default_mongo_client

_mongo_clients: dict[str, Any] = {}


def mongo_client(url: str, timeout: float) -> Any:
    with _pools_lock:
        client = _mongo_clients.get(url)
        if client is None:
            client = mongo_client_factory(url, timeout)
            _mongo_clients[url] = client
        return client


def reset() -> None:
    """Close and forget every cached client (tests; a process that rotates credentials)."""
    with _pools_lock:
        pools, clients = list(_pools.values()), list(_mongo_clients.values())
        _pools.clear()
        _mongo_clients.clear()
    for pool in pools:
        pool.close()
    for client in clients:
        _close_quietly(client)
