"""The ``database`` step: one operation on a named connection (see ``db_connections`` for configuring it).

SQL (SQLite, PostgreSQL): ``query`` (sql + params -> rows), ``execute`` (sql + params -> rowcount,
lastrowid), ``insert`` (table + data). MongoDB: ``find``, ``insert``, ``update``, ``delete``,
``aggregate``. ``insert``'s rows/documents are ``data`` (one mapping or a list of them) or, when the
config has none, the step's input ``data`` (seed 002 maps ``data: {{steps.transform.output.result}}``).

SQL text is never a template: values go into ``params`` (``:name`` or ``?``) or the step's inputs, and
``sql`` containing ``{{`` is refused, both when the workflow is validated and when the step runs.

Reach: database hosts follow the egress policy (``egress.py``); an untrusted owner (not the operator,
not a single-user run) sees neither the server's ``ORCHESTRATOR_DB_*`` variables nor SQLite files, and
may not set connection options that use the server's files or credentials (``db_connections``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from orchestrator.domain.durations import Duration
from orchestrator.steps import db_connections, db_mongo, db_sql
from orchestrator.steps.base import StepConfig, StepContext, StepError, StepResult
from orchestrator.steps.config_secrets import secret_lookup
from orchestrator.steps.egress import EgressBoundExecutor, EgressPolicy
from orchestrator.steps.limits import effective_timeout
from orchestrator.steps.redaction import scrub, secret_values, url_for_humans

SQL_OPERATIONS = frozenset({"query", "execute", "insert"})
MONGO_OPERATIONS = frozenset({"find", "insert", "update", "delete", "aggregate"})
TEMPLATE_IN_SQL = (
    "`sql` must not contain templates ({{...}}): SQL built from strings is an injection hole. Put the values "
    "in `params` (or input_mapping) and refer to them as :name or ?"
)

Operation = Literal["query", "execute", "insert", "find", "update", "delete", "aggregate"]


class DatabaseConfig(StepConfig):
    connection: str = Field(pattern=db_connections.CONNECTION_NAME_PATTERN)
    operation: Operation
    timeout: Duration = 30.0
    # SQL
    sql: str | None = None
    params: dict[str, Any] | list[Any] | None = None
    table: str | None = None
    max_rows: int = Field(10_000, ge=1, description="query/find/aggregate: rows kept; `truncated` tells.")
    # insert (SQL rows or Mongo documents)
    data: dict[str, Any] | list[dict[str, Any]] | None = None
    # MongoDB
    database: str | None = Field(None, description="Default: the database in the connection URL.")
    collection: str | None = None
    filter: dict[str, Any] | None = None
    projection: dict[str, Any] | list[str] | None = None
    sort: dict[str, int] | list[list[Any]] | None = None
    update: dict[str, Any] | list[dict[str, Any]] | None = None
    many: bool = Field(False, description="update/delete: every match instead of the first.")
    upsert: bool = False
    pipeline: list[dict[str, Any]] | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_templates_in_sql(cls, data: Any) -> Any:
        # A model-level check on purpose: workflow validation ignores errors at values that are
        # templates, and a field-level error here would sit at exactly such a value and be ignored.
        if isinstance(data, Mapping) and isinstance(data.get("sql"), str) and "{{" in data["sql"]:
            raise ValueError(TEMPLATE_IN_SQL)
        return data

    @model_validator(mode="after")
    def _check(self) -> DatabaseConfig:
        op = self.operation
        if op in ("query", "execute"):
            if not self.sql or not self.sql.strip():
                raise ValueError(f"operation {op} needs `sql`")
            if self.table or self.collection:
                raise ValueError(f"operation {op} takes `sql`, not `table`/`collection`")
        elif op == "insert":
            if bool(self.table) == bool(self.collection):
                raise ValueError("operation insert needs `table` (SQL) or `collection` (MongoDB), not both")
            if self.sql:
                raise ValueError("operation insert builds its own SQL from `table` and `data`; drop `sql`")
        else:
            if not self.collection:
                raise ValueError(f"operation {op} (MongoDB) needs `collection`")
            if self.sql or self.table:
                raise ValueError(f"operation {op} (MongoDB) takes `collection`, not `sql`/`table`")
        return self


class DatabaseExecutor(EgressBoundExecutor):
    type_name: ClassVar[str] = "database"
    config_model: ClassVar[type[DatabaseConfig]] = DatabaseConfig

    def execute(self, config: DatabaseConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        started = time.time()
        self._refuse_raw_template(ctx)
        url = db_connections.resolve_url(config.connection, secret_lookup(ctx), trusted=ctx.trusted)
        kind = db_connections.kind_of(url)
        timeout = effective_timeout(config.timeout, ctx) or config.timeout
        secrets = secret_values(db_connections.url_password(url))
        where = f"database {config.connection!r} ({kind}) {config.operation}"
        ctx.log(f"{where} on {url_for_humans(url)}")
        policy = self.egress_policy()
        try:
            if kind == "mongodb":
                db_connections.check_mongodb(url, policy, trusted=ctx.trusted, timeout=timeout)
                output = self._mongo(config, inputs, url, timeout)
            else:
                output = self._sql(config, inputs, url, kind, timeout, policy, ctx.trusted)
        except StepError as exc:
            exc.cause = scrub(f"{where}: {exc.cause}", secrets, ctx.mask)
            raise
        except Exception as exc:
            error = db_sql.classify(exc) or db_mongo.classify(exc)
            if error is None:
                raise
            raise StepError(error.error, scrub(f"{where}: {error.cause}", secrets, ctx.mask),
                            retryable=error.retryable) from None
        return StepResult(output=output, started_at=started, finished_at=time.time())

    @staticmethod
    def _refuse_raw_template(ctx: StepContext) -> None:
        """The run-time half of the no-templates-in-SQL rule: by now the config is rendered, so look
        at the step's raw definition, in case the workflow was never validated."""
        raw = (ctx.workflow_steps.get(ctx.step_id) or {}).get("config")
        if isinstance(raw, Mapping) and isinstance(raw.get("sql"), str) and "{{" in raw["sql"]:
            raise StepError("Database.TemplateInSql", TEMPLATE_IN_SQL, retryable=False)

    def _sql(self, config: DatabaseConfig, inputs: dict[str, Any], url: str, kind: str, timeout: float,
             policy: EgressPolicy, trusted: bool) -> Any:
        if config.operation not in SQL_OPERATIONS:
            raise StepError("Database.WrongOperation", f"{config.operation} is a MongoDB operation; use query, "
                            "execute or insert on a SQL connection", retryable=False)
        if config.operation == "insert" and config.collection:
            raise StepError("Database.WrongOperation", "a SQL connection inserts into a `table`, not a "
                            "`collection`", retryable=False)
        pool = db_connections.sql_pool(url, connect_timeout=timeout, policy=policy, trusted=trusted)
        with pool.connection() as conn:
            session = db_sql.SqlSession(conn, kind, timeout)
            if config.operation == "query":
                return session.query(config.sql or "", config.params, inputs, config.max_rows)
            if config.operation == "execute":
                return session.execute(config.sql or "", config.params, inputs)
            return session.insert(config.table or "", _rows(config.data, inputs))

    def _mongo(self, config: DatabaseConfig, inputs: dict[str, Any], url: str, timeout: float) -> Any:
        if config.operation not in MONGO_OPERATIONS:
            raise StepError("Database.WrongOperation", f"{config.operation} is a SQL operation; use find, insert, "
                            "update, delete or aggregate on a MongoDB connection", retryable=False)
        if config.operation == "insert" and config.table:
            raise StepError("Database.WrongOperation", "a MongoDB connection inserts into a `collection`, not a "
                            "`table`", retryable=False)
        client = db_connections.mongo_client(url, timeout)
        if config.database:
            database = client[config.database]
        else:
            from pymongo.errors import ConfigurationError

            try:
                database = client.get_default_database()
            except ConfigurationError:
                raise StepError("Database.InvalidRequest", "no database: set `database` or put it in the URL "
                                "(mongodb://host/dbname)", retryable=False) from None
        session = db_mongo.MongoSession(database[config.collection], timeout)
        op = config.operation
        if op == "find":
            filter_ = _from(config.filter, inputs, "filter", default={})
            return session.find(filter_, config.projection, config.sort, config.max_rows)
        if op == "insert":
            return session.insert(_rows(config.data, inputs))
        if op == "update":
            filter_ = _from(config.filter, inputs, "filter")
            return session.update(filter_, _from(config.update, inputs, "update"), config.many, config.upsert)
        if op == "delete":
            return session.delete(_from(config.filter, inputs, "filter"), config.many)
        return session.aggregate(_from(config.pipeline, inputs, "pipeline"), config.max_rows)


def _from(configured: Any, inputs: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """A config value, else the step input of the same name (an agent's tool call supplies inputs)."""
    value = configured if configured is not None else inputs.get(name, default)
    if value is None:
        raise StepError("Database.InvalidRequest", f"`{name}` is required: set it in the config or the inputs"
                        + (" ({} matches every document; write it explicitly)" if name == "filter" else ""),
                        retryable=False)
    return value


def _rows(configured: Any, inputs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    data = _from(configured, inputs, "data")
    rows = [data] if isinstance(data, Mapping) else data
    if not isinstance(rows, list) or not rows or not all(isinstance(r, Mapping) for r in rows):
        raise StepError("Database.InvalidRows", "`data` must be a mapping or a non-empty list of mappings",
                        retryable=False)
    return rows
