"""Issue 7, database reach: a tenant's database step cannot open the server's files, use the operator's
connections, or reach this machine and its private network through a database driver."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.settings import Settings
from orchestrator.steps import db_connections
from orchestrator.steps.base import StepContext, StepError
from orchestrator.steps.database import DatabaseConfig, DatabaseExecutor
from orchestrator.steps.egress import EgressPolicy
from support.counting_listener import CountingListener

SERVER = EgressPolicy()  # the server's default policy
PASSWORD = "pg-Pa55-w0rd-value"


def server_settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **{"egress_allow": [], "egress_allow_private": False, **overrides})


def context(*, trusted: bool, secrets: dict[str, str] | None = None) -> StepContext:
    """A step context of a tenant (untrusted) or of the operator, whose own secrets are ``secrets``."""
    secrets = secrets or {}

    def render(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("{{secrets.") and value.endswith("}}"):
            name = value[len("{{secrets."):-2]
            if name in secrets:
                return secrets[name]
            raise KeyError(name)
        return value

    return StepContext("exec-1", "db", render=render, owner_id=None if trusted else "tenant-a", trusted=trusted)


def run(ctx: StepContext, settings: Settings | None = None, **config: Any) -> Any:
    full = {"connection": "main_db", **config}
    return DatabaseExecutor(settings or server_settings()).execute(DatabaseConfig.model_validate(full), {}, ctx).output


def fails(ctx: StepContext, settings: Settings | None = None, **config: Any) -> StepError:
    with pytest.raises(StepError) as caught:
        run(ctx, settings, **config)
    assert caught.value.retryable is False
    return caught.value


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("ORCHESTRATOR_DB_MAIN_DB", raising=False)
    db_connections.reset()
    yield
    db_connections.reset()


@pytest.fixture
def server_store(tmp_path: Path) -> Path:
    """A file standing for the server's store ($ORCHESTRATOR_HOME/orchestrator.db), with a secret in it."""
    path = tmp_path / "orchestrator.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE api_keys (owner TEXT, key_hash TEXT)")
        conn.execute("INSERT INTO api_keys VALUES ('admin', 'hash-of-the-admin-key')")
    return path


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    server = CountingListener().start()
    yield server
    server.stop()


# -- SQLite -------------------------------------------------------------------------------------------


def test_a_tenant_cannot_open_a_sqlite_file(server_store: Path):
    # Given a tenant whose own secret points the connection at the server's store file
    ctx = context(trusted=False, secrets={"DB_MAIN_DB": f"sqlite:///{server_store}"})
    before = server_store.read_bytes()
    # When its database step queries it
    error = fails(ctx, operation="query", sql="SELECT key_hash FROM api_keys")
    # Then it is refused, saying why, and nothing came back or changed
    assert error.error == "Database.Forbidden" and "SQLite" in error.cause
    assert "hash-of-the-admin-key" not in error.cause
    assert server_store.read_bytes() == before


def test_a_tenant_cannot_create_a_sqlite_file(tmp_path: Path):
    # Given a tenant's URL naming a file that does not exist yet
    target = tmp_path / "dropped.db"
    ctx = context(trusted=False, secrets={"DB_MAIN_DB": f"sqlite:///{target}"})
    # When its step writes there / Then it is refused and no file was created
    assert fails(ctx, operation="execute", sql="CREATE TABLE x (a)").error == "Database.Forbidden"
    assert not target.exists()


@pytest.mark.parametrize("sql", ["SELECT hex(fts3_tokenizer('simple')) AS pointer", "SELECT 1 AS one"])
def test_a_tenant_cannot_use_in_memory_sqlite_either(sql: str):
    # Given a tenant's in-memory SQLite URL: it would run inside the engine process, in a pool shared by all
    # owners, where fts3_tokenizer() reads and sets native pointers
    ctx = context(trusted=False, secrets={"DB_MAIN_DB": "sqlite:///:memory:"})
    # When its step runs anything / Then it is refused before any SQL runs
    error = fails(ctx, operation="query", sql=sql)
    assert error.error == "Database.Forbidden" and not error.retryable


def test_the_operator_may_still_use_sqlite_files(server_store: Path):
    # Given the operator's (trusted) execution / When it queries a SQLite file / Then it works as before
    ctx = context(trusted=True, secrets={"DB_MAIN_DB": f"sqlite:///{server_store}"})
    assert run(ctx, operation="query", sql="SELECT owner FROM api_keys")["rows"] == [{"owner": "admin"}]


# -- the operator's ORCHESTRATOR_DB_* connections ------------------------------------------------------


def test_a_tenant_cannot_use_the_servers_connection_variable(server_store: Path, monkeypatch: pytest.MonkeyPatch):
    # Given the operator's connection in the server's environment
    monkeypatch.setenv("ORCHESTRATOR_DB_MAIN_DB", f"sqlite:///{server_store}")
    # When a tenant without a secret of that name names the connection
    error = fails(context(trusted=False), operation="query", sql="SELECT key_hash FROM api_keys")
    # Then the connection is unknown to it: only its own secret is looked at, and the variable is not told
    assert error.error == "Database.UnknownConnection"
    assert "secret DB_MAIN_DB" in error.cause and "environment" not in error.cause
    assert str(server_store) not in error.cause
    # And the operator's own execution does use it
    assert run(context(trusted=True), operation="query", sql="SELECT owner FROM api_keys")["rows"] == [{"owner": "admin"}]


def test_a_tenant_uses_its_own_secret_not_the_servers_variable(server_store: Path, monkeypatch: pytest.MonkeyPatch,
                                                               listener: CountingListener):
    # Given the server's variable and a tenant secret of the same name, pointing at a database server
    monkeypatch.setenv("ORCHESTRATOR_DB_MAIN_DB", f"sqlite:///{server_store}")
    ctx = context(trusted=False, secrets={"DB_MAIN_DB": f"postgresql://app:pw@127.0.0.1:{listener.port}/app"})
    # When the tenant queries / Then its own URL is the one used (and refused by the egress policy, as a
    # loopback address), never the server's SQLite file
    error = fails(ctx, operation="query", sql="SELECT key_hash FROM api_keys")
    assert error.error == "Egress.Denied" and str(server_store) not in error.cause


# -- PostgreSQL ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.1", "2130706433", "[::1]", "0.0.0.0"])
def test_a_postgresql_url_to_loopback_is_refused_before_connecting(host: str, listener: CountingListener):
    # Given the server's default settings and a listener standing for a local PostgreSQL
    ctx = context(trusted=True, secrets={
        "DB_MAIN_DB": f"postgresql://app:{PASSWORD}@{host}:{listener.port}/app"})
    # When a database step connects / Then Egress.Denied, no connection, and the password is not told
    error = fails(ctx, operation="query", sql="SELECT 1")
    assert error.error == "Egress.Denied"
    assert listener.connections == 0
    assert PASSWORD not in error.cause


@pytest.mark.parametrize("url", ["postgresql:///app", "postgresql:///app?host=/var/run/postgresql",
                                 "postgresql://%2Ftmp/app", "postgresql://10.1.2.3/app",
                                 "postgresql://db.example/app?hostaddr=127.0.0.1"])
def test_postgresql_sockets_private_hosts_and_pinned_loopback_addresses_are_refused(url: str):
    # Given the server's default policy / When a URL names a Unix socket, no host (the default socket),
    # a private address, or a public-looking name pinned to loopback with hostaddr
    with pytest.raises(StepError) as caught:
        db_connections.postgresql_params(url, SERVER, trusted=True)
    # Then it is refused as egress
    assert caught.value.error == "Egress.Denied"


def test_postgresql_connects_to_exactly_the_checked_addresses(monkeypatch: pytest.MonkeyPatch):
    # Given a database name resolving to two public addresses
    monkeypatch.setattr(db_connections, "resolver", lambda host, port: ["93.184.216.34", "93.184.216.35"])
    # When its URL is turned into libpq parameters
    params = db_connections.postgresql_params("postgresql://app@db.example:6543/app?sslmode=verify-full", SERVER)
    # Then libpq gets each checked address as hostaddr (no lookup of its own), the name for TLS, and the port
    assert params["host"] == "db.example,db.example"
    assert params["hostaddr"] == "93.184.216.34,93.184.216.35"
    assert params["port"] == "6543,6543" and params["sslmode"] == "verify-full"
    # And when the name resolves to loopback (DNS rebinding) it is refused
    monkeypatch.setattr(db_connections, "resolver", lambda host, port: ["93.184.216.34", "127.0.0.1"])
    with pytest.raises(StepError, match="Egress.Denied"):
        db_connections.postgresql_params("postgresql://app@db.example/app", SERVER)


@pytest.mark.parametrize("option", ["passfile=/root/.pgpass", "service=prod", "sslkey=/etc/ssl/private/key.pem",
                                    "sslcert=/home/op/.postgresql/postgresql.crt", "sslrootcert=/etc/ca.pem",
                                    "krbsrvname=postgres", "gssencmode=require"])
def test_a_tenant_cannot_use_the_servers_postgresql_files_or_credentials(option: str,
                                                                          monkeypatch: pytest.MonkeyPatch):
    # Given a tenant URL to a public host with an option that reads the server's files or credentials
    monkeypatch.setattr(db_connections, "resolver", lambda host, port: ["93.184.216.34"])
    url = f"postgresql://app@db.example/app?{option}"
    # When it is prepared for a tenant / Then it is refused, naming the option
    with pytest.raises(StepError) as caught:
        db_connections.postgresql_params(url, SERVER, trusted=False)
    assert caught.value.error == "Database.Forbidden" and option.partition("=")[0] in caught.value.cause


def test_a_tenant_connection_never_falls_back_to_the_servers_password(monkeypatch: pytest.MonkeyPatch):
    # Given the server's PGPASSWORD and ~/.pgpass (libpq's fallbacks), and a tenant URL without a password
    monkeypatch.setenv("PGPASSWORD", "the-operators-password")
    monkeypatch.setattr(db_connections, "resolver", lambda host, port: ["93.184.216.34"])
    # When it is prepared for a tenant
    params = db_connections.postgresql_params("postgresql://app@attacker.example/app", SERVER, trusted=False)
    # Then an explicit empty password, no password file and no Kerberos are set, so libpq uses none of them
    assert params["password"] == "" and params["passfile"] in ("/dev/null", "nul")
    assert params["gssencmode"] == "disable"


# -- MongoDB -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["mongodb://127.0.0.1:{port}/app", "mongodb://localhost:{port}/app",
                                 "mongodb://db.example:27017,127.0.0.1:{port}/app?replicaSet=rs",
                                 "mongodb://%2Ftmp%2Fmongodb-27017.sock/app", "mongodb://10.0.0.8/app"])
def test_a_mongodb_seed_on_this_machine_or_a_private_network_is_refused(url: str, listener: CountingListener,
                                                                          monkeypatch: pytest.MonkeyPatch):
    # Given the server's default settings, db.example public, and a listener standing for a local MongoDB
    monkeypatch.setattr(db_connections, "resolver",
                        lambda host, port: ["93.184.216.34"] if host == "db.example" else [host])
    ctx = context(trusted=True, secrets={"DB_MAIN_DB": url.format(port=listener.port)})
    # When a database step uses it / Then Egress.Denied, and no connection was made
    error = fails(ctx, operation="find", collection="users", filter={})
    assert error.error == "Egress.Denied"
    assert listener.connections == 0


@pytest.mark.parametrize("option", ["authMechanism=MONGODB-AWS", "authMechanism=GSSAPI",
                                    "tlsCAFile=/etc/ssl/ca.pem", "tlsCertificateKeyFile=/etc/ssl/private/client.pem"])
def test_a_tenant_cannot_use_the_servers_mongodb_credentials_or_files(option: str, monkeypatch: pytest.MonkeyPatch):
    # Given a tenant URL to a public host with an option that would use the server's credentials or files
    monkeypatch.setattr(db_connections, "resolver", lambda host, port: ["93.184.216.34"])
    url = f"mongodb://user@db.example/app?tls=true&{option}"
    # When it is checked for a tenant / Then it is refused, naming the option
    with pytest.raises(StepError) as caught:
        db_connections.check_mongodb(url, SERVER, trusted=False)
    assert caught.value.error == "Database.Forbidden"
