"""Where a condition trigger reads the data its expression looks at (``ConditionTriggerConfig.source``).

Two forms:

- ``https://status.example.com/queue`` (or ``http://``): a GET through the same egress policy and HTTP
  client as the ``http`` step. ``source`` is the answer's JSON (its text when it is not JSON); any
  status but 2xx is a failed read. The URL may hold ``{{variables.x}}`` and ``{{secrets.x}}``, rendered
  at every poll; secret values are scrubbed from error messages.
- ``db://<connection>?sql=SELECT ...``: one read query on a named database connection, configured
  like the ``database`` step's (the operator's ``ORCHESTRATOR_DB_<NAME>`` for the operator's triggers,
  else the trigger owner's secret ``DB_<NAME>``; SQLite for the operator only, or PostgreSQL).
  Everything after ``sql=`` is the SQL, taken literally (no URL decoding: ``+``, ``&`` and
  ``%`` mean themselves). It must start with SELECT or WITH and holds no templates (SQL built from text
  is an injection hole; a condition has no inputs to bind anyway). ``source`` is the ``database``
  step's query output: ``{"rows": [...], "row_count": n, "truncated": bool}``, at most ``max_rows`` rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.domain.templates import TemplateError, is_template, render
from orchestrator.domain.tenancy import is_operator
from orchestrator.ports.secrets import SecretNotFound
from orchestrator.steps import db_connections, db_sql
from orchestrator.steps.base import StepError
from orchestrator.steps.egress import EgressPolicy
from orchestrator.steps.http_client import HttpCall, perform, validate_http_url
from orchestrator.steps.redaction import scrub

DB_SCHEME = "db://"
_SQL_MARKER = "?sql="
_CONNECTION = re.compile(db_connections.CONNECTION_NAME_PATTERN)
_READ_QUERY = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_FORMS = "use an http(s):// URL that answers JSON, or db://<connection>?sql=SELECT ..."


class ConditionSourceError(ValueError):
    """The source text is not one of the forms above."""


class ConditionReadError(RuntimeError):
    """The source could not be read this time (network, HTTP status, database, a missing secret)."""


@dataclass(frozen=True)
class HttpSource:
    url: str


@dataclass(frozen=True)
class SqlSource:
    connection: str
    sql: str


ConditionSource = HttpSource | SqlSource


def parse_condition_source(text: str) -> ConditionSource:
    if not isinstance(text, str) or not text.strip():
        raise ConditionSourceError(f"the source is empty: {_FORMS}")
    text = text.strip()
    if text.lower().startswith(("http://", "https://")):
        if not is_template(text):  # a templated URL is checked once rendered, at each poll
            try:
                validate_http_url(text)
            except ValueError as error:
                raise ConditionSourceError(f"{text!r}: {error}") from None
        return HttpSource(text)
    if text.lower().startswith(DB_SCHEME):
        return _sql_source(text)
    raise ConditionSourceError(f"unsupported source {text[:80]!r}: {_FORMS}")


def _sql_source(text: str) -> SqlSource:
    connection, marker, sql = text[len(DB_SCHEME):].partition(_SQL_MARKER)
    if not marker:
        raise ConditionSourceError(f"{text[:80]!r} has no query: write db://<connection>?sql=SELECT ...")
    if not _CONNECTION.match(connection):
        raise ConditionSourceError(
            f"{connection!r} is not a connection name (letters, digits, '_' and '-', starting with a letter or '_')"
        )
    if not _READ_QUERY.match(sql):
        raise ConditionSourceError("the query must be a read query, starting with SELECT or WITH")
    if "{{" in sql:
        raise ConditionSourceError("the query must not contain templates ({{...}})")
    return SqlSource(connection, sql.strip())


@dataclass
class ConditionSourceReader:
    """Reads a source once. ``secret`` resolves an owner's secret by (owner, name); raises SecretNotFound."""

    secret: Callable[[str | None, str], str]
    egress: EgressPolicy
    timeout: float = 10.0
    max_response_bytes: int = 1024 * 1024
    max_rows: int = 1000

    def read(self, source: ConditionSource, variables: Mapping[str, Any], owner_id: str | None = None) -> Any:
        """The data read with ``owner_id``'s secrets; ConditionReadError naming what failed."""
        if isinstance(source, HttpSource):
            return self._read_http(source, variables, owner_id)
        return self._read_sql(source, owner_id)

    def _read_http(self, source: HttpSource, variables: Mapping[str, Any], owner_id: str | None) -> Any:
        try:
            rendered = render(source.url, {"variables": variables},
                              secrets=lambda name: self.secret(owner_id, name))
            url = validate_http_url(str(rendered.value))
        except (TemplateError, SecretNotFound, ValueError) as error:
            raise ConditionReadError(f"cannot build the source URL: {error}") from None
        call = HttpCall(
            prefix="Condition",
            method="GET",
            url=url,
            timeout=self.timeout,
            headers={"Accept": "application/json"},
            max_response_bytes=self.max_response_bytes,
            secrets=rendered.secret_values,
        )
        try:
            body = perform(call, self.egress)["body"]
        except StepError as error:
            raise ConditionReadError(f"{error.error}: {error.cause}") from None
        if isinstance(body, str):
            # servers often answer JSON as text/plain; the expression wants the data either way
            try:
                return json.loads(body)
            except ValueError:
                return body
        return body

    def _read_sql(self, source: SqlSource, owner_id: str | None) -> dict[str, Any]:
        url = ""
        try:
            trusted = is_operator(owner_id)  # a tenant's trigger reaches what the tenant's steps reach
            url = db_connections.resolve_url(source.connection, lambda name: self._optional_secret(owner_id, name),
                                             trusted=trusted)
            kind = db_connections.kind_of(url)
            if kind == "mongodb":
                raise StepError("Condition.UnsupportedConnection", f"connection {source.connection!r} is MongoDB; "
                                "a condition source runs SQL (SQLite or PostgreSQL)", retryable=False)
            pool = db_connections.sql_pool(url, connect_timeout=self.timeout, policy=self.egress, trusted=trusted)
            with pool.connection() as conn:
                return db_sql.SqlSession(conn, kind, self.timeout).query(source.sql, None, {}, self.max_rows)
        except Exception as error:
            classified = error if isinstance(error, StepError) else db_sql.classify(error)
            if classified is None:
                raise
            cause = scrub(classified.cause, [p for p in [db_connections.url_password(url)] if p])
            raise ConditionReadError(f"database {source.connection!r}: {classified.error}: {cause}") from None

    def _optional_secret(self, owner_id: str | None, name: str) -> str | None:
        try:
            return self.secret(owner_id, name)
        except SecretNotFound:
            return None
